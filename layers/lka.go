package layers

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// This file holds Large Kernel Attention and the Visual Attention Network
// block built on it (Guo et al., "Visual Attention Network", 2022; the
// reference is VAN-Classification's models/van.py). The state_dict names
// and the weight initialisation are VAN's, so VAN checkpoints load.

// LKAPadding is how the convolutions of LKA and VANBlock fill their borders.
type LKAPadding int

// The padding modes of LKA and VANBlock.
const (
	// LKAPadZeros pads with zeros on every side, as VAN does.
	LKAPadZeros LKAPadding = iota
	// LKAPadCircular wraps around in both height and width (torch's
	// padding_mode='circular'): a torus. Each padding must be at most the
	// input's size, so the 7×7 dilation-3 convolution (padding 9) needs
	// inputs of at least 9×9.
	LKAPadCircular
	// LKAPadLongitude wraps around in width only and pads the height with
	// zeros: a latitude × longitude weather grid, whose longitude is
	// periodic and whose poles are not. The width must be at least 9.
	LKAPadLongitude
)

// String names the mode.
func (p LKAPadding) String() string {
	switch p {
	case LKAPadZeros:
		return "zeros"
	case LKAPadCircular:
		return "circular"
	case LKAPadLongitude:
		return "longitude"
	}
	return fmt.Sprintf("LKAPadding(%d)", int(p))
}

// LKAConfig holds LKA's options; the zero value is VAN's layer.
type LKAConfig struct {
	// Padding fills the borders of the depthwise convolutions.
	Padding LKAPadding
}

// LKA is large kernel attention, VAN's AttentionModule: for x of shape
// [N, C, H, W] (or [C, H, W]),
//
//	a   = Conv0(x)        depthwise 5×5, padding 2
//	a   = ConvSpatial(a)  depthwise 7×7, dilation 3, padding 9
//	a   = Conv1(a)        1×1, C → C
//	out = x ⊙ a
//
// which decomposes a 21×21 depthwise convolution into a small dense one, a
// dilated one and a pointwise one: the output at a pixel depends on the
// input within Chebyshev distance 11 (a 23×23 window) and the shape is
// kept. It has 26C + 50C + C² + C parameters, named as VAN's
// ("conv0.weight", "conv0.bias", "conv_spatial.weight",
// "conv_spatial.bias", "conv1.weight", "conv1.bias").
type LKA struct {
	Conv0       *nn.Conv2d
	ConvSpatial *nn.Conv2d
	Conv1       *nn.Conv2d
	// Padding is how Forward pads the depthwise convolutions; it overrides
	// the convolutions' own PaddingMode.
	Padding LKAPadding
}

// NewLKA returns an LKA over dim channels, initialised as VAN's
// _init_weights does: every convolution weight from N(0, 2/fan_out) with
// fan_out = kh·kw·out/groups, every bias zero, drawn from rng.
func NewLKA(rng *autograd.RNG, dim int, cfg LKAConfig) *LKA {
	if dim <= 0 {
		panic(fmt.Sprintf("layers: NewLKA: %d channels; need at least one", dim))
	}
	lkaCheckPadding("NewLKA", cfg.Padding)
	return &LKA{
		Conv0:       lkaNewConv(rng, dim, dim, 5, 2, 1, dim, cfg.Padding),
		ConvSpatial: lkaNewConv(rng, dim, dim, 7, 9, 3, dim, cfg.Padding),
		Conv1:       lkaNewConv(rng, dim, dim, 1, 0, 1, 1, cfg.Padding),
		Padding:     cfg.Padding,
	}
}

// Attention returns the attention map a = Conv1(ConvSpatial(Conv0(x)))
// that Forward multiplies x by.
func (l *LKA) Attention(x *autograd.Tensor) *autograd.Tensor {
	lkaCheckInput("LKA", x, l.Conv1.Weight.Size(0))
	a := lkaConv(l.Conv0, x, l.Padding)
	a = lkaConv(l.ConvSpatial, a, l.Padding)
	return lkaConv(l.Conv1, a, l.Padding)
}

