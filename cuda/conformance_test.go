package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

// The conformance tests call every implemented Device method on a CUDA
// device (a GPU, or the host emulator) and on autograd.CPU with the same
// inputs, and compare: the CPU device is the reference semantics.

// conformTol is the elementwise tolerance |got − want| ≤ tol·max(1, |want|).
const conformTol = 2e-5

type pair struct {
	t   *testing.T
	dev autograd.Device
	rng *rand.Rand
}

func newPair(t *testing.T, dev autograd.Device) *pair {
	return &pair{t: t, dev: dev, rng: rand.New(rand.NewSource(1))}
}

// bufs holds the same values on the CPU and on the device.
type bufs struct {
	cpu, dev autograd.Buffer
}

func (p *pair) up(data []float32) bufs {
	return bufs{autograd.CPU.FromHost(data), p.dev.FromHost(data)}
}

func (p *pair) zeros(n int) bufs {
	return bufs{autograd.CPU.Alloc(n), p.dev.Alloc(n)}
}

// nan fills n elements with NaN on both sides: outputs a kernel must
// overwrite entirely.
func (p *pair) nan(n int) bufs {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return p.up(v)
}

func (p *pair) randn(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(p.rng.NormFloat64())
	}
	return v
}

func (p *pair) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*p.rng.Float64())
	}
	return v
}

func host(d autograd.Device, b autograd.Buffer) []float32 {
	out := make([]float32, b.Len())
	d.ToHost(out, b)
	return out
}

// check compares the device result with the CPU's.
func (p *pair) check(what string, b bufs, tol float64) {
	p.t.Helper()
	want, got := host(autograd.CPU, b.cpu), host(p.dev, b.dev)
	require.Lenf(p.t, got, len(want), "%s: length", what)
	bad, worst := 0, -1
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(w) && math.IsNaN(g) || w == g {
			continue
		}
		if !(math.Abs(g-w) <= tol*math.Max(1, math.Abs(w))) {
			if worst < 0 {
				worst = i
			}
			bad++
		}
	}
	if bad > 0 {
		lo := max(0, worst-4)
		hi := min(len(want), worst+12)
		require.Failf(p.t, what+" differs from the CPU device",
			"%d of %d elements beyond %g; first at %d: got %v, want %v\ngot  [%d:%d] %v\nwant [%d:%d] %v",
			bad, len(want), tol, worst, got[worst], want[worst], lo, hi, got[lo:hi], lo, hi, want[lo:hi])
	}
}

func TestConformMemory(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, n := range []int{0, 1, 7, 1000, 70000} {
			x := p.up(p.randn(n))
			p.check(fmt.Sprint("FromHost/ToHost ", n), x, 0)
			z := p.zeros(n)
			p.check(fmt.Sprint("Alloc ", n), z, 0)
			dev.Fill(z.dev, -2.5)
			autograd.CPU.Fill(z.cpu, -2.5)
			p.check(fmt.Sprint("Fill ", n), z, 0)
		}
	})
}

// unaryCases are the parameter sets each unary op is tested with.
var unaryCases = map[autograd.UnaryOp][]autograd.OpParams{
	autograd.OpLeakyRelu: {{A: 0.1}, {A: -0.3}},
	autograd.OpSoftplus:  {{A: 1, B: 20}, {A: 2, B: 5}, {A: 0.5, B: 100}},
	autograd.OpElu:       {{A: 1}, {A: 0.5}},
	autograd.OpPowScalar: {{A: 2}, {A: 3}, {A: 0.5}, {A: 0}, {A: -1.5}},
	autograd.OpClamp:     {{A: -1, B: 1.5}, {A: 0, B: float32(math.Inf(1))}},
	autograd.OpAddScalar: {{A: 2.5}},
	autograd.OpMulScalar: {{A: -1.5}},
}

// unaryInput is random values plus the special ones.
func (p *pair) unaryInput() []float32 {
	x := p.uniform(3000, -6, 6)
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1e-4, -1e-4, 30, -30, 90, -90,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	return append(x, specials...)
}

