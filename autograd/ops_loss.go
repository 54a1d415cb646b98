package autograd

import "fmt"

// Reduction says how a loss combines its per-element values.
type Reduction int

const (
	// ReductionMean averages (torch's default). With a mask or class weights
	// it is the weighted mean: Σ w·loss / Σ w.
	ReductionMean Reduction = iota
	// ReductionSum adds the per-element losses.
	ReductionSum
	// ReductionNone returns the per-element losses.
	ReductionNone
)

// LossOptions configures the elementwise losses (MSELoss, L1Loss,
// HuberLoss). The zero value is torch's default: the mean over all elements.
type LossOptions struct {
	// Reduction is mean (default), sum or none.
	Reduction Reduction
	// Mask, when non-nil, weights each element's loss (it must broadcast
	// to the loss's shape, and carries no gradient): masked elements (0)
	// drop out, and the mean divides by the mask's sum instead of the
	// element count. ReductionNone returns loss·mask.
	Mask *Tensor
}

// reduceLoss applies the reduction to per-element losses l, with an
// optional mask (broadcast to l's shape).
func reduceLoss(op string, l *Tensor, red Reduction, mask *Tensor) *Tensor {
	if mask != nil {
		sameDevice(op, l, mask)
		if !sameShape(BroadcastShapes(op, l.shape, mask.shape), l.shape) {
			panic(fmt.Sprintf("autograd: %s: mask %v does not broadcast to the loss shape %v", op, mask.shape, l.shape))
		}
		mask = mask.Detach()
		l = l.Mul(mask)
	}
	switch red {
	case ReductionNone:
		return l
	case ReductionSum:
		return l.Sum()
	case ReductionMean:
		if mask == nil {
			return l.Mean()
		}
		var count *Tensor
		NoGrad(func() { count = mask.Expand(l.shape...).Sum() })
		return l.Sum().Div(count)
	}
	panic(fmt.Sprintf("autograd: %s: unknown reduction %d", op, red))
}

func checkPair(op string, pred, target *Tensor) {
	sameDevice(op, pred, target)
	if !sameShape(pred.shape, target.shape) {
		panic(fmt.Sprintf("autograd: %s: prediction %v and target %v differ in shape", op, pred.shape, target.shape))
	}
}

// MSELoss is torch.nn.functional.mse_loss: (pred − target)², reduced.
// Gradients flow to both.
func MSELoss(pred, target *Tensor, opts LossOptions) *Tensor {
	checkPair("MSELoss", pred, target)
	return reduceLoss("MSELoss", pred.Sub(target).Square(), opts.Reduction, opts.Mask)
}

// L1Loss is torch.nn.functional.l1_loss: |pred − target|, reduced.
func L1Loss(pred, target *Tensor, opts LossOptions) *Tensor {
	checkPair("L1Loss", pred, target)
	return reduceLoss("L1Loss", pred.Sub(target).Abs(), opts.Reduction, opts.Mask)
}

// HuberLoss is torch.nn.functional.huber_loss: ½d² where |d| < delta and
// delta·(|d| − ½delta) elsewhere, for d = pred − target, reduced.
func HuberLoss(pred, target *Tensor, delta float32, opts LossOptions) *Tensor {
	checkPair("HuberLoss", pred, target)
	if !(delta > 0) {
		panic(fmt.Sprintf("autograd: HuberLoss: prediction %v: delta must be positive, got %v", pred.shape, delta))
	}
	d := pred.Sub(target)
	ad := d.Abs()
	var small *Tensor
	NoGrad(func() { small = ad.Lt(FullOn(ad.dev, delta)) })
	l := Where(small, d.Square().MulScalar(0.5), ad.SubScalar(0.5*delta).MulScalar(delta))
	return reduceLoss("HuberLoss", l, opts.Reduction, opts.Mask)
}

// MaskedMAE is the mean absolute error over the elements where mask is 1:
// Σ |pred − target|·mask / Σ mask, and 0 when the mask is all zero (as the
// masked metrics of traffic forecasting). mask must broadcast to pred's
// shape and carries no gradient.
func MaskedMAE(pred, target, mask *Tensor) *Tensor {
	const op = "MaskedMAE"
	checkPair(op, pred, target)
	if mask == nil {
		panic(fmt.Sprintf("autograd: %s: prediction %v: nil mask", op, pred.shape))
	}
	sameDevice(op, pred, mask)
	if !sameShape(BroadcastShapes(op, pred.shape, mask.shape), pred.shape) {
		panic(fmt.Sprintf("autograd: %s: mask %v does not broadcast to prediction %v", op, mask.shape, pred.shape))
	}
	m := mask.Detach()
	var count *Tensor
	NoGrad(func() {
		count = m.Expand(pred.shape...).Sum()
		count = Where(count.Eq(FullOn(count.dev, 0)), FullOn(count.dev, 1), count)
	})
	return pred.Sub(target).Abs().Mul(m).Sum().Div(count)
}