// Forward returns x ⊙ Attention(x), of x's shape ([N, C, H, W] or
// [C, H, W]).
func (l *LKA) Forward(x *autograd.Tensor) *autograd.Tensor {
	return x.Mul(l.Attention(x))
}

// VANSpatialAttention is VAN's SpatialAttention unit:
// x → Proj1 (1×1) → GELU → SpatialGatingUnit (LKA) → Proj2 (1×1) → + x.
// Its parameters are "proj_1.*", "spatial_gating_unit.conv0.*", ...,
// "proj_2.*".
type VANSpatialAttention struct {
	Proj1             *nn.Conv2d `nn:"proj_1"`
	Activation        nn.GELU
	SpatialGatingUnit *LKA
	Proj2             *nn.Conv2d `nn:"proj_2"`
}

// NewVANSpatialAttention returns the unit over dim channels with VAN's
// initialisation (see NewLKA); cfg sets the LKA's padding.
func NewVANSpatialAttention(rng *autograd.RNG, dim int, cfg LKAConfig) *VANSpatialAttention {
	if dim <= 0 {
		panic(fmt.Sprintf("layers: NewVANSpatialAttention: %d channels; need at least one", dim))
	}
	lkaCheckPadding("NewVANSpatialAttention", cfg.Padding)
	return &VANSpatialAttention{
		Proj1:             lkaNewConv(rng, dim, dim, 1, 0, 1, 1, cfg.Padding),
		SpatialGatingUnit: NewLKA(rng, dim, cfg),
		Proj2:             lkaNewConv(rng, dim, dim, 1, 0, 1, 1, cfg.Padding),
	}
}

// Forward applies the unit to x ([N, C, H, W] or [C, H, W]).
func (a *VANSpatialAttention) Forward(x *autograd.Tensor) *autograd.Tensor {
	lkaCheckInput("VANSpatialAttention", x, a.Proj1.Weight.Size(1))
	y := a.Activation.Forward(a.Proj1.Forward(x))
	y = a.SpatialGatingUnit.Forward(y)
	return a.Proj2.Forward(y).Add(x)
}

// VANDWConv is VAN's DWConv wrapper: a depthwise 3×3 convolution with
// padding 1, named "dwconv.weight" and "dwconv.bias" inside it (so VAN's
// MLP holds "dwconv.dwconv.weight").
type VANDWConv struct {
	DWConv *nn.Conv2d `nn:"dwconv"`
	// Padding is how Forward fills the border.
	Padding LKAPadding
}

// Forward convolves x ([N, C, H, W] or [C, H, W]).
func (d *VANDWConv) Forward(x *autograd.Tensor) *autograd.Tensor {
	return lkaConv(d.DWConv, x, d.Padding)
}

// VANMlp is VAN's convolutional MLP: FC1 (1×1, C → hidden) → DWConv
// (depthwise 3×3) → GELU → dropout → FC2 (1×1, hidden → C) → dropout, with
// parameters "fc1.*", "dwconv.dwconv.*" and "fc2.*".
type VANMlp struct {
	FC1    *nn.Conv2d
	DWConv *VANDWConv `nn:"dwconv"`
	Act    nn.GELU
	FC2    *nn.Conv2d
	Drop   *nn.Dropout
}

// NewVANMlp returns the MLP from dim to hidden channels and back, with
// VAN's initialisation, dropout probability drop drawn from rng, and the
// depthwise convolution padded as cfg says.
func NewVANMlp(rng *autograd.RNG, dim, hidden int, drop float64, cfg LKAConfig) *VANMlp {
	if dim <= 0 || hidden <= 0 {
		panic(fmt.Sprintf("layers: NewVANMlp: %d channels and %d hidden; both must be positive", dim, hidden))
	}
	lkaCheckPadding("NewVANMlp", cfg.Padding)
	return &VANMlp{
		FC1:    lkaNewConv(rng, dim, hidden, 1, 0, 1, 1, cfg.Padding),
		DWConv: &VANDWConv{DWConv: lkaNewConv(rng, hidden, hidden, 3, 1, 1, hidden, cfg.Padding), Padding: cfg.Padding},
		FC2:    lkaNewConv(rng, hidden, dim, 1, 0, 1, 1, cfg.Padding),
		Drop:   nn.NewDropout(drop, rng),
	}
}

