package autograd_test

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

// benchFwdBwd times one forward and backward pass of f on inputs that all
// require grad.
func benchFwdBwd(b *testing.B, f func(xs []*ag.Tensor) *ag.Tensor, inputs ...*ag.Tensor) {
	for _, in := range inputs {
		in.SetRequiresGrad(true)
	}
	for b.Loop() {
		for _, in := range inputs {
			in.ZeroGrad()
		}
		f(inputs).Sum().Backward()
	}
}

func BenchmarkConv2d3x3(b *testing.B) {
	x, w, bias := rn(1, 16, 64, 32, 32), rn(2, 64, 64, 3, 3), rn(3, 64)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor {
		return ag.Conv2d(xs[0], xs[1], xs[2], ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)})
	}, x, w, bias)
}

func BenchmarkConv2d3x3Forward(b *testing.B) {
	x, w, bias := rn(1, 16, 64, 32, 32), rn(2, 64, 64, 3, 3), rn(3, 64)
	for b.Loop() {
		ag.Conv2d(x, w, bias, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)})
	}
}

func BenchmarkConv2dPointwise(b *testing.B) {
	x, w := rn(1, 16, 128, 28, 28), rn(2, 128, 128, 1, 1)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor { return ag.Conv2d(xs[0], xs[1], nil, ag.Conv2dOptions{}) }, x, w)
}

func BenchmarkDepthwise7x7Dil3(b *testing.B) {
	x, w, bias := rn(1, 8, 64, 56, 56), rn(2, 64, 1, 7, 7), rn(3, 64)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor {
		return ag.Conv2d(xs[0], xs[1], xs[2], ag.Conv2dOptions{Groups: 64, Dilation: [2]int{3, 3}, Padding: ag.SymmetricPadding(9, 9)})
	}, x, w, bias)
}

func BenchmarkDepthwise5x5(b *testing.B) {
	x, w, bias := rn(1, 8, 64, 56, 56), rn(2, 64, 1, 5, 5), rn(3, 64)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor {
		return ag.Conv2d(xs[0], xs[1], xs[2], ag.Conv2dOptions{Groups: 64, Padding: ag.SymmetricPadding(2, 2)})
	}, x, w, bias)
}

func BenchmarkMaxPool2d(b *testing.B) {
	x := rn(1, 16, 64, 56, 56)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor {
		return ag.MaxPool2d(xs[0], ag.Pool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	}, x)
}

func BenchmarkLayerNorm(b *testing.B) {
	x, w, bias := rn(1, 8192, 384), rn(2, 384), rn(3, 384)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor { return ag.LayerNorm(xs[0], []int{384}, xs[1], xs[2], 1e-5) }, x, w, bias)
}

func BenchmarkBatchNorm(b *testing.B) {
	x, w, bias := rn(1, 32, 64, 32, 32), rn(2, 64), rn(3, 64)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor { return ag.BatchNorm(xs[0], nil, nil, xs[1], xs[2], true, 0.1, 1e-5) }, x, w, bias)
}

func BenchmarkCrossEntropy(b *testing.B) {
	x := rn(1, 512, 1000)
	t := make([]int, 512)
	for i := range t {
		t[i] = (i * 37) % 1000
	}
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor {
		return ag.CrossEntropy(xs[0], t, ag.CrossEntropyOptions{LabelSmoothing: 0.1})
	}, x)
}

func BenchmarkCausalConvFFT(b *testing.B) {
	u, k := rn(1, 8, 64, 1024), rn(2, 64, 1024)
	benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor { return ag.CausalConv(xs[0], xs[1]) }, u, k)
}