// readsY lists the ops whose derivative reads the forward output.
var readsY = map[autograd.UnaryOp]bool{
	autograd.OpExp: true, autograd.OpSqrt: true, autograd.OpRsqrt: true, autograd.OpTanh: true,
	autograd.OpSigmoid: true, autograd.OpReciprocal: true,
}

// readsNeither lists the ops whose derivative reads neither x nor y.
var readsNeither = map[autograd.UnaryOp]bool{
	autograd.OpNeg: true, autograd.OpAddScalar: true, autograd.OpMulScalar: true, autograd.OpSign: true,
}

func TestConformUnary(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		xs := p.unaryInput()
		x := p.up(xs)
		gr := p.up(p.randn(len(xs)))
		for _, op := range allUnaryOps() {
			params := unaryCases[op]
			if params == nil {
				params = []autograd.OpParams{{}}
			}
			for _, prm := range params {
				name := fmt.Sprintf("%v%v", op, prm)
				y := p.nan(len(xs))
				autograd.CPU.Unary(op, prm, y.cpu, x.cpu)
				dev.Unary(op, prm, y.dev, x.dev)
				p.check(name, y, conformTol)

				// The gradient, from the CPU's forward output.
				yc := p.up(host(autograd.CPU, y.cpu))
				dx := p.nan(len(xs))
				var xc, xd, ycpu, ydev autograd.Buffer
				switch {
				case readsNeither[op]:
				case readsY[op]:
					ycpu, ydev = yc.cpu, yc.dev
				default:
					xc, xd = x.cpu, x.dev
				}
				autograd.CPU.UnaryGrad(op, prm, dx.cpu, gr.cpu, xc, ycpu)
				dev.UnaryGrad(op, prm, dx.dev, gr.dev, xd, ydev)
				p.check(name+" grad", dx, conformTol)
			}
		}
	})
}

// layoutCase is a binary or where operand's view.
type layoutCase struct {
	name  string
	shape []int
	// for each operand: buffer length and layout
	lens    []int
	layouts []autograd.Layout
}

// binaryLayouts are views of two operands over a shape: contiguous,
// broadcast rows and columns, scalars, a transposed view, offsets and a
// reversed axis.
func binaryLayouts() []layoutCase {
	s := []int{3, 4, 5}
	c := []int{20, 5, 1}
	return []layoutCase{
		{"contiguous", s, []int{60, 60}, []autograd.Layout{{Strides: c}, {Strides: c}}},
		{"scalar b", s, []int{60, 1}, []autograd.Layout{{Strides: c}, {Strides: []int{0, 0, 0}}}},
		{"scalar a", s, []int{1, 60}, []autograd.Layout{{Strides: []int{0, 0, 0}}, {Strides: c}}},
		{"offsets", s, []int{70, 65}, []autograd.Layout{{Offset: 10, Strides: c}, {Offset: 5, Strides: c}}},
		{"row broadcast", s, []int{60, 5}, []autograd.Layout{{Strides: c}, {Strides: []int{0, 0, 1}}}},
		{"column broadcast", s, []int{4, 60}, []autograd.Layout{{Strides: []int{0, 1, 0}}, {Strides: c}}},
		{"outer product", []int{6, 7}, []int{6, 7}, []autograd.Layout{{Strides: []int{1, 0}}, {Strides: []int{0, 1}}}},
		{"transposed", s, []int{60, 60}, []autograd.Layout{{Strides: []int{1, 3, 12}}, {Strides: c}}},
		{"reversed", s, []int{60, 60}, []autograd.Layout{{Offset: 4, Strides: []int{20, 5, -1}}, {Offset: 59, Strides: []int{-20, -5, -1}}}},
		{"size one dims", []int{1, 6, 1, 5}, []int{30, 5}, []autograd.Layout{{Strides: []int{30, 5, 5, 1}}, {Strides: []int{0, 0, 0, 1}}}},
		{"scalar shape", []int{}, []int{1, 1}, []autograd.Layout{{Strides: []int{}}, {Strides: []int{}}}},
		{"large", []int{50, 3000}, []int{150000, 50}, []autograd.Layout{{Strides: []int{3000, 1}}, {Strides: []int{1, 0}}}},
	}
}

