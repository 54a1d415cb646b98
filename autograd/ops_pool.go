package autograd

import (
	"fmt"
	"strings"
)

// Pool2dOptions configures MaxPool2d and AvgPool2d, with torch's defaults
// for zero fields.
type Pool2dOptions struct {
	// Kernel is the window size (h, w); both must be positive.
	Kernel [2]int
	// Stride is (h, w); zero entries take the kernel size (torch's default).
	Stride [2]int
	// Padding is (h, w), on both sides, at most half the kernel; max pooling
	// pads with −Inf, average pooling with zeros.
	Padding [2]int
	// Dilation is (h, w), max pooling only; zero entries mean 1.
	Dilation [2]int
	// CeilMode rounds the output size up (torch's ceil_mode).
	CeilMode bool
	// ExcludePad leaves the padding out of the averages' divisor (torch's
	// count_include_pad=False); by default it counts, as in torch.
	ExcludePad bool
	// Divisor, when positive, replaces every average's divisor (torch's
	// divisor_override).
	Divisor int
}

// Pool1dOptions configures MaxPool1d and AvgPool1d; see Pool2dOptions.
type Pool1dOptions struct {
	// Kernel is the window length (positive).
	Kernel int
	// Stride defaults to Kernel when zero.
	Stride int
	// Padding is added on both sides, at most half the kernel.
	Padding int
	// Dilation (max pooling only) defaults to 1 when zero.
	Dilation int
	// CeilMode rounds the output length up.
	CeilMode bool
	// ExcludePad leaves padding out of the averages' divisor.
	ExcludePad bool
	// Divisor, when positive, replaces every average's divisor.
	Divisor int
}

func (o Pool1dOptions) as2d() Pool2dOptions {
	return Pool2dOptions{
		Kernel: [2]int{1, o.Kernel}, Stride: [2]int{1, o.Stride}, Padding: [2]int{0, o.Padding},
		Dilation: [2]int{1, o.Dilation}, CeilMode: o.CeilMode, ExcludePad: o.ExcludePad, Divisor: o.Divisor,
	}
}

// poolOut is torch's pooling_output_shape.
func poolOut(in, k, s, p, d int, ceil bool) int {
	num := in + 2*p - d*(k-1) - 1
	if ceil {
		num += s - 1
	}
	out := num / s
	if num < 0 && num%s != 0 {
		out-- // round toward −∞
	}
	out++
	if ceil && (out-1)*s >= in+p {
		out--
	}
	return out
}

// poolGeom checks the options against x (at least rank dims) and returns
// the geometry over all leading dimensions as planes.
func poolGeom(op string, shape []int, x *Tensor, o Pool2dOptions, max bool) ConvGeom {
	d := x.Dim()
	kh, kw := o.Kernel[0], o.Kernel[1]
	sh, sw := o.Stride[0], o.Stride[1]
	if sh == 0 {
		sh = kh
	}
	if sw == 0 {
		sw = kw
	}
	dh, dw := orOne(o.Dilation[0]), orOne(o.Dilation[1])
	ph, pw := o.Padding[0], o.Padding[1]
	// Messages show the caller's options: one number each for 1-D pooling.
	oneD := strings.HasSuffix(op, "1d")
	show := func(v [2]int) any {
		if oneD {
			return v[1]
		}
		return v
	}
	switch {
	case kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || ph < 0 || pw < 0 || o.Divisor < 0:
		panic(fmt.Sprintf("autograd: %s: input %v: invalid kernel %v, stride %v, padding %v, dilation %v or divisor %d", op, shape, show(o.Kernel), show(o.Stride), show(o.Padding), show(o.Dilation), o.Divisor))
	case !max && (dh != 1 || dw != 1):
		panic(fmt.Sprintf("autograd: %s: input %v: average pooling has no dilation, got %v", op, shape, show(o.Dilation)))
	case 2*ph > kh || 2*pw > kw:
		panic(fmt.Sprintf("autograd: %s: input %v: padding %v must be at most half the kernel %v", op, shape, show(o.Padding), show(o.Kernel)))
	}
	h, w := x.shape[d-2], x.shape[d-1]
	g := ConvGeom{
		N: prod(x.shape[:d-2]), C: 1, H: h, W: w, KH: kh, KW: kw,
		OH: poolOut(h, kh, sh, ph, dh, o.CeilMode), OW: poolOut(w, kw, sw, pw, dw, o.CeilMode),
		StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw,
	}
	if g.OH <= 0 || g.OW <= 0 {
		panic(fmt.Sprintf("autograd: %s: input %v is too small for kernel %v with padding %v and dilation %v", op, shape, show(o.Kernel), show(o.Padding), show([2]int{dh, dw})))
	}
	return g
}

func outShape(x *Tensor, g ConvGeom) []int {
	s := append([]int{}, x.shape[:x.Dim()-2]...)
	return append(s, g.OH, g.OW)
}

// MaxPool2d is torch.nn.functional.max_pool2d over the last two dimensions
// of x ([N, C, H, W], [C, H, W] or any leading dimensions). The gradient
// goes to the element each window chose: its first maximum, as torch.
func MaxPool2d(x *Tensor, opts Pool2dOptions) *Tensor {
	if x.Dim() < 3 {
		panic(fmt.Sprintf("autograd: MaxPool2d: input %v needs at least 3 dimensions", x.shape))
	}
	return maxPool("MaxPool2d", x, poolGeom("MaxPool2d", x.shape, x, opts, true))
}

