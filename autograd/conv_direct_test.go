package autograd_test

import (
	"fmt"
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/cpu"
)

// On the CPU, stride-1 ungrouped convolutions with wide enough rows run
// on the direct kernels (no im2col matrix) for the forward pass and both
// gradients; they must agree with the im2col path, including where only
// some of the three are direct (narrow rows), with dilation and with
// padding wider than the kernel.
func TestConv2dDirectMatchesIm2col(t *testing.T) {
	if !cpu.DirectConv {
		t.Skip("the direct convolution kernels are not used on this CPU")
	}
	cases := []struct {
		name   string
		xs, ws []int
		o      ag.Conv2dOptions
	}{
		{"3x3_32", []int{3, 8, 6, 32}, []int{16, 8, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"3x3_one_image", []int{1, 5, 9, 30}, []int{12, 5, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"5x5_two_segments", []int{2, 3, 5, 60}, []int{7, 3, 5, 5}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(2, 2)}},
		{"7x7_dil3", []int{2, 4, 8, 27}, []int{9, 4, 7, 7}, ag.Conv2dOptions{Dilation: [2]int{3, 3}, Padding: ag.SymmetricPadding(9, 9)}},
		{"asym_pad_wide", []int{2, 2, 5, 28}, []int{3, 2, 3, 2}, ag.Conv2dOptions{Padding: [4]int{3, 0, 2, 1}}},
		{"narrow_rows", []int{2, 3, 6, 12}, []int{4, 3, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
	}
	dev := ag.CPU
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conv := func(xs []*ag.Tensor) *ag.Tensor { return ag.Conv2d(xs[0], xs[1], xs[2], c.o) }
			inputs := []*ag.Tensor{rn(1, c.xs...), rn(2, c.ws...), rn(3, c.ws[0])}
			od, gd := gradsOf(dev, conv, 7, inputs...)
			cpu.DirectConv = false
			oi, gi := gradsOf(dev, conv, 7, inputs...)
			cpu.DirectConv = true
			requireClose(t, "output", od, oi, 1e-5)
			for i := range gd {
				requireClose(t, fmt.Sprintf("gradient of input %d", i), gd[i], gi[i], 1e-4)
			}
		})
	}
}

// BenchmarkConv2dPaths times forward and backward of dense stride-1
// convolutions on the direct kernels and on im2col + GEMM, over the
// shapes that decide where the direct path is chosen: the bench/
// table's 3×3, one image, 16-wide rows (forward on im2col, weight
// gradient direct) and a Graph WaveNet temporal convolution (1×2,
// dilation 2, 12 time steps).
func BenchmarkConv2dPaths(b *testing.B) {
	if !cpu.DirectConv {
		b.Skip("the direct convolution kernels are not used on this CPU")
	}
	cases := []struct {
		name   string
		xs, ws []int
		o      ag.Conv2dOptions
	}{
		{"16x64x32x32_3x3", []int{16, 64, 32, 32}, []int{64, 64, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"1x64x32x32_3x3", []int{1, 64, 32, 32}, []int{64, 64, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"32x32x16x16_3x3", []int{32, 32, 16, 16}, []int{32, 32, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"64x32x207x12_1x2dil2", []int{64, 32, 207, 12}, []int{64, 32, 1, 2}, ag.Conv2dOptions{Dilation: [2]int{1, 2}}},
	}
	for _, c := range cases {
		for _, direct := range []bool{true, false} {
			name := c.name + "/im2col"
			if direct {
				name = c.name + "/direct"
			}
			b.Run(name, func(b *testing.B) {
				cpu.DirectConv = direct
				defer func() { cpu.DirectConv = true }()
				benchFwdBwd(b, func(xs []*ag.Tensor) *ag.Tensor { return ag.Conv2d(xs[0], xs[1], xs[2], c.o) },
					rn(1, c.xs...), rn(2, c.ws...), rn(3, c.ws[0]))
			})
		}
	}
}
