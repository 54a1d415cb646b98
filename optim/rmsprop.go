package optim

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// RMSPropConfig holds the hyperparameters of RMSProp, as
// torch.optim.RMSprop's arguments. LR and WeightDecay apply to NewRMSProp's
// single group; groups given to NewRMSPropGroups carry their own.
type RMSPropConfig struct {
	LR          float64
	Alpha       float64
	Eps         float64
	WeightDecay float64
	Momentum    float64
	// Centered normalises by an estimate of the gradient's variance
	// rather than its second moment.
	Centered bool
}

// DefaultRMSPropConfig returns torch.optim.RMSprop's defaults: lr 0.01,
// alpha 0.99, eps 1e-8, no weight decay or momentum, not centred.
func DefaultRMSPropConfig() RMSPropConfig {
	return RMSPropConfig{LR: 0.01, Alpha: 0.99, Eps: 1e-8}
}

// RMSProp is RMSprop with torch.optim.RMSprop's update:
//
//	g ← g + wd·p
//	s ← α·s + (1−α)·g²
//	a ← √(s − ḡ²) + ε with ḡ ← α·ḡ + (1−α)·g when centred, √s + ε otherwise
//	b ← μ·b + g/a, p ← p − lr·b with momentum μ > 0; p ← p − lr·g/a without
type RMSProp struct {
	base
	cfg RMSPropConfig
}

// NewRMSProp returns RMSProp over params as one group with cfg.LR and
// cfg.WeightDecay.
func NewRMSProp(params []*nn.Parameter, cfg RMSPropConfig) *RMSProp {
	return NewRMSPropGroups(singleGroup(params, cfg.LR, cfg.WeightDecay), cfg)
}

// NewRMSPropGroups returns RMSProp over parameter groups, each with its
// own LR and WeightDecay; the other hyperparameters come from cfg.
func NewRMSPropGroups(groups []ParamGroup, cfg RMSPropConfig) *RMSProp {
	if cfg.Eps < 0 || cfg.Alpha < 0 || cfg.Momentum < 0 {
		panic(fmt.Sprintf("optim: RMSProp: invalid eps %v, alpha %v or momentum %v", cfg.Eps, cfg.Alpha, cfg.Momentum))
	}
	return &RMSProp{base: newBase("RMSProp", []string{"square_avg", "grad_avg", "momentum_buffer"}, groups, cfg.Momentum), cfg: cfg}
}

// Step updates every parameter that has a gradient.
func (o *RMSProp) Step() {
	alpha := o.cfg.Alpha
	o.each(func(gi int, g *ParamGroup, p *nn.Parameter, grad *autograd.Tensor, st *paramState) {
		sq := st.bufs["square_avg"]
		if sq == nil {
			sq = autograd.ZerosLike(p.Tensor)
		}
		st.step++
		if g.WeightDecay != 0 {
			grad = axpy(grad, p.Tensor, g.WeightDecay)
		}
		sq = scale(sq, alpha).Add(grad.Mul(grad).MulScalar(float32(1 - alpha)))
		st.bufs["square_avg"] = sq
		var avg *autograd.Tensor
		if o.cfg.Centered {
			ga := st.bufs["grad_avg"]
			if ga == nil {
				ga = autograd.ZerosLike(p.Tensor)
			}
			ga = axpy(scale(ga, alpha), grad, 1-alpha)
			st.bufs["grad_avg"] = ga
			avg = sq.Sub(ga.Mul(ga)).Sqrt()
		} else {
			avg = sq.Sqrt()
		}
		avg = avg.AddScalar(float32(o.cfg.Eps))
		if mom := o.momentum[gi]; mom > 0 {
			buf := st.bufs["momentum_buffer"]
			if buf == nil {
				buf = autograd.ZerosLike(p.Tensor)
			}
			buf = scale(buf, mom).Add(grad.Div(avg))
			st.bufs["momentum_buffer"] = buf
			p.AddInPlace(buf, float32(-g.LR))
		} else {
			p.AddInPlace(grad.Div(avg), float32(-g.LR))
		}
	})
}