// BCEOptions configures BCEWithLogits; the zero value is torch's default.
type BCEOptions struct {
	// Reduction is mean (default), sum or none.
	Reduction Reduction
	// Weight, when non-nil, rescales each element's loss (broadcast to the
	// input's shape; no gradient).
	Weight *Tensor
	// PosWeight, when non-nil, weights the positive term (broadcast along
	// the last dimension as torch's pos_weight; no gradient).
	PosWeight *Tensor
	// Mask, as in LossOptions: masked elements drop out and the mean
	// divides by the mask's sum.
	Mask *Tensor
}

// BCEWithLogits is torch.nn.functional.binary_cross_entropy_with_logits:
// −[p·y·log σ(x) + (1 − y)·log(1 − σ(x))] with p the positive weight,
// computed stably from the logits x as (1 − y)·x + (1 + (p − 1)·y)·
// softplus(−x). Gradients flow to x and to the (soft) targets y.
func BCEWithLogits(x, y *Tensor, opts BCEOptions) *Tensor {
	const op = "BCEWithLogits"
	checkPair(op, x, y)
	sp := x.Neg().Softplus()
	var l *Tensor
	if opts.PosWeight != nil {
		sameDevice(op, x, opts.PosWeight)
		BroadcastShapes(op, x.shape, opts.PosWeight.shape)
		lw := y.Mul(opts.PosWeight.Detach().AddScalar(-1)).AddScalar(1)
		l = y.Neg().AddScalar(1).Mul(x).Add(lw.Mul(sp))
	} else {
		l = y.Neg().AddScalar(1).Mul(x).Add(sp)
	}
	if opts.Weight != nil {
		sameDevice(op, x, opts.Weight)
		l = l.Mul(opts.Weight.Detach())
	}
	if !sameShape(l.shape, x.shape) {
		panic(fmt.Sprintf("autograd: %s: weights broadcast input %v to %v", op, x.shape, l.shape))
	}
	return reduceLoss(op, l, opts.Reduction, opts.Mask)
}

// CrossEntropyOptions configures CrossEntropy and NLLLoss; the zero value is
// torch's default (mean, no class weights, no smoothing, negative targets
// such as torch's −100 ignored).
type CrossEntropyOptions struct {
	// Reduction is mean (default), sum or none. The mean is weighted as
	// torch's: Σ w[t]·loss / Σ w[t] over the targets not ignored.
	Reduction Reduction
	// Weight, when non-nil, holds one weight per class ([C]; no gradient).
	Weight *Tensor
	// IgnoreIndex is a target class whose positions contribute nothing
	// (loss 0, and left out of the mean's denominator); it applies when
	// UseIgnoreIndex is set. Negative targets are always ignored.
	IgnoreIndex int
	// UseIgnoreIndex turns IgnoreIndex on.
	UseIgnoreIndex bool
	// LabelSmoothing in [0, 1] mixes the target with the uniform
	// distribution, as torch's label_smoothing.
	LabelSmoothing float32
	// Mask, when non-nil, weights each target position (the target's
	// shape; no gradient) on top of the class weights: masked positions
	// drop out of the loss and of the mean's denominator.
	Mask *Tensor
}

// CrossEntropy is torch.nn.functional.cross_entropy with class-index
// targets: logits are [N, C] or [N, C, d1, ...] (or [C] for one sample),
// target holds one class per position (row-major over N, d1, ...). The
// reductions, class weights, ignored targets and label smoothing follow
// torch exactly. Gradients flow to the logits.
func CrossEntropy(logits *Tensor, target []int, opts CrossEntropyOptions) *Tensor {
	if logits.Dim() == 1 {
		return CrossEntropy(logits.Unsqueeze(0), target, opts).reshapeNone(opts.Reduction)
	}
	if logits.Dim() < 2 {
		panic(fmt.Sprintf("autograd: CrossEntropy: logits %v need a class dimension", logits.shape))
	}
	return nllCore("CrossEntropy", logits.LogSoftmax(1), logits.shape, target, opts, opts.LabelSmoothing)
}

