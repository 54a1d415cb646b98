package nn_test

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// A 3×3 convolution with padding 1 keeps the image size; a stride of 2
// halves it. The parameters carry torch's names and shapes.
func ExampleConv2d() {
	rng := autograd.NewRNG(1)
	conv := nn.NewConv2d(rng, 3, 16, 3, 3, nn.Conv2dConfig{Padding: [2]int{1, 1}})
	down := nn.NewConv2d(rng, 16, 32, 3, 3, nn.Conv2dConfig{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	for _, p := range nn.NamedParameters(conv) {
		fmt.Println(p.Name, p.Param.Shape())
	}

	x := rng.Normal(0, 1, 8, 3, 32, 32) // [N, C, H, W]
	y := conv.Forward(x)
	fmt.Println(y.Shape(), down.Forward(y.Relu()).Shape())

	// In a Sequential, with a norm, pooling and a head.
	model := nn.NewSequential(
		conv, nn.NewBatchNorm2d(16, nn.BatchNormConfig{}), nn.ReLU{},
		nn.AdaptiveAvgPool2d{Size: [2]int{1, 1}}, nn.NewFlatten(),
		nn.NewLinear(rng, 16, 10, true),
	)
	fmt.Println(model.Forward(x).Shape())
	// Output:
	// weight [16 3 3 3]
	// bias [16]
	// [8 16 32 32] [8 32 16 16]
	// [8 10]
}

// A two-layer bidirectional LSTM over a batch-first sequence: the output
// holds both directions' hidden states at every step, the final state one
// entry per layer and direction. The parameter names are torch's, so a
// torch state_dict loads into it.
func ExampleLSTM() {
	rng := autograd.NewRNG(1)
	lstm := nn.NewLSTM(rng, 10, 20, nn.RNNConfig{NumLayers: 2, BatchFirst: true, Bidirectional: true})
	x := rng.Normal(0, 1, 4, 7, 10) // [batch, seq, feature]

	out, state := lstm.Forward(x, nn.LSTMState{}) // zero initial state
	fmt.Println("output", out.Shape())
	fmt.Println("h", state.H.Shape(), "c", state.C.Shape())

	// Carry the state into the next chunk of the sequence.
	out, _ = lstm.Forward(rng.Normal(0, 1, 4, 3, 10), state)
	fmt.Println("next", out.Shape())

	named := nn.NamedParameters(lstm)
	fmt.Println(len(named), "parameters:", named[0].Name, named[4].Name, named[8].Name)
	// Output:
	// output [4 7 40]
	// h [4 4 20] c [4 4 20]
	// next [4 3 40]
	// 16 parameters: weight_ih_l0 weight_ih_l0_reverse weight_ih_l1
}