func TestConformBinary(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, lc := range binaryLayouts() {
			av, bv := p.randn(lc.lens[0]), p.randn(lc.lens[1])
			for i := range av {
				if i%5 == 0 { // equal values for the comparisons
					av[i] = float32(i % 3)
				}
			}
			for i := range bv {
				if i%5 == 0 {
					bv[i] = float32(i % 3)
				}
			}
			a, b := p.up(av), p.up(bv)
			n := prod(lc.shape)
			for _, op := range allBinaryOps() {
				aa, bb := a, b
				if op == autograd.OpPow {
					aa = p.up(p.uniform(lc.lens[0], 0.1, 3))
				}
				d := p.nan(n)
				autograd.CPU.Binary(op, lc.shape, d.cpu, aa.cpu, lc.layouts[0], bb.cpu, lc.layouts[1])
				dev.Binary(op, lc.shape, d.dev, aa.dev, lc.layouts[0], bb.dev, lc.layouts[1])
				p.check(fmt.Sprintf("%s %v", lc.name, op), d, conformTol)
			}
		}
	})
}

func TestConformWhere(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		shape := []int{4, 6}
		mv := make([]float32, 6)
		for i := range mv {
			mv[i] = float32(i % 2)
		}
		mv[3] = float32(math.NaN()) // NaN is not zero: picks a
		m := p.up(mv)
		a, b := p.up(p.randn(24)), p.up(p.randn(4))
		d := p.nan(24)
		lm := autograd.Layout{Strides: []int{0, 1}}
		la := autograd.Layout{Strides: []int{6, 1}}
		lb := autograd.Layout{Strides: []int{1, 0}}
		autograd.CPU.Where(shape, d.cpu, m.cpu, lm, a.cpu, la, b.cpu, lb)
		dev.Where(shape, d.dev, m.dev, lm, a.dev, la, b.dev, lb)
		p.check("Where", d, 0)
	})
}

func TestConformCopy(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		type cc struct {
			name   string
			shape  []int
			ld, ls autograd.Layout
			dn, sn int
		}
		cases := []cc{
			{"contiguous", []int{4, 5}, autograd.Layout{Strides: []int{5, 1}}, autograd.Layout{Strides: []int{5, 1}}, 20, 20},
			{"offsets", []int{4, 5}, autograd.Layout{Offset: 3, Strides: []int{5, 1}}, autograd.Layout{Offset: 7, Strides: []int{5, 1}}, 30, 30},
			{"permute", []int{3, 4, 5}, autograd.Layout{Strides: []int{20, 5, 1}}, autograd.Layout{Strides: []int{1, 15, 3}}, 60, 60},
			{"flip", []int{6, 7}, autograd.Layout{Strides: []int{7, 1}}, autograd.Layout{Offset: 6, Strides: []int{7, -1}}, 42, 42},
			{"into a slice", []int{2, 3}, autograd.Layout{Offset: 2, Strides: []int{8, 2}}, autograd.Layout{Strides: []int{3, 1}}, 24, 6},
			{"broadcast source", []int{5, 4}, autograd.Layout{Strides: []int{4, 1}}, autograd.Layout{Strides: []int{0, 1}}, 20, 4},
			{"large permute", []int{64, 300}, autograd.Layout{Strides: []int{300, 1}}, autograd.Layout{Strides: []int{1, 64}}, 19200, 19200},
		}
		for _, c := range cases {
			for _, acc := range []bool{false, true} {
				d := p.up(p.randn(c.dn))
				s := p.up(p.randn(c.sn))
				autograd.CPU.Copy(c.shape, d.cpu, c.ld, s.cpu, c.ls, acc)
				dev.Copy(c.shape, d.dev, c.ld, s.dev, c.ls, acc)
				p.check(fmt.Sprintf("Copy %s accumulate=%v", c.name, acc), d, 0)
			}
		}
	})
}

