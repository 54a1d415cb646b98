package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The vector math kernels are checked three ways: against float64 math over
// millions of inputs drawn from the whole float32 range and from the ranges
// that matter (max error in ulp asserted, for the assembly and the portable
// path); the two paths against each other on every kernel; and every kernel
// at every length around the vector width, for tails and for writes past
// the end.

// vmathPaths names the kernel paths available here; run calls fn with each
// forced in turn.
func vmathPaths(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	paths := []bool{false}
	if hasVMathAsm() {
		paths = append(paths, true)
	}
	for _, asm := range paths {
		name := "go"
		if asm {
			name = "asm"
		}
		t.Run(name, func(t *testing.T) {
			defer func(old bool) { vmathAsm = old }(vmathAsm)
			vmathAsm = asm
			fn(t)
		})
	}
}

// ulpErr is |got − want| in units of the float32 spacing at want (the
// subnormal spacing below the normal range). NaN must match NaN, and an
// infinity must be exact except where want overflows float32 anyway.
func ulpErr(got float32, want float64) float64 {
	g := float64(got)
	switch {
	case math.IsNaN(want) || math.IsNaN(g):
		if math.IsNaN(want) && math.IsNaN(g) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(g, 0):
		if math.Abs(want) >= math.MaxFloat32*(1+0x1p-25) && (want > 0) == (g > 0) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(want, 0):
		return math.Inf(1)
	}
	a := math.Abs(want)
	ulp := 0x1p-149
	if a >= 0x1p-126 {
		_, e := math.Frexp(a)
		ulp = math.Ldexp(1, e-24)
	}
	if a > math.MaxFloat32 {
		ulp = 0x1p104
	}
	return math.Abs(g-want) / ulp
}

type vmathCase struct {
	name string
	f    func(dst, x []float32)
	ref  func(float64) float64
	// maxULP is the asserted bound; lo, hi a range sampled densely besides
	// the whole float32 range.
	maxULP float64
	lo, hi float64
	// Below tailBelow (when set) the bound is tailULP instead: where the
	// result is tiny and the function amplifies its argument's rounding.
	tailBelow, tailULP float64
}

func sigmoid64ref(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus64ref(beta, threshold float64) func(float64) float64 {
	return func(x float64) float64 {
		bx := beta * float64(float32(x))
		if bx > threshold {
			return x
		}
		return (math.Max(bx, 0) + math.Log1p(math.Exp(-math.Abs(bx)))) / beta
	}
}

var vmathCases = []vmathCase{
	{"Exp", Exp, math.Exp, 1, -105, 90, 0, 0},
	{"Log", Log, math.Log, 1, 0, 4, 0, 0},
	{"Tanh", Tanh, math.Tanh, 2, -10, 10, 0, 0},
	{"Sigmoid", Sigmoid, sigmoid64ref, 2.5, -110, 20, 0, 0},
	{"Erf", Erf, math.Erf, 2, -5, 5, 0, 0},
	{"GeluErf", GeluErf, func(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }, 6, -15, 6, 0, 0},
	{"GeluTanh", GeluTanh, func(x float64) float64 {
		return x * sigmoid64ref(2*math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))
	}, 5, -6, 6, -1, 250},
	{"Silu", Silu, func(x float64) float64 { return x * sigmoid64ref(x) }, 3, -110, 20, 0, 0},
	{"Softplus", func(dst, x []float32) { Softplus(dst, x, 1, 20) }, softplus64ref(1, 20), 3, -110, 25, 0, 0},
	{"Softplus2", func(dst, x []float32) { Softplus(dst, x, 2, 10) }, softplus64ref(2, 10), 3, -60, 8, 0, 0},
	{"Elu", func(dst, x []float32) { Elu(dst, x, 1) }, func(x float64) float64 {
		if x >= 0 {
			return x
		}
		return math.Expm1(x)
	}, 2, -20, 2, 0, 0},
}

// edgeInputs are the special values and range boundaries every function
// sees.
func edgeInputs() []float32 {
	v := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		0x1p-126, -0x1p-126, 0x1p-127, 1, -1, 2, 0.5, 1e-30, -1e-30, 1e30, -1e30}
	for _, c := range []float32{88.7228, 88.72284, 88.72283, 89, -87.33, -87.34, -103.97, -103.972, -104, -150,
		0.625, 0.927734375, 4, 3.92, 9.01, 10.5, 14.849242, 20, 0.34657359, 0.6931472, 1.4142135, 0.70710677, 17, 44} {
		for _, s := range []float32{1, -1} {
			x := s * c
			v = append(v, x, math.Nextafter32(x, float32(math.Inf(1))), math.Nextafter32(x, float32(math.Inf(-1))))
		}
	}
	return v
}

