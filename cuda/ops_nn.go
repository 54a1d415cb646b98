package cuda

import (
	"runtime"
	"unsafe"

	"github.com/deepgo/deepgo/autograd"
)

// The neural-network kernels of GPU: convolution helpers, pooling,
// batch-norm, gather/scatter and the long causal convolution.

// conv adds a dg_conv struct argument.
func (a *argList) conv(g autograd.ConvGeom) *argList {
	v := [14]int64{int64(g.N), int64(g.C), int64(g.H), int64(g.W), int64(g.KH), int64(g.KW), int64(g.OH), int64(g.OW),
		int64(g.StrideH), int64(g.StrideW), int64(g.PadH), int64(g.PadW), int64(g.DilH), int64(g.DilW)}
	for i, x := range v {
		a.words[a.nw+i] = uint64(x)
	}
	a.params[a.np] = uintptr(unsafe.Pointer(&a.words[a.nw]))
	a.nw += len(v)
	a.np++
	return a
}

// Im2col writes the patches of images [first, first+count) of x into col.
func (g *GPU) Im2col(geom autograd.ConvGeom, col, x autograd.Buffer, first, count, rowStride, imageStride int) {
	g.enter()
	defer g.exit()
	n := geom.C * geom.KH * geom.KW * count * geom.OH * geom.OW
	if n == 0 {
		return
	}
	args := g.args.reset().conv(geom).ptr(g.ptr(col)).ptr(g.ptr(x)).i64(first).i64(count).i64(rowStride).i64(imageStride)
	g.launch(modNN, "dg_im2col", g.grid1d(n), dgMaxBlock, args)
	runtime.KeepAlive(col)
	runtime.KeepAlive(x)
}

// Col2im adds each col entry into the input element it was read from.
func (g *GPU) Col2im(geom autograd.ConvGeom, dx, col autograd.Buffer, first, count, rowStride, imageStride int) {
	g.enter()
	defer g.exit()
	n := count * geom.C * geom.H * geom.W
	if n == 0 {
		return
	}
	args := g.args.reset().conv(geom).ptr(g.ptr(dx)).ptr(g.ptr(col)).i64(first).i64(count).i64(rowStride).i64(imageStride)
	g.launch(modNN, "dg_col2im", g.grid1d(n), dgMaxBlock, args)
	runtime.KeepAlive(dx)
	runtime.KeepAlive(col)
}

// DepthwiseConv2d convolves each plane of x with its own filter, plus b.
func (g *GPU) DepthwiseConv2d(geom autograd.ConvGeom, y, x, w, b autograd.Buffer) {
	g.enter()
	defer g.exit()
	n := geom.N * geom.C * geom.OH * geom.OW
	if n == 0 {
		return
	}
	args := g.args.reset().conv(geom).ptr(g.ptr(y)).ptr(g.ptr(x)).ptr(g.ptr(w)).ptr(g.ptr(b))
	g.launch(modNN, "dg_depthwise", g.grid1d(n), dgMaxBlock, args)
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(b)
}

// DepthwiseConv2dGrad sets dx and dw (either may be nil).
func (g *GPU) DepthwiseConv2dGrad(geom autograd.ConvGeom, dx, dw, gy, x, w autograd.Buffer) {
	g.enter()
	defer g.exit()
	if dx != nil && dx.Len() > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(dx)).ptr(g.ptr(gy)).ptr(g.ptr(w))
		g.launch(modNN, "dg_depthwise_dx", g.grid1d(dx.Len()), dgMaxBlock, args)
	}
	if dw != nil && dw.Len() > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(dw)).ptr(g.ptr(gy)).ptr(g.ptr(x))
		g.launch(modNN, "dg_depthwise_dw", g.rowGrid(dw.Len()), rowBlock(geom.N*geom.OH*geom.OW), args)
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(dw)
	runtime.KeepAlive(gy)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
}

// MaxPool2d sets y to the window maxima.
func (g *GPU) MaxPool2d(geom autograd.ConvGeom, y, x autograd.Buffer) {
	g.enter()
	defer g.exit()
	if n := y.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(y)).ptr(g.ptr(x))
		g.launch(modNN, "dg_maxpool", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
}

