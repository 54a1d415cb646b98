package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deepgo/deepgo/autograd"
)

func meanStd(data []float32) (float64, float64) {
	var s, sq float64
	for _, v := range data {
		s += float64(v)
	}
	m := s / float64(len(data))
	for _, v := range data {
		sq += (float64(v) - m) * (float64(v) - m)
	}
	return m, math.Sqrt(sq / float64(len(data)))
}

func TestFansAndGain(t *testing.T) {
	in, out := Fans([]int{16, 8})
	assert.Equal(t, []int{8, 16}, []int{in, out})
	in, out = Fans([]int{32, 3, 5, 5})
	assert.Equal(t, []int{75, 800}, []int{in, out})
	assert.Panics(t, func() { Fans([]int{4}) })

	assert.Equal(t, 1.0, CalculateGain("linear", 0))
	assert.Equal(t, 1.0, CalculateGain("sigmoid", 0))
	assert.Equal(t, 1.0, CalculateGain("conv2d", 0))
	assert.InDelta(t, 5.0/3, CalculateGain("tanh", 0), 1e-15)
	assert.InDelta(t, math.Sqrt2, CalculateGain("relu", 0), 1e-15)
	assert.InDelta(t, math.Sqrt(2/(1+0.01*0.01)), CalculateGain("leaky_relu", 0.01), 1e-15)
	assert.InDelta(t, math.Sqrt(1.0/3), CalculateGain("leaky_relu", math.Sqrt(5)), 1e-15)
	assert.Equal(t, 0.75, CalculateGain("selu", 0))
	assert.Panics(t, func() { CalculateGain("swish", 0) })
}

func TestInitDistributions(t *testing.T) {
	rng := autograd.NewRNG(11)
	shape := []int{200, 100}
	in, out := 100.0, 200.0
	p := NewParameter(autograd.Zeros(shape...)) // requires grad: init works without NoGrad

	checkUniform(t, XavierUniform(p.Tensor, 2, rng).Data(), -2*math.Sqrt(6/(in+out)), 2*math.Sqrt(6/(in+out)))
	b := math.Sqrt(3) * math.Sqrt2 / math.Sqrt(in)
	checkUniform(t, KaimingUniform(p.Tensor, 0, FanIn, "relu", rng).Data(), -b, b)
	b = math.Sqrt(3) * (5.0 / 3) / math.Sqrt(out)
	checkUniform(t, KaimingUniform(p.Tensor, 0, FanOut, "tanh", rng).Data(), -b, b)
	checkUniform(t, Uniform(p.Tensor, -3, 5, rng).Data(), -3, 5)

	normals := []struct {
		name      string
		fill      func() *autograd.Tensor
		mean, std float64
	}{
		{"XavierNormal", func() *autograd.Tensor { return XavierNormal(p.Tensor, 1, rng) }, 0, math.Sqrt(2 / (in + out))},
		{"KaimingNormal", func() *autograd.Tensor { return KaimingNormal(p.Tensor, 0, FanIn, "relu", rng) }, 0, math.Sqrt2 / math.Sqrt(in)},
		{"KaimingNormalLeaky", func() *autograd.Tensor { return KaimingNormal(p.Tensor, 0.2, FanOut, "leaky_relu", rng) }, 0, math.Sqrt(2/1.04) / math.Sqrt(out)},
		{"Normal", func() *autograd.Tensor { return Normal(p.Tensor, 1.5, 0.3, rng) }, 1.5, 0.3},
	}
	for _, c := range normals {
		m, s := meanStd(c.fill().Data())
		assert.InDelta(t, c.mean, m, 4*c.std/math.Sqrt(20000), c.name)
		assert.InDelta(t, c.std, s, 0.03*c.std, c.name)
	}
	assert.Equal(t, make([]float32, 20000), Zeros(p.Tensor).Data())
	for _, v := range Ones(p.Tensor).Data() {
		assert.Equal(t, float32(1), v)
	}
	assert.Equal(t, []float32{2.5, 2.5}, Constant(autograd.Zeros(2), 2.5).Data())
	assert.True(t, p.RequiresGrad())
}

func TestTruncNormal(t *testing.T) {
	rng := autograd.NewRNG(12)
	x := TruncNormal(autograd.Zeros(100000), 0, 1, -2, 2, rng).Data()
	for _, v := range x {
		assert.True(t, v >= -2 && v <= 2)
	}
	// N(0, 1) truncated to ±2 has standard deviation 0.8796.
	m, s := meanStd(x)
	assert.InDelta(t, 0, m, 0.01)
	assert.InDelta(t, 0.8796, s, 0.01)
	// timm's usual call: std 0.02, bounds ±2 (a hundred standard deviations).
	m, s = meanStd(TruncNormal(autograd.Zeros(100000), 0, 0.02, -2, 2, rng).Data())
	assert.InDelta(t, 0, m, 0.001)
	assert.InDelta(t, 0.02, s, 0.0005)
	// A one-sided window: mean of N(1, 1) truncated to [1, 3] is 1 + (φ(0)−φ(2))/(Φ(2)−Φ(0)) = 1.7228.
	m, _ = meanStd(TruncNormal(autograd.Zeros(100000), 1, 1, 1, 3, rng).Data())
	assert.InDelta(t, 1.7228, m, 0.005)
	assert.Panics(t, func() { TruncNormal(autograd.Zeros(2), 0, 1, 2, -2, rng) })
}

func TestOrthogonal(t *testing.T) {
	rng := autograd.NewRNG(13)
	for _, shape := range [][]int{{6, 6}, {10, 4}, {4, 10}, {3, 2, 2, 2}} {
		w := Orthogonal(autograd.Zeros(shape...), 2, rng)
		rows := shape[0]
		cols := w.Numel() / rows
		a := w.Reshape(rows, cols)
		// The smaller Gram matrix is gain²·I.
		var g *autograd.Tensor
		n := rows
		if rows <= cols {
			g = a.MatMul(a.T())
		} else {
			g = a.T().MatMul(a)
			n = cols
		}
		want := make([]float32, n*n)
		for i := 0; i < n; i++ {
			want[i*n+i] = 4
		}
		assertClose(t, want, g.Data(), 1e-5, shape)
	}
	assert.Panics(t, func() { Orthogonal(autograd.Zeros(3), 1, rng) })
	assert.Panics(t, func() { Uniform(autograd.Zeros(3), 0, 1, nil) })
}