// vmathInputs returns n inputs: a third uniform over all float32 bit
// patterns, a third uniform in [lo, hi], a third log-uniform in magnitude
// over [2^-30, hi], both signs; then the edge cases.
func vmathInputs(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, 0, n+200)
	for i := 0; i < n/3; i++ {
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	for i := 0; i < n/3; i++ {
		x = append(x, float32(lo+(hi-lo)*r.Float64()))
	}
	m := math.Max(math.Abs(lo), math.Abs(hi))
	for len(x) < n {
		v := math.Exp(math.Log(0x1p-30) + (math.Log(m)-math.Log(0x1p-30))*r.Float64())
		if r.IntN(2) == 0 {
			v = -v
		}
		if v >= lo && v <= hi {
			x = append(x, float32(v))
		}
	}
	return append(x, edgeInputs()...)
}

func vmathSamples(t *testing.T) int {
	if testing.Short() {
		return 300_000
	}
	return 3_000_000
}

// TestVMathAccuracy checks each function against float64 math and reports
// its max error in ulp per path.
func TestVMathAccuracy(t *testing.T) {
	n := vmathSamples(t)
	for _, c := range vmathCases {
		x := vmathInputs(rand.New(rand.NewPCG(1, uint64(len(c.name)))), n, c.lo, c.hi)
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = c.ref(float64(v))
		}
		t.Run(c.name, func(t *testing.T) {
			vmathPaths(t, func(t *testing.T) {
				got := make([]float32, len(x))
				c.f(got, x)
				worst, at := [2]float64{}, [2]int{}
				for i := range got {
					k := 0
					if c.tailULP > 0 && float64(x[i]) < c.tailBelow {
						k = 1
					}
					if e := ulpErr(got[i], want[i]); e > worst[k] {
						worst[k], at[k] = e, i
					}
				}
				for k, bound := range []float64{c.maxULP, c.tailULP} {
					if k == 1 && c.tailULP == 0 {
						break
					}
					i := at[k]
					where := ""
					if c.tailULP > 0 {
						where = fmt.Sprintf(" for x ≥ %g", c.tailBelow)
						if k == 1 {
							where = fmt.Sprintf(" for x < %g", c.tailBelow)
						}
					}
					t.Logf("%s: max error %.3f ulp%s at x = %g (got %g, want %g) over %d inputs", c.name, worst[k], where, x[i], got[i], want[i], len(x))
					if worst[k] > bound {
						t.Errorf("%s(%g) = %g, want %g: %.3f ulp, above the bound %g%s", c.name, x[i], got[i], want[i], worst[k], bound, where)
					}
				}
			})
		})
	}
}

// TestVMathSpecials pins the special values exactly.
func TestVMathSpecials(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	type sp struct {
		f    string
		x    float32
		want float32
	}
	cases := []sp{
		{"Exp", inf, inf}, {"Exp", -inf, 0}, {"Exp", 0, 1}, {"Exp", negz, 1}, {"Exp", 89, inf}, {"Exp", -104, 0},
		{"Exp", -103.27893, 1e-45},
		{"Log", 0, -inf}, {"Log", negz, -inf}, {"Log", -1, nan}, {"Log", inf, inf}, {"Log", -inf, nan}, {"Log", 1, 0},
		{"Log", math.SmallestNonzeroFloat32, -103.27893},
		{"Tanh", inf, 1}, {"Tanh", -inf, -1}, {"Tanh", 0, 0}, {"Tanh", negz, negz}, {"Tanh", 1e-40, 1e-40},
		{"Sigmoid", inf, 1}, {"Sigmoid", -inf, 0}, {"Sigmoid", 0, 0.5}, {"Sigmoid", negz, 0.5},
		{"Erf", inf, 1}, {"Erf", -inf, -1}, {"Erf", 0, 0}, {"Erf", negz, negz},
		{"GeluErf", inf, inf}, {"GeluErf", 0, 0}, {"GeluErf", -20, negz},
		{"Silu", inf, inf}, {"Silu", 0, 0},
		{"Elu", inf, inf}, {"Elu", -inf, -1}, {"Elu", negz, negz}, {"Elu", 0, 0},
	}
	for _, name := range []string{"Exp", "Log", "Tanh", "Sigmoid", "Erf", "GeluErf", "GeluTanh", "Silu", "Elu"} {
		cases = append(cases, sp{name, nan, nan})
	}
	fns := map[string]func(dst, x []float32){}
	for _, c := range vmathCases {
		fns[c.name] = c.f
	}
	vmathPaths(t, func(t *testing.T) {
		for _, c := range cases {
			got := make([]float32, 1)
			fns[c.f](got, []float32{c.x})
			if math.Float32bits(got[0]) != math.Float32bits(c.want) && !(c.want != c.want && got[0] != got[0]) {
				t.Errorf("%s(%g) = %g (%#08x), want %g (%#08x)", c.f, c.x, got[0], math.Float32bits(got[0]), c.want, math.Float32bits(c.want))
			}
		}
	})
}