// Forward applies the MLP to x ([N, C, H, W] or [C, H, W]).
func (m *VANMlp) Forward(x *autograd.Tensor) *autograd.Tensor {
	lkaCheckInput("VANMlp", x, m.FC1.Weight.Size(1))
	y := m.DWConv.Forward(m.FC1.Forward(x))
	y = m.Drop.Forward(m.Act.Forward(y))
	return m.Drop.Forward(m.FC2.Forward(y))
}

// VANBlockConfig holds VANBlock's options; the zero value is VAN's default
// block (MLP ratio 4, no dropout, no drop path, layer scales 1e-2, zero
// padding).
type VANBlockConfig struct {
	// MLPRatio sets the MLP's hidden width to int(dim·MLPRatio); zero
	// means 4 (VAN-B0 uses 8, 8, 4, 4 over its stages).
	MLPRatio float64
	// Drop is the MLP's dropout probability.
	Drop float64
	// DropPath is the stochastic depth probability of both residual
	// branches.
	DropPath float64
	// LayerScaleInit is the initial value of both layer scales; zero means
	// VAN's 1e-2. (For scales of zero, set the parameters after
	// construction.)
	LayerScaleInit float64
	// Padding fills the borders of the LKA's and the MLP's depthwise
	// convolutions (LKAPadLongitude for weather grids).
	Padding LKAPadding
}

// VANBlock is VAN's Block over [N, C, H, W] inputs:
//
//	x = x + DropPath(LayerScale1 ⊙ Attn(Norm1(x)))
//	x = x + DropPath(LayerScale2 ⊙ Mlp(Norm2(x)))
//
// with BatchNorm2d norms, the spatial attention unit with LKA, VAN's MLP,
// and per-channel layer scales. Its parameters and buffers carry VAN's
// names ("norm1.weight", "attn.proj_1.weight",
// "attn.spatial_gating_unit.conv_spatial.weight", "mlp.dwconv.dwconv.bias",
// "layer_scale_1", ...). Hold it by pointer so that nn.Train and nn.Eval
// reach its BatchNorms, dropout and drop path.
type VANBlock struct {
	Norm1       *nn.BatchNorm2d
	Attn        *VANSpatialAttention
	DropPath    *nn.DropPath
	Norm2       *nn.BatchNorm2d
	Mlp         *VANMlp
	LayerScale1 *nn.Parameter `nn:"layer_scale_1"`
	LayerScale2 *nn.Parameter `nn:"layer_scale_2"`
}

// NewVANBlock returns a block over dim channels with VAN's initialisation:
// convolutions from N(0, 2/fan_out) with zero biases, BatchNorms at weight
// 1 and bias 0, layer scales at cfg.LayerScaleInit (1e-2), drawing from
// rng (which the dropout and drop path also use for their masks).
func NewVANBlock(rng *autograd.RNG, dim int, cfg VANBlockConfig) *VANBlock {
	if dim <= 0 {
		panic(fmt.Sprintf("layers: NewVANBlock: %d channels; need at least one", dim))
	}
	ratio := cfg.MLPRatio
	if ratio == 0 {
		ratio = 4
	}
	hidden := int(float64(dim) * ratio)
	if ratio < 0 || hidden <= 0 {
		panic(fmt.Sprintf("layers: NewVANBlock: MLP ratio %v gives %d hidden channels for dim %d", cfg.MLPRatio, hidden, dim))
	}
	ls := cfg.LayerScaleInit
	if ls == 0 {
		ls = 1e-2
	}
	lc := LKAConfig{Padding: cfg.Padding}
	return &VANBlock{
		Norm1:       nn.NewBatchNorm2d(dim, nn.BatchNormConfig{}),
		Attn:        NewVANSpatialAttention(rng, dim, lc),
		DropPath:    nn.NewDropPath(cfg.DropPath, rng),
		Norm2:       nn.NewBatchNorm2d(dim, nn.BatchNormConfig{}),
		Mlp:         NewVANMlp(rng, dim, hidden, cfg.Drop, lc),
		LayerScale1: nn.NewParameter(autograd.Full(float32(ls), dim)),
		LayerScale2: nn.NewParameter(autograd.Full(float32(ls), dim)),
	}
}

