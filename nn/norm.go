package nn

import (
	"fmt"
	"slices"

	"github.com/deepgo/deepgo/autograd"
)

// defaultEps is torch's eps for every normalisation layer.
const defaultEps = 1e-5

func epsOr(fn string, eps float64) float64 {
	switch {
	case eps < 0:
		panic(fmt.Sprintf("nn: %s: negative eps %v", fn, eps))
	case eps == 0:
		return defaultEps
	}
	return eps
}

// LayerNormConfig holds the optional arguments of torch.nn.LayerNorm; the
// zero value is torch's default (eps 1e-5, with weight and bias).
type LayerNormConfig struct {
	// Eps is added to the variance; zero means 1e-5.
	Eps float64
	// NoAffine leaves out the weight and bias (elementwise_affine=False).
	NoAffine bool
	// NoBias keeps the weight but leaves out the bias (bias=False).
	NoBias bool
}

// LayerNorm is torch.nn.LayerNorm: it normalises over the trailing
// dimensions NormalizedShape (zero mean, unit biased variance), then scales
// by Weight and shifts by Bias, both of that shape (nil without affine).
// Its state_dict names are "weight" and "bias".
type LayerNorm struct {
	Weight *Parameter
	Bias   *Parameter
	// NormalizedShape is the shape of the normalised trailing dimensions.
	NormalizedShape []int
	// Eps is added to the variance.
	Eps float64
}

// NewLayerNorm returns a LayerNorm over the trailing dimensions
// normalizedShape, with weight 1 and bias 0 as torch initialises them.
func NewLayerNorm(normalizedShape []int, cfg LayerNormConfig) *LayerNorm {
	if len(normalizedShape) == 0 || slices.ContainsFunc(normalizedShape, func(s int) bool { return s <= 0 }) {
		panic(fmt.Sprintf("nn: NewLayerNorm: normalized shape %v must be non-empty and positive", normalizedShape))
	}
	l := &LayerNorm{NormalizedShape: slices.Clone(normalizedShape), Eps: epsOr("NewLayerNorm", cfg.Eps)}
	if !cfg.NoAffine {
		l.Weight = NewParameter(autograd.Ones(normalizedShape...))
		if !cfg.NoBias {
			l.Bias = NewParameter(autograd.Zeros(normalizedShape...))
		}
	}
	return l
}

// Forward normalises x, whose shape must end in NormalizedShape.
func (l *LayerNorm) Forward(x *autograd.Tensor) *autograd.Tensor {
	k := len(l.NormalizedShape)
	if x.Dim() < k || !slices.Equal(x.Shape()[x.Dim()-k:], l.NormalizedShape) {
		panic(fmt.Sprintf("nn: LayerNorm: input of shape %v does not end in the normalized shape %v", x.Shape(), l.NormalizedShape))
	}
	return autograd.LayerNorm(x, l.NormalizedShape, paramTensor(l.Weight), paramTensor(l.Bias), float32(l.Eps))
}

// BatchNormConfig holds the optional arguments of torch.nn.BatchNorm1d and
// BatchNorm2d; the zero value is torch's default (eps 1e-5, momentum 0.1,
// with weight, bias and running statistics).
type BatchNormConfig struct {
	// Eps is added to the variance; zero means 1e-5.
	Eps float64
	// Momentum weighs each batch in the running statistics; zero means 0.1.
	Momentum float64
	// CumulativeAverage makes the running statistics a plain average over
	// all batches seen (torch's momentum=None); Momentum is ignored then.
	CumulativeAverage bool
	// NoAffine leaves out the weight and bias (affine=False).
	NoAffine bool
	// NoRunningStats keeps no running statistics (track_running_stats=
	// False): batch statistics are used in evaluation too.
	NoRunningStats bool
}