// vmathKernel is one kernel of the generated set, with its arity, so that
// every one can be run on both paths and at every length.
type vmathKernel struct {
	name string
	ins  int
	run  func(dst []float32, in [][]float32)
}

func vmathKernels() []vmathKernel {
	u := func(name string, f func(dst, x []float32)) vmathKernel {
		return vmathKernel{name, 1, func(d []float32, in [][]float32) { f(d, in[0]) }}
	}
	b := func(name string, f func(dst, a, b []float32)) vmathKernel {
		return vmathKernel{name, 2, func(d []float32, in [][]float32) { f(d, in[0], in[1]) }}
	}
	t3 := func(name string, f func(dst, a, b, c []float32)) vmathKernel {
		return vmathKernel{name, 3, func(d []float32, in [][]float32) { f(d, in[0], in[1], in[2]) }}
	}
	return []vmathKernel{
		b("add", addVec), b("sub", subVec), b("mul", mulVec), b("div", divVec),
		u("addS", func(d, x []float32) { addSVec(d, x, 0.3) }),
		u("mulS", func(d, x []float32) { mulSVec(d, x, -1.7) }),
		u("divS", func(d, x []float32) { divSVec(d, x, 3) }),
		u("rsubS", func(d, x []float32) { rsubSVec(d, x, 1) }),
		u("rdivS", func(d, x []float32) { rdivSVec(d, x, 1) }),
		t3("fmaAcc", fmaAccVec), b("maxNaN", maxNaNVec), b("minNaN", minNaNVec),
		u("neg", negVec), u("abs", absVec), u("square", squareVec), u("sqrt", sqrtVec), u("relu", reluVec),
		u("leakyRelu", func(d, x []float32) { leakyReluVec(d, x, 0.01) }),
		u("clamp", func(d, x []float32) { clampVec(d, x, -0.5, 0.7) }),
		u("exp", expVec), u("log", logVec), u("tanh", tanhVec), u("erf", erfVec), u("sigmoid", sigmoidVec),
		u("silu", siluVec), u("geluErf", geluErfVec), u("geluTanh", geluTanhVec),
		u("softplus", func(d, x []float32) { softplusVec(d, x, 1.5, 20) }),
		u("elu", func(d, x []float32) { eluVec(d, x, 0.9) }),
		b("tanhGrad", tanhGradVec), b("sigmoidGrad", sigmoidGradVec), b("reluGrad", reluGradVec),
		b("squareGrad", squareGradVec), b("sqrtGrad", sqrtGradVec),
		b("leakyReluGrad", func(d, g, x []float32) { leakyReluGradVec(d, g, x, 0.01) }),
		b("clampGrad", func(d, g, x []float32) { clampGradVec(d, g, x, -0.5, 0.7) }),
		b("siluGrad", siluGradVec), b("geluErfGrad", geluErfGradVec), b("geluTanhGrad", geluTanhGradVec),
		b("softplusGrad", func(d, g, x []float32) { softplusGradVec(d, g, x, 1.5, 20) }),
		b("eluGrad", func(d, g, x []float32) { eluGradVec(d, g, x, 0.9) }),
		b("expSub", expSubVec),
		b("softmaxGrad", func(d, g, y []float32) { softmaxGradVec(d, g, y, 0.4) }),
		t3("softmaxGradV", softmaxGradVVec),
		b("logSoftmaxGrad", func(d, g, y []float32) { logSoftmaxGradVec(d, g, y, 0.4) }),
		t3("logSoftmaxGradV", logSoftmaxGradVVec),
		t3("lnAffine", func(d, x, w, b []float32) { lnAffineVec(d, x, w, b, 0.1, 1.3) }),
		b("lnScale", func(d, x, w []float32) { lnScaleVec(d, x, w, 0.1, 1.3) }),
		b("lnShift", func(d, x, b []float32) { lnShiftVec(d, x, b, 0.1, 1.3) }),
		u("lnNorm", func(d, x []float32) { lnNormVec(d, x, 0.1, 1.3) }),
		t3("lnGradW", func(d, g, w, x []float32) { lnGradWVec(d, g, w, x, 1.3, 0.2, 0.1, 0.05) }),
		b("lnGrad", func(d, g, x []float32) { lnGradVec(d, g, x, 1.3, 0.2, 0.1, 0.05) }),
		t3("lnAccW", func(d, acc, g, x []float32) { lnAccWVec(d, acc, g, x, 0.1, 1.3) }),
		// The reductions, writing their sums into dst[0:2] (nothing when empty).
		u("sum", func(d, x []float32) {
			if len(d) > 0 {
				d[0] = float32(sumVec(x[:len(d)]))
			}
		}),
		b("dot", func(d, x, y []float32) {
			if len(d) > 0 {
				d[0] = float32(dotVec(x[:len(d)], y))
			}
		}),
		u("sumDev", func(d, x []float32) {
			if len(d) == 0 {
				return
			}
			a, b := sumDevVec(x[:len(d)], 0.3)
			d[0] = float32(a)
			if len(d) > 1 {
				d[1] = float32(b)
			}
		}),
		b("gradSums", func(d, g, x []float32) {
			if len(d) == 0 {
				return
			}
			a, b := gradSumsVec(g[:len(d)], x, 0.3)
			d[0] = float32(a)
			if len(d) > 1 {
				d[1] = float32(b)
			}
		}),
		t3("gradSumsW", func(d, g, w, x []float32) {
			if len(d) == 0 {
				return
			}
			a, b := gradSumsWVec(g[:len(d)], w, x, 0.3)
			d[0] = float32(a)
			if len(d) > 1 {
				d[1] = float32(b)
			}
		}),
		u("expShiftSum", func(d, x []float32) {
			s := expShiftSumVec(d, x, 0.5)
			if len(d) > 0 {
				d[0] += float32(s)
			}
		}),
		u("max", func(d, x []float32) {
			if len(d) > 0 {
				d[0] = maxVec(x[:len(d)])
			}
		}),
		u("min", func(d, x []float32) {
			if len(d) > 0 {
				d[0] = minVec(x[:len(d)])
			}
		}),
	}
}

