package autograd

import (
	"math"

	"github.com/deepgo/deepgo/internal/cpu"
)

// cpuBuffer is the CPU device's storage: a plain Go slice, with the
// allocation's sequence number and flags for the storage pool (pool.go).
type cpuBuffer struct {
	data  []float32
	seq   uint64
	n     int
	flags uint8
}

const (
	bufKept      uint8 = 1 << iota // never collected by a Scope (Keep, leaf gradients)
	bufEscaped                     // the slice left deepgo (HostData, Wrap): never pooled
	bufCollected                   // in a Scope's list
	bufReleased                    // storage handed back: any use is a bug
	bufShared                      // more than one tensor views the storage
)

func (b *cpuBuffer) Len() int { return b.n }

func cpuData(b Buffer) []float32 {
	cb, ok := b.(*cpuBuffer)
	if !ok {
		panic("autograd: CPU kernel given a buffer of another device")
	}
	if cb.flags&bufReleased != 0 {
		releasedPanic()
	}
	return cb.data
}

// cpuDevice implements Device in portable Go, parallel over the worker pool
// of internal/cpu.
type cpuDevice struct{}

// CPU is the CPU device: the default device of every tensor.
var CPU Device = cpuDevice{}

func init() { RegisterDevice(CPU) }

// elementwise kernels split work into chunks of at least this many elements.
const grainElems = 1 << 15

func (cpuDevice) Name() string { return "cpu" }

func (cpuDevice) Alloc(n int) Buffer {
	cb := &cpuBuffer{data: storagePool.get(n, true), n: n, seq: allocSeq.Add(1)}
	collectNew(cb)
	return cb
}

// AllocUninit is Alloc for storage the caller overwrites entirely: reused
// storage keeps its old values (see UninitAllocator).
func (cpuDevice) AllocUninit(n int) Buffer {
	cb := &cpuBuffer{data: storagePool.get(n, false), n: n, seq: allocSeq.Add(1)}
	collectNew(cb)
	return cb
}

func (cpuDevice) FromHost(src []float32) Buffer {
	return &cpuBuffer{data: append([]float32(nil), src...), n: len(src), seq: allocSeq.Add(1)}
}

func (cpuDevice) ToHost(dst []float32, b Buffer) { copy(dst, cpuData(b)) }

func (cpuDevice) Fill(b Buffer, v float32) {
	d := cpuData(b)
	cpu.ParallelFor(len(d), grainElems, func(lo, hi int) {
		s := d[lo:hi]
		if v == 0 {
			clear(s)
			return
		}
		for i := range s {
			s[i] = v
		}
	})
}

func (cpuDevice) Unary(op UnaryOp, p OpParams, dst, x Buffer) {
	d, s := cpuData(dst), cpuData(x)
	if len(d) <= grainElems {
		unaryLoop(op, p, d, s)
		return
	}
	cpu.ParallelFor(len(d), grainElems, func(lo, hi int) {
		unaryLoop(op, p, d[lo:hi], s[lo:hi])
	})
}

func (cpuDevice) UnaryGrad(op UnaryOp, p OpParams, dx, g, x, y Buffer) {
	dd, gd := cpuData(dx), cpuData(g)
	var xd, yd []float32
	if x != nil {
		xd = cpuData(x)
	}
	if y != nil {
		yd = cpuData(y)
	}
	if len(dd) <= grainElems {
		unaryGradLoop(op, p, dd, gd, xd, yd)
		return
	}
	cpu.ParallelFor(len(dd), grainElems, func(lo, hi int) {
		var xs, ys []float32
		if xd != nil {
			xs = xd[lo:hi]
		}
		if yd != nil {
			ys = yd[lo:hi]
		}
		unaryGradLoop(op, p, dd[lo:hi], gd[lo:hi], xs, ys)
	})
}

