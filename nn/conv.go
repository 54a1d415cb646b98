package nn

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// PaddingMode is how a convolution fills its padding, as torch's
// padding_mode. The zero value is PadZeros, torch's default.
type PaddingMode int

// The padding modes of Conv1d and Conv2d.
const (
	// PadZeros pads with zeros ('zeros').
	PadZeros PaddingMode = iota
	// PadCircular wraps around ('circular'): periodic boundaries.
	PadCircular
	// PadReflect mirrors the input without repeating the edge ('reflect').
	PadReflect
	// PadReplicate repeats the edge value ('replicate').
	PadReplicate
)

// String returns torch's name for the mode.
func (m PaddingMode) String() string {
	switch m {
	case PadZeros:
		return "zeros"
	case PadCircular:
		return "circular"
	case PadReflect:
		return "reflect"
	case PadReplicate:
		return "replicate"
	}
	return fmt.Sprintf("PaddingMode(%d)", int(m))
}

// Conv2dConfig holds the optional arguments of torch.nn.Conv2d. The zero
// value is torch's default: stride 1, no padding, zero padding mode,
// dilation 1, one group, with bias.
type Conv2dConfig struct {
	// Stride is (h, w); zero entries mean 1.
	Stride [2]int
	// Padding is added on both sides: (h, w) rows and columns.
	Padding [2]int
	// Same pads so that the output has the input's size (torch's
	// padding='same', stride 1 only): the total dilation·(kernel−1) per
	// dimension is split with the smaller half first. Padding is ignored.
	Same bool
	// PaddingMode fills the padding: zeros (default), circular, reflect or
	// replicate.
	PaddingMode PaddingMode
	// Dilation is (h, w); zero entries mean 1.
	Dilation [2]int
	// Groups splits the channels into groups convolved separately; zero
	// means 1. Both channel counts must be divisible by it.
	Groups int
	// NoBias builds the layer without a bias (torch's bias=False).
	NoBias bool
}

// Conv2d is torch.nn.Conv2d: a 2-D convolution of [N, C, H, W] (or
// [C, H, W]) inputs with Weight of shape [out, in/groups, kh, kw] and Bias
// of shape [out] (nil without bias). Its state_dict names are "weight" and
// "bias".
type Conv2d struct {
	Weight *Parameter
	Bias   *Parameter
	// Config holds the stride, padding, dilation and groups Forward uses.
	// Its NoBias is not consulted: a nil Bias means no bias.
	Config Conv2dConfig
}

// NewConv2d returns a Conv2d from in to out channels with a kh×kw kernel,
// initialised as torch.nn.Conv2d.reset_parameters: the weight from
// kaiming_uniform(a=√5), which is U(−1/√fan_in, 1/√fan_in) with
// fan_in = in/groups·kh·kw, then the bias from the same uniform, drawn from
// rng.
func NewConv2d(rng *autograd.RNG, in, out, kh, kw int, cfg Conv2dConfig) *Conv2d {
	g := max(cfg.Groups, 1)
	if in <= 0 || out <= 0 || kh <= 0 || kw <= 0 || cfg.Groups < 0 || in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn: NewConv2d: in=%d and out=%d channels, kernel %dx%d, groups %d: sizes must be positive and the channels divisible by groups", in, out, kh, kw, cfg.Groups))
	}
	checkConvConfig("NewConv2d", cfg.Stride[:], cfg.Padding[:], cfg.Dilation[:], cfg.Same, cfg.PaddingMode)
	c := &Conv2d{Weight: NewParameter(autograd.Zeros(out, in/g, kh, kw)), Config: cfg}
	c.Bias = initConv(rng, c.Weight, out, !cfg.NoBias)
	return c
}

// checkConvConfig panics on negative or inconsistent options.
func checkConvConfig(fn string, stride, padding, dilation []int, same bool, mode PaddingMode) {
	for _, v := range append(append(append([]int{}, stride...), padding...), dilation...) {
		if v < 0 {
			panic(fmt.Sprintf("nn: %s: negative stride %v, padding %v or dilation %v", fn, stride, padding, dilation))
		}
	}
	if same {
		for _, s := range stride {
			if s > 1 {
				panic(fmt.Sprintf("nn: %s: padding 'same' needs stride 1, got %v", fn, stride))
			}
		}
	}
	if mode < PadZeros || mode > PadReplicate {
		panic(fmt.Sprintf("nn: %s: unknown padding mode %d", fn, int(mode)))
	}
}