func TestConformReduce(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		shapes := [][3]int{{1, 1, 1}, {1, 10, 1}, {7, 33, 1}, {3, 300, 1}, {1, 100000, 1}, {2, 9000, 1},
			{3, 5, 4}, {2, 3000, 2}, {1, 1, 7}, {4, 64, 65}, {1, 700, 3}}
		ops := []autograd.ReduceOp{autograd.ReduceSum, autograd.ReduceMax, autograd.ReduceMin, autograd.ReduceArgMax, autograd.ReduceArgMin}
		for _, s := range shapes {
			outer, n, inner := s[0], s[1], s[2]
			v := p.randn(outer * n * inner)
			for i := range v {
				if i%7 == 3 { // ties for the arg reductions
					v[i] = 1.5
				}
			}
			src := p.up(v)
			for _, op := range ops {
				tol := conformTol
				if op == autograd.ReduceSum && n > 1000 {
					tol = 1e-4
				}
				d := p.nan(outer * inner)
				autograd.CPU.Reduce(op, d.cpu, src.cpu, outer, n, inner)
				dev.Reduce(op, d.dev, src.dev, outer, n, inner)
				p.check(fmt.Sprintf("Reduce %d [%d %d %d]", op, outer, n, inner), d, tol)
			}
		}
		// NaN wins max and min, and the first NaN wins argmax and argmin.
		v := p.randn(3 * 50 * 2)
		v[2*50+7], v[2*50+9], v[100+31] = float32(math.NaN()), float32(math.NaN()), float32(math.NaN())
		src := p.up(v)
		for _, op := range ops {
			for _, s := range [][3]int{{3, 100, 1}, {3, 50, 2}} {
				d := p.nan(s[0] * s[2])
				autograd.CPU.Reduce(op, d.cpu, src.cpu, s[0], s[1], s[2])
				dev.Reduce(op, d.dev, src.dev, s[0], s[1], s[2])
				p.check(fmt.Sprintf("Reduce %d with NaN %v", op, s), d, conformTol)
			}
		}
	})
}

func TestConformSoftmax(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, s := range [][3]int{{4, 10, 1}, {2, 300, 1}, {3, 5, 7}, {1, 1, 1}, {2, 1000, 3}, {37, 197, 1}, {3, 1024, 1}, {3, 1500, 1}} {
			outer, n, inner := s[0], s[1], s[2]
			size := outer * n * inner
			x := p.up(p.uniform(size, -8, 8))
			gr := p.up(p.randn(size))
			for _, lg := range []bool{false, true} {
				y := p.nan(size)
				autograd.CPU.Softmax(y.cpu, x.cpu, outer, n, inner, lg)
				dev.Softmax(y.dev, x.dev, outer, n, inner, lg)
				p.check(fmt.Sprintf("Softmax %v log=%v", s, lg), y, conformTol)
				yc := p.up(host(autograd.CPU, y.cpu))
				dx := p.nan(size)
				autograd.CPU.SoftmaxGrad(dx.cpu, gr.cpu, yc.cpu, outer, n, inner, lg)
				dev.SoftmaxGrad(dx.dev, gr.dev, yc.dev, outer, n, inner, lg)
				p.check(fmt.Sprintf("SoftmaxGrad %v log=%v", s, lg), dx, conformTol)
			}
		}
	})
}