// BatchNorm is the batch normalisation that BatchNorm1d and BatchNorm2d
// embed, as torch's _BatchNorm; on its own it accepts any [N, C, ...]
// input. In training mode each channel is normalised with the batch mean
// and biased variance, and the running statistics are updated in place:
// running = (1−momentum)·running + momentum·batch, with the unbiased batch
// variance, and NumBatchesTracked counts the batches. In evaluation mode
// the running statistics are used. Its state_dict names are "weight",
// "bias", "running_mean", "running_var" and "num_batches_tracked" (a
// float32 scalar here, int64 in torch; both load into either). Hold it by
// pointer so that Train and Eval reach its Mode.
type BatchNorm struct {
	Mode
	Weight            *Parameter
	Bias              *Parameter
	RunningMean       *Buffer
	RunningVar        *Buffer
	NumBatchesTracked *Buffer
	// Eps is added to the variance.
	Eps float64
	// Momentum weighs each batch in the running statistics.
	Momentum float64
	// CumulativeAverage uses momentum 1/NumBatchesTracked instead
	// (torch's momentum=None).
	CumulativeAverage bool
}

func newBatchNorm(fn string, c int, cfg BatchNormConfig) BatchNorm {
	if c <= 0 {
		panic(fmt.Sprintf("nn: %s: %d features; need at least one", fn, c))
	}
	if cfg.Momentum < 0 || cfg.Momentum > 1 {
		panic(fmt.Sprintf("nn: %s: momentum %v is outside [0, 1]", fn, cfg.Momentum))
	}
	b := BatchNorm{Eps: epsOr(fn, cfg.Eps), Momentum: cfg.Momentum, CumulativeAverage: cfg.CumulativeAverage}
	if b.Momentum == 0 {
		b.Momentum = 0.1
	}
	if !cfg.NoAffine {
		b.Weight = NewParameter(autograd.Ones(c))
		b.Bias = NewParameter(autograd.Zeros(c))
	}
	if !cfg.NoRunningStats {
		b.RunningMean = NewBuffer(autograd.Zeros(c))
		b.RunningVar = NewBuffer(autograd.Ones(c))
		b.NumBatchesTracked = NewBuffer(autograd.Zeros())
	}
	return b
}

// NewBatchNorm returns a BatchNorm over c channels for inputs of any rank
// (see BatchNorm1d and BatchNorm2d for torch's layers), with weight 1,
// bias 0, running mean 0 and running variance 1.
func NewBatchNorm(c int, cfg BatchNormConfig) *BatchNorm {
	b := newBatchNorm("NewBatchNorm", c, cfg)
	return &b
}

// Forward normalises x of shape [N, C, ...].
func (b *BatchNorm) Forward(x *autograd.Tensor) *autograd.Tensor {
	return b.forward("BatchNorm", x)
}

func (b *BatchNorm) forward(op string, x *autograd.Tensor) *autograd.Tensor {
	c := 0
	switch {
	case b.Weight != nil:
		c = b.Weight.Size(0)
	case b.RunningMean != nil:
		c = b.RunningMean.Size(0)
	}
	if x.Dim() < 2 || (c > 0 && x.Size(1) != c) {
		panic(fmt.Sprintf("nn: %s: input of shape %v is not [N, %d, ...]", op, x.Shape(), c))
	}
	training := b.Training()
	if (training || b.RunningMean == nil) && x.Size(1) > 0 && x.Numel()/x.Size(1) <= 1 {
		panic(fmt.Sprintf("nn: %s: input of shape %v: training needs more than one value per channel", op, x.Shape()))
	}
	var rm, rv *autograd.Tensor
	if b.RunningMean != nil && b.RunningVar != nil {
		rm, rv = b.RunningMean.Tensor, b.RunningVar.Tensor
	} else {
		training = true // no running statistics: always the batch's
	}
	momentum := b.Momentum
	if b.Training() && rm != nil {
		if n := b.NumBatchesTracked; n != nil {
			autograd.NoGrad(func() { n.CopyFrom(n.AddScalar(1)) })
			if b.CumulativeAverage {
				momentum = 1 / float64(n.Item())
			}
		}
	}
	return autograd.BatchNorm(x, rm, rv, paramTensor(b.Weight), paramTensor(b.Bias), training, float32(momentum), float32(b.Eps))
}

