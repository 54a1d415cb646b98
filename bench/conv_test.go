package bench

// Benchmarks of the convolutions issue 5 names, on [16, 64, 32, 32]: a
// dense 3×3 convolution (64 → 64 channels, padding 1), and the two
// depthwise convolutions of large kernel attention (5×5 padding 2, and 7×7
// dilation 3 padding 9), each with a bias. Forward benchmarks run each
// call inside Scope.Run (the output's storage is reused by the next call);
// "Backward" benchmarks time the forward pass and the backward pass from a
// ones seed into the input, the weight and the bias, inside an
// autograd.Scope as train.Trainer runs a step. Their PyTorch twins are in
// torch_conv.py.

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

type convCase struct {
	cin, cout, k, pad, dil, groups int
}

var (
	conv3x3     = convCase{cin: 64, cout: 64, k: 3, pad: 1, dil: 1, groups: 1}
	dw5x5       = convCase{cin: 64, cout: 64, k: 5, pad: 2, dil: 1, groups: 64}
	dw7x7Dil3   = convCase{cin: 64, cout: 64, k: 7, pad: 9, dil: 3, groups: 64}
	convBatchSh = []int{16, 64, 32, 32}
)

func benchConv(b *testing.B, c convCase, backward bool) {
	rng := ag.NewRNG(11)
	x := rng.Normal(0, 1, convBatchSh...)
	w := rng.Normal(0, 0.1, c.cout, c.cin/c.groups, c.k, c.k)
	bias := rng.Normal(0, 0.1, c.cout)
	opts := ag.Conv2dOptions{
		Padding:  ag.SymmetricPadding(c.pad, c.pad),
		Dilation: [2]int{c.dil, c.dil},
		Groups:   c.groups,
	}
	f := func() *ag.Tensor { return ag.Conv2d(x, w, bias, opts) }
	if !backward {
		call := func() {
			s := ag.OpenScope()
			s.Run(func() { f() })
			s.Close()
		}
		call()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			call()
		}
		return
	}
	for _, t := range []*ag.Tensor{x, w, bias} {
		t.SetRequiresGrad(true)
	}
	var seed *ag.Tensor
	step := func() {
		s := ag.OpenScope()
		y := f()
		if seed == nil {
			seed = ag.Keep(ag.OnesLike(y))
		}
		s.BackwardWith(y, seed, false)
		x.ReleaseGrad()
		w.ReleaseGrad()
		bias.ReleaseGrad()
		s.Close()
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
}

// BenchmarkConv2d3x3 is a dense 3×3 convolution, 64 → 64 channels.
func BenchmarkConv2d3x3(b *testing.B) { benchConv(b, conv3x3, false) }

// BenchmarkConv2d3x3Backward is its forward and backward pass.
func BenchmarkConv2d3x3Backward(b *testing.B) { benchConv(b, conv3x3, true) }

// BenchmarkDepthwise5x5 is LKA's depthwise 5×5 convolution.
func BenchmarkDepthwise5x5(b *testing.B) { benchConv(b, dw5x5, false) }

// BenchmarkDepthwise5x5Backward is its forward and backward pass.
func BenchmarkDepthwise5x5Backward(b *testing.B) { benchConv(b, dw5x5, true) }

// BenchmarkDepthwise7x7Dil3 is LKA's dilated depthwise 7×7 convolution.
func BenchmarkDepthwise7x7Dil3(b *testing.B) { benchConv(b, dw7x7Dil3, false) }

// BenchmarkDepthwise7x7Dil3Backward is its forward and backward pass.
func BenchmarkDepthwise7x7Dil3Backward(b *testing.B) { benchConv(b, dw7x7Dil3, true) }