// initConv fills a convolution's weight as torch does and returns its bias
// (nil when bias is false).
func initConv(rng *autograd.RNG, w *Parameter, out int, bias bool) *Parameter {
	KaimingUniform(w.Tensor, math.Sqrt(5), FanIn, "leaky_relu", rng)
	if !bias {
		return nil
	}
	b := NewParameter(autograd.Zeros(out))
	fanIn, _ := Fans(w.Shape())
	bound := 0.0
	if fanIn > 0 {
		bound = 1 / math.Sqrt(float64(fanIn))
	}
	Uniform(b.Tensor, -bound, bound, rng)
	return b
}

// samePads returns the (before, after) padding of torch's padding='same'
// for a kernel of k taps d apart.
func samePads(k, d int) (int, int) {
	t := d * (k - 1)
	return t / 2, t - t/2
}

// Forward convolves x ([N, C, H, W] or [C, H, W]).
func (c *Conv2d) Forward(x *autograd.Tensor) *autograd.Tensor {
	cfg := c.Config
	kh, kw := c.Weight.Size(2), c.Weight.Size(3)
	if x.Dim() != 3 && x.Dim() != 4 {
		panic(fmt.Sprintf("nn: Conv2d: input of shape %v is not [N, C, H, W] or [C, H, W] (weight %v)", x.Shape(), c.Weight.Shape()))
	}
	if ch := x.Size(-3); ch != c.Weight.Size(1)*max(cfg.Groups, 1) {
		panic(fmt.Sprintf("nn: Conv2d: input of shape %v has %d channels; weight %v with groups %d expects %d", x.Shape(), ch, c.Weight.Shape(), max(cfg.Groups, 1), c.Weight.Size(1)*max(cfg.Groups, 1)))
	}
	opts := autograd.Conv2dOptions{
		Stride:   cfg.Stride,
		Padding:  autograd.SymmetricPadding(cfg.Padding[0], cfg.Padding[1]),
		Same:     cfg.Same,
		Dilation: cfg.Dilation,
		Groups:   cfg.Groups,
	}
	switch cfg.PaddingMode {
	case PadZeros:
	case PadCircular:
		opts.PadMode = autograd.PadCircular
	case PadReflect, PadReplicate:
		pads := opts.Padding
		if cfg.Same {
			l, r := samePads(kw, max(cfg.Dilation[1], 1))
			t, b := samePads(kh, max(cfg.Dilation[0], 1))
			pads = [4]int{l, r, t, b}
		}
		x = padEdges("Conv2d", x, pads[:], cfg.PaddingMode)
		opts.Padding, opts.Same = [4]int{}, false
	default:
		panic(fmt.Sprintf("nn: Conv2d: unknown padding mode %d", int(cfg.PaddingMode)))
	}
	return autograd.Conv2d(x, c.Weight.Tensor, paramTensor(c.Bias), opts)
}

// paramTensor is p's tensor, or nil for a nil parameter.
func paramTensor(p *Parameter) *autograd.Tensor {
	if p == nil {
		return nil
	}
	return p.Tensor
}

// padEdges pads the trailing dimensions of x in reflect or replicate mode;
// pads holds (before, after) pairs from the last dimension, as
// autograd.Tensor.Pad. It is an index selection per dimension, so the
// gradient adds the copies back.
func padEdges(op string, x *autograd.Tensor, pads []int, mode PaddingMode) *autograd.Tensor {
	for i := 0; i < len(pads)/2; i++ {
		before, after := pads[2*i], pads[2*i+1]
		if before == 0 && after == 0 {
			continue
		}
		axis := x.Dim() - 1 - i
		n := x.Size(axis)
		if mode == PadReflect && (before >= n || after >= n) {
			panic(fmt.Sprintf("nn: %s: reflect padding %v must be smaller than the input's dimensions %v", op, pads, x.Shape()))
		}
		idx := make([]int, 0, before+n+after)
		for j := -before; j < n+after; j++ {
			k := j
			switch {
			case j < 0 && mode == PadReflect:
				k = -j
			case j < 0:
				k = 0
			case j >= n && mode == PadReflect:
				k = 2*(n-1) - j
			case j >= n:
				k = n - 1
			}
			idx = append(idx, k)
		}
		x = x.IndexSelect(axis, idx)
	}
	return x
}