func TestConformGemm(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for i, ga := range gemmCases() {
			a := p.up(p.randn(ga.OffA + ga.StrideA*(ga.Batch-1) + gemmRows(ga.TransA, ga.M, ga.K)*ga.LDA + 8))
			b := p.up(p.randn(ga.OffB + ga.StrideB*(ga.Batch-1) + gemmRows(ga.TransB, ga.K, ga.N)*ga.LDB + 8))
			c := p.up(p.randn(ga.OffC + ga.StrideC*(ga.Batch-1) + ga.M*ga.LDC + 8))
			autograd.CPU.Gemm(ga, a.cpu, b.cpu, c.cpu)
			dev.Gemm(ga, a.dev, b.dev, c.dev)
			p.check(fmt.Sprintf("Gemm case %d %+v", i, ga), c, 1e-4)
		}
	})
}

func TestConformIndex(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		outer, n, inner := 3, 7, 5
		idx := []int{6, 0, 2, 2, 5, 0, 6}
		src := p.up(p.randn(outer * n * inner))
		d := p.nan(outer * len(idx) * inner)
		autograd.CPU.IndexSelect(d.cpu, src.cpu, outer, n, inner, idx)
		dev.IndexSelect(d.dev, src.dev, outer, n, inner, idx)
		p.check("IndexSelect", d, 0)

		acc := p.up(p.randn(outer * n * inner))
		add := p.up(p.randn(outer * len(idx) * inner))
		autograd.CPU.IndexAdd(acc.cpu, add.cpu, outer, n, inner, idx)
		dev.IndexAdd(acc.dev, add.dev, outer, n, inner, idx)
		p.check("IndexAdd", acc, conformTol)
	})
}

func TestConformLayerNorm(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		for _, s := range [][2]int{{5, 7}, {130, 300}, {1, 1}, {3, 1000}, {37, 192}, {2, 1500}} {
			rows, n := s[0], s[1]
			xv := p.randn(rows * n)
			for i := range xv {
				xv[i] = xv[i]*3 + 10 // a large mean tests the variance's accuracy
			}
			x := p.up(xv)
			w, b := p.up(p.randn(n)), p.up(p.randn(n))
			gr := p.up(p.randn(rows * n))
			for _, affine := range [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}} {
				var wc, wd, bc, bd autograd.Buffer
				if affine[0] {
					wc, wd = w.cpu, w.dev
				}
				if affine[1] {
					bc, bd = b.cpu, b.dev
				}
				name := fmt.Sprintf("LayerNorm %v w=%v b=%v", s, affine[0], affine[1])
				y, mean, rstd := p.nan(rows*n), p.nan(rows), p.nan(rows)
				autograd.CPU.LayerNorm(y.cpu, mean.cpu, rstd.cpu, x.cpu, wc, bc, rows, n, 1e-5)
				dev.LayerNorm(y.dev, mean.dev, rstd.dev, x.dev, wd, bd, rows, n, 1e-5)
				p.check(name+" y", y, conformTol)
				p.check(name+" mean", mean, conformTol)
				p.check(name+" rstd", rstd, conformTol)

				m, r := p.up(host(autograd.CPU, mean.cpu)), p.up(host(autograd.CPU, rstd.cpu))
				dx, dw, db := p.nan(rows*n), p.nan(n), p.nan(n)
				autograd.CPU.LayerNormGrad(dx.cpu, dw.cpu, db.cpu, gr.cpu, x.cpu, m.cpu, r.cpu, wc, rows, n)
				dev.LayerNormGrad(dx.dev, dw.dev, db.dev, gr.dev, x.dev, m.dev, r.dev, wd, rows, n)
				p.check(name+" dx", dx, 1e-4)
				p.check(name+" dw", dw, 1e-4)
				p.check(name+" db", db, 1e-4)

				// Only some gradients.
				dx2, db2 := p.nan(rows*n), p.nan(n)
				autograd.CPU.LayerNormGrad(nil, nil, db2.cpu, gr.cpu, x.cpu, m.cpu, r.cpu, wc, rows, n)
				dev.LayerNormGrad(nil, nil, db2.dev, gr.dev, x.dev, m.dev, r.dev, wd, rows, n)
				p.check(name+" db alone", db2, 1e-4)
				autograd.CPU.LayerNormGrad(dx2.cpu, nil, nil, gr.cpu, x.cpu, m.cpu, r.cpu, wc, rows, n)
				dev.LayerNormGrad(dx2.dev, nil, nil, gr.dev, x.dev, m.dev, r.dev, wd, rows, n)
				p.check(name+" dx alone", dx2, 1e-4)
			}
		}
	})
}

