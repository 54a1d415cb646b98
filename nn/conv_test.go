package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

// Every single-input layer composes with Sequential.
var (
	_ Layer = (*Conv1d)(nil)
	_ Layer = (*Conv2d)(nil)
	_ Layer = (*LayerNorm)(nil)
	_ Layer = (*BatchNorm)(nil)
	_ Layer = (*BatchNorm1d)(nil)
	_ Layer = (*BatchNorm2d)(nil)
	_ Layer = (*GroupNorm)(nil)
	_ Layer = (*DropPath)(nil)
	_ Layer = MaxPool1d{}
	_ Layer = MaxPool2d{}
	_ Layer = AvgPool1d{}
	_ Layer = AvgPool2d{}
	_ Layer = AdaptiveAvgPool1d{}
	_ Layer = AdaptiveAvgPool2d{}
	_ Layer = Flatten{}
	_ Layer = PixelShuffle{}
	_ Layer = PixelUnshuffle{}
)

func TestConvInit(t *testing.T) {
	// torch: kaiming_uniform(a=√5) is U(±1/√fan_in), the bias the same.
	rng := autograd.NewRNG(11)
	c := NewConv2d(rng, 6, 64, 3, 5, Conv2dConfig{Groups: 2})
	assert.Equal(t, []int{64, 3, 3, 5}, c.Weight.Shape())
	assert.Equal(t, []int{64}, c.Bias.Shape())
	bound := 1 / math.Sqrt(3*3*5)
	checkUniform(t, c.Weight.Data(), -bound, bound)
	require.Len(t, c.Bias.Data(), 64)
	for _, v := range c.Bias.Data() {
		assert.LessOrEqual(t, math.Abs(float64(v)), bound)
	}
	assert.Equal(t, []string{"weight", "bias"}, names(c))

	c1 := NewConv1d(rng, 4, 256, 7, Conv1dConfig{NoBias: true})
	assert.Equal(t, []int{256, 4, 7}, c1.Weight.Shape())
	assert.Nil(t, c1.Bias)
	checkUniform(t, c1.Weight.Data(), -1/math.Sqrt(28), 1/math.Sqrt(28))
	assert.Equal(t, []string{"weight"}, names(c1))
	_, total := NumParams(NewConv2d(rng, 3, 8, 3, 3, Conv2dConfig{}))
	assert.Equal(t, 8*3*9+8, total)

	// The same seed gives the same layer.
	a := NewConv2d(autograd.NewRNG(3), 2, 4, 3, 3, Conv2dConfig{})
	b := NewConv2d(autograd.NewRNG(3), 2, 4, 3, 3, Conv2dConfig{})
	assert.Equal(t, a.Weight.Data(), b.Weight.Data())
	assert.Equal(t, a.Bias.Data(), b.Bias.Data())
}

func TestConvSameKeepsSize(t *testing.T) {
	rng := autograd.NewRNG(12)
	for _, mode := range []PaddingMode{PadZeros, PadCircular, PadReflect, PadReplicate} {
		for _, k := range [][2]int{{1, 1}, {2, 3}, {4, 4}, {3, 5}} {
			c := NewConv2d(rng, 2, 3, k[0], k[1], Conv2dConfig{Same: true, PaddingMode: mode, Dilation: [2]int{2, 1}})
			y := c.Forward(rng.Normal(0, 1, 2, 2, 9, 8))
			assert.Equal(t, []int{2, 3, 9, 8}, y.Shape(), "mode %v kernel %v", mode, k)
		}
		c1 := NewConv1d(rng, 2, 3, 4, Conv1dConfig{Same: true, PaddingMode: mode})
		assert.Equal(t, []int{2, 3, 10}, c1.Forward(rng.Normal(0, 1, 2, 2, 10)).Shape(), "mode %v", mode)
		assert.Equal(t, []int{3, 10}, c1.Forward(rng.Normal(0, 1, 2, 10)).Shape(), "unbatched, mode %v", mode)
	}
}

