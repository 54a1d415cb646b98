package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

func assertClose(t *testing.T, want, got []float32, tol float64, msgAndArgs ...any) {
	t.Helper()
	require.Len(t, got, len(want), msgAndArgs...)
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			assert.Failf(t, "values differ", "element %d: want %v, got %v (diff %g) %v", i, want[i], got[i], d, msgAndArgs)
			return
		}
	}
}

func TestLinearForward(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(7)
		l := NewLinear(rng, 3, 2, true)
		w, b := l.Weight.Data(), l.Bias.Data()
		x := rng.Normal(0, 1, 2, 4, 3)
		xs := x.Data()
		want := make([]float32, 2*4*2)
		for r := 0; r < 8; r++ {
			for o := 0; o < 2; o++ {
				s := float64(b[o])
				for i := 0; i < 3; i++ {
					s += float64(xs[r*3+i]) * float64(w[o*3+i])
				}
				want[r*2+o] = float32(s)
			}
		}
		for _, p := range Parameters(l) {
			moved := p.To(dev).Detach().SetRequiresGrad(true)
			p.Tensor = moved
		}
		y := l.Forward(x.To(dev))
		assert.Equal(t, []int{2, 4, 2}, y.Shape())
		assertClose(t, want, y.Data(), 1e-6)

		// Gradients reach both parameters, in their shapes.
		y.Sum().Backward()
		assert.Equal(t, []int{2, 3}, l.Weight.Grad.Shape())
		assertClose(t, []float32{8, 8}, l.Bias.Grad.Data(), 1e-6)

		// 1-D input and a layer without bias.
		nb := &Linear{Weight: l.Weight}
		v := autograd.New([]float32{1, 0, 0}).To(dev)
		assertClose(t, []float32{w[0], w[3]}, nb.Forward(v).Data(), 1e-7)
	})
	assert.PanicsWithValue(t, "nn: Linear: input of shape [2 4] does not end in in_features=3 (weight [2 3])", func() {
		NewLinear(autograd.NewRNG(1), 3, 2, true).Forward(autograd.Zeros(2, 4))
	})
}

func TestLinearInitBounds(t *testing.T) {
	// torch.nn.Linear: weight and bias both uniform in ±1/√in.
	rng := autograd.NewRNG(8)
	l := NewLinear(rng, 64, 256, true)
	bound := 1 / math.Sqrt(64)
	checkUniform(t, l.Weight.Data(), -bound, bound)
	checkUniform(t, l.Bias.Data(), -bound, bound)
	assert.True(t, l.Weight.RequiresGrad())
	assert.Equal(t, []int{256, 64}, l.Weight.Shape())
	// The same seed gives the same layer.
	l2 := NewLinear(autograd.NewRNG(8), 64, 256, true)
	assert.Equal(t, l.Weight.Data(), l2.Weight.Data())
	assert.Equal(t, l.Bias.Data(), l2.Bias.Data())
}

// checkUniform checks range, mean and variance of samples from U(lo, hi).
func checkUniform(t *testing.T, data []float32, lo, hi float64) {
	t.Helper()
	var sum, sq float64
	for _, v := range data {
		require.GreaterOrEqual(t, float64(v), lo-1e-7)
		require.LessOrEqual(t, float64(v), hi+1e-7)
		sum += float64(v)
	}
	n := float64(len(data))
	mean := sum / n
	for _, v := range data {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	width := hi - lo
	assert.InDelta(t, (lo+hi)/2, mean, 4*width/math.Sqrt(12*n))
	assert.InDelta(t, width*width/12, sq/n, 0.1*width*width/12)
}

func TestSequentialAndMLP(t *testing.T) {
	rng := autograd.NewRNG(9)
	m := NewMLP(rng, 4, []int{8, 6}, 3, Tanh{})
	assert.Equal(t, 5, m.Len())
	assert.Equal(t, []string{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}, names(m))
	x := rng.Normal(0, 1, 5, 4)
	y := m.Forward(x)
	assert.Equal(t, []int{5, 3}, y.Shape())
	l0, l2, l4 := m.Layers[0].(*Linear), m.Layers[2].(*Linear), m.Layers[4].(*Linear)
	want := l4.Forward(l2.Forward(l0.Forward(x).Tanh()).Tanh())
	assert.Equal(t, want.Data(), y.Data())

	s := NewSequential(Identity{}, LayerFunc(func(x *autograd.Tensor) *autograd.Tensor { return x.MulScalar(2) }))
	assert.Equal(t, []float32{2, 4}, s.Forward(autograd.New([]float32{1, 2})).Data())
	assert.Empty(t, names(s))
}

func TestActivations(t *testing.T) {
	x := autograd.New([]float32{-2, -0.5, 0, 0.5, 2}, 1, 5)
	cases := []struct {
		l    Layer
		want func(float64) float64
	}{
		{ReLU{}, func(v float64) float64 { return math.Max(v, 0) }},
		{GELU{}, func(v float64) float64 { return v * (1 + math.Erf(v/math.Sqrt2)) / 2 }},
		{GELU{Tanh: true}, func(v float64) float64 {
			return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		}},
		{Tanh{}, math.Tanh},
		{Sigmoid{}, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }},
		{SiLU{}, func(v float64) float64 { return v / (1 + math.Exp(-v)) }},
		{NewLeakyReLU(0.01), func(v float64) float64 {
			if v > 0 {
				return v
			}
			return 0.01 * v
		}},
	}
	for _, c := range cases {
		want := make([]float32, 5)
		for i, v := range x.Data() {
			want[i] = float32(c.want(float64(v)))
		}
		assertClose(t, want, c.l.Forward(x).Data(), 1e-6, "%T", c.l)
	}
	sm := Softmax{Dim: -1}.Forward(x).Data()
	var z float64
	for _, v := range x.Data() {
		z += math.Exp(float64(v))
	}
	for i, v := range x.Data() {
		assert.InDelta(t, math.Exp(float64(v))/z, sm[i], 1e-6)
	}
	lsm := LogSoftmax{Dim: 1}.Forward(x).Data()
	for i, v := range x.Data() {
		assert.InDelta(t, float64(v)-math.Log(z), lsm[i], 1e-6)
	}
}

func TestDropout(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		d := NewDropout(0.25, autograd.NewRNG(10))
		x := autograd.Ones(100, 100).To(dev).SetRequiresGrad(true)
		y := d.Forward(x)
		data := y.Data()
		zeros := 0
		for _, v := range data {
			if v == 0 {
				zeros++
			} else {
				require.InDelta(t, 1/0.75, v, 1e-6)
			}
		}
		// 10,000 Bernoulli(0.25): σ ≈ 43.
		assert.InDelta(t, 2500, zeros, 200)
		// The gradient is the mask.
		y.Sum().Backward()
		assert.Equal(t, data, x.Grad.Data())

		// The same seed drops the same elements.
		y2 := NewDropout(0.25, autograd.NewRNG(10)).Forward(autograd.Ones(100, 100).To(dev))
		assert.Equal(t, data, y2.Data())

		// Identity in eval mode, and for p = 0.
		Eval(d)
		assert.Same(t, x, d.Forward(x))
		Train(d)
		assert.Same(t, x, NewDropout(0, nil).Forward(x))
		assert.Equal(t, make([]float32, 4), NewDropout(1, nil).Forward(autograd.Ones(4).To(dev)).Data())
	})
	assert.Panics(t, func() { NewDropout(1.5, nil) })
	assert.Panics(t, func() { (&Dropout{P: 0.5}).Forward(autograd.Ones(2)) })
}