// NLLLoss is torch.nn.functional.nll_loss: the negative log-likelihood of
// class-index targets given log-probabilities logp ([N, C] or
// [N, C, d1, ...], or [C]). Options as CrossEntropy (LabelSmoothing must be
// 0). Gradients flow to logp.
func NLLLoss(logp *Tensor, target []int, opts CrossEntropyOptions) *Tensor {
	if opts.LabelSmoothing != 0 {
		panic(fmt.Sprintf("autograd: NLLLoss: input %v: label smoothing is CrossEntropy's option", logp.shape))
	}
	if logp.Dim() == 1 {
		return NLLLoss(logp.Unsqueeze(0), target, opts).reshapeNone(opts.Reduction)
	}
	if logp.Dim() < 2 {
		panic(fmt.Sprintf("autograd: NLLLoss: input %v needs a class dimension", logp.shape))
	}
	return nllCore("NLLLoss", logp, logp.shape, target, opts, 0)
}

// reshapeNone drops the batch dimension added for a single sample when the
// loss is not reduced.
func (t *Tensor) reshapeNone(red Reduction) *Tensor {
	if red == ReductionNone {
		return t.Reshape()
	}
	return t
}

// nllCore computes the (smoothed) negative log-likelihood from logp
// [N, C, d...] and targets, with torch's weighting and ignore rules.
func nllCore(op string, logp *Tensor, shape []int, target []int, opts CrossEntropyOptions, eps float32) *Tensor {
	n, c := shape[0], shape[1]
	rest := shape[2:]
	tshape := append([]int{n}, rest...)
	if numel(op, tshape) != len(target) {
		panic(fmt.Sprintf("autograd: %s: input %v needs %d targets (shape %v), got %d", op, shape, numel(op, tshape), tshape, len(target)))
	}
	if !(eps >= 0 && eps <= 1) {
		panic(fmt.Sprintf("autograd: %s: input %v: label smoothing %v is not in [0, 1]", op, shape, eps))
	}
	dev := logp.dev
	// Per-position weight: class weight of the target, 0 where ignored.
	idx := make([]int, len(target))
	valid := make([]float32, len(target))
	for i, t := range target {
		if t < 0 || (opts.UseIgnoreIndex && t == opts.IgnoreIndex) {
			continue
		}
		if t >= c {
			panic(fmt.Sprintf("autograd: %s: input %v: target %d out of range for %d classes", op, shape, t, c))
		}
		idx[i], valid[i] = t, 1
	}
	wpos := New(valid, tshape...).To(dev)
	var cw *Tensor
	if opts.Weight != nil {
		sameDevice(op, logp, opts.Weight)
		if opts.Weight.Dim() != 1 || opts.Weight.shape[0] != c {
			panic(fmt.Sprintf("autograd: %s: input %v has %d classes; weight has shape %v", op, shape, c, opts.Weight.shape))
		}
		cw = opts.Weight.Detach()
		NoGrad(func() { wpos = wpos.Mul(cw.IndexSelect(0, idx).Reshape(tshape...)) })
	}
	if opts.Mask != nil {
		sameDevice(op, logp, opts.Mask)
		if !sameShape(opts.Mask.shape, tshape) {
			panic(fmt.Sprintf("autograd: %s: mask %v must have the target shape %v", op, opts.Mask.shape, tshape))
		}
		NoGrad(func() { wpos = wpos.Mul(opts.Mask.Detach()) })
	}
	// Gather logp at the targets: index shape [N, 1, d...].
	ishape := append([]int{n, 1}, rest...)
	picked := logp.Gather(1, idx, ishape).Reshape(tshape...)
	l := picked.Mul(wpos).Neg()
	if eps > 0 {
		// Smoothing term: −Σ_c w_c·logp_c, on positions not ignored.
		s := logp
		if cw != nil {
			bs := make([]int, len(shape))
			for i := range bs {
				bs[i] = 1
			}
			bs[1] = c
			s = s.Mul(cw.Reshape(bs...))
		}
		var keep *Tensor
		NoGrad(func() {
			keep = New(valid, tshape...).To(dev)
			if opts.Mask != nil {
				keep = keep.Mul(opts.Mask.Detach())
			}
		})
		smooth := s.Sum(1).Mul(keep).Neg()
		l = l.MulScalar(1 - eps).Add(smooth.MulScalar(eps / float32(c)))
	}
	switch opts.Reduction {
	case ReductionNone:
		return l
	case ReductionSum:
		return l.Sum()
	case ReductionMean:
		var den *Tensor
		NoGrad(func() { den = wpos.Sum() })
		return l.Sum().Div(den)
	}
	panic(fmt.Sprintf("autograd: %s: unknown reduction %d", op, opts.Reduction))
}