func (cpuDevice) Binary(op BinaryOp, shape []int, dst, a Buffer, la Layout, b Buffer, lb Layout) {
	d, ad, bd := cpuData(dst), cpuData(a), cpuData(b)
	if ca, cb := isContiguous(shape, la), isContiguous(shape, lb); ca && (cb || isScalar(lb)) {
		// Same-shape operands (or a scalar b): no index walking.
		ib := 1
		if !cb {
			ib = 0
		}
		if len(d) <= grainElems {
			binaryRun(op, d, ad, la.Offset, 1, bd, lb.Offset, ib)
			return
		}
		cpu.ParallelFor(len(d), grainElems, func(lo, hi int) {
			binaryRun(op, d[lo:hi], ad, la.Offset+lo, 1, bd, lb.Offset+lo*ib, ib)
		})
		return
	}
	strides := [][]int{contiguousStrides(shape), la.Strides, lb.Strides}
	inner := cpu.WalkInner(shape, strides)
	ia, ib := inner[1], inner[2]
	cpu.Walk(shape, strides, []int{0, la.Offset, lb.Offset}, grainElems, func(o []int, n int) {
		binaryRun(op, d[o[0]:o[0]+n], ad, o[1], ia, bd, o[2], ib)
	})
}

func (cpuDevice) Where(shape []int, dst, mask Buffer, lm Layout, a Buffer, la Layout, b Buffer, lb Layout) {
	d, md, ad, bd := cpuData(dst), cpuData(mask), cpuData(a), cpuData(b)
	strides := [][]int{contiguousStrides(shape), lm.Strides, la.Strides, lb.Strides}
	inner := cpu.WalkInner(shape, strides)
	im, ia, ib := inner[1], inner[2], inner[3]
	cpu.Walk(shape, strides, []int{0, lm.Offset, la.Offset, lb.Offset}, grainElems, func(o []int, n int) {
		out := d[o[0] : o[0]+n]
		m, pa, pb := o[1], o[2], o[3]
		for i := range out {
			if md[m+i*im] != 0 {
				out[i] = ad[pa+i*ia]
			} else {
				out[i] = bd[pb+i*ib]
			}
		}
	})
}

func (cpuDevice) Copy(shape []int, dst Buffer, ld Layout, src Buffer, ls Layout, accumulate bool) {
	d, s := cpuData(dst), cpuData(src)
	if isContiguous(shape, ld) && isContiguous(shape, ls) {
		n := prod(shape)
		d, s = d[ld.Offset:ld.Offset+n], s[ls.Offset:ls.Offset+n]
		if n <= grainElems {
			copyRun(d, s, accumulate)
			return
		}
		cpu.ParallelFor(n, grainElems, func(lo, hi int) { copyRun(d[lo:hi], s[lo:hi], accumulate) })
		return
	}
	strides := [][]int{ld.Strides, ls.Strides}
	inner := cpu.WalkInner(shape, strides)
	id, is := inner[0], inner[1]
	cpu.Walk(shape, strides, []int{ld.Offset, ls.Offset}, grainElems, func(o []int, n int) {
		pd, ps := o[0], o[1]
		switch {
		case id == 1 && is == 1 && !accumulate:
			copy(d[pd:pd+n], s[ps:ps+n])
		case id == 1 && is == 1:
			cpu.Add(d[pd:pd+n], d[pd:pd+n], s[ps:ps+n])
		case accumulate:
			for i := 0; i < n; i++ {
				d[pd+i*id] += s[ps+i*is]
			}
		default:
			for i := 0; i < n; i++ {
				d[pd+i*id] = s[ps+i*is]
			}
		}
	})
}

func (cpuDevice) Reduce(op ReduceOp, dst, src Buffer, outer, n, inner int) {
	d, s := cpuData(dst), cpuData(src)
	if inner == 1 {
		cpu.ParallelFor(outer, max(1, grainElems/max(n, 1)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				d[o] = reduceRow(op, s[o*n:(o+1)*n])
			}
		})
		return
	}
	// Reduce whole rows of length inner at a time, in column chunks that are
	// wide enough for the vector kernels (at least 64) and whose partial
	// results stay in L1 (at most 4096); when there are fewer chunks than
	// workers, split the columns further so a single outer slice still uses
	// every worker.
	cols := min(inner, 4096)
	if w := cpu.Workers(); outer*((inner+cols-1)/cols) < w {
		cols = min(inner, max(64, (inner+w-1)/w))
	}
	chunks := (inner + cols - 1) / cols
	cpu.ParallelFor(outer*chunks, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, c := t/chunks, (t%chunks)*cols
			w := min(cols, inner-c)
			reduceCols(op, d[o*inner+c:o*inner+c+w], s[o*n*inner+c:], n, inner)
		}
	})
}

// softmaxColChunk is the column width of one task of the strided (inner > 1)
// softmax: each task runs the vector kernels down the n rows of its columns.
const softmaxColChunk = 256