func hasVMathAsm() bool {
	defer func(old bool) { vmathAsm = old }(vmathAsm)
	vmathAsm = true
	// The assembly runs iff it changes nothing observable but speed; detect
	// it by the dispatch condition itself.
	return vmathHaveAsm()
}

// TestVMathPathsAgree runs every kernel on both paths over random inputs of
// mixed scales and every length from 0 to 70 plus a long one, and requires
// the same results (within 1 ulp, for the portable path's emulated FMA),
// no writes past len(dst), and in-place operation (dst aliasing an input).
func TestVMathPathsAgree(t *testing.T) {
	if !hasVMathAsm() {
		t.Skip("no assembly kernels on this machine")
	}
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1000, 4099)
	const guard = 8
	for _, k := range vmathKernels() {
		t.Run(k.name, func(t *testing.T) {
			diffs, total := 0, 0
			for _, n := range lengths {
				in := make([][]float32, k.ins)
				for i := range in {
					in[i] = make([]float32, n+guard)
					for j := range in[i] {
						switch r.IntN(8) {
						case 0:
							in[i][j] = float32(r.NormFloat64() * 30)
						case 1:
							in[i][j] = math.Float32frombits(r.Uint32())
						default:
							in[i][j] = float32(r.NormFloat64() * 2)
						}
					}
				}
				var outs [2][]float32
				for p, asm := range []bool{false, true} {
					vmathAsm = asm
					d := make([]float32, n+guard)
					for j := range d {
						d[j] = 12345
					}
					k.run(d[:n], in)
					vmathAsm = true
					for j := n; j < len(d); j++ {
						if d[j] != 12345 && !(n == 0 && j == 0) {
							t.Fatalf("n=%d asm=%v: wrote dst[%d] past the end", n, asm, j)
						}
					}
					outs[p] = d[:n]
				}
				for j := range outs[0] {
					a, b := outs[0][j], outs[1][j]
					total++
					if math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) {
						continue
					}
					diffs++
					if d := ulpErr(b, float64(a)); d > 1 && !isReduction(k.name) {
						t.Fatalf("n=%d: element %d: go %g, asm %g (%.1f ulp apart); inputs %v", n, j, a, b, d, column(in, j))
					}
				}
				// In place: dst is the first input.
				if n > 0 && !isReduction(k.name) {
					want := append([]float32(nil), outs[1]...)
					in0 := append([]float32(nil), in[0]...)
					in[0] = in0
					k.run(in0[:n], in)
					for j := 0; j < n; j++ {
						if math.Float32bits(in0[j]) != math.Float32bits(want[j]) && !(want[j] != want[j] && in0[j] != in0[j]) {
							t.Fatalf("n=%d: in place, element %d = %g, want %g", n, j, in0[j], want[j])
						}
					}
				}
			}
			if isReduction(k.name) {
				return // summation orders differ: checked against float64 elsewhere
			}
			if diffs*100000 > total {
				t.Errorf("%d of %d results differ by an ulp between the paths", diffs, total)
			}
		})
	}
}

