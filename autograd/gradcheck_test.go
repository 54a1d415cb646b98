package autograd_test

import (
	"fmt"
	"math"
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

// gradCheck compares the analytic gradient of loss = Σ f(xs)·w (w fixed and
// random) with central finite differences whose loss is accumulated in
// float64. Inputs are perturbed by eps in place.
func gradCheck(t *testing.T, f func(xs []*ag.Tensor) *ag.Tensor, inputs ...*ag.Tensor) {
	t.Helper()
	const eps = 1e-2
	xs := make([]*ag.Tensor, len(inputs))
	for i, in := range inputs {
		xs[i] = ag.New(in.Data(), in.Shape()...).SetRequiresGrad(true)
	}
	out := f(xs)
	w := ag.NewRNG(99).Normal(0, 1, out.Shape()...)
	out.Mul(w).Sum().Backward()
	wd := w.Data()
	loss := func() float64 {
		var s float64
		ag.NoGrad(func() {
			for i, v := range f(xs).Data() {
				s += float64(v) * float64(wd[i])
			}
		})
		return s
	}
	for i, x := range xs {
		if x.Grad == nil {
			t.Fatalf("input %d got no gradient", i)
		}
		ana := x.Grad.Data()
		data, err := x.HostData()
		if err != nil {
			t.Fatal(err)
		}
		var diff, norm float64
		for j := range data {
			orig := data[j]
			data[j] = orig + eps
			lp := loss()
			data[j] = orig - eps
			lm := loss()
			data[j] = orig
			num := (lp - lm) / (2 * eps)
			d := num - float64(ana[j])
			diff += d * d
			norm += num * num
		}
		rel := math.Sqrt(diff) / math.Max(math.Sqrt(norm), 1e-2)
		if rel > 1e-2 || math.IsNaN(rel) {
			t.Errorf("input %d: analytic and numeric gradients differ: relative error %.3g\nanalytic %v", i, rel, x.Grad)
		}
	}
}

// away returns seeded values in ±[lo, hi] (kept away from 0 and kinks).
func away(seed uint64, lo, hi float32, shape ...int) *ag.Tensor {
	r := ag.NewRNG(seed)
	n := 1
	for _, s := range shape {
		n *= s
	}
	d := make([]float32, n)
	for i := range d {
		v := lo + (hi-lo)*r.Float32()
		if r.Float32() < 0.5 {
			v = -v
		}
		d[i] = v
	}
	return ag.New(d, shape...)
}

func positive(seed uint64, shape ...int) *ag.Tensor {
	return ag.NewRNG(seed).Uniform(0.5, 2, shape...)
}

// distinct returns a random permutation of spaced values, so max/min and
// sorting have no ties.
func distinct(seed uint64, shape ...int) *ag.Tensor {
	n := 1
	for _, s := range shape {
		n *= s
	}
	p := ag.NewRNG(seed).Perm(n)
	d := make([]float32, n)
	for i, v := range p {
		d[i] = float32(v)*0.37 - float32(n)*0.15
	}
	return ag.New(d, shape...)
}

type gcase struct {
	name   string
	f      func(xs []*ag.Tensor) *ag.Tensor
	inputs []*ag.Tensor
}

func unaryCases() []gcase {
	x := away(1, 0.2, 1.5, 2, 3, 4)
	p := positive(2, 2, 3, 4)
	u := func(name string, in *ag.Tensor, f func(x *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0]) }, []*ag.Tensor{in}}
	}
	return []gcase{
		u("Neg", x, (*ag.Tensor).Neg),
		u("Exp", x, (*ag.Tensor).Exp),
		u("Log", p, (*ag.Tensor).Log),
		u("Sqrt", p, (*ag.Tensor).Sqrt),
		u("Rsqrt", p, (*ag.Tensor).Rsqrt),
		u("Abs", x, (*ag.Tensor).Abs),
		u("Sin", x, (*ag.Tensor).Sin),
		u("Cos", x, (*ag.Tensor).Cos),
		u("Tanh", x, (*ag.Tensor).Tanh),
		u("Sigmoid", x, (*ag.Tensor).Sigmoid),
		u("Relu", x, (*ag.Tensor).Relu),
		u("LeakyRelu", x, func(x *ag.Tensor) *ag.Tensor { return x.LeakyRelu(0.1) }),
		u("Gelu", x, (*ag.Tensor).Gelu),
		u("GeluTanh", x, (*ag.Tensor).GeluTanh),
		u("Silu", x, (*ag.Tensor).Silu),
		u("Softplus", x, (*ag.Tensor).Softplus),
		u("SoftplusWith", x, func(x *ag.Tensor) *ag.Tensor { return x.SoftplusWith(2, 1) }),
		u("Elu", x, func(x *ag.Tensor) *ag.Tensor { return x.Elu(0.7) }),
		u("PowScalar", p, func(x *ag.Tensor) *ag.Tensor { return x.PowScalar(2.5) }),
		u("Square", x, (*ag.Tensor).Square),
		u("Reciprocal", p, (*ag.Tensor).Reciprocal),
		u("Clamp", x, func(x *ag.Tensor) *ag.Tensor { return x.Clamp(-0.9, 0.8) }),
		u("AddScalar", x, func(x *ag.Tensor) *ag.Tensor { return x.AddScalar(3) }),
		u("SubScalar", x, func(x *ag.Tensor) *ag.Tensor { return x.SubScalar(3) }),
		u("MulScalar", x, func(x *ag.Tensor) *ag.Tensor { return x.MulScalar(-2) }),
		u("DivScalar", x, func(x *ag.Tensor) *ag.Tensor { return x.DivScalar(4) }),
		u("Softmax0", x, func(x *ag.Tensor) *ag.Tensor { return x.Softmax(0) }),
		u("Softmax1", x, func(x *ag.Tensor) *ag.Tensor { return x.Softmax(1) }),
		u("Softmax2", x, func(x *ag.Tensor) *ag.Tensor { return x.Softmax(-1) }),
		u("LogSoftmax1", x, func(x *ag.Tensor) *ag.Tensor { return x.LogSoftmax(1) }),
		u("LogSoftmax2", x, func(x *ag.Tensor) *ag.Tensor { return x.LogSoftmax(2) }),
		u("Clone", x, (*ag.Tensor).Clone),
	}
}