// softmaxSplit splits the softmax problem [outer, n, inner] over the worker
// pool: whole rows to row (inner == 1), or column chunks of one outer slab to
// cols.
func softmaxSplit(outer, n, inner int, row func(o int), cols func(o, lo, hi int)) {
	if inner == 1 {
		cpu.ParallelFor(outer, max(1, grainElems/max(n, 1)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				row(o)
			}
		})
		return
	}
	cw := min(inner, softmaxColChunk)
	chunks := (inner + cw - 1) / cw
	cpu.ParallelFor(outer*chunks, max(1, grainElems/max(n*cw, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, c := t/chunks, (t%chunks)*cw
			cols(o, c, min(c+cw, inner))
		}
	})
}

func (cpuDevice) Softmax(dst, src Buffer, outer, n, inner int, log bool) {
	d, s := cpuData(dst), cpuData(src)
	slab := n * inner
	softmaxSplit(outer, n, inner, func(o int) {
		cpu.SoftmaxRow(d[o*n:(o+1)*n], s[o*n:(o+1)*n], log)
	}, func(o, lo, hi int) {
		cpu.SoftmaxCols(d[o*slab:(o+1)*slab], s[o*slab:(o+1)*slab], n, inner, lo, hi, log)
	})
}

func (cpuDevice) SoftmaxGrad(dx, g, y Buffer, outer, n, inner int, log bool) {
	dd, gd, yd := cpuData(dx), cpuData(g), cpuData(y)
	slab := n * inner
	if inner == 1 && !log {
		cpu.ParallelFor(outer, max(1, grainElems/max(n, 1)), func(lo, hi int) {
			cpu.SoftmaxRowsGrad(dd[lo*n:hi*n], gd[lo*n:hi*n], yd[lo*n:hi*n], hi-lo, n)
		})
		return
	}
	softmaxSplit(outer, n, inner, func(o int) {
		cpu.SoftmaxRowGrad(dd[o*n:(o+1)*n], gd[o*n:(o+1)*n], yd[o*n:(o+1)*n], log)
	}, func(o, lo, hi int) {
		cpu.SoftmaxColsGrad(dd[o*slab:(o+1)*slab], gd[o*slab:(o+1)*slab], yd[o*slab:(o+1)*slab], n, inner, lo, hi, log)
	})
}

func (cpuDevice) Gemm(args GemmArgs, a, b, c Buffer) {
	args.cpu().Run(cpuData(a), cpuData(b), cpuData(c))
}

func (args GemmArgs) cpu() cpu.Gemm {
	return cpu.Gemm{
		TransA: args.TransA, TransB: args.TransB,
		M: args.M, N: args.N, K: args.K,
		Alpha: args.Alpha, Beta: args.Beta, Batch: args.Batch,
		OffA: args.OffA, OffB: args.OffB, OffC: args.OffC,
		LDA: args.LDA, LDB: args.LDB, LDC: args.LDC,
		StrideA: args.StrideA, StrideB: args.StrideB, StrideC: args.StrideC,
	}
}

func (cpuDevice) IndexSelect(dst, src Buffer, outer, n, inner int, idx []int) {
	d, s := cpuData(dst), cpuData(src)
	k := len(idx)
	cpu.ParallelFor(outer*k, max(1, grainElems/max(inner, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, j := t/k, t%k
			copy(d[t*inner:(t+1)*inner], s[(o*n+idx[j])*inner:(o*n+idx[j]+1)*inner])
		}
	})
}

func (cpuDevice) IndexAdd(dst, src Buffer, outer, n, inner int, idx []int) {
	d, s := cpuData(dst), cpuData(src)
	k := len(idx)
	// Parallel over (outer, column chunk) so that repeated indices never race.
	cols := max(1, min(inner, 4096))
	chunks := (inner + cols - 1) / cols
	cpu.ParallelFor(outer*chunks, max(1, grainElems/max(k*cols, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, c := t/chunks, (t%chunks)*cols
			w := min(cols, inner-c)
			for j, ix := range idx {
				dr := d[(o*n+ix)*inner+c : (o*n+ix)*inner+c+w]
				sr := s[(o*k+j)*inner+c : (o*k+j)*inner+c+w]
				for i := range dr {
					dr[i] += sr[i]
				}
			}
		}
	})
}