func isReduction(name string) bool {
	switch name {
	case "sum", "dot", "sumDev", "gradSums", "gradSumsW", "expShiftSum", "max", "min":
		return true
	}
	return false
}

func column(in [][]float32, j int) []float32 {
	var c []float32
	for _, s := range in {
		c = append(c, s[j])
	}
	return c
}

// TestVMathReductions checks the sums against float64 and max/min's NaN
// rule at every length.
func TestVMathReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vmathPaths(t, func(t *testing.T) {
		for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 127, 128, 129, 255, 1000, 100000} {
			x, y := make([]float32, n), make([]float32, n)
			var s, d, s1, s2 float64
			for i := range x {
				x[i], y[i] = float32(r.NormFloat64()+0.5), float32(r.NormFloat64())
				s += float64(x[i])
				d += float64(x[i]) * float64(y[i])
				s1 += float64(x[i] - 0.25)
				s2 += float64(x[i]-0.25) * float64(x[i]-0.25)
			}
			scale := 0.0
			for i := range x {
				scale += math.Abs(float64(x[i])) * (1 + math.Abs(float64(y[i])))
			}
			tol := 1e-6 * (scale + 1)
			if g := Sum(x); math.Abs(g-s) > tol {
				t.Errorf("n=%d: Sum %v, want %v", n, g, s)
			}
			if g := Dot(x, y); math.Abs(g-d) > tol {
				t.Errorf("n=%d: Dot %v, want %v", n, g, d)
			}
			if a, b := sumDevVec(x, 0.25); math.Abs(a-s1) > tol || math.Abs(b-s2) > tol*4 {
				t.Errorf("n=%d: sumDev %v %v, want %v %v", n, a, b, s1, s2)
			}
			mx, mn := x[0], x[0]
			for _, v := range x {
				mx, mn = max(mx, v), min(mn, v)
			}
			if g := Max(x); g != mx {
				t.Errorf("n=%d: Max %v, want %v", n, g, mx)
			}
			if g := Min(x); g != mn {
				t.Errorf("n=%d: Min %v, want %v", n, g, mn)
			}
			for _, at := range []int{0, n / 2, n - 1} {
				old := x[at]
				x[at] = float32(math.NaN())
				if g := Max(x); g == g {
					t.Errorf("n=%d: Max with a NaN at %d = %v", n, at, g)
				}
				if g := Min(x); g == g {
					t.Errorf("n=%d: Min with a NaN at %d = %v", n, at, g)
				}
				x[at] = old
			}
			neg := make([]float32, n)
			for i := range neg {
				neg[i] = -1 - float32(i)
			}
			if g := Max(neg); g != -1 {
				t.Errorf("n=%d: Max of negatives %v (a masked lane leaked)", n, g)
			}
		}
	})
}