func TestPadEdges(t *testing.T) {
	x := autograd.New([]float32{1, 2, 3, 4}, 1, 4)
	assert.Equal(t, []float32{3, 2, 1, 2, 3, 4, 3, 2}, padEdges("t", x, []int{2, 2}, PadReflect).Data())
	assert.Equal(t, []float32{1, 1, 1, 2, 3, 4, 4, 4}, padEdges("t", x, []int{2, 2}, PadReplicate).Data())
	// 2-D: the last dimension first, then the one before.
	x2 := autograd.New([]float32{1, 2, 3, 4}, 2, 2)
	assert.Equal(t, []float32{4, 3, 4, 2, 1, 2, 4, 3, 4}, padEdges("t", x2, []int{1, 0, 1, 0}, PadReflect).Reshape(9).Data())
	// The gradient of the copies adds back.
	xg := autograd.New([]float32{1, 2, 3}, 3).SetRequiresGrad(true)
	padEdges("t", xg, []int{2, 1}, PadReplicate).Sum().Backward()
	assert.Equal(t, []float32{3, 1, 2}, xg.Grad.Data())
	assert.PanicsWithValue(t, "nn: t: reflect padding [4 0] must be smaller than the input's dimensions [1 4]", func() {
		padEdges("t", x, []int{4, 0}, PadReflect)
	})
}

func TestConvCircularMatchesExplicitPad(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(13)
		c := NewConv2d(rng, 3, 4, 3, 3, Conv2dConfig{Padding: [2]int{1, 2}, PaddingMode: PadCircular})
		To(c, dev)
		x := rng.Normal(0, 1, 2, 3, 5, 6).To(dev)
		plain := &Conv2d{Weight: c.Weight, Bias: c.Bias}
		want := plain.Forward(x.Pad([]int{2, 2, 1, 1}, autograd.PadCircular, 0))
		assertClose(t, want.Data(), c.Forward(x).Data(), 1e-6)
	})
}

func TestConvPanics(t *testing.T) {
	rng := autograd.NewRNG(14)
	assert.PanicsWithValue(t, "nn: NewConv2d: in=3 and out=4 channels, kernel 3x3, groups 2: sizes must be positive and the channels divisible by groups", func() {
		NewConv2d(rng, 3, 4, 3, 3, Conv2dConfig{Groups: 2})
	})
	assert.PanicsWithValue(t, "nn: NewConv2d: padding 'same' needs stride 1, got [2 1]", func() {
		NewConv2d(rng, 3, 4, 3, 3, Conv2dConfig{Same: true, Stride: [2]int{2, 1}})
	})
	assert.PanicsWithValue(t, "nn: NewConv1d: negative stride [0], padding [-1] or dilation [0]", func() {
		NewConv1d(rng, 3, 4, 3, Conv1dConfig{Padding: -1})
	})
	assert.PanicsWithValue(t, "nn: NewConv1d: unknown padding mode 9", func() {
		NewConv1d(rng, 3, 4, 3, Conv1dConfig{PaddingMode: 9})
	})
	c := NewConv2d(rng, 4, 6, 3, 3, Conv2dConfig{Groups: 2})
	assert.PanicsWithValue(t, "nn: Conv2d: input of shape [1 3 8 8] has 3 channels; weight [6 2 3 3] with groups 2 expects 4", func() {
		c.Forward(autograd.Zeros(1, 3, 8, 8))
	})
	assert.PanicsWithValue(t, "nn: Conv2d: input of shape [8 8] is not [N, C, H, W] or [C, H, W] (weight [6 2 3 3])", func() {
		c.Forward(autograd.Zeros(8, 8))
	})
	assert.PanicsWithValue(t, "nn: Conv1d: input of shape [2 5 8] has 5 channels; weight [2 4 3] with groups 1 expects 4", func() {
		NewConv1d(rng, 4, 2, 3, Conv1dConfig{}).Forward(autograd.Zeros(2, 5, 8))
	})
	assert.Equal(t, "circular", PadCircular.String())
	assert.Equal(t, "PaddingMode(7)", PaddingMode(7).String())
}