func TestNotImplementedMessage(t *testing.T) {
	require.PanicsWithValue(t, "cuda: Foo is not implemented yet; run this op on autograd.CPU for now", func() {
		notImplemented("Foo")
	})
}

// TestConformTensors trains two steps of a small network on the device
// and on the CPU through the autograd API: To, broadcasting, matrix
// products, activations, softmax cross-entropy by hand, reductions and
// Backward.
func TestConformTensors(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		xv, w1v, b1v, w2v := p.randn(8*16), p.randn(16*32), p.randn(32), p.randn(32*10)
		run := func(d autograd.Device) ([]float32, []float32, []float32) {
			x := autograd.New(xv, 8, 16).To(d)
			w1 := autograd.New(w1v, 16, 32).To(d)
			b1 := autograd.New(b1v, 32).To(d)
			w2 := autograd.New(w2v, 32, 10).To(d)
			for _, t := range []*autograd.Tensor{w1, b1, w2} {
				t.SetRequiresGrad(true)
			}
			h := x.MatMul(w1).Add(b1).Gelu()
			logits := h.MatMul(w2)
			loss := logits.LogSoftmax(1).Narrow(1, 0, 1).Neg().Mean()
			loss.Backward()
			return loss.Data(), w1.Grad.Data(), b1.Grad.Data()
		}
		lc, w1c, b1c := run(autograd.CPU)
		ld, w1d, b1d := run(dev)
		for i, pr := range [][2][]float32{{lc, ld}, {w1c, w1d}, {b1c, b1d}} {
			require.InDeltaSlicef(t, toF64(pr[0]), toF64(pr[1]), 1e-4, "result %d", i)
		}
	})
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestConformAdam(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		p := newPair(t, dev)
		n := 5000
		for _, c := range []struct {
			a    autograd.AdamScalars
			amsg bool
		}{
			{autograd.AdamScalars{Beta1: 0.9, Beta2: 0.999, StepSize: 1e-3, BC2Sqrt: 0.05, Eps: 1e-8, Decay: 1}, false},
			{autograd.AdamScalars{Beta1: 0.8, Beta2: 0.99, StepSize: 1e-2, BC2Sqrt: 0.3, Eps: 1e-6, L2: 0.01, Decay: 1}, true},
			{autograd.AdamScalars{Beta1: 0.9, Beta2: 0.999, StepSize: 1e-3, BC2Sqrt: 0.05, Eps: 1e-8, Decay: 0.999}, false},
		} {
			pp, gr := p.up(p.randn(n)), p.up(p.randn(n))
			m, v := p.up(p.randn(n)), p.up(p.uniform(n, 0, 1))
			var vc, vd autograd.Buffer
			vm := p.up(p.uniform(n, 0, 1))
			if c.amsg {
				vc, vd = vm.cpu, vm.dev
			}
			autograd.CPU.(autograd.AdamKernel).AdamStep(c.a, pp.cpu, gr.cpu, m.cpu, v.cpu, vc)
			dev.(autograd.AdamKernel).AdamStep(c.a, pp.dev, gr.dev, m.dev, v.dev, vd)
			name := fmt.Sprintf("AdamStep %+v amsgrad=%v", c.a, c.amsg)
			p.check(name+" p", pp, 1e-5)
			p.check(name+" m", m, 1e-5)
			p.check(name+" v", v, 1e-5)
			if c.amsg {
				p.check(name+" vmax", vm, 1e-5)
			}
		}
	})
}
