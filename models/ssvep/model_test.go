package ssvep_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/models/ssvep"
	"github.com/deepgo/deepgo/nn"
)

// 414,283 parameters at 9 channels and 0.4 s (the sub-band combination has
// no bias: MATLAB's is fixed at 0 with learning rate 0).
func TestNetParamCount(t *testing.T) {
	m := ssvep.NewNet(autograd.NewRNG(1), ssvep.DefaultConfig(100))
	trainable, total := nn.NumParams(m)
	assert.Equal(t, 414283, total)
	assert.Equal(t, 414283, trainable)
	names := map[string][]int{}
	for _, np := range nn.NamedParameters(m) {
		names[np.Name] = np.Param.Shape()
	}
	assert.Equal(t, map[string][]int{
		"sub_band.weight": {1, 3, 1, 1},
		"channel.weight":  {120, 1, 9, 1}, "channel.bias": {120},
		"time.weight": {120, 120, 1, 2}, "time.bias": {120},
		"conv.weight": {120, 120, 1, 10}, "conv.bias": {120},
		"fc.weight": {40, 6000}, "fc.bias": {40},
	}, names)
	// Other sizes: 64 channels at 1.0 s (250 samples, 125 after the stride).
	cfg := ssvep.DefaultConfig(250)
	cfg.Channels = 64
	_, total = nn.NumParams(ssvep.NewNet(autograd.NewRNG(1), cfg))
	assert.Equal(t, 3+(120*64+120)+(120*120*2+120)+(120*120*10+120)+(120*125*40+40), total)
	// An odd window: 0.3 s is 75 samples, 37 after the stride.
	assert.Equal(t, 37, ssvep.DefaultConfig(75).Half())
}

// The initialisation of main.m: sub-band weights 1, biases 0, the other
// weights N(0, 0.01²).
func TestNetInit(t *testing.T) {
	m := ssvep.NewNet(autograd.NewRNG(2), ssvep.DefaultConfig(100))
	assert.Equal(t, []float32{1, 1, 1}, m.SubBand.Weight.Data())
	assert.Nil(t, m.SubBand.Bias)
	for _, b := range []*nn.Parameter{m.Channel.Bias, m.Time.Bias, m.Conv.Bias, m.FC.Bias} {
		for _, v := range b.Data() {
			require.Equal(t, float32(0), v)
		}
	}
	w := m.Conv.Weight.Data()
	var mean, ss float64
	for _, v := range w {
		mean += float64(v)
		ss += float64(v) * float64(v)
	}
	mean /= float64(len(w))
	std := ss/float64(len(w)) - mean*mean
	assert.InDelta(t, 0, mean, 1e-3)
	assert.InDelta(t, 1e-4, std, 1e-5) // variance 0.01²
}

// Shapes layer by layer, the sub-band sum at initialisation, and the
// 'same' convolution keeping N/2.
func TestNetShapes(t *testing.T) {
	rng := autograd.NewRNG(3)
	for _, n := range []int{50, 75, 100, 250} {
		cfg := ssvep.DefaultConfig(n)
		m := ssvep.NewNet(rng, cfg)
		nn.Eval(m)
		x := rng.Normal(0, 1, 4, 3, 9, n)
		h1 := m.SubBand.Forward(x)
		assert.Equal(t, []int{4, 1, 9, n}, h1.Shape())
		// Layer 1 at init sums the sub-bands.
		sum := x.Sum(1).Data()
		for i, v := range h1.Data() {
			require.InDelta(t, sum[i], v, 1e-5)
		}
		h2 := m.Channel.Forward(h1)
		assert.Equal(t, []int{4, 120, 1, n}, h2.Shape())
		h3 := m.Time.Forward(h2)
		assert.Equal(t, []int{4, 120, 1, n / 2}, h3.Shape())
		h4 := m.Conv.Forward(h3.Relu())
		assert.Equal(t, []int{4, 120, 1, n / 2}, h4.Shape())
		assert.Equal(t, []int{4, 40}, m.Forward(x).Shape())
	}
	m := ssvep.NewNet(rng, ssvep.DefaultConfig(100))
	assert.PanicsWithValue(t, "ssvep: Net: input of shape [2 3 9 90] is not [B, 3 sub-bands, 9 channels, 100 samples]", func() {
		m.Forward(autograd.Zeros(2, 3, 9, 90))
	})
}

