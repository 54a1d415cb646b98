package layers_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

func TestS4DGoldens(t *testing.T) {
	kernel := func(h, n, l int, disc layers.S4DDiscretization) lkaGoldenCase {
		return lkaGoldenCase{
			build: func(r *autograd.RNG) any {
				return layers.NewS4DKernel(r, h, layers.S4DKernelConfig{N: n, Disc: disc})
			},
			forward: func(m any, _ lkaIO) lkaIO { return lkaIO{"output": m.(*layers.S4DKernel).Forward(l)} },
		}
	}
	layer := func(h, n int, init layers.S4DInit, disc layers.S4DDiscretization) lkaGoldenCase {
		return lkaGoldenCase{build: func(r *autograd.RNG) any {
			return layers.NewS4D(r, h, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: n, Init: init, Disc: disc}})
		}}
	}
	state := func(h, n int, disc layers.S4DDiscretization) lkaGoldenCase {
		c := layer(h, n, 0, disc)
		c.forward = func(m any, in lkaIO) lkaIO {
			y, x := m.(*layers.S4D).ForwardState(in["input"], in["state"])
			return lkaIO{"output": y, "state": x}
		}
		return c
	}
	named := func(name string, c lkaGoldenCase) lkaGoldenCase {
		c.name = name
		return c
	}
	lkaRunGoldens(t, "s4", []lkaGoldenCase{
		named("kernel_zoh_lin", kernel(3, 8, 40, layers.S4DZOH)),
		named("kernel_bilinear_inv", kernel(3, 8, 37, layers.S4DBilinear)),
		named("kernel_zoh_real", kernel(2, 6, 16, layers.S4DZOH)),
		named("kernel_bilinear_lin_wide", kernel(2, 8, 64, layers.S4DBilinear)),
		named("s4d_zoh_lin", layer(4, 8, layers.S4DInitLin, layers.S4DZOH)),
		named("s4d_bilinear_inv", layer(3, 6, layers.S4DInitInv, layers.S4DBilinear)),
		named("s4d_zoh_real", layer(2, 4, layers.S4DInitReal, layers.S4DZOH)),
		named("s4d_zoh_lin_long", layer(3, 8, layers.S4DInitLin, layers.S4DZOH)),
		named("s4d_state_zoh", state(3, 8, layers.S4DZOH)),
		named("s4d_state_bilinear", state(3, 6, layers.S4DBilinear)),
	})
}

// s4SpecKernel is the spec's one-mode system: A = −0.5 + iπ, C = 1 + 0.5i,
// dt = 0.1.
func s4SpecKernel(disc layers.S4DDiscretization) *layers.S4DKernel {
	k := layers.NewS4DKernel(autograd.NewRNG(1), 1, layers.S4DKernelConfig{N: 2, Disc: disc})
	autograd.NoGrad(func() {
		k.LogDt.CopyFrom(autograd.New([]float32{float32(math.Log(0.1))}, 1))
		k.LogAReal.CopyFrom(autograd.New([]float32{float32(math.Log(0.5))}, 1, 1))
		k.AImag.CopyFrom(autograd.New([]float32{math.Pi}, 1, 1))
		k.C.CopyFrom(autograd.New([]float32{1, 0.5}, 1, 1, 2))
	})
	return k
}

// The golden vectors of the spec (section 5 (f)), checked against the
// reference's formulas in float64.
func TestS4DSpecVectors(t *testing.T) {
	want := map[layers.S4DDiscretization][]float64{
		layers.S4DZOH:      {0.176859, 0.122931, 0.062397, 0.001664, -0.053447},
		layers.S4DBilinear: {0.176037, 0.123183, 0.063651, 0.003666, -0.051086},
	}
	for disc, w := range want {
		got := s4SpecKernel(disc).Forward(5).Data()
		for i := range w {
			assert.InDelta(t, w[i], got[i], 2e-6, "%v K[%d]", disc, i)
		}
	}
	k := s4SpecKernel(layers.S4DZOH)
	u := autograd.New([]float32{0.3, -1.2, 0.7, 2.0, -0.5}, 1, 1, 5)
	conv, _ := k.ForwardState(u, nil)
	wantY := []float64{0.053058, -0.175351, -0.004997, 0.365392, 0.183079}
	var state *autograd.Tensor
	for i, w := range wantY {
		var y *autograd.Tensor
		y, state = k.Step(u.Narrow(2, i, 1).Reshape(1, 1), state)
		assert.InDelta(t, w, conv.Data()[i], 2e-6, "conv y[%d]", i)
		assert.InDelta(t, w, y.Item(), 2e-6, "recurrent y[%d]", i)
	}
}