// MaxPool1d is torch.nn.functional.max_pool1d over the last dimension of x
// ([N, C, L], [C, L] or any leading dimensions).
func MaxPool1d(x *Tensor, opts Pool1dOptions) *Tensor {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("autograd: MaxPool1d: input %v needs at least 2 dimensions", x.shape))
	}
	x4 := x.Unsqueeze(-2)
	y := maxPool("MaxPool1d", x4, poolGeom("MaxPool1d", x.shape, x4, opts.as2d(), true))
	return y.Squeeze(-2)
}

func maxPool(op string, x *Tensor, g ConvGeom) *Tensor {
	y := empty(x.dev, outShape(x, g))
	if y.Numel() > 0 {
		x.dev.MaxPool2d(g, y.buf, x.buf)
	}
	record(op, y, []*Tensor{x}, func(gy *Tensor) []*Tensor {
		dx := empty(gy.dev, x.shape)
		if gy.Numel() > 0 {
			gy.dev.MaxPool2dGrad(g, dx.buf, gy.buf, x.buf, y.buf)
		}
		return []*Tensor{dx}
	})
	return y
}

// AvgPool2d is torch.nn.functional.avg_pool2d over the last two dimensions
// of x; padding counts in the divisor unless opts.ExcludePad.
func AvgPool2d(x *Tensor, opts Pool2dOptions) *Tensor {
	if x.Dim() < 3 {
		panic(fmt.Sprintf("autograd: AvgPool2d: input %v needs at least 3 dimensions", x.shape))
	}
	return avgPool("AvgPool2d", x, poolGeom("AvgPool2d", x.shape, x, opts, false), opts)
}

// AvgPool1d is torch.nn.functional.avg_pool1d over the last dimension of x.
func AvgPool1d(x *Tensor, opts Pool1dOptions) *Tensor {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("autograd: AvgPool1d: input %v needs at least 2 dimensions", x.shape))
	}
	x4 := x.Unsqueeze(-2)
	o := opts.as2d()
	return avgPool("AvgPool1d", x4, poolGeom("AvgPool1d", x.shape, x4, o, false), o).Squeeze(-2)
}

func avgPool(op string, x *Tensor, g ConvGeom, o Pool2dOptions) *Tensor {
	countPad := !o.ExcludePad
	y := empty(x.dev, outShape(x, g))
	if y.Numel() > 0 {
		x.dev.AvgPool2d(g, y.buf, x.buf, countPad, o.Divisor)
	}
	record(op, y, []*Tensor{x}, func(gy *Tensor) []*Tensor {
		dx := empty(gy.dev, x.shape)
		if gy.Numel() > 0 {
			gy.dev.AvgPool2dGrad(g, dx.buf, gy.buf, countPad, o.Divisor)
		}
		return []*Tensor{dx}
	})
	return y
}

// AdaptiveAvgPool2d is torch.nn.functional.adaptive_avg_pool2d: the last
// two dimensions of x become outH×outW, each output the average of the
// window [⌊i·H/outH⌋, ⌈(i+1)·H/outH⌉) (likewise along W).
func AdaptiveAvgPool2d(x *Tensor, outH, outW int) *Tensor {
	if x.Dim() < 3 {
		panic(fmt.Sprintf("autograd: AdaptiveAvgPool2d: input %v needs at least 3 dimensions", x.shape))
	}
	return adaptiveAvgPool("AdaptiveAvgPool2d", x, outH, outW)
}

// AdaptiveAvgPool1d is torch.nn.functional.adaptive_avg_pool1d: the last
// dimension of x becomes out long.
func AdaptiveAvgPool1d(x *Tensor, out int) *Tensor {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("autograd: AdaptiveAvgPool1d: input %v needs at least 2 dimensions", x.shape))
	}
	return adaptiveAvgPool("AdaptiveAvgPool1d", x.Unsqueeze(-2), 1, out).Squeeze(-2)
}

func adaptiveAvgPool(op string, x *Tensor, outH, outW int) *Tensor {
	d := x.Dim()
	h, w := x.shape[d-2], x.shape[d-1]
	if outH <= 0 || outW <= 0 || h <= 0 || w <= 0 {
		panic(fmt.Sprintf("autograd: %s: input %v to output size [%d %d]: sizes must be positive", op, x.shape, outH, outW))
	}
	g := ConvGeom{N: prod(x.shape[:d-2]), C: 1, H: h, W: w, OH: outH, OW: outW}
	y := empty(x.dev, outShape(x, g))
	if y.Numel() > 0 {
		x.dev.AdaptiveAvgPool2d(g, y.buf, x.buf)
	}
	record(op, y, []*Tensor{x}, func(gy *Tensor) []*Tensor {
		dx := empty(gy.dev, x.shape)
		if gy.Numel() > 0 {
			gy.dev.AdaptiveAvgPool2dGrad(g, dx.buf, gy.buf)
		}
		return []*Tensor{dx}
	})
	return y
}
