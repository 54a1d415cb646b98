package cuda

import (
	"fmt"
	"runtime"

	"github.com/deepgo/deepgo/autograd"
)

// The kernel methods of GPU. Each checks nothing the autograd ops already
// checked (shapes, lengths), picks a kernel and grid, and queues it.

// maxDims is the rank limit of dg_geo (DG_MAXD in the kernels).
const maxDims = 16

// geo mirrors struct dg_geo of the kernels: dimensions innermost first.
type geo struct {
	n     [maxDims]int64
	st    [4][maxDims]int64
	off   [4]int64
	ndim  int64
	total int64
}

// makeGeo describes operands over shape: strides[k] and offs[k] are operand
// k's layout. Dimensions of size 1 are dropped, and neighbours that every
// operand walks as one are merged, so most views need one or two
// dimensions.
func makeGeo(shape []int, strides [][]int, offs []int) *geo {
	g := &geo{total: 1}
	var dims []int
	st := make([][]int, len(strides))
	for d, n := range shape {
		g.total *= int64(n)
		if n == 1 {
			continue
		}
		if last := len(dims) - 1; last >= 0 {
			merge := true
			for k := range strides {
				if st[k][last] != strides[k][d]*n {
					merge = false
					break
				}
			}
			if merge {
				dims[last] *= n
				for k := range strides {
					st[k][last] = strides[k][d]
				}
				continue
			}
		}
		dims = append(dims, n)
		for k := range strides {
			st[k] = append(st[k], strides[k][d])
		}
	}
	if len(dims) > maxDims {
		panic(fmt.Sprintf("cuda: %d dimensions after merging; at most %d are supported", len(dims), maxDims))
	}
	g.ndim = int64(len(dims))
	for i := range dims {
		d := len(dims) - 1 - i
		g.n[i] = int64(dims[d])
		for k := range strides {
			g.st[k][i] = int64(st[k][d])
		}
	}
	for k, o := range offs {
		g.off[k] = int64(o)
	}
	return g
}

// contiguousStrides returns the row-major strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for d := len(shape) - 1; d >= 0; d-- {
		st[d] = s
		s *= shape[d]
	}
	return st
}

// isContiguous reports whether l views a row-major block of shape.
func isContiguous(shape []int, l autograd.Layout) bool {
	s := 1
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] != 1 && l.Strides[d] != s {
			return false
		}
		s *= shape[d]
	}
	return true
}