func TestS4DInitialisation(t *testing.T) {
	rng := autograd.NewRNG(2)
	inv := layers.NewS4DKernel(rng, 2, layers.S4DKernelConfig{Init: layers.S4DInitInv})
	for i, w := range []float64{1283.425, 414.227, 240.388, 165.885} {
		assert.InDelta(t, w, inv.AImag.At(1, i), 1e-3, "S4D-Inv A_imag[%d]", i)
	}
	assert.InDelta(t, math.Log(0.5), inv.LogAReal.At(0, 7), 1e-7)
	lin := layers.NewS4DKernel(rng, 2, layers.S4DKernelConfig{})
	assert.Equal(t, []int{2, 32}, lin.AImag.Shape())
	assert.InDelta(t, 5*math.Pi, lin.AImag.At(1, 5), 1e-5)
	real := layers.NewS4DKernel(rng, 2, layers.S4DKernelConfig{N: 8, Init: layers.S4DInitReal})
	assert.InDelta(t, math.Log(3), real.LogAReal.At(1, 2), 1e-6)
	assert.Zero(t, real.AImag.At(1, 2))

	big := layers.NewS4DKernel(rng, 2000, layers.S4DKernelConfig{})
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range big.LogDt.Data() {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	assert.GreaterOrEqual(t, lo, math.Log(1e-3)-1e-6)
	assert.LessOrEqual(t, hi, math.Log(1e-1)+1e-6)
	assert.Less(t, lo, math.Log(1.5e-3))
	assert.Greater(t, hi, math.Log(0.09))
	var sre, sim float64
	c := big.C.Data()
	for i := 0; i < len(c); i += 2 {
		sre += float64(c[i]) * float64(c[i])
		sim += float64(c[i+1]) * float64(c[i+1])
	}
	assert.InDelta(t, 0.5, sre/float64(len(c)/2), 0.01, "Re C ~ N(0, ½)")
	assert.InDelta(t, 0.5, sim/float64(len(c)/2), 0.01, "Im C ~ N(0, ½)")

	const h, n = 16, 64
	s := layers.NewS4D(rng, h, layers.S4DConfig{})
	var names []string
	for _, np := range nn.NamedParameters(s) {
		names = append(names, fmt.Sprint(np.Name, np.Param.Shape()))
	}
	assert.Equal(t, []string{
		"D[16]", "kernel.C[16 32 2]", "kernel.log_dt[16]", "kernel.log_A_real[16 32]",
		"kernel.A_imag[16 32]", "output_linear.0.weight[32 16 1]", "output_linear.0.bias[32]",
	}, names)
	_, total := nn.NumParams(s)
	assert.Equal(t, h+h*(n/2*2+1+n/2+n/2)+2*h*h+2*h, total)
	assert.Panics(t, func() { layers.NewS4DKernel(rng, 2, layers.S4DKernelConfig{N: 7}) })
}

// The convolution mode, the recurrent mode and chunks with a carried state
// give the same outputs; the FFT convolution (L > 128) matches the direct
// sum of the kernel.
func TestS4DModesAgree(t *testing.T) {
	for _, disc := range []layers.S4DDiscretization{layers.S4DZOH, layers.S4DBilinear} {
		for _, l := range []int{37, 300} {
			rng := autograd.NewRNG(uint64(3 + l))
			s := layers.NewS4D(rng, 4, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 16, Disc: disc, DtMin: 0.01, DtMax: 0.2}, Dropout: 0.3})
			nn.Eval(s)
			u := rng.Normal(0, 1, 2, 4, l)
			conv := s.Forward(u)
			var state *autograd.Tensor
			steps := make([]*autograd.Tensor, l)
			for i := range steps {
				steps[i], state = s.Step(u.Narrow(2, i, 1).Reshape(2, 4), state)
			}
			rec := autograd.Stack(steps, 2)
			assert.Less(t, lkaMaxErr(t, "recurrent", conv, rec), 1e-4, "%v L=%d recurrent", disc, l)

			cut := l / 3
			y1, s1 := s.ForwardState(u.Narrow(2, 0, cut), nil)
			y2, s2 := s.ForwardState(u.Narrow(2, cut, l-cut), s1)
			chunks := autograd.Concat([]*autograd.Tensor{y1, y2}, 2)
			assert.Less(t, lkaMaxErr(t, "chunks", conv, chunks), 1e-4, "%v L=%d chunks", disc, l)
			assert.Less(t, lkaMaxErr(t, "final state", state, s2), 1e-4, "%v L=%d final state", disc, l)

			// The SSM part alone against a direct causal sum of the kernel.
			k := s.Kernel.Forward(l).Data()
			y, _ := s.Kernel.ForwardState(u, nil)
			ud, yd := u.Data(), y.Data()
			worst := 0.0
			for r := 0; r < 2*4; r++ {
				h := r % 4
				for i := 0; i < l; i++ {
					sum := 0.0
					for j := 0; j <= i; j++ {
						sum += float64(k[h*l+j]) * float64(ud[r*l+i-j])
					}
					worst = math.Max(worst, math.Abs(sum-float64(yd[r*l+i])))
				}
			}
			assert.Less(t, worst, 1e-4, "%v L=%d direct sum", disc, l)
		}
	}
}