// TestSoftmaxKernels checks the row and column softmax (and log-softmax)
// and their gradients against float64.
func TestSoftmaxKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vmathPaths(t, func(t *testing.T) {
		for _, shape := range [][2]int{{1, 1}, {5, 1}, {197, 1}, {1000, 1}, {3, 7}, {10, 300}, {197, 9}, {600, 3}, {40, 260}} {
			n, inner := shape[0], shape[1]
			x, g := make([]float32, n*inner), make([]float32, n*inner)
			for i := range x {
				x[i], g[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
			}
			for _, log := range []bool{false, true} {
				y, dx := make([]float32, len(x)), make([]float32, len(x))
				if inner == 1 {
					SoftmaxRow(y, x, log)
					SoftmaxRowGrad(dx, g, y, log)
				} else {
					SoftmaxCols(y, x, n, inner, 0, inner, log)
					SoftmaxColsGrad(dx, g, y, n, inner, 0, inner, log)
				}
				for c := 0; c < inner; c++ {
					m := math.Inf(-1)
					for j := 0; j < n; j++ {
						m = math.Max(m, float64(x[j*inner+c]))
					}
					var s float64
					for j := 0; j < n; j++ {
						s += math.Exp(float64(x[j*inner+c]) - m)
					}
					var dot float64
					p := make([]float64, n)
					for j := 0; j < n; j++ {
						p[j] = math.Exp(float64(x[j*inner+c])-m) / s
						dot += float64(g[j*inner+c]) * p[j]
					}
					var gs float64
					for j := 0; j < n; j++ {
						gs += float64(g[j*inner+c])
					}
					for j := 0; j < n; j++ {
						k := j*inner + c
						want, wantG := p[j], p[j]*(float64(g[k])-dot)
						if log {
							want, wantG = float64(x[k])-m-math.Log(s), float64(g[k])-p[j]*gs
						}
						if math.Abs(float64(y[k])-want) > 1e-6*math.Max(1, math.Abs(want)) {
							t.Fatalf("%v log=%v: y[%d] = %v, want %v", shape, log, k, y[k], want)
						}
						if math.Abs(float64(dx[k])-wantG) > 1e-5*math.Max(1, math.Abs(wantG)) {
							t.Fatalf("%v log=%v: dx[%d] = %v, want %v", shape, log, k, dx[k], wantG)
						}
					}
				}
			}
		}
	})
}

// TestVMathGrads checks the derivative kernels against float64 formulas.
func TestVMathGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 200000
	x, g := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], g[i] = float32(r.NormFloat64()*4), float32(r.NormFloat64())
	}
	x[0], x[1], x[2] = 0, 30, -30
	phi := func(v float64) float64 { return math.Exp(-v*v/2) / math.Sqrt(2*math.Pi) }
	cases := []struct {
		name string
		f    func(dx, g, x []float32)
		d    func(x float64) float64
	}{
		{"silu", siluGradVec, func(v float64) float64 { s := sigmoid64ref(v); return s * (1 + v*(1-s)) }},
		{"geluErf", geluErfGradVec, func(v float64) float64 { return 0.5*math.Erfc(-v/math.Sqrt2) + v*phi(v) }},
		{"geluTanh", geluTanhGradVec, func(v float64) float64 {
			u := math.Sqrt(2/math.Pi) * (v + 0.044715*v*v*v)
			th := math.Tanh(u)
			return 0.5*(1+th) + 0.5*v*(1-th*th)*math.Sqrt(2/math.Pi)*(1+3*0.044715*v*v)
		}},
		{"softplus", func(dx, g, x []float32) { softplusGradVec(dx, g, x, 1.5, 20) }, func(v float64) float64 {
			if 1.5*v > 20 {
				return 1
			}
			return sigmoid64ref(1.5 * v)
		}},
		{"elu", func(dx, g, x []float32) { eluGradVec(dx, g, x, 0.9) }, func(v float64) float64 {
			if v > 0 {
				return 1
			}
			return 0.9 * math.Exp(v)
		}},
	}
	vmathPaths(t, func(t *testing.T) {
		for _, c := range cases {
			dx := make([]float32, n)
			c.f(dx, g, x)
			for i := range dx {
				want := float64(g[i]) * c.d(float64(x[i]))
				if math.Abs(float64(dx[i])-want) > 2e-6*math.Max(1, math.Abs(want)) {
					t.Fatalf("%s: x=%v g=%v: dx %v, want %v", c.name, x[i], g[i], dx[i], want)
				}
			}
		}
	})
}