func TestPoolingAndShapeLayers(t *testing.T) {
	rng := autograd.NewRNG(15)
	x := rng.Normal(0, 1, 2, 3, 8, 6)
	assert.Equal(t, []int{2, 3, 4, 3}, MaxPool2d{Kernel: [2]int{2, 2}}.Forward(x).Shape())
	assert.Equal(t, []int{2, 3, 4, 3}, AvgPool2d{Kernel: [2]int{2, 2}}.Forward(x).Shape())
	assert.Equal(t, []int{2, 3, 8, 2}, AdaptiveAvgPool2d{Size: [2]int{0, 2}}.Forward(x).Shape())
	assert.Equal(t, []int{2, 3, 1, 1}, AdaptiveAvgPool2d{Size: [2]int{1, 1}}.Forward(x).Shape())
	assert.Equal(t, []int{2, 144}, NewFlatten().Forward(x).Shape())
	assert.Equal(t, []int{6, 8, 6}, Flatten{StartDim: 0, EndDim: 1}.Forward(x).Shape())
	x1 := rng.Normal(0, 1, 2, 3, 9)
	assert.Equal(t, []int{2, 3, 4}, MaxPool1d{Kernel: 2}.Forward(x1).Shape())
	assert.Equal(t, []int{2, 3, 3}, AvgPool1d{Kernel: 3}.Forward(x1).Shape())
	assert.Equal(t, []int{2, 3, 9}, AdaptiveAvgPool1d{}.Forward(x1).Shape())
	// Global average pooling is the mean over the plane.
	assertClose(t, x.Mean(2, 3).Data(), AdaptiveAvgPool2d{Size: [2]int{1, 1}}.Forward(x).Reshape(2, 3).Data(), 1e-6)
	// PixelUnshuffle undoes PixelShuffle.
	y := PixelShuffle{Factor: 2}.Forward(rng.Normal(0, 1, 2, 12, 3, 4))
	assert.Equal(t, []int{2, 3, 6, 8}, y.Shape())
	back := PixelUnshuffle{Factor: 2}.Forward(y)
	assert.Equal(t, PixelUnshuffle{Factor: 2}.Forward(PixelShuffle{Factor: 2}.Forward(back)).Data(), back.Data())
	assert.PanicsWithValue(t, "nn: AdaptiveAvgPool2d: input of shape [3 4] needs at least 3 dimensions", func() {
		AdaptiveAvgPool2d{Size: [2]int{1, 1}}.Forward(autograd.Zeros(3, 4))
	})
	assert.PanicsWithValue(t, "nn: AdaptiveAvgPool1d: input of shape [4] needs at least 2 dimensions", func() {
		AdaptiveAvgPool1d{Size: 1}.Forward(autograd.Zeros(4))
	})
}

// A CNN built as a Sequential names its parameters by position, and Train
// and Eval reach the BatchNorm inside.
func TestConvSequential(t *testing.T) {
	rng := autograd.NewRNG(16)
	bn := NewBatchNorm2d(4, BatchNormConfig{})
	s := NewSequential(
		NewConv2d(rng, 1, 4, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}}),
		bn,
		ReLU{},
		MaxPool2d{Kernel: [2]int{2, 2}},
		NewFlatten(),
		NewLinear(rng, 4*4*4, 3, true),
	)
	assert.Equal(t, []string{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "5.weight", "5.bias"}, stateNames(s))
	x := rng.Normal(0, 1, 5, 1, 8, 8)
	assert.Equal(t, []int{5, 3}, s.Forward(x).Shape())
	assert.Equal(t, float32(1), bn.NumBatchesTracked.Item())
	Eval(s)
	assert.False(t, bn.Training())
	s.Forward(x)
	assert.Equal(t, float32(1), bn.NumBatchesTracked.Item(), "evaluation leaves the statistics alone")
	Train(s)
	assert.True(t, bn.Training())
}