func TestS4DCausalAndStable(t *testing.T) {
	rng := autograd.NewRNG(4)
	for _, disc := range []layers.S4DDiscretization{layers.S4DZOH, layers.S4DBilinear} {
		s := layers.NewS4D(rng, 3, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 8, Disc: disc}})
		// Causality: changing u at t0 leaves the outputs before t0 alone.
		const l, t0 = 160, 90
		u := rng.Normal(0, 1, 2, 3, l)
		ud := u.Data()
		for r := 0; r < 6; r++ {
			ud[r*l+t0] += 5
		}
		a, b := s.Forward(u).Data(), s.Forward(autograd.New(ud, 2, 3, l)).Data()
		for r := 0; r < 6; r++ {
			for i := 0; i < l; i++ {
				if i < t0 {
					assert.InDelta(t, a[r*l+i], b[r*l+i], 1e-6, "before the change")
				}
			}
			assert.NotEqual(t, a[r*l+t0], b[r*l+t0])
		}
		// |Ā| < 1 when Re A < 0: after an impulse each mode's state
		// shrinks at every step.
		_, x := s.Kernel.Step(autograd.Ones(1, 3), nil)
		prev := x.Data()
		for i := 0; i < 20; i++ {
			_, x = s.Kernel.Step(autograd.Zeros(1, 3), x)
			cur := x.Data()
			for j := 0; j < len(cur); j += 2 {
				assert.Less(t, math.Hypot(float64(cur[j]), float64(cur[j+1])), math.Hypot(float64(prev[j]), float64(prev[j+1])))
			}
			prev = cur
		}
	}
}

// C = 0 leaves only the skip: the SSM outputs zero and the layer is
// OutputLinear(GELU(D⊙u)).
func TestS4DZeroC(t *testing.T) {
	rng := autograd.NewRNG(5)
	s := layers.NewS4D(rng, 3, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 8}})
	nn.Zeros(s.Kernel.C.Tensor)
	u := rng.Normal(0, 1, 2, 3, 20)
	y, _ := s.Kernel.ForwardState(u, nil)
	for _, v := range y.Data() {
		assert.Zero(t, v)
	}
	want := s.OutputLinear.Forward(u.Mul(s.D.Reshape(3, 1)).Gelu())
	assert.Less(t, lkaMaxErr(t, "skip", want, s.Forward(u)), 1e-6)
}

// Gradients reach every parameter, through the kernel, the carried state
// and the recurrent step.
func TestS4DGradientsFlow(t *testing.T) {
	rng := autograd.NewRNG(6)
	for _, disc := range []layers.S4DDiscretization{layers.S4DZOH, layers.S4DBilinear} {
		s := layers.NewS4D(rng, 3, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 8, Disc: disc}})
		u := rng.Normal(0, 1, 2, 3, 12)
		state := rng.Normal(0, 1, 2, 3, 4, 2).SetRequiresGrad(true)
		y, next := s.ForwardState(u, state)
		y2, _ := s.Step(rng.Normal(0, 1, 2, 3), next)
		y.Sum().Add(y2.Square().Sum()).Backward()
		for _, np := range nn.NamedParameters(s) {
			require.NotNil(t, np.Param.Grad, np.Name)
			nonzero := false
			for _, v := range np.Param.Grad.Data() {
				nonzero = nonzero || v != 0
			}
			assert.True(t, nonzero, "%v: gradient of %s", disc, np.Name)
		}
		require.NotNil(t, state.Grad)
	}
}