func binaryCases() []gcase {
	type pair struct{ a, b []int }
	shapes := []pair{{[]int{2, 3, 4}, []int{2, 3, 4}}, {[]int{2, 3, 4}, []int{3, 1}}, {[]int{4}, []int{2, 3, 4}}, {[]int{2, 1, 4}, []int{3, 1}}, {[]int{2, 3}, []int{}}}
	var cs []gcase
	for i, s := range shapes {
		b := func(name string, a, c *ag.Tensor, f func(a, b *ag.Tensor) *ag.Tensor) gcase {
			return gcase{fmt.Sprintf("%s/%v_%v", name, s.a, s.b), func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0], xs[1]) }, []*ag.Tensor{a, c}}
		}
		seed := uint64(10 * i)
		xa, xb := away(seed, 0.2, 1.5, s.a...), away(seed+1, 0.2, 1.5, s.b...)
		pa := positive(seed+2, s.a...)
		da, db := distinct(seed+4, s.a...), distinct(seed+5, s.b...).AddScalar(0.1)
		cs = append(cs,
			b("Add", xa, xb, (*ag.Tensor).Add),
			b("Sub", xa, xb, (*ag.Tensor).Sub),
			b("Mul", xa, xb, (*ag.Tensor).Mul),
			b("Div", xa, xb, (*ag.Tensor).Div),
			b("Pow", pa, xb, (*ag.Tensor).Pow),
			b("Maximum", da, db, (*ag.Tensor).Maximum),
			b("Minimum", da, db, (*ag.Tensor).Minimum),
			gcase{fmt.Sprintf("Where/%v_%v", s.a, s.b), func(xs []*ag.Tensor) *ag.Tensor {
				return ag.Where(xs[0].Gt(xs[1]), xs[0], xs[1].MulScalar(2))
			}, []*ag.Tensor{da, db}},
		)
	}
	return cs
}

func reduceCases() []gcase {
	x := distinct(3, 2, 3, 4)
	r := func(name string, f func(x *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0]) }, []*ag.Tensor{x}}
	}
	return []gcase{
		r("SumAll", func(x *ag.Tensor) *ag.Tensor { return x.Sum() }),
		r("Sum1", func(x *ag.Tensor) *ag.Tensor { return x.Sum(1) }),
		r("Sum02", func(x *ag.Tensor) *ag.Tensor { return x.Sum(0, 2) }),
		r("SumKeep12", func(x *ag.Tensor) *ag.Tensor { return x.SumKeep(1, 2) }),
		r("Mean", func(x *ag.Tensor) *ag.Tensor { return x.Mean(-1) }),
		r("MeanKeep02", func(x *ag.Tensor) *ag.Tensor { return x.MeanKeep(0, 2) }),
		r("Max1", func(x *ag.Tensor) *ag.Tensor { return x.Max(1) }),
		r("MaxAll", func(x *ag.Tensor) *ag.Tensor { return x.Max() }),
		r("Min02", func(x *ag.Tensor) *ag.Tensor { return x.MinKeep(0, 2) }),
		r("Var", func(x *ag.Tensor) *ag.Tensor { return x.Var(2) }),
		r("VarAll", func(x *ag.Tensor) *ag.Tensor { return x.Var() }),
		r("Std02", func(x *ag.Tensor) *ag.Tensor { return x.Std(0, 2) }),
		r("VarCorrection0", func(x *ag.Tensor) *ag.Tensor { return x.VarCorrection(0, true, 1) }),
		r("LogSumExp", func(x *ag.Tensor) *ag.Tensor { return x.MulScalar(0.3).LogSumExp(1) }),
		r("LogSumExpKeep02", func(x *ag.Tensor) *ag.Tensor { return x.MulScalar(0.3).LogSumExpKeep(0, 2) }),
	}
}