// The 'same' convolution pads 4 on the left and 5 on the right: an impulse
// at position p of a channel meets kernel tap j at output p − j + 4.
func TestNetSamePadding(t *testing.T) {
	m := ssvep.NewNet(autograd.NewRNG(4), ssvep.Config{SubBands: 1, Channels: 1, Samples: 20, Classes: 2, Filters: 1, Kernel: 10})
	w := make([]float32, 10)
	for j := range w {
		w[j] = float32(j + 1)
	}
	autograd.NoGrad(func() { m.Conv.Weight.CopyFrom(autograd.New(w, 1, 1, 1, 10)) })
	x := make([]float32, 10)
	x[0] = 1 // impulse at the first position
	y := m.Conv.Forward(autograd.New(x, 1, 1, 1, 10)).Data()
	// y[i] = Σ_j w[j]·x[i + j − 4]: the impulse at 0 gives y[i] = w[4 − i].
	assert.Equal(t, []float32{5, 4, 3, 2, 1, 0, 0, 0, 0, 0}, y)
	x[0], x[9] = 0, 1 // at the last position: y[i] = w[13 − i]
	y = m.Conv.Forward(autograd.New(x, 1, 1, 1, 10)).Data()
	assert.Equal(t, []float32{0, 0, 0, 0, 10, 9, 8, 7, 6, 5}, y)
}

// Evaluation mode is deterministic; training mode drops units.
func TestNetDropoutModes(t *testing.T) {
	rng := autograd.NewRNG(5)
	m := ssvep.NewNet(rng, ssvep.DefaultConfig(100))
	x := rng.Normal(0, 1, 2, 3, 9, 100)
	nn.Eval(m)
	a, b := m.Forward(x).Data(), m.Forward(x).Data()
	assert.Equal(t, a, b)
	nn.Train(m)
	c, d := m.Forward(x).Data(), m.Forward(x).Data()
	assert.NotEqual(t, c, d)
	assert.NotEqual(t, a, c)
	m.SetDropout(0.6, 0.6, 0.95)
	assert.Equal(t, [3]float64{0.6, 0.6, 0.95}, [3]float64{m.Config().Dropout1, m.Config().Dropout2, m.Config().Dropout3})
	assert.Panics(t, func() { m.SetDropout(1, 0, 0) })
}

// The optimizer groups: L2 on the five weights, none on the four biases.
func TestNetParamGroups(t *testing.T) {
	m := ssvep.NewNet(autograd.NewRNG(6), ssvep.DefaultConfig(100))
	g := m.ParamGroups(1e-4, 1e-3)
	require.Len(t, g, 2)
	assert.Len(t, g[0].Params, 5)
	assert.Equal(t, 1e-3, g[0].WeightDecay)
	assert.Len(t, g[1].Params, 4)
	assert.Equal(t, 0.0, g[1].WeightDecay)
	assert.Equal(t, 1e-4, g[1].LR)
}

// The network learns: a few steps on a fixed batch reduce the loss and
// leave the sub-band weights trained.
func TestNetLearns(t *testing.T) {
	rng := autograd.NewRNG(7)
	cfg := ssvep.DefaultConfig(50)
	cfg.Classes = 4
	m := ssvep.NewNet(rng, cfg)
	m.SetDropout(0, 0, 0)
	x := rng.Normal(0, 1, 8, 3, 9, 50)
	labels := []int{0, 1, 2, 3, 0, 1, 2, 3}
	lossOf := func() float64 {
		return float64(autograd.CrossEntropy(m.Forward(x), labels, autograd.CrossEntropyOptions{}).Item())
	}
	before := lossOf()
	for range 20 {
		nn.ZeroGrad(m)
		autograd.CrossEntropy(m.Forward(x), labels, autograd.CrossEntropyOptions{}).Backward()
		require.NotNil(t, m.SubBand.Weight.Grad)
		autograd.NoGrad(func() {
			for _, p := range nn.Parameters(m) {
				p.AddInPlace(p.Grad, -0.5)
			}
		})
	}
	assert.Less(t, lossOf(), before*0.5)
	assert.NotEqual(t, []float32{1, 1, 1}, m.SubBand.Weight.Data())
}

// The weights save to safetensors under their state_dict names and load
// into a fresh network, which then computes the same logits.
func TestNetSaveLoad(t *testing.T) {
	rng := autograd.NewRNG(8)
	a := ssvep.NewNet(rng, ssvep.DefaultConfig(100))
	b := ssvep.NewNet(rng, ssvep.DefaultConfig(100))
	path := filepath.Join(t.TempDir(), "ssvep.safetensors")
	require.NoError(t, nn.Save(path, a, nil))
	_, err := nn.Load(path, b, true)
	require.NoError(t, err)
	nn.Eval(a)
	nn.Eval(b)
	x := rng.Normal(0, 1, 2, 3, 9, 100)
	assert.Equal(t, a.Forward(x).Data(), b.Forward(x).Data())
}
