package layers

import (
	"fmt"
	"slices"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// This file holds SSF, "Scaling & Shifting your Features" (Lian et al.,
// NeurIPS 2022; the reference is dongzelian/SSF, models/vision_transformer.py:
// init_ssf_scale_shift and ssf_ada), and its re-parameterisation into the
// layer before it.

// SSF scales and shifts features, y = γ ⊙ x + β, with γ (Scale) and β
// (Shift) of shape [dim]. They broadcast over the last dimension of x
// ([B, N, dim] tokens) or, when the last dimension is not dim, over
// dimension 1 ([B, dim, H, W] feature maps), as the reference's ssf_ada
// decides; ChannelDim forces dimension 1.
//
// In SSF fine-tuning the backbone is frozen and only the SSF parameters
// (and the head) train: an SSF follows the patch projection, norm1, qkv,
// the attention projection, norm2, fc1, fc2 and the final norm of a ViT.
// After training, FoldSSFLinear, FoldSSFConv2d and FoldSSFLayerNorm merge
// each SSF into the layer before it, so inference costs nothing extra.
//
// Its state_dict names are "scale" and "shift". The reference keeps its
// parameters on the enclosing module as "ssf_scale_1", "ssf_shift_1", ...;
// a model that must load such checkpoints holds two parameters under those
// names (from NewSSFParams) and calls SSFApply, or wraps them as
// &SSF{Scale: s, Shift: b} to fold them.
type SSF struct {
	// Scale is γ, [dim].
	Scale *nn.Parameter
	// Shift is β, [dim].
	Shift *nn.Parameter
	// ChannelDim applies γ and β over dimension 1 whatever the last
	// dimension's size.
	ChannelDim bool
}

// NewSSFParams returns SSF's scale and shift for dim features, drawn as the
// reference's init_ssf_scale_shift: γ ~ N(1, 0.02²) first, then
// β ~ N(0, 0.02²), from rng. The initialisation is near the identity, not
// exactly it.
func NewSSFParams(rng *autograd.RNG, dim int) (scale, shift *nn.Parameter) {
	if dim <= 0 {
		panic(fmt.Sprintf("layers: NewSSFParams: dim %d must be positive", dim))
	}
	scale = nn.NewParameter(autograd.Zeros(dim))
	shift = nn.NewParameter(autograd.Zeros(dim))
	nn.Normal(scale.Tensor, 1, 0.02, rng)
	nn.Normal(shift.Tensor, 0, 0.02, rng)
	return scale, shift
}

// NewSSF returns an SSF layer over dim features initialised as
// NewSSFParams.
func NewSSF(rng *autograd.RNG, dim int) *SSF {
	s, b := NewSSFParams(rng, dim)
	return &SSF{Scale: s, Shift: b}
}

// Dim returns the number of features.
func (s *SSF) Dim() int { return s.Scale.Size(0) }

// Forward returns γ ⊙ x + β (see SSF for the broadcast).
func (s *SSF) Forward(x *autograd.Tensor) *autograd.Tensor {
	if s.ChannelDim {
		return ssfApply("SSF", x, s.Scale.Tensor, s.Shift.Tensor, 1)
	}
	return SSFApply(x, s.Scale.Tensor, s.Shift.Tensor)
}

// SSFApply is the reference's ssf_ada: x·scale + shift, with scale and
// shift of shape [d] broadcast over the last dimension of x when its size
// is d, and otherwise over dimension 1 (x of shape [B, d, ...]). It panics
// when neither dimension has size d.
func SSFApply(x, scale, shift *autograd.Tensor) *autograd.Tensor {
	ssfCheck("SSFApply", x, scale, shift)
	if x.Size(-1) == scale.Size(0) {
		return ssfApply("SSFApply", x, scale, shift, x.Dim()-1)
	}
	return ssfApply("SSFApply", x, scale, shift, 1)
}

func ssfCheck(op string, x, scale, shift *autograd.Tensor) {
	if scale.Dim() != 1 || !slices.Equal(scale.Shape(), shift.Shape()) {
		panic(fmt.Sprintf("layers: %s: scale %v and shift %v must both be [d]", op, scale.Shape(), shift.Shape()))
	}
	if x.Dim() == 0 {
		panic(fmt.Sprintf("layers: %s: scalar input, scale %v", op, scale.Shape()))
	}
}

// ssfApply broadcasts scale and shift over dimension axis of x.
func ssfApply(op string, x, scale, shift *autograd.Tensor, axis int) *autograd.Tensor {
	ssfCheck(op, x, scale, shift)
	d := scale.Size(0)
	if axis >= x.Dim() || x.Size(axis) != d {
		panic(fmt.Sprintf("layers: %s: input %v has neither its last dimension nor dimension 1 of size %d (scale %v)", op, x.Shape(), d, scale.Shape()))
	}
	return autograd.ChannelAffine(x, scale, shift, axis)
}

// ssfParam returns a parameter holding t, frozen when like is.
func ssfParam(t *autograd.Tensor, like *nn.Parameter) *nn.Parameter {
	p := nn.NewParameter(t)
	if like != nil && !like.RequiresGrad() {
		p.SetRequiresGrad(false)
	}
	return p
}

// FoldSSFLinear returns a new Linear equal to l followed by s, the
// re-parameterisation of SSF: W' = diag(γ)·W and b' = γ ⊙ b + β (b = 0 for
// a Linear without bias). l and s are unchanged; the new parameters are
// frozen when l's weight is.
func FoldSSFLinear(l *nn.Linear, s *SSF) *nn.Linear {
	out := l.Weight.Size(0)
	if s.Dim() != out {
		panic(fmt.Sprintf("layers: FoldSSFLinear: SSF of %d features after a Linear with weight %v", s.Dim(), l.Weight.Shape()))
	}
	var f *nn.Linear
	autograd.NoGrad(func() {
		g := s.Scale.Tensor
		f = &nn.Linear{Weight: ssfParam(l.Weight.Mul(g.Unsqueeze(1)), l.Weight)}
		f.Bias = ssfParam(ssfFoldBias(l.Bias, s), l.Weight)
	})
	return f
}

// ssfFoldBias returns γ ⊙ b + β (β when b is nil).
func ssfFoldBias(b *nn.Parameter, s *SSF) *autograd.Tensor {
	if b == nil {
		return s.Shift.Clone()
	}
	return b.Mul(s.Scale.Tensor).Add(s.Shift.Tensor)
}

// FoldSSFConv2d returns a new Conv2d equal to c followed by s over its
// output channels (an SSF on the [N, C, H, W] map, or on the tokens of a
// flattened patch embedding): each output channel's filter is scaled by γ
// and the bias becomes γ ⊙ b + β. The configuration is copied; c and s are
// unchanged.
func FoldSSFConv2d(c *nn.Conv2d, s *SSF) *nn.Conv2d {
	out := c.Weight.Size(0)
	if s.Dim() != out {
		panic(fmt.Sprintf("layers: FoldSSFConv2d: SSF of %d features after a Conv2d with weight %v", s.Dim(), c.Weight.Shape()))
	}
	f := &nn.Conv2d{Config: c.Config}
	f.Config.NoBias = false
	autograd.NoGrad(func() {
		f.Weight = ssfParam(c.Weight.Mul(s.Scale.Reshape(out, 1, 1, 1)), c.Weight)
		f.Bias = ssfParam(ssfFoldBias(c.Bias, s), c.Weight)
	})
	return f
}

// FoldSSFLayerNorm returns a new LayerNorm equal to ln followed by s over
// the last dimension: weight γ ⊙ g and bias γ ⊙ b + β (g = 1 and b = 0
// where ln has no affine parameters). The new layer always has both.
func FoldSSFLayerNorm(ln *nn.LayerNorm, s *SSF) *nn.LayerNorm {
	ns := ln.NormalizedShape
	if len(ns) == 0 || ns[len(ns)-1] != s.Dim() {
		panic(fmt.Sprintf("layers: FoldSSFLayerNorm: SSF of %d features after a LayerNorm over %v", s.Dim(), ns))
	}
	f := &nn.LayerNorm{NormalizedShape: slices.Clone(ns), Eps: ln.Eps}
	autograd.NoGrad(func() {
		g := s.Scale.Tensor
		var w, b *autograd.Tensor
		if ln.Weight != nil {
			w = ln.Weight.Mul(g)
		} else {
			w = g.Expand(ns...).Clone()
		}
		if ln.Bias != nil {
			b = ln.Bias.Mul(g).Add(s.Shift.Tensor)
		} else {
			b = s.Shift.Expand(ns...).Clone()
		}
		f.Weight = ssfParam(w, ln.Weight)
		f.Bias = ssfParam(b, ln.Weight)
	})
	return f
}