// BatchNorm1d is torch.nn.BatchNorm1d: BatchNorm over inputs of shape
// [N, C] or [N, C, L]. Its fields, state_dict names and modes are
// BatchNorm's.
type BatchNorm1d struct {
	BatchNorm
}

// NewBatchNorm1d returns a BatchNorm1d over c features, initialised as
// torch (weight 1, bias 0, running mean 0, running variance 1).
func NewBatchNorm1d(c int, cfg BatchNormConfig) *BatchNorm1d {
	return &BatchNorm1d{newBatchNorm("NewBatchNorm1d", c, cfg)}
}

// Forward normalises x of shape [N, C] or [N, C, L].
func (b *BatchNorm1d) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() != 2 && x.Dim() != 3 {
		panic(fmt.Sprintf("nn: BatchNorm1d: expected 2D or 3D input, got shape %v", x.Shape()))
	}
	return b.forward("BatchNorm1d", x)
}

// BatchNorm2d is torch.nn.BatchNorm2d: BatchNorm over inputs of shape
// [N, C, H, W]. Its fields, state_dict names and modes are BatchNorm's.
type BatchNorm2d struct {
	BatchNorm
}

// NewBatchNorm2d returns a BatchNorm2d over c channels, initialised as
// torch (weight 1, bias 0, running mean 0, running variance 1).
func NewBatchNorm2d(c int, cfg BatchNormConfig) *BatchNorm2d {
	return &BatchNorm2d{newBatchNorm("NewBatchNorm2d", c, cfg)}
}

// Forward normalises x of shape [N, C, H, W].
func (b *BatchNorm2d) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() != 4 {
		panic(fmt.Sprintf("nn: BatchNorm2d: expected 4D input, got shape %v", x.Shape()))
	}
	return b.forward("BatchNorm2d", x)
}

// GroupNormConfig holds the optional arguments of torch.nn.GroupNorm; the
// zero value is torch's default (eps 1e-5, with weight and bias).
type GroupNormConfig struct {
	// Eps is added to the variance; zero means 1e-5.
	Eps float64
	// NoAffine leaves out the weight and bias (affine=False).
	NoAffine bool
}

// GroupNorm is torch.nn.GroupNorm: the channels of an [N, C, ...] input
// are split into Groups groups, each normalised over its channels and
// positions per sample, then each channel scaled by Weight and shifted by
// Bias (shape [C]). Its state_dict names are "weight" and "bias".
type GroupNorm struct {
	Weight *Parameter
	Bias   *Parameter
	// Groups is the number of channel groups; Channels the channel count.
	Groups, Channels int
	// Eps is added to the variance.
	Eps float64
}

// NewGroupNorm returns a GroupNorm of c channels in groups groups, with
// weight 1 and bias 0.
func NewGroupNorm(groups, c int, cfg GroupNormConfig) *GroupNorm {
	if groups <= 0 || c <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("nn: NewGroupNorm: %d channels are not divisible into %d groups", c, groups))
	}
	g := &GroupNorm{Groups: groups, Channels: c, Eps: epsOr("NewGroupNorm", cfg.Eps)}
	if !cfg.NoAffine {
		g.Weight = NewParameter(autograd.Ones(c))
		g.Bias = NewParameter(autograd.Zeros(c))
	}
	return g
}

// Forward normalises x of shape [N, C, ...].
func (g *GroupNorm) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() < 2 || x.Size(1) != g.Channels {
		panic(fmt.Sprintf("nn: GroupNorm: input of shape %v is not [N, %d, ...]", x.Shape(), g.Channels))
	}
	return autograd.GroupNorm(x, g.Groups, paramTensor(g.Weight), paramTensor(g.Bias), float32(g.Eps))
}