// Forward applies the block to x of shape [N, C, H, W]; the result has
// x's shape.
func (b *VANBlock) Forward(x *autograd.Tensor) *autograd.Tensor {
	c := b.LayerScale1.Size(0)
	if x.Dim() != 4 || x.Size(1) != c {
		panic(fmt.Sprintf("layers: VANBlock: input of shape %v is not [N, %d, H, W]", x.Shape(), c))
	}
	ls1 := b.LayerScale1.Reshape(c, 1, 1)
	ls2 := b.LayerScale2.Reshape(c, 1, 1)
	x = x.Add(b.DropPath.Forward(ls1.Mul(b.Attn.Forward(b.Norm1.Forward(x)))))
	return x.Add(b.DropPath.Forward(ls2.Mul(b.Mlp.Forward(b.Norm2.Forward(x)))))
}

// lkaNewConv returns a k×k convolution from in to out channels with the
// given padding, dilation and groups, initialised as VAN's _init_weights:
// weight from N(0, 2/fan_out), fan_out = k²·out/groups, bias zero.
func lkaNewConv(rng *autograd.RNG, in, out, k, pad, dil, groups int, mode LKAPadding) *nn.Conv2d {
	cfg := nn.Conv2dConfig{Padding: [2]int{pad, pad}, Dilation: [2]int{dil, dil}, Groups: groups}
	if mode == LKAPadCircular && pad > 0 {
		cfg.PaddingMode = nn.PadCircular
	}
	c := nn.NewConv2d(rng, in, out, k, k, cfg)
	fanOut := k * k * out / groups
	nn.Normal(c.Weight.Tensor, 0, math.Sqrt(2/float64(fanOut)), rng)
	nn.Zeros(c.Bias.Tensor)
	return c
}

// lkaConv runs the stride-1 convolution c on x with c's padding sizes,
// dilation and groups, filling the padding as mode says.
func lkaConv(c *nn.Conv2d, x *autograd.Tensor, mode LKAPadding) *autograd.Tensor {
	cfg := c.Config
	ph, pw := cfg.Padding[0], cfg.Padding[1]
	opts := autograd.Conv2dOptions{
		Padding:  autograd.SymmetricPadding(ph, pw),
		Dilation: cfg.Dilation,
		Groups:   cfg.Groups,
	}
	switch mode {
	case LKAPadZeros:
	case LKAPadCircular:
		opts.PadMode = autograd.PadCircular
	case LKAPadLongitude:
		if pw > 0 {
			if w := x.Size(-1); pw > w {
				panic(fmt.Sprintf("layers: LKA: input of shape %v is narrower than the circular padding %d in longitude", x.Shape(), pw))
			}
			x = x.Pad([]int{pw, pw}, autograd.PadCircular, 0)
			opts.Padding = [4]int{0, 0, ph, ph}
		}
	default:
		panic(fmt.Sprintf("layers: LKA: unknown padding mode %d", int(mode)))
	}
	var b *autograd.Tensor
	if c.Bias != nil {
		b = c.Bias.Tensor
	}
	return autograd.Conv2d(x, c.Weight.Tensor, b, opts)
}

func lkaCheckPadding(fn string, p LKAPadding) {
	if p < LKAPadZeros || p > LKAPadLongitude {
		panic(fmt.Sprintf("layers: %s: unknown padding mode %d", fn, int(p)))
	}
}

func lkaCheckInput(op string, x *autograd.Tensor, c int) {
	if (x.Dim() != 4 && x.Dim() != 3) || x.Size(-3) != c {
		panic(fmt.Sprintf("layers: %s: input of shape %v is not [N, %d, H, W] or [%d, H, W]", op, x.Shape(), c, c))
	}
}
