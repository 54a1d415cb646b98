package autograd

import "fmt"

// LayerNorm is torch.nn.functional.layer_norm: x is normalised over its
// trailing dimensions normShape (to zero mean and unit biased variance, eps
// added to the variance), then multiplied by w and shifted by b, both of
// shape normShape (either may be nil). It runs as one fused kernel forward
// and one backward; gradients flow to x, w and b.
func LayerNorm(x *Tensor, normShape []int, w, b *Tensor, eps float32) *Tensor {
	const op = "LayerNorm"
	k := len(normShape)
	if k == 0 || k > x.Dim() || !sameShape(x.shape[x.Dim()-k:], normShape) {
		panic(fmt.Sprintf("autograd: %s: input %v does not end in the normalized shape %v", op, x.shape, normShape))
	}
	for _, p := range []*Tensor{w, b} {
		if p != nil {
			if !sameShape(p.shape, normShape) {
				panic(fmt.Sprintf("autograd: %s: input %v, normalized shape %v: weight/bias has shape %v", op, x.shape, normShape, p.shape))
			}
			sameDevice(op, x, p)
		}
	}
	dev := x.dev
	n := prod(normShape)
	rows := 0
	if n > 0 {
		rows = x.Numel() / n
	}
	y := output(dev, x.shape)
	mean, rstd := dev.Alloc(rows), dev.Alloc(rows)
	if y.Numel() > 0 {
		dev.LayerNorm(y.buf, mean, rstd, x.buf, bufOf(w), bufOf(b), rows, n, eps)
	}
	record(op, y, []*Tensor{x, w, b}, func(g *Tensor) []*Tensor {
		var dx, dw, db *Tensor
		if x.requiresGrad {
			dx = output(dev, x.shape)
		}
		if w != nil && w.requiresGrad {
			dw = output(dev, w.shape)
		}
		if b != nil && b.requiresGrad {
			db = output(dev, b.shape)
		}
		if g.Numel() > 0 {
			dev.LayerNormGrad(bufOf(dx), bufOf(dw), bufOf(db), g.buf, x.buf, mean, rstd, bufOf(w), rows, n)
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// channelDims checks that x is [N, C, ...] with at least two dimensions and
// returns N, C and the product of the rest.
func channelDims(op string, x *Tensor) (outer, c, inner int) {
	if x.Dim() < 2 {
		panic(fmt.Sprintf("autograd: %s: input %v needs at least 2 dimensions [N, C, ...]", op, x.shape))
	}
	return x.shape[0], x.shape[1], prod(x.shape[2:])
}

func checkChannelParam(op string, x, p *Tensor, c int, what string) {
	if p == nil {
		return
	}
	if p.Dim() != 1 || p.shape[0] != c {
		panic(fmt.Sprintf("autograd: %s: input %v has %d channels; %s has shape %v", op, x.shape, c, what, p.shape))
	}
	sameDevice(op, x, p)
}

// BatchNorm is torch.nn.functional.batch_norm for x of shape [N, C, ...].
// In training it normalises each channel with the batch mean and biased
// variance, and updates runMean and runVar in place (when given) as
// (1−momentum)·running + momentum·batch, with the unbiased batch variance.
// Otherwise it normalises with runMean and runVar, which are then required.
// w and b (shape [C], either may be nil) scale and shift each channel. The
// running statistics are plain tensors without gradient; gradients flow to
// x, w and b (through the batch statistics in training).
func BatchNorm(x, runMean, runVar, w, b *Tensor, training bool, momentum, eps float32) *Tensor {
	const op = "BatchNorm"
	outer, c, inner := channelDims(op, x)
	checkChannelParam(op, x, runMean, c, "running mean")
	checkChannelParam(op, x, runVar, c, "running var")
	checkChannelParam(op, x, w, c, "weight")
	checkChannelParam(op, x, b, c, "bias")
	dev := x.dev
	m := outer * inner
	var mean, rstd *Tensor
	NoGrad(func() {
		if training {
			if m <= 1 {
				panic(fmt.Sprintf("autograd: %s: input %v: training needs more than one value per channel", op, x.shape))
			}
			var variance *Tensor
			mean, variance = empty(dev, []int{c}), empty(dev, []int{c})
			dev.ChannelStats(mean.buf, variance.buf, x.buf, outer, c, inner)
			rstd = variance.AddScalar(eps).Rsqrt()
			mom := momentum
			if runMean != nil {
				runMean.CopyFrom(runMean.MulScalar(1 - mom).Add(mean.MulScalar(mom)))
			}
			if runVar != nil {
				unbiased := variance.MulScalar(float32(float64(m) / float64(m-1)))
				runVar.CopyFrom(runVar.MulScalar(1 - mom).Add(unbiased.MulScalar(mom)))
			}
		} else {
			if runMean == nil || runVar == nil {
				panic(fmt.Sprintf("autograd: %s: input %v: evaluation needs the running mean and var", op, x.shape))
			}
			mean = runMean.copyData()
			rstd = runVar.AddScalar(eps).Rsqrt()
		}
	})
	scale := rstd
	if w != nil {
		NoGrad(func() { scale = rstd.Mul(w) })
	}
	var shift *Tensor
	NoGrad(func() {
		shift = mean.Mul(scale).Neg()
		if b != nil {
			shift = shift.Add(b)
		}
	})
	y := empty(dev, x.shape)
	if y.Numel() > 0 {
		dev.ChannelAffine(y.buf, x.buf, scale.buf, shift.buf, outer, c, inner)
	}
	record(op, y, []*Tensor{x, w, b}, func(g *Tensor) []*Tensor {
		var dx, dw, db *Tensor
		if x.requiresGrad {
			dx = empty(dev, x.shape)
		}
		if w != nil && w.requiresGrad {
			dw = empty(dev, w.shape)
		}
		if b != nil && b.requiresGrad {
			db = empty(dev, b.shape)
		}
		if g.Numel() > 0 {
			dev.ChannelNormGrad(bufOf(dx), bufOf(dw), bufOf(db), g.buf, x.buf, mean.buf, rstd.buf, bufOf(w), outer, c, inner, training)
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// ChannelAffine returns x·scale + shift with scale and shift (shape [C],
// C = x.Size(axis); shift may be nil) broadcast along every other axis of
// x: the per-channel affine step of batch and group norm, and SSF's scale
// and shift. It is x.Mul(scale') .Add(shift') with scale' and shift'
// reshaped to broadcast, fused into one pass forward and one backward (the
// gradients of x, scale and shift from one read of the output gradient and
// x). axis may be negative, counting from the end.
func ChannelAffine(x, scale, shift *Tensor, axis int) *Tensor {
	const op = "ChannelAffine"
	if scale == nil {
		panic(fmt.Sprintf("autograd: %s: input %v: scale is nil (use Add for a shift alone)", op, x.shape))
	}
	a := axis
	if a < 0 {
		a += x.Dim()
	}
	if a < 0 || a >= x.Dim() {
		panic(fmt.Sprintf("autograd: %s: axis %d is out of range for input %v", op, axis, x.shape))
	}
	outer, c, inner := prod(x.shape[:a]), x.shape[a], prod(x.shape[a+1:])
	checkChannelParam(op, x, scale, c, "scale")
	checkChannelParam(op, x, shift, c, "shift")
	dev := x.dev
	y := output(dev, x.shape)
	if y.Numel() > 0 {
		dev.ChannelAffine(y.buf, x.buf, scale.buf, bufOf(shift), outer, c, inner)
	}
	record(op, y, []*Tensor{x, scale, shift}, func(g *Tensor) []*Tensor {
		// ChannelNormGrad overwrites every output it is given.
		var dx, dw, db *Tensor
		if x.requiresGrad {
			dx = output(dev, x.shape)
		}
		if scale.requiresGrad {
			dw = output(dev, scale.shape)
		}
		if shift != nil && shift.requiresGrad {
			db = output(dev, shift.shape)
		}
		if g.Numel() == 0 {
			for _, t := range []*Tensor{dw, db} {
				if t != nil {
					dev.Fill(t.buf, 0)
				}
			}
			return []*Tensor{dx, dw, db}
		}
		if dx != nil || dw != nil || db != nil {
			dev.ChannelNormGrad(bufOf(dx), bufOf(dw), bufOf(db), g.buf, x.buf, nil, nil, scale.buf, outer, c, inner, false)
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// GroupNorm is torch.nn.functional.group_norm for x of shape [N, C, ...]:
// the channels are split into groups, each group of each sample normalised
// over its channels and positions (biased variance, eps added), then each
// channel scaled by w and shifted by b (shape [C], either may be nil).
func GroupNorm(x *Tensor, groups int, w, b *Tensor, eps float32) *Tensor {
	const op = "GroupNorm"
	outer, c, inner := channelDims(op, x)
	if groups <= 0 || c%groups != 0 {
		panic(fmt.Sprintf("autograd: %s: input %v: %d channels are not divisible into %d groups", op, x.shape, c, groups))
	}
	checkChannelParam(op, x, w, c, "weight")
	checkChannelParam(op, x, b, c, "bias")
	dev := x.dev
	rows, n := outer*groups, (c/groups)*inner
	mean, rstd := dev.Alloc(rows), dev.Alloc(rows)
	xn := empty(dev, x.shape)
	if xn.Numel() > 0 {
		dev.LayerNorm(xn.buf, mean, rstd, x.buf, nil, nil, rows, n, eps)
	}
	affine := w != nil || b != nil
	y := xn
	if affine {
		scale := w
		if scale == nil {
			scale = FullOn(dev, 1, c)
		}
		y = empty(dev, x.shape)
		if y.Numel() > 0 {
			dev.ChannelAffine(y.buf, xn.buf, scale.buf, bufOf(b), outer, c, inner)
		}
	}
	record(op, y, []*Tensor{x, w, b}, func(g *Tensor) []*Tensor {
		var dx, dw, db *Tensor
		if w != nil && w.requiresGrad {
			dw = empty(dev, w.shape)
		}
		if b != nil && b.requiresGrad {
			db = empty(dev, b.shape)
		}
		gn := g
		if affine && g.Numel() > 0 && (dw != nil || db != nil || x.requiresGrad) {
			// Through the affine: dxn = g·w, dw = Σ g·xn, db = Σ g.
			var dxn *Tensor
			if x.requiresGrad {
				dxn = empty(dev, x.shape)
			}
			dev.ChannelNormGrad(bufOf(dxn), bufOf(dw), bufOf(db), g.buf, xn.buf, nil, nil, bufOf(w), outer, c, inner, false)
			gn = dxn
		}
		if x.requiresGrad {
			dx = empty(dev, x.shape)
			if g.Numel() > 0 {
				dev.LayerNormGrad(dx.buf, nil, nil, gn.buf, x.buf, mean, rstd, nil, rows, n)
			}
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1−p) (inverted dropout, as torch in training mode), drawing the mask
// from rng on the host. p = 0 returns x itself and p = 1 zeros. Use it only
// in training; the gradient is masked and scaled the same way.
func Dropout(x *Tensor, p float32, rng *RNG) *Tensor {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("autograd: Dropout: input %v: probability %v is not in [0, 1]", x.shape, p))
	}
	if p == 0 {
		return x
	}
	if rng == nil {
		panic(fmt.Sprintf("autograd: Dropout: input %v: nil RNG", x.shape))
	}
	mask := make([]float32, x.Numel())
	if p < 1 {
		keep := float32(1 / (1 - float64(p)))
		for i := range mask {
			if rng.Float32() >= p {
				mask[i] = keep
			}
		}
	}
	return x.Mul(New(mask, x.shape...).To(x.dev))
}