// MaxPool2dGrad routes each output gradient to the input its window chose.
func (g *GPU) MaxPool2dGrad(geom autograd.ConvGeom, dx, gy, x, y autograd.Buffer) {
	g.enter()
	defer g.exit()
	if n := dx.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(dx)).ptr(g.ptr(gy)).ptr(g.ptr(x)).ptr(g.ptr(y))
		g.launch(modNN, "dg_maxpool_grad", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(gy)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
}

// AvgPool2d sets y to the window averages.
func (g *GPU) AvgPool2d(geom autograd.ConvGeom, y, x autograd.Buffer, countPad bool, divisor int) {
	g.enter()
	defer g.exit()
	if n := y.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(y)).ptr(g.ptr(x)).i32(b2i(countPad)).i64(divisor)
		g.launch(modNN, "dg_avgpool", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
}

// AvgPool2dGrad sets dx from the output gradient of AvgPool2d.
func (g *GPU) AvgPool2dGrad(geom autograd.ConvGeom, dx, gy autograd.Buffer, countPad bool, divisor int) {
	g.enter()
	defer g.exit()
	if n := dx.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(dx)).ptr(g.ptr(gy)).i32(b2i(countPad)).i64(divisor)
		g.launch(modNN, "dg_avgpool_grad", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(gy)
}

// AdaptiveAvgPool2d sets y to the averages over torch's adaptive windows.
func (g *GPU) AdaptiveAvgPool2d(geom autograd.ConvGeom, y, x autograd.Buffer) {
	g.enter()
	defer g.exit()
	if n := y.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(y)).ptr(g.ptr(x))
		g.launch(modNN, "dg_adaptive_avgpool", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
}

