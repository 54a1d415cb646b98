package autograd_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	ag "github.com/deepgo/deepgo/autograd"
)

// Argument errors of the nn ops panic naming the op and the shapes.
func TestNNArgumentErrorsPanicNameOpAndShapes(t *testing.T) {
	x4 := ag.Zeros(2, 3, 5, 5)
	cases := []struct {
		name string
		f    func()
		msg  string
	}{
		{"ChannelAffineScale", func() { ag.ChannelAffine(x4, ag.Zeros(5), nil, 1) },
			"autograd: ChannelAffine: input [2 3 5 5] has 3 channels; scale has shape [5]"},
		{"ChannelAffineAxis", func() { ag.ChannelAffine(x4, ag.Zeros(5), nil, 4) },
			"autograd: ChannelAffine: axis 4 is out of range for input [2 3 5 5]"},
		{"ChannelAffineNilScale", func() { ag.ChannelAffine(x4, nil, ag.Zeros(3), 1) },
			"autograd: ChannelAffine: input [2 3 5 5]: scale is nil (use Add for a shift alone)"},
		{"Conv2dChannels", func() { ag.Conv2d(x4, ag.Zeros(4, 2, 3, 3), nil, ag.Conv2dOptions{}) },
			"autograd: Conv2d: input [2 3 5 5] and weight [4 2 3 3] with groups 1: weight needs 3 input channels, has 2"},
		{"Conv2dGroups", func() { ag.Conv2d(x4, ag.Zeros(4, 1, 3, 3), nil, ag.Conv2dOptions{Groups: 2}) },
			"autograd: Conv2d: input [2 3 5 5] and weight [4 1 3 3]: 3 input and 4 output channels are not divisible by groups 2"},
		{"Conv2dBias", func() { ag.Conv2d(x4, ag.Zeros(4, 3, 3, 3), ag.Zeros(3), ag.Conv2dOptions{}) },
			"autograd: Conv2d: weight [4 3 3 3] needs bias [4], got [3]"},
		{"Conv2dSameStride", func() {
			ag.Conv2d(x4, ag.Zeros(4, 3, 3, 3), nil, ag.Conv2dOptions{Same: true, Stride: [2]int{2, 2}})
		}, "autograd: Conv2d: input [2 3 5 5], weight [4 3 3 3]: padding 'same' needs stride 1, got [2 2]"},
		{"Conv2dTooSmall", func() { ag.Conv2d(ag.Zeros(1, 1, 2, 2), ag.Zeros(1, 1, 3, 3), nil, ag.Conv2dOptions{}) },
			"autograd: Conv2d: padded input [1 1 2 2] is smaller than the dilated kernel of weight [1 1 3 3]"},
		{"Conv1dRank", func() { ag.Conv1d(x4, ag.Zeros(2, 3, 3), nil, ag.Conv1dOptions{}) },
			"autograd: Conv1d: input [2 3 5 5] and weight [2 3 3]: want input [N, C, L] and weight [O, C/groups, K]"},
		{"Fold", func() { ag.Fold(ag.Zeros(1, 4, 5), 3, 3, ag.UnfoldOptions{Kernel: [2]int{2, 2}}) },
			"autograd: Fold: input [1 4 5] has 5 patches; output [3 3] with kernel [2 2] gives 4"},
		{"PixelShuffle", func() { ag.PixelShuffle(ag.Zeros(1, 6, 2, 2), 2) },
			"autograd: PixelShuffle: input [1 6 2 2] with factor 2: want [..., C·4, H, W]"},
		{"MaxPool2dPadding", func() {
			ag.MaxPool2d(ag.Zeros(1, 1, 4, 4), ag.Pool2dOptions{Kernel: [2]int{3, 3}, Padding: [2]int{2, 2}})
		},
			"autograd: MaxPool2d: input [1 1 4 4]: padding [2 2] must be at most half the kernel [3 3]"},
		{"AvgPool1dTooSmall", func() { ag.AvgPool1d(ag.Zeros(2, 3), ag.Pool1dOptions{Kernel: 4}) },
			"autograd: AvgPool1d: input [2 3] is too small for kernel 4 with padding 0 and dilation 1"},
		{"AdaptiveAvgPool2d", func() { ag.AdaptiveAvgPool2d(x4, 0, 2) },
			"autograd: AdaptiveAvgPool2d: input [2 3 5 5] to output size [0 2]: sizes must be positive"},
		{"LayerNorm", func() { ag.LayerNorm(ag.Zeros(2, 3), []int{4}, nil, nil, 1e-5) },
			"autograd: LayerNorm: input [2 3] does not end in the normalized shape [4]"},
		{"BatchNormEval", func() { ag.BatchNorm(x4, nil, nil, nil, nil, false, 0.1, 1e-5) },
			"autograd: BatchNorm: input [2 3 5 5]: evaluation needs the running mean and var"},
		{"BatchNormWeight", func() { ag.BatchNorm(x4, nil, nil, ag.Ones(4), nil, true, 0.1, 1e-5) },
			"autograd: BatchNorm: input [2 3 5 5] has 3 channels; weight has shape [4]"},
		{"GroupNorm", func() { ag.GroupNorm(ag.Zeros(2, 6, 3), 4, nil, nil, 1e-5) },
			"autograd: GroupNorm: input [2 6 3]: 6 channels are not divisible into 4 groups"},
		{"Dropout", func() { ag.Dropout(x4, 1.5, ag.NewRNG(1)) },
			"autograd: Dropout: input [2 3 5 5]: probability 1.5 is not in [0, 1]"},
		{"Embedding", func() { ag.Embedding(ag.Zeros(4, 2), []int{1, 4}, []int{2}) },
			"autograd: Embedding: index 4 out of range for table [4 2]"},
		{"Gather", func() { ag.Zeros(2, 3).Gather(1, []int{0, 3}, []int{2, 1}) },
			"autograd: Gather: index 3 out of range for dimension 1 of shape [2 3]"},
		{"GatherShape", func() { ag.Zeros(2, 3).Gather(0, []int{0, 1, 0, 1}, []int{1, 4}) },
			"autograd: Gather: index shape [1 4] is larger than [2 3] outside dimension 0"},
		{"ScatterAdd", func() { ag.Zeros(2, 3).ScatterAdd(0, []int{0, 1}, []int{2, 1}, ag.Zeros(1, 1)) },
			"autograd: ScatterAdd: index shape [2 1] is larger than source [1 1]"},
		{"IndexAdd", func() { ag.Zeros(2, 3).IndexAdd(1, []int{0, 1}, ag.Zeros(2, 3)) },
			"autograd: IndexAdd: source [2 3] must have shape [2 2] for input [2 3] and 2 indices along dimension 1"},
		{"SegmentSum", func() { ag.SegmentSum(ag.Zeros(3, 2), []int{0, 2, 1}, 2) },
			"autograd: SegmentSum: input [3 2]: segment id 2 out of range [0, 2)"},
		{"CrossEntropyTargets", func() { ag.CrossEntropy(ag.Zeros(3, 4), []int{1, 2}, ag.CrossEntropyOptions{}) },
			"autograd: CrossEntropy: input [3 4] needs 3 targets (shape [3]), got 2"},
		{"CrossEntropyClass", func() { ag.CrossEntropy(ag.Zeros(2, 4), []int{1, 4}, ag.CrossEntropyOptions{}) },
			"autograd: CrossEntropy: input [2 4]: target 4 out of range for 4 classes"},
		{"MSELoss", func() { ag.MSELoss(ag.Zeros(2, 3), ag.Zeros(3, 2), ag.LossOptions{}) },
			"autograd: MSELoss: prediction [2 3] and target [3 2] differ in shape"},
		{"CausalConv", func() { ag.CausalConv(ag.Zeros(2, 3, 8), ag.Zeros(3, 9)) },
			"autograd: CausalConv: input [2 3 8] and kernel [3 9]: kernel needs 3 channels (and 2 samples if batched) and at most 8 taps"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.PanicsWithValue(t, c.msg, c.f) })
	}
}