func shapeCases() []gcase {
	x := away(4, 0.2, 1.5, 2, 3, 4)
	s := func(name string, f func(x *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0]) }, []*ag.Tensor{x}}
	}
	y := away(5, 0.2, 1.5, 2, 2, 4)
	two := func(name string, f func(a, b *ag.Tensor) *ag.Tensor) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return f(xs[0], xs[1]) }, []*ag.Tensor{x, y}}
	}
	return []gcase{
		s("Reshape", func(x *ag.Tensor) *ag.Tensor { return x.Reshape(4, -1) }),
		s("Permute", func(x *ag.Tensor) *ag.Tensor { return x.Permute(2, 0, 1) }),
		s("Transpose", func(x *ag.Tensor) *ag.Tensor { return x.Transpose(0, 2) }),
		s("SqueezeUnsqueeze", func(x *ag.Tensor) *ag.Tensor { return x.Unsqueeze(1).Unsqueeze(-1).Squeeze(1) }),
		s("Expand", func(x *ag.Tensor) *ag.Tensor { return x.Narrow(1, 0, 1).Expand(3, 2, -1, 4) }),
		s("Narrow", func(x *ag.Tensor) *ag.Tensor { return x.Narrow(2, 1, 2) }),
		s("SliceStep", func(x *ag.Tensor) *ag.Tensor { return x.Slice(2, -4, 10, 2) }),
		s("IndexSelect", func(x *ag.Tensor) *ag.Tensor { return x.IndexSelect(1, []int{2, 0, 2, -1}) }),
		s("Split", func(x *ag.Tensor) *ag.Tensor {
			p := x.Split(3, 2)
			return p[0].Sum(2).Mul(p[1].Sum(2))
		}),
		s("Chunk", func(x *ag.Tensor) *ag.Tensor {
			p := x.Chunk(2, 1)
			return p[0].Sum(1).Add(p[1].Sum(1).MulScalar(3))
		}),
		s("PadConstant", func(x *ag.Tensor) *ag.Tensor { return x.Pad([]int{1, 2, 0, 1}, ag.PadConstant, 0.5) }),
		s("PadCircular", func(x *ag.Tensor) *ag.Tensor { return x.Pad([]int{2, 1, 1, 3}, ag.PadCircular, 0) }),
		s("Repeat", func(x *ag.Tensor) *ag.Tensor { return x.Repeat(2, 1, 3, 1) }),
		s("Flip", func(x *ag.Tensor) *ag.Tensor { return x.Flip(0, 2) }),
		s("Roll", func(x *ag.Tensor) *ag.Tensor { return x.Roll([]int{1, -3}, []int{1, 2}) }),
		s("RollFlat", func(x *ag.Tensor) *ag.Tensor { return x.Roll([]int{5}, nil) }),
		two("Concat", func(a, b *ag.Tensor) *ag.Tensor { return ag.Concat([]*ag.Tensor{a, b, a}, 1) }),
		two("Stack", func(a, b *ag.Tensor) *ag.Tensor { return ag.Stack([]*ag.Tensor{a.Narrow(1, 0, 2), b}, 2) }),
	}
}

func matmulCases() []gcase {
	m := func(name string, a, b *ag.Tensor, ta, tb bool) gcase {
		return gcase{name, func(xs []*ag.Tensor) *ag.Tensor { return ag.MatMulT(xs[0], xs[1], ta, tb) }, []*ag.Tensor{a, b}}
	}
	r := func(seed uint64, shape ...int) *ag.Tensor { return ag.NewRNG(seed).Normal(0, 1, shape...) }
	return []gcase{
		m("1x1", r(1, 5), r(2, 5), false, false),
		m("1x2", r(1, 5), r(2, 5, 3), false, false),
		m("2x1", r(1, 4, 5), r(2, 5), false, false),
		m("2x2", r(1, 4, 5), r(2, 5, 3), false, false),
		m("2x2TA", r(1, 5, 4), r(2, 5, 3), true, false),
		m("2x2TB", r(1, 4, 5), r(2, 3, 5), false, true),
		m("2x2TATB", r(1, 5, 4), r(2, 3, 5), true, true),
		m("3x2", r(1, 2, 4, 5), r(2, 5, 3), false, false),
		m("3x2TA", r(1, 2, 5, 4), r(2, 5, 3), true, false),
		m("2x3", r(1, 4, 5), r(2, 2, 5, 3), false, false),
		m("3x3TB", r(1, 2, 4, 5), r(2, 2, 3, 5), false, true),
		m("broadcast", r(1, 2, 1, 3, 4), r(2, 3, 4, 5), false, false),
		m("broadcastTATB", r(1, 2, 1, 4, 3), r(2, 3, 5, 4), true, true),
		m("large", r(1, 40, 37), r(2, 37, 33), false, false),
	}
}

func TestGradCheck(t *testing.T) {
	groups := map[string][]gcase{
		"unary": unaryCases(), "binary": binaryCases(), "reduce": reduceCases(),
		"shape": shapeCases(), "matmul": matmulCases(),
	}
	for g, cases := range groups {
		for _, c := range cases {
			t.Run(g+"/"+c.name, func(t *testing.T) { gradCheck(t, c.f, c.inputs...) })
		}
	}
}