// copyRun copies or accumulates s into d.
func copyRun(d, s []float32, accumulate bool) {
	if !accumulate {
		copy(d, s)
		return
	}
	cpu.Add(d, d, s)
}

// isContiguous reports whether l views a row-major block of shape.
func isContiguous(shape []int, l Layout) bool {
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
func isScalar(l Layout) bool {
	for _, st := range l.Strides {
		if st != 0 {
			return false
		}
	}
	return true
}

func reduceRow(op ReduceOp, row []float32) float32 {
	switch op {
	case ReduceSum:
		return float32(cpu.Sum(row))
	case ReduceMax:
		return cpu.Max(row)
	case ReduceMin:
		return cpu.Min(row)
	case ReduceArgMax, ReduceArgMin:
		bi, best := 0, row[0]
		if best != best {
			return 0
		}
		for i, v := range row {
			if v != v {
				return float32(i)
			}
			if (op == ReduceArgMax && v > best) || (op == ReduceArgMin && v < best) {
				bi, best = i, v
			}
		}
		return float32(bi)
	}
	panic("autograd: unknown reduction")
}

// reduceCols reduces n rows of a strided block (row j at src[j*stride:]) into
// dst, column by column.
func reduceCols(op ReduceOp, dst, src []float32, n, stride int) {
	w := len(dst)
	switch op {
	case ReduceSum:
		copy(dst, src[:w])
		for j := 1; j < n; j++ {
			cpu.Add(dst, dst, src[j*stride:j*stride+w])
		}
	case ReduceMax, ReduceMin:
		// NaN wins; otherwise a later row replaces dst only when strictly
		// larger (smaller).
		copy(dst, src[:w])
		for j := 1; j < n; j++ {
			if op == ReduceMax {
				cpu.Maximum(dst, src[j*stride:j*stride+w], dst)
			} else {
				cpu.Minimum(dst, src[j*stride:j*stride+w], dst)
			}
		}
	case ReduceArgMax, ReduceArgMin:
		best := make([]float32, w)
		copy(best, src[:w])
		clear(dst)
		for j := 1; j < n; j++ {
			r := src[j*stride : j*stride+w]
			for i, v := range r {
				b := best[i]
				if b != b {
					continue
				}
				if v != v || (op == ReduceArgMax && v > b) || (op == ReduceArgMin && v < b) {
					best[i] = v
					dst[i] = float32(j)
				}
			}
		}
	default:
		panic("autograd: unknown reduction")
	}
}

// binaryRun sets out[i] = a[pa+i·ia] op b[pb+i·ib]. Contiguous and
// scalar-broadcast operands of the arithmetic ops (and max/min) run the
// vector kernels; the rest runs elementwise.
func binaryRun(op BinaryOp, out []float32, a []float32, pa, ia int, b []float32, pb, ib int) {
	n := len(out)
	switch {
	case ia == 1 && ib == 1:
		as, bs := a[pa:pa+n], b[pb:pb+n]
		switch op {
		case OpAdd:
			cpu.Add(out, as, bs)
			return
		case OpSub:
			cpu.Sub(out, as, bs)
			return
		case OpMul:
			cpu.Mul(out, as, bs)
			return
		case OpDiv:
			cpu.Div(out, as, bs)
			return
		case OpMaximum:
			cpu.Maximum(out, as, bs)
			return
		case OpMinimum:
			cpu.Minimum(out, as, bs)
			return
		}
	case ia == 1 && ib == 0:
		as, bv := a[pa:pa+n], b[pb]
		switch op {
		case OpAdd:
			cpu.AddScalar(out, as, bv)
			return
		case OpSub:
			cpu.AddScalar(out, as, -bv) // a − b = a + (−b) exactly
			return
		case OpMul:
			cpu.MulScalar(out, as, bv)
			return
		case OpDiv:
			cpu.DivScalar(out, as, bv)
			return
		}
	case ia == 0 && ib == 1:
		av, bs := a[pa], b[pb:pb+n]
		switch op {
		case OpAdd:
			cpu.AddScalar(out, bs, av)
			return
		case OpSub:
			cpu.RSubScalar(out, bs, av)
			return
		case OpMul:
			cpu.MulScalar(out, bs, av)
			return
		case OpDiv:
			cpu.RDivScalar(out, bs, av)
			return
		}
	}
	for i := range out {
		out[i] = binaryScalar(op, a[pa+i*ia], b[pb+i*ib])
	}
}

func b2f(c bool) float32 {
	if c {
		return 1
	}
	return 0
}

func binaryScalar(op BinaryOp, x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	case OpPow:
		return float32(math.Pow(float64(x), float64(y)))
	case OpMaximum:
		if x != x || x > y {
			return x
		}
		return y
	case OpMinimum:
		if x != x || x < y {
			return x
		}
		return y
	case OpEq:
		return b2f(x == y)
	case OpNe:
		return b2f(x != y)
	case OpLt:
		return b2f(x < y)
	case OpLe:
		return b2f(x <= y)
	case OpGt:
		return b2f(x > y)
	case OpGe:
		return b2f(x >= y)
	}
	panic("autograd: unknown binary op " + op.String())
}