// BenchmarkVMath times each function over 4096 elements (L1-resident), per
// path.
func BenchmarkVMath(b *testing.B) {
	x := make([]float32, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
	}
	dst := make([]float32, len(x))
	for _, c := range vmathCases {
		for _, asm := range []bool{false, true} {
			if asm && !hasVMathAsm() {
				continue
			}
			b.Run(fmt.Sprintf("%s/asm=%v", c.name, asm), func(b *testing.B) {
				defer func(old bool) { vmathAsm = old }(vmathAsm)
				vmathAsm = asm
				b.SetBytes(int64(4 * len(x)))
				for b.Loop() {
					c.f(dst, x)
				}
			})
		}
	}
}

// BenchmarkSoftmaxRows is softmax over the rows of [64·197, 192] (ViT
// activations) into a preallocated output, over the worker pool: the
// kernel alone, without the allocation of autograd's output.
func BenchmarkSoftmaxRows(b *testing.B) {
	const rows, n = 64 * 197, 192
	x, y := make([]float32, rows*n), make([]float32, rows*n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		ParallelFor(rows, 1<<15/n, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				SoftmaxRow(y[o*n:(o+1)*n], x[o*n:(o+1)*n], false)
			}
		})
	}
}

// TestVMathNoAllocs checks that the kernels and the softmax helpers (whose
// scratch lives on the stack) allocate nothing.
func TestVMathNoAllocs(t *testing.T) {
	x, y, g := make([]float32, 3000), make([]float32, 3000), make([]float32, 3000)
	for i := range x {
		x[i], g[i] = float32(i%17)-8, 1
	}
	vmathPaths(t, func(t *testing.T) {
		if n := testing.AllocsPerRun(10, func() {
			Exp(y, x)
			GeluErfGrad(y, g, x)
			SoftmaxRow(y[:300], x[:300], false)
			SoftmaxRowGrad(y[:300], g[:300], x[:300], true)
			SoftmaxCols(y, x, 10, 300, 0, 300, true)
			SoftmaxColsGrad(y, g, x, 10, 300, 0, 300, false)
			SoftmaxCols(y, x, 100, 3, 0, 3, false)
			SoftmaxColsGrad(y, g, x, 100, 3, 0, 3, true)
			_ = Sum(x) + Dot(x, g)
		}); n != 0 {
			t.Errorf("%v allocations per run, want 0", n)
		}
	})
}

// BenchmarkKernels1M runs the 1M-element kernels into preallocated outputs
// over the worker pool (as the CPU device splits them): the kernels without
// autograd's allocation of the output.
func BenchmarkKernels1M(b *testing.B) {
	const n = 1 << 20
	x, y, d := make([]float32, n), make([]float32, n), make([]float32, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i], y[i] = float32(r.NormFloat64()*2), float32(r.NormFloat64()*2)
	}
	for _, k := range []struct {
		name string
		f    func(d, x, y []float32)
	}{
		{"Exp", func(d, x, _ []float32) { Exp(d, x) }},
		{"Tanh", func(d, x, _ []float32) { Tanh(d, x) }},
		{"Sigmoid", func(d, x, _ []float32) { Sigmoid(d, x) }},
		{"GeluErf", func(d, x, _ []float32) { GeluErf(d, x) }},
		{"GeluErfGrad", func(d, x, y []float32) { GeluErfGrad(d, y, x) }},
		{"Add", Add},
	} {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(4 * n)
			for b.Loop() {
				ParallelFor(n, 1<<15, func(lo, hi int) { k.f(d[lo:hi], x[lo:hi], y[lo:hi]) })
			}
		})
	}
}

// BenchmarkLayerNormRows is LayerNorm over the rows of [64·197, 192] with
// weight and bias into preallocated outputs.
func BenchmarkLayerNormRows(b *testing.B) {
	const rows, n = 64 * 197, 192
	x, y := make([]float32, rows*n), make([]float32, rows*n)
	w, bias := make([]float32, n), make([]float32, n)
	mean, rstd := make([]float32, rows), make([]float32, rows)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for i := range w {
		w[i], bias[i] = 1+float32(r.NormFloat64())/10, float32(r.NormFloat64())/10
	}
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		LayerNorm(y, mean, rstd, x, w, bias, rows, n, 1e-5)
	}
}