func TestS4DDropout(t *testing.T) {
	rng := autograd.NewRNG(7)
	s := layers.NewS4D(rng, 4, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 8}, Dropout: 0.5})
	u := rng.Normal(0, 1, 8, 4, 30)
	train := s.Forward(u)
	nn.Eval(s)
	eval := s.Forward(u)
	assert.Equal(t, eval.Data(), s.Forward(u).Data(), "evaluation is deterministic")
	assert.Greater(t, lkaMaxErr(t, "dropout", eval, train), 1e-3)
	assert.Panics(t, func() { layers.NewS4D(rng, 4, layers.S4DConfig{Dropout: 1}) })
}

// s4Model is the reference example.py's model in brief: an encoder, S4D
// layers with post-norm residuals, and a decoder.
type s4Model struct {
	Encoder *nn.Linear
	Layers  []*layers.S4D `nn:"s4_layers"`
	Norms   []*nn.LayerNorm
	Decoder *nn.Linear
}

func TestS4DParamGroups(t *testing.T) {
	rng := autograd.NewRNG(8)
	m := &s4Model{Encoder: nn.NewLinear(rng, 3, 8, true), Decoder: nn.NewLinear(rng, 8, 2, true)}
	for i := 0; i < 2; i++ {
		m.Layers = append(m.Layers, layers.NewS4D(rng, 8, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 4}}))
		m.Norms = append(m.Norms, nn.NewLayerNorm([]int{8}, nn.LayerNormConfig{}))
	}
	groups := layers.S4DParamGroups(m, 0.01, 0.01, 0.001)
	require.Len(t, groups, 2)
	assert.Equal(t, 0.01, groups[0].LR)
	assert.Equal(t, 0.01, groups[0].WeightDecay)
	assert.Len(t, groups[0].Params, 4+2*4+2*2)
	assert.Equal(t, 0.001, groups[1].LR)
	assert.Zero(t, groups[1].WeightDecay)
	assert.Equal(t, append(m.Layers[0].SSMParameters(), m.Layers[1].SSMParameters()...), groups[1].Params)
	// A step of AdamW with the groups moves every parameter.
	opt := optim.NewAdamWGroups(groups, optim.DefaultAdamWConfig())
	before := m.Layers[1].Kernel.LogDt.Data()
	x := m.Encoder.Forward(rng.Normal(0, 1, 2, 10, 3)).Transpose(1, 2)
	for i, l := range m.Layers {
		x = m.Norms[i].Forward(l.Forward(x).Add(x).Transpose(1, 2)).Transpose(1, 2)
	}
	m.Decoder.Forward(x.Mean(2)).Square().Sum().Backward()
	opt.Step()
	assert.NotEqual(t, before, m.Layers[1].Kernel.LogDt.Data())
}

// An S4D layer maps [B, H, L] sequences to sequences of the same shape in
// convolution mode, and generates one sample at a time in recurrent mode
// with the same result. The SSM parameters get their own optimizer group.
func ExampleS4D() {
	rng := autograd.NewRNG(1)
	s4d := layers.NewS4D(rng, 8, layers.S4DConfig{Kernel: layers.S4DKernelConfig{N: 16}})
	u := rng.Normal(0, 1, 2, 8, 100) // [B, H, L]
	y := s4d.Forward(u)
	fmt.Println(y.Shape())

	// Recurrent mode: one step per sample, carrying the state.
	state := s4d.DefaultState(2) // [B, H, N/2, 2]: complex, as real pairs
	var last *autograd.Tensor
	for i := 0; i < 100; i++ {
		last, state = s4d.Step(u.Narrow(2, i, 1).Reshape(2, 8), state)
	}
	diff := last.Sub(y.Narrow(2, 99, 1).Reshape(2, 8)).Abs().Max().Item()
	fmt.Println(state.Shape(), diff < 1e-4)

	for _, g := range layers.S4DParamGroups(s4d, 0.01, 0.01, 0.001) {
		fmt.Println(len(g.Params), "parameters: lr", g.LR, "weight decay", g.WeightDecay)
	}
	// Output:
	// [2 8 100]
	// [2 8 8 2] true
	// 4 parameters: lr 0.01 weight decay 0.01
	// 3 parameters: lr 0.001 weight decay 0
}