const (
	sqrt2       = 1.4142135623730951
	sqrt2OverPi = 0.7978845608028654
	invSqrt2Pi  = 0.3989422804014327
	geluCoef    = 0.044715
)

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// unaryLoop sets d[i] = op(s[i]). The vector kernels of internal/cpu run
// the arithmetic and the transcendental functions (within a few ulp of the
// float64 results); the rest runs elementwise in float64.
func unaryLoop(op UnaryOp, p OpParams, d, s []float32) {
	s = s[:len(d)]
	switch op {
	case OpNeg:
		cpu.Neg(d, s)
	case OpAddScalar:
		cpu.AddScalar(d, s, p.A)
	case OpMulScalar:
		cpu.MulScalar(d, s, p.A)
	case OpSquare:
		cpu.Square(d, s)
	case OpReciprocal:
		cpu.RDivScalar(d, s, 1)
	case OpRelu:
		cpu.Relu(d, s)
	case OpLeakyRelu:
		cpu.LeakyRelu(d, s, p.A)
	case OpAbs:
		cpu.Abs(d, s)
	case OpExp:
		cpu.Exp(d, s)
	case OpLog:
		cpu.Log(d, s)
	case OpSqrt:
		cpu.Sqrt(d, s)
	case OpTanh:
		cpu.Tanh(d, s)
	case OpSigmoid:
		cpu.Sigmoid(d, s)
	case OpGeluErf:
		cpu.GeluErf(d, s)
	case OpGeluTanh:
		cpu.GeluTanh(d, s)
	case OpSilu:
		cpu.Silu(d, s)
	case OpSoftplus:
		cpu.Softplus(d, s, p.A, p.B)
	case OpElu:
		cpu.Elu(d, s, p.A)
	case OpClamp:
		if p.A <= p.B {
			cpu.Clamp(d, s, p.A, p.B)
			return
		}
		fallthrough
	default:
		for i, v := range s {
			d[i] = unaryScalar(op, p, v)
		}
	}
}

func unaryScalar(op UnaryOp, p OpParams, v float32) float32 {
	x := float64(v)
	switch op {
	case OpNeg:
		return -v
	case OpExp:
		return float32(math.Exp(x))
	case OpLog:
		return float32(math.Log(x))
	case OpSqrt:
		return float32(math.Sqrt(x))
	case OpRsqrt:
		return float32(1 / math.Sqrt(x))
	case OpAbs:
		return float32(math.Abs(x))
	case OpSin:
		return float32(math.Sin(x))
	case OpCos:
		return float32(math.Cos(x))
	case OpTanh:
		return float32(math.Tanh(x))
	case OpSigmoid:
		return float32(sigmoid64(x))
	case OpRelu:
		if v > 0 || v != v {
			return v
		}
		return 0
	case OpLeakyRelu:
		if v > 0 {
			return v
		}
		return v * p.A
	case OpGeluErf:
		return float32(0.5 * x * (1 + math.Erf(x/sqrt2)))
	case OpGeluTanh:
		return float32(0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+geluCoef*x*x*x))))
	case OpSilu:
		return float32(x * sigmoid64(x))
	case OpSoftplus:
		bx := float64(p.A) * x
		if bx > float64(p.B) {
			return v
		}
		return float32(math.Log1p(math.Exp(bx)) / float64(p.A))
	case OpElu:
		if v > 0 {
			return v
		}
		return float32(float64(p.A) * math.Expm1(x))
	case OpPowScalar:
		return float32(math.Pow(x, float64(p.A)))
	case OpClamp:
		if v < p.A {
			return p.A
		}
		if v > p.B {
			return p.B
		}
		return v
	case OpAddScalar:
		return v + p.A
	case OpMulScalar:
		return v * p.A
	case OpSquare:
		return v * v
	case OpReciprocal:
		return 1 / v
	case OpSign:
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return v // keeps 0, -0 and NaN
	}
	panic("autograd: unknown unary op " + op.String())
}