// AdaptiveAvgPool2dGrad sets dx from the output gradient.
func (g *GPU) AdaptiveAvgPool2dGrad(geom autograd.ConvGeom, dx, gy autograd.Buffer) {
	g.enter()
	defer g.exit()
	if n := dx.Len(); n > 0 {
		args := g.args.reset().conv(geom).ptr(g.ptr(dx)).ptr(g.ptr(gy))
		g.launch(modNN, "dg_adaptive_avgpool_grad", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(dx)
	runtime.KeepAlive(gy)
}

// ChannelStats sets each channel's mean and biased variance.
func (g *GPU) ChannelStats(mean, variance, x autograd.Buffer, outer, c, inner int) {
	g.enter()
	defer g.exit()
	if c == 0 {
		return
	}
	args := g.args.reset().ptr(g.ptr(mean)).ptr(g.ptr(variance)).ptr(g.ptr(x)).i64(outer).i64(c).i64(inner)
	g.launch(modNN, "dg_channel_stats", g.rowGrid(c), rowBlock(outer*inner), args)
	runtime.KeepAlive(mean)
	runtime.KeepAlive(variance)
	runtime.KeepAlive(x)
}

// ChannelAffine sets y = x·scale[ch] + shift[ch].
func (g *GPU) ChannelAffine(y, x, scale, shift autograd.Buffer, outer, c, inner int) {
	g.enter()
	defer g.exit()
	if n := outer * c * inner; n > 0 {
		args := g.args.reset().ptr(g.ptr(y)).ptr(g.ptr(x)).ptr(g.ptr(scale)).ptr(g.ptr(shift)).i64(outer).i64(c).i64(inner)
		g.launch(modNN, "dg_channel_affine", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	runtime.KeepAlive(scale)
	runtime.KeepAlive(shift)
}

// ChannelNormGrad computes the gradients of a per-channel normalisation.
func (g *GPU) ChannelNormGrad(dx, dw, db, gy, x, mean, rstd, w autograd.Buffer, outer, c, inner int, batchStats bool) {
	g.enter()
	defer g.exit()
	if c == 0 {
		return
	}
	pm, pr := g.ptr(mean), g.ptr(rstd)
	needSums := dw != nil || db != nil || (dx != nil && batchStats)
	var sums, class uintptr
	if needSums {
		sums, class = g.scratch(4 * c)
		args := g.args.reset().ptr(sums).ptr(g.ptr(gy)).ptr(g.ptr(x)).ptr(pm).ptr(pr).i64(outer).i64(c).i64(inner)
		g.launch(modNN, "dg_channel_grad_sums", g.rowGrid(c), rowBlock(outer*inner), args)
		if dw != nil || db != nil {
			args := g.args.reset().ptr(g.ptr(dw)).ptr(g.ptr(db)).ptr(sums).i64(c)
			g.launch(modNN, "dg_copy_sums", g.grid1d(c), dgMaxBlock, args)
		}
	}
	if dx != nil && outer*c*inner > 0 {
		args := g.args.reset().ptr(g.ptr(dx)).ptr(g.ptr(gy)).ptr(g.ptr(x)).ptr(pm).ptr(pr).ptr(g.ptr(w)).ptr(sums).
			i64(outer).i64(c).i64(inner).i32(b2i(batchStats))
		g.launch(modNN, "dg_channel_grad_dx", g.grid1d(outer*c*inner), dgMaxBlock, args)
	}
	if needSums {
		g.alloc.put(sums, class)
	}
	for _, b := range []autograd.Buffer{dx, dw, db, gy, x, mean, rstd, w} {
		runtime.KeepAlive(b)
	}
}

// Gather sets dst[o, j, i] = src[o, idx[(o·k+j)·inner+i], i].
func (g *GPU) Gather(dst, src autograd.Buffer, outer, n, inner, k int, idx []int) {
	g.enter()
	defer g.exit()
	if outer*k*inner == 0 {
		return
	}
	pi, c := g.upload32(idx)
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).ptr(pi).i64(outer).i64(n).i64(inner).i64(k)
	g.launch(modNN, "dg_gather", g.grid1d(outer*k*inner), dgMaxBlock, args)
	g.alloc.put(pi, c)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// ScatterAdd adds src[o, j, i] into dst[o, idx[(o·k+j)·inner+i], i].
func (g *GPU) ScatterAdd(dst, src autograd.Buffer, outer, n, inner, k int, idx []int) {
	g.enter()
	defer g.exit()
	if outer*k*inner == 0 {
		return
	}
	pi, c := g.upload32(idx)
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).ptr(pi).i64(outer).i64(n).i64(inner).i64(k)
	g.launch(modNN, "dg_scatter_add", g.grid1d(outer*k*inner), dgMaxBlock, args)
	g.alloc.put(pi, c)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// SegmentSum sets row s of dst to the sum of the rows of src with id s, in
// their order (the grouping is computed on the host).
func (g *GPU) SegmentSum(dst, src autograd.Buffer, ids []int, segments, inner int) {
	g.enter()
	defer g.exit()
	if segments*inner == 0 {
		return
	}
	start := make([]int, segments+1)
	for _, s := range ids {
		start[s+1]++
	}
	for s := 0; s < segments; s++ {
		start[s+1] += start[s]
	}
	order := make([]int, max(len(ids), 1))
	next := append([]int(nil), start[:segments]...)
	for r, s := range ids {
		order[next[s]] = r
		next[s]++
	}
	po, co := g.upload32(order)
	ps, cs := g.upload32(start)
	args := g.args.reset().ptr(g.ptr(dst)).ptr(g.ptr(src)).ptr(po).ptr(ps).i64(segments).i64(inner)
	g.launch(modNN, "dg_segment_sum", g.grid1d(segments*inner), dgMaxBlock, args)
	g.alloc.put(po, co)
	g.alloc.put(ps, cs)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
}

// CausalConv sets y[r, t] = Σ_{s≤t} k[r', s]·u[r, t−s] by the direct sum.
func (g *GPU) CausalConv(y, u, k autograd.Buffer, b, h, l int, kBatched bool) {
	g.enter()
	defer g.exit()
	if n := b * h * l; n > 0 {
		args := g.args.reset().ptr(g.ptr(y)).ptr(g.ptr(u)).ptr(g.ptr(k)).i64(b).i64(h).i64(l).i32(b2i(kBatched))
		g.launch(modNN, "dg_causal_conv", g.grid1d(n), dgMaxBlock, args)
	}
	runtime.KeepAlive(y)
	runtime.KeepAlive(u)
	runtime.KeepAlive(k)
}