// Conv1dConfig holds the optional arguments of torch.nn.Conv1d; the zero
// value is torch's default (see Conv2dConfig).
type Conv1dConfig struct {
	// Stride of the window; zero means 1.
	Stride int
	// Padding is added on both ends.
	Padding int
	// Same pads so that the output has the input's length (stride 1 only).
	Same bool
	// PaddingMode fills the padding: zeros, circular, reflect or replicate.
	PaddingMode PaddingMode
	// Dilation of the taps; zero means 1.
	Dilation int
	// Groups splits the channels; zero means 1.
	Groups int
	// NoBias builds the layer without a bias.
	NoBias bool
}

// Conv1d is torch.nn.Conv1d: a 1-D convolution of [N, C, L] (or [C, L])
// inputs with Weight of shape [out, in/groups, k] and Bias of shape [out]
// (nil without bias). Its state_dict names are "weight" and "bias".
type Conv1d struct {
	Weight *Parameter
	Bias   *Parameter
	// Config holds the stride, padding, dilation and groups Forward uses;
	// its NoBias is not consulted.
	Config Conv1dConfig
}

// NewConv1d returns a Conv1d from in to out channels with a kernel of k
// taps, initialised as torch.nn.Conv1d (see NewConv2d; fan_in is
// in/groups·k).
func NewConv1d(rng *autograd.RNG, in, out, k int, cfg Conv1dConfig) *Conv1d {
	g := max(cfg.Groups, 1)
	if in <= 0 || out <= 0 || k <= 0 || cfg.Groups < 0 || in%g != 0 || out%g != 0 {
		panic(fmt.Sprintf("nn: NewConv1d: in=%d and out=%d channels, kernel %d, groups %d: sizes must be positive and the channels divisible by groups", in, out, k, cfg.Groups))
	}
	checkConvConfig("NewConv1d", []int{cfg.Stride}, []int{cfg.Padding}, []int{cfg.Dilation}, cfg.Same, cfg.PaddingMode)
	c := &Conv1d{Weight: NewParameter(autograd.Zeros(out, in/g, k)), Config: cfg}
	c.Bias = initConv(rng, c.Weight, out, !cfg.NoBias)
	return c
}

// Forward convolves x ([N, C, L] or [C, L]).
func (c *Conv1d) Forward(x *autograd.Tensor) *autograd.Tensor {
	cfg := c.Config
	if x.Dim() != 2 && x.Dim() != 3 {
		panic(fmt.Sprintf("nn: Conv1d: input of shape %v is not [N, C, L] or [C, L] (weight %v)", x.Shape(), c.Weight.Shape()))
	}
	if ch := x.Size(-2); ch != c.Weight.Size(1)*max(cfg.Groups, 1) {
		panic(fmt.Sprintf("nn: Conv1d: input of shape %v has %d channels; weight %v with groups %d expects %d", x.Shape(), ch, c.Weight.Shape(), max(cfg.Groups, 1), c.Weight.Size(1)*max(cfg.Groups, 1)))
	}
	opts := autograd.Conv1dOptions{
		Stride:   cfg.Stride,
		Padding:  [2]int{cfg.Padding, cfg.Padding},
		Same:     cfg.Same,
		Dilation: cfg.Dilation,
		Groups:   cfg.Groups,
	}
	switch cfg.PaddingMode {
	case PadZeros:
	case PadCircular:
		opts.PadMode = autograd.PadCircular
	case PadReflect, PadReplicate:
		pads := opts.Padding
		if cfg.Same {
			l, r := samePads(c.Weight.Size(2), max(cfg.Dilation, 1))
			pads = [2]int{l, r}
		}
		x = padEdges("Conv1d", x, pads[:], cfg.PaddingMode)
		opts.Padding, opts.Same = [2]int{}, false
	default:
		panic(fmt.Sprintf("nn: Conv1d: unknown padding mode %d", int(cfg.PaddingMode)))
	}
	return autograd.Conv1d(x, c.Weight.Tensor, paramTensor(c.Bias), opts)
}