// unaryGradLoop sets dx[i] = g[i]·op'(x[i]), from the forward input x and
// output y, with the vector kernels where there is one.
func unaryGradLoop(op UnaryOp, p OpParams, dx, g, x, y []float32) {
	g = g[:len(dx)]
	switch op {
	case OpNeg:
		cpu.Neg(dx, g)
		return
	case OpAddScalar:
		copy(dx, g)
		return
	case OpMulScalar:
		cpu.MulScalar(dx, g, p.A)
		return
	case OpExp:
		cpu.Mul(dx, g, y)
		return
	case OpLog:
		cpu.Div(dx, g, x)
		return
	case OpSqrt:
		cpu.SqrtGrad(dx, g, y)
		return
	case OpTanh:
		cpu.TanhGrad(dx, g, y)
		return
	case OpSigmoid:
		cpu.SigmoidGrad(dx, g, y)
		return
	case OpRelu:
		cpu.ReluGrad(dx, g, x)
		return
	case OpLeakyRelu:
		cpu.LeakyReluGrad(dx, g, x, p.A)
		return
	case OpSquare:
		cpu.SquareGrad(dx, g, x)
		return
	case OpClamp:
		cpu.ClampGrad(dx, g, x, p.A, p.B)
		return
	case OpGeluErf:
		cpu.GeluErfGrad(dx, g, x)
		return
	case OpGeluTanh:
		cpu.GeluTanhGrad(dx, g, x)
		return
	case OpSilu:
		cpu.SiluGrad(dx, g, x)
		return
	case OpSoftplus:
		cpu.SoftplusGrad(dx, g, x, p.A, p.B)
		return
	case OpElu:
		cpu.EluGrad(dx, g, x, p.A)
		return
	}
	for i := range dx {
		var xv, yv float32
		if x != nil {
			xv = x[i]
		}
		if y != nil {
			yv = y[i]
		}
		dx[i] = g[i] * unaryDeriv(op, p, xv, yv)
	}
}

// unaryDeriv is op'(x), given the forward input x and output y.
func unaryDeriv(op UnaryOp, p OpParams, xv, yv float32) float32 {
	x, y := float64(xv), float64(yv)
	switch op {
	case OpNeg:
		return -1
	case OpExp:
		return yv
	case OpLog:
		return 1 / xv
	case OpSqrt:
		return float32(0.5 / y)
	case OpRsqrt:
		return float32(-0.5 * y * y * y)
	case OpAbs:
		return unaryScalar(OpSign, p, xv)
	case OpSin:
		return float32(math.Cos(x))
	case OpCos:
		return float32(-math.Sin(x))
	case OpTanh:
		return float32(1 - y*y)
	case OpSigmoid:
		return float32(y * (1 - y))
	case OpRelu:
		return b2f(xv > 0)
	case OpLeakyRelu:
		if xv > 0 {
			return 1
		}
		return p.A
	case OpGeluErf:
		return float32(0.5*(1+math.Erf(x/sqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x))
	case OpGeluTanh:
		u := sqrt2OverPi * (x + geluCoef*x*x*x)
		t := math.Tanh(u)
		return float32(0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+3*geluCoef*x*x))
	case OpSilu:
		s := sigmoid64(x)
		return float32(s * (1 + x*(1-s)))
	case OpSoftplus:
		bx := float64(p.A) * x
		if bx > float64(p.B) {
			return 1
		}
		return float32(sigmoid64(bx))
	case OpElu:
		if xv > 0 {
			return 1
		}
		return float32(float64(p.A) * math.Exp(x))
	case OpPowScalar:
		if p.A == 0 {
			return 0
		}
		return float32(float64(p.A) * math.Pow(x, float64(p.A)-1))
	case OpClamp:
		return b2f(xv >= p.A && xv <= p.B)
	case OpAddScalar:
		return 1
	case OpMulScalar:
		return p.A
	case OpSquare:
		return 2 * xv
	case OpReciprocal:
		return -yv * yv
	case OpSign:
		return 0
	}
	panic("autograd: unknown unary op " + op.String())
}