// isScalar reports whether l broadcasts one element everywhere.
func isScalar(l autograd.Layout) bool {
	for _, st := range l.Strides {
		if st != 0 {
			return false
		}
	}
	return true
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// Unary sets dst[i] = op(x[i]).
func (g *GPU) Unary(op autograd.UnaryOp, p autograd.OpParams, dst, x autograd.Buffer) {
	g.enter()
	defer g.exit()
	n := dst.Len()
	if n == 0 {
		return
	}
	a := g.args.reset().i32(int(op)).f32(p.A).f32(p.B).ptr(g.ptr(dst)).ptr(g.ptr(x)).i64(n)
	g.launch(modElementwise, "dg_unary", g.grid1d(n), dgMaxBlock, a)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(x)
}

// UnaryGrad sets dx[i] = g[i]·op'(x[i]) (x or y may be nil).
func (g *GPU) UnaryGrad(op autograd.UnaryOp, p autograd.OpParams, dx, gr, x, y autograd.Buffer) {
	g.enter()
	defer g.exit()
	n := dx.Len()
	if n == 0 {
		return
	}
	a := g.args.reset().i32(int(op)).f32(p.A).f32(p.B).ptr(g.ptr(dx)).ptr(g.ptr(gr)).ptr(g.ptr(x)).ptr(g.ptr(y)).i64(n)
	g.launch(modElementwise, "dg_unary_grad", g.grid1d(n), dgMaxBlock, a)
	runtime.KeepAlive(dx)
	runtime.KeepAlive(gr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
}

// Binary sets dst[idx] = op(a[la(idx)], b[lb(idx)]) over shape.
func (g *GPU) Binary(op autograd.BinaryOp, shape []int, dst, a autograd.Buffer, la autograd.Layout, b autograd.Buffer, lb autograd.Layout) {
	g.enter()
	defer g.exit()
	n := prod(shape)
	if n == 0 {
		return
	}
	pd, pa, pb := g.ptr(dst), g.ptr(a), g.ptr(b)
	ca, cb := isContiguous(shape, la), isContiguous(shape, lb)
	sa, sb := isScalar(la), isScalar(lb)
	if (ca || sa) && (cb || sb) {
		ia, ib := 1, 1
		if !ca {
			ia = 0
		}
		if !cb {
			ib = 0
		}
		args := g.args.reset().i32(int(op)).ptr(pd).ptr(pa).i64(la.Offset).i64(ia).ptr(pb).i64(lb.Offset).i64(ib).i64(n)
		g.launch(modElementwise, "dg_binary_flat", g.grid1d(n), dgMaxBlock, args)
	} else {
		gm := makeGeo(shape, [][]int{contiguousStrides(shape), la.Strides, lb.Strides}, []int{0, la.Offset, lb.Offset})
		args := g.args.reset().i32(int(op)).ptr(pd).ptr(pa).ptr(pb).geo(gm)
		g.launch(modElementwise, "dg_binary", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(dst)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// Where sets dst[idx] = mask ≠ 0 ? a : b over shape.
func (g *GPU) Where(shape []int, dst, mask autograd.Buffer, lm autograd.Layout, a autograd.Buffer, la autograd.Layout, b autograd.Buffer, lb autograd.Layout) {
	g.enter()
	defer g.exit()
	n := prod(shape)
	if n == 0 {
		return
	}
	gm := makeGeo(shape, [][]int{contiguousStrides(shape), lm.Strides, la.Strides, lb.Strides}, []int{0, lm.Offset, la.Offset, lb.Offset})
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(mask)).ptr(g.ptr(a)).ptr(g.ptr(b)).geo(gm)
	g.launch(modElementwise, "dg_where", g.grid1d(n), dgMaxBlock, args)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(mask)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// Copy copies (or, with accumulate, adds) the view src/ls into dst/ld.
func (g *GPU) Copy(shape []int, dst autograd.Buffer, ld autograd.Layout, src autograd.Buffer, ls autograd.Layout, accumulate bool) {
	g.enter()
	defer g.exit()
	n := prod(shape)
	if n == 0 {
		return
	}
	pd, ps := g.ptr(dst), g.ptr(src)
	switch {
	case isContiguous(shape, ld) && isContiguous(shape, ls) && !accumulate:
		g.copyDtoD(pd+4*uintptr(ld.Offset), ps+4*uintptr(ls.Offset), 4*n)
	case isContiguous(shape, ld) && isContiguous(shape, ls):
		args := g.args.reset().ptr(pd + 4*uintptr(ld.Offset)).ptr(ps + 4*uintptr(ls.Offset)).i64(n)
		g.launch(modElementwise, "dg_add_flat", g.grid1d(n), dgMaxBlock, args)
	default:
		acc := 0
		if accumulate {
			acc = 1
		}
		gm := makeGeo(shape, [][]int{ld.Strides, ls.Strides}, []int{ld.Offset, ls.Offset})
		args := g.args.reset().ptr(pd).ptr(ps).geo(gm).i32(acc)
		g.launch(modElementwise, "dg_copy", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// reduceSplits picks how many pieces the reduced axis of a reduction with
// outputs independent results is cut into for a first pass, so that a
// reduction with few outputs still uses the whole GPU. 1 means one pass.
func (g *GPU) reduceSplits(outputs, n, minChunk, want int) int {
	if outputs >= want || n < 2*minChunk {
		return 1
	}
	return max(1, min((n+minChunk-1)/minChunk, (want+outputs-1)/outputs))
}

// Reduce reduces src viewed as [outer, n, inner] over its middle axis.
func (g *GPU) Reduce(op autograd.ReduceOp, dst, src autograd.Buffer, outer, n, inner int) {
	g.enter()
	defer g.exit()
	if outer*inner == 0 {
		return
	}
	pd, ps := g.ptr(dst), g.ptr(src)
	if n == 0 {
		g.memset32(pd, 0, outer*inner)
		return
	}
	arg := op == autograd.ReduceArgMax || op == autograd.ReduceArgMin
	isMin := 0
	if op == autograd.ReduceMin || op == autograd.ReduceArgMin {
		isMin = 1
	}
	if inner == 1 {
		if arg {
			args := g.args.reset().i32(isMin).ptr(pd).ptr(ps).i64(outer).i64(n)
			g.launch(modReduce, "dg_arg_rows", g.rowGrid(outer), rowBlock(n), args)
		} else {
			splits := g.reduceSplits(outer, n, 4096, 2*g.sms)
			g.reduceRows(op, isMin, pd, ps, outer, n, splits)
		}
	} else {
		splits := 1
		if !arg {
			splits = g.reduceSplits(outer*inner, n, 64, 64*g.sms)
		}
		g.reduceCols(op, pd, ps, outer, n, inner, splits)
	}
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// reduceRows reduces [rows, n] into dst, in two passes when splits > 1.
func (g *GPU) reduceRows(op autograd.ReduceOp, isMin int, pd, ps uintptr, rows, n, splits int) {
	kernel := func(dst, src uintptr, rows, n, splits int) {
		chunk := (n + splits - 1) / splits
		if op == autograd.ReduceSum {
			args := g.args.reset().ptr(dst).ptr(src).i64(rows).i64(n).i64(splits).i64(chunk)
			g.launch(modReduce, "dg_sum_rows", g.rowGrid(rows*splits), rowBlock(chunk), args)
			return
		}
		args := g.args.reset().i32(isMin).ptr(dst).ptr(src).i64(rows).i64(n).i64(splits).i64(chunk)
		g.launch(modReduce, "dg_maxmin_rows", g.rowGrid(rows*splits), rowBlock(chunk), args)
	}
	if splits == 1 {
		kernel(pd, ps, rows, n, 1)
		return
	}
	tmp, c := g.scratch(rows * splits)
	kernel(tmp, ps, rows, n, splits)
	kernel(pd, tmp, rows, splits, 1)
	g.alloc.put(tmp, c)
}

// reduceCols reduces [outer, n, inner] into dst, in two passes when
// splits > 1.
func (g *GPU) reduceCols(op autograd.ReduceOp, pd, ps uintptr, outer, n, inner, splits int) {
	kernel := func(dst, src uintptr, n, splits int) {
		chunk := (n + splits - 1) / splits
		args := g.args.reset().i32(int(op)).ptr(dst).ptr(src).i64(outer).i64(n).i64(inner).i64(splits).i64(chunk)
		g.launch(modReduce, "dg_reduce_cols", g.grid1d(outer*splits*inner), dgMaxBlock, args)
	}
	if splits == 1 {
		kernel(pd, ps, n, 1)
		return
	}
	tmp, c := g.scratch(outer * splits * inner)
	kernel(tmp, ps, n, splits)
	kernel(pd, tmp, splits, 1)
	g.alloc.put(tmp, c)
}

// Softmax sets dst to softmax (log-softmax) of src along the middle axis
// of [outer, n, inner].
func (g *GPU) Softmax(dst, src autograd.Buffer, outer, n, inner int, log bool) {
	g.enter()
	defer g.exit()
	if outer*n*inner == 0 {
		return
	}
	lg := b2i(log)
	if inner == 1 {
		args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).i64(outer).i64(n).i32(lg)
		switch w := warpPer(n); w {
		case 8, 32:
			g.launch(modSoftmax, pick(w == 8, "dg_softmax_rows_w8", "dg_softmax_rows_w32"), g.warpGrid(outer), dgMaxBlock, args)
		default:
			g.launch(modSoftmax, "dg_softmax_rows", g.rowGrid(outer), rowBlock(n), args)
		}
	} else {
		args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).i64(outer).i64(n).i64(inner).i32(lg)
		g.launch(modSoftmax, "dg_softmax_cols", g.grid1d(outer*inner), dgMaxBlock, args)
	}
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// SoftmaxGrad sets dx from the upstream gradient and Softmax's output y.
func (g *GPU) SoftmaxGrad(dx, gr, y autograd.Buffer, outer, n, inner int, log bool) {
	g.enter()
	defer g.exit()
	if outer*n*inner == 0 {
		return
	}
	lg := b2i(log)
	if inner == 1 {
		args := g.args.reset().ptr(g.ptr(dx)).ptr(g.ptr(gr)).ptr(g.ptr(y)).i64(outer).i64(n).i32(lg)
		switch w := warpPer(n); w {
		case 8, 32:
			g.launch(modSoftmax, pick(w == 8, "dg_softmax_grad_rows_w8", "dg_softmax_grad_rows_w32"), g.warpGrid(outer), dgMaxBlock, args)
		default:
			g.launch(modSoftmax, "dg_softmax_grad_rows", g.rowGrid(outer), rowBlock(n), args)
		}
	} else {
		args := g.args.reset().ptr(g.ptr(dx)).ptr(g.ptr(gr)).ptr(g.ptr(y)).i64(outer).i64(n).i64(inner).i32(lg)
		g.launch(modSoftmax, "dg_softmax_grad_cols", g.grid1d(outer*inner), dgMaxBlock, args)
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(gr)
	runtime.KeepAlive(y)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Gemm runs a batched row-major product through cuBLAS.
func (g *GPU) Gemm(args autograd.GemmArgs, a, b, c autograd.Buffer) {
	g.enter()
	defer g.exit()
	if args.M == 0 || args.N == 0 || args.Batch == 0 {
		return
	}
	pa, pb, pc := g.ptr(a), g.ptr(b), g.ptr(c)
	if args.K == 0 {
		kargs := g.args.reset().ptr(pc).i64(args.OffC).i64(args.Batch).i64(args.StrideC).i64(args.M).i64(args.N).i64(args.LDC).f32(args.Beta)
		g.launch(modElementwise, "dg_gemm_k0", g.grid1d(args.Batch*args.M*args.N), dgMaxBlock, kargs)
		return
	}
	call := columnMajor(args)
	if err := call.validate(); err != nil {
		panic(fmt.Sprintf("cuda: Gemm %+v maps to an invalid cuBLAS call: %v", args, err))
	}
	// cuBLAS's A is autograd's B and the other way round.
	g.sgemm(call, pb, pa, pc)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// IndexSelect sets dst[o, j, i] = src[o, idx[j], i].
func (g *GPU) IndexSelect(dst, src autograd.Buffer, outer, n, inner int, idx []int) {
	g.enter()
	defer g.exit()
	k := len(idx)
	if outer*k*inner == 0 {
		return
	}
	pi, c := g.upload32(idx)
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).ptr(pi).i64(outer).i64(n).i64(inner).i64(k)
	g.launch(modIndex, "dg_index_select", g.grid1d(outer*k*inner), dgMaxBlock, args)
	g.alloc.put(pi, c)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// IndexAdd adds src[o, j, i] into dst[o, idx[j], i].
func (g *GPU) IndexAdd(dst, src autograd.Buffer, outer, n, inner int, idx []int) {
	g.enter()
	defer g.exit()
	k := len(idx)
	if outer*k*inner == 0 {
		return
	}
	pi, c := g.upload32(idx)
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).ptr(pi).i64(outer).i64(n).i64(inner).i64(k)
	g.launch(modIndex, "dg_index_add", g.grid1d(outer*k*inner), dgMaxBlock, args)
	g.alloc.put(pi, c)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// layerNormChunk is how many rows one thread of the dw/db kernel sums.
const layerNormChunk = 64

// LayerNorm normalises rows rows of n elements, scales by w and shifts by b
// (either may be nil), and stores each row's mean and 1/√(var+eps).
func (g *GPU) LayerNorm(y, mean, rstd, x, w, b autograd.Buffer, rows, n int, eps float32) {
	g.enter()
	defer g.exit()
	if rows*n == 0 {
		return
	}
	args := g.args.reset().ptr(g.ptr(y)).ptr(g.ptr(mean)).ptr(g.ptr(rstd)).ptr(g.ptr(x)).ptr(g.ptr(w)).ptr(g.ptr(b)).i64(rows).i64(n).f32(eps)
	switch w := warpPer(n); w {
	case 8, 32:
		g.launch(modNorm, pick(w == 8, "dg_layernorm_w8", "dg_layernorm_w32"), g.warpGrid(rows), dgMaxBlock, args)
	default:
		g.launch(modNorm, "dg_layernorm", g.rowGrid(rows), rowBlock(n), args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(mean)
	runtime.KeepAlive(rstd)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
}

// LayerNormGrad sets dx, dw and db (any may be nil) from the output
// gradient and LayerNorm's saved statistics.
func (g *GPU) LayerNormGrad(dx, dw, db, gr, x, mean, rstd, w autograd.Buffer, rows, n int) {
	g.enter()
	defer g.exit()
	if n == 0 {
		return
	}
	pg, px, pm, pr := g.ptr(gr), g.ptr(x), g.ptr(mean), g.ptr(rstd)
	if dx != nil && rows > 0 {
		args := g.args.reset().ptr(g.ptr(dx)).ptr(pg).ptr(px).ptr(pm).ptr(pr).ptr(g.ptr(w)).i64(rows).i64(n)
		switch w := warpPer(n); w {
		case 8, 32:
			g.launch(modNorm, pick(w == 8, "dg_layernorm_grad_dx_w8", "dg_layernorm_grad_dx_w32"), g.warpGrid(rows), dgMaxBlock, args)
		default:
			g.launch(modNorm, "dg_layernorm_grad_dx", g.rowGrid(rows), rowBlock(n), args)
		}
	}
	if dw != nil || db != nil {
		pw, pb := g.ptr(dw), g.ptr(db)
		if rows == 0 {
			for _, p := range []uintptr{pw, pb} {
				if p != 0 {
					g.memset32(p, 0, n)
				}
			}
		} else {
			chunks := (rows + layerNormChunk - 1) / layerNormChunk
			if chunks == 1 {
				args := g.args.reset().ptr(pw).ptr(pb).ptr(pg).ptr(px).ptr(pm).ptr(pr).i64(rows).i64(n).i64(1).i64(rows)
				g.launch(modNorm, "dg_layernorm_grad_wb", g.grid1d(n), dgMaxBlock, args)
			} else {
				tw, cw := g.scratch(chunks * n)
				tb, cb := g.scratch(chunks * n)
				args := g.args.reset().ptr(tw).ptr(tb).ptr(pg).ptr(px).ptr(pm).ptr(pr).i64(rows).i64(n).i64(chunks).i64(layerNormChunk)
				g.launch(modNorm, "dg_layernorm_grad_wb", g.grid1d(chunks*n), dgMaxBlock, args)
				if pw != 0 {
					g.reduceCols(autograd.ReduceSum, pw, tw, 1, chunks, n, 1)
				}
				if pb != 0 {
					g.reduceCols(autograd.ReduceSum, pb, tb, 1, chunks, n, 1)
				}
				g.alloc.put(tw, cw)
				g.alloc.put(tb, cb)
			}
		}
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(dw)
	runtime.KeepAlive(db)
	runtime.KeepAlive(gr)
	runtime.KeepAlive(x)
	runtime.KeepAlive(mean)
	runtime.KeepAlive(rstd)
	runtime.KeepAlive(w)
}

// AdamStep updates p, m, v (and vmax, nil without AMSGrad) in place by one
// fused Adam step: the GPU's autograd.AdamKernel.
func (g *GPU) AdamStep(a autograd.AdamScalars, p, gr, m, v, vmax autograd.Buffer) {
	g.enter()
	defer g.exit()
	n := p.Len()
	if n == 0 {
		return
	}
	args := g.args.reset().ptr(g.ptr(p)).ptr(g.ptr(gr)).ptr(g.ptr(m)).ptr(g.ptr(v)).ptr(g.ptr(vmax)).i64(n).
		f32(a.Beta1).f32(a.Beta2).f32(a.StepSize).f32(a.BC2Sqrt).f32(a.Eps).f32(a.L2).f32(a.Decay)
	g.launch(modElementwise, "dg_adam", g.grid1d(n), dgMaxBlock, args)
	for _, b := range []autograd.Buffer{p, gr, m, v, vmax} {
		runtime.KeepAlive(b)
	}
}

// The GPU updates Adam's moments in one kernel.
var _ autograd.AdamKernel = (*GPU)(nil)
