package nn

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
)

// MaxPool2d is torch.nn.MaxPool2d over the last two dimensions of its
// input ([N, C, H, W] or [C, H, W]). Its fields are autograd.Pool2dOptions'
// (Kernel, Stride, Padding, Dilation, CeilMode; a zero Stride is the kernel
// size), so nn.MaxPool2d{Kernel: [2]int{2, 2}} is torch's MaxPool2d(2).
// ExcludePad and Divisor do not apply.
type MaxPool2d autograd.Pool2dOptions

// Forward max-pools x.
func (p MaxPool2d) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.MaxPool2d(x, autograd.Pool2dOptions(p))
}

// MaxPool1d is torch.nn.MaxPool1d over the last dimension of its input
// ([N, C, L] or [C, L]); its fields are autograd.Pool1dOptions' (Kernel,
// Stride, Padding, Dilation, CeilMode).
type MaxPool1d autograd.Pool1dOptions

// Forward max-pools x.
func (p MaxPool1d) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.MaxPool1d(x, autograd.Pool1dOptions(p))
}

// AvgPool2d is torch.nn.AvgPool2d over the last two dimensions of its
// input. Its fields are autograd.Pool2dOptions' (Kernel, Stride, Padding,
// CeilMode, ExcludePad for count_include_pad=False, Divisor for
// divisor_override); Dilation must stay zero.
type AvgPool2d autograd.Pool2dOptions

// Forward average-pools x.
func (p AvgPool2d) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.AvgPool2d(x, autograd.Pool2dOptions(p))
}

// AvgPool1d is torch.nn.AvgPool1d over the last dimension of its input;
// its fields are autograd.Pool1dOptions' (Dilation must stay zero).
type AvgPool1d autograd.Pool1dOptions

// Forward average-pools x.
func (p AvgPool1d) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.AvgPool1d(x, autograd.Pool1dOptions(p))
}

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d: the last two dimensions
// of its input become Size (h, w), each output the average of its window
// [⌊i·H/h⌋, ⌈(i+1)·H/h⌉). A zero entry keeps that input size (torch's
// None). AdaptiveAvgPool2d{Size: [2]int{1, 1}} is global average pooling.
type AdaptiveAvgPool2d struct {
	Size [2]int
}

// Forward pools x ([N, C, H, W] or [C, H, W]).
func (p AdaptiveAvgPool2d) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() < 3 {
		panic(fmt.Sprintf("nn: AdaptiveAvgPool2d: input of shape %v needs at least 3 dimensions", x.Shape()))
	}
	h, w := p.Size[0], p.Size[1]
	if h == 0 {
		h = x.Size(-2)
	}
	if w == 0 {
		w = x.Size(-1)
	}
	return autograd.AdaptiveAvgPool2d(x, h, w)
}

// AdaptiveAvgPool1d is torch.nn.AdaptiveAvgPool1d: the last dimension of
// its input becomes Size long (zero keeps it).
type AdaptiveAvgPool1d struct {
	Size int
}

// Forward pools x ([N, C, L] or [C, L]).
func (p AdaptiveAvgPool1d) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("nn: AdaptiveAvgPool1d: input of shape %v needs at least 2 dimensions", x.Shape()))
	}
	n := p.Size
	if n == 0 {
		n = x.Size(-1)
	}
	return autograd.AdaptiveAvgPool1d(x, n)
}

// Flatten is torch.nn.Flatten: it merges the dimensions StartDim through
// EndDim (inclusive; negative counts from the end) into one. torch's
// defaults are StartDim 1 and EndDim −1, which NewFlatten returns; the zero
// value flattens only dimension 0 into itself.
type Flatten struct {
	StartDim, EndDim int
}

// NewFlatten returns torch's default Flatten: every dimension but the
// batch dimension merged, [N, ...] → [N, ∏...].
func NewFlatten() Flatten { return Flatten{StartDim: 1, EndDim: -1} }

// Forward flattens x.
func (f Flatten) Forward(x *autograd.Tensor) *autograd.Tensor {
	return x.Flatten(f.StartDim, f.EndDim)
}

// PixelShuffle is torch.nn.PixelShuffle: [..., C·r², H, W] becomes
// [..., C, H·r, W·r] with r = Factor (sub-pixel convolution upsampling).
type PixelShuffle struct {
	Factor int
}

// Forward rearranges x.
func (p PixelShuffle) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.PixelShuffle(x, p.Factor)
}

// PixelUnshuffle is torch.nn.PixelUnshuffle, PixelShuffle's inverse:
// [..., C, H·r, W·r] becomes [..., C·r², H, W] with r = Factor.
type PixelUnshuffle struct {
	Factor int
}

// Forward rearranges x.
func (p PixelUnshuffle) Forward(x *autograd.Tensor) *autograd.Tensor {
	return autograd.PixelUnshuffle(x, p.Factor)
}
