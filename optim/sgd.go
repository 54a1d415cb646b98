package optim

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// SGDConfig holds the hyperparameters of SGD, as torch.optim.SGD's
// arguments. LR and WeightDecay apply to NewSGD's single group; groups
// given to NewSGDGroups carry their own.
type SGDConfig struct {
	LR          float64
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
}

// DefaultSGDConfig returns SGD with lr 0.01 and no momentum, dampening or
// weight decay (torch requires lr; the rest are its defaults).
func DefaultSGDConfig() SGDConfig { return SGDConfig{LR: 0.01} }

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and L2 weight decay, with torch.optim.SGD's update:
//
//	g ← g + wd·p
//	b ← g on the first step, μ·b + (1−dampening)·g after
//	g ← g + μ·b with Nesterov, b without (when μ ≠ 0)
//	p ← p − lr·g
type SGD struct {
	base
	cfg SGDConfig
}

// NewSGD returns SGD over params as one group with cfg.LR and
// cfg.WeightDecay.
func NewSGD(params []*nn.Parameter, cfg SGDConfig) *SGD {
	return NewSGDGroups(singleGroup(params, cfg.LR, cfg.WeightDecay), cfg)
}

// NewSGDGroups returns SGD over parameter groups, each with its own LR and
// WeightDecay; the other hyperparameters come from cfg.
func NewSGDGroups(groups []ParamGroup, cfg SGDConfig) *SGD {
	if cfg.Momentum < 0 {
		panic(fmt.Sprintf("optim: SGD: invalid momentum %v", cfg.Momentum))
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		panic("optim: SGD: Nesterov momentum requires a momentum and zero dampening")
	}
	return &SGD{base: newBase("SGD", []string{"momentum_buffer"}, groups, cfg.Momentum), cfg: cfg}
}

// Step updates every parameter that has a gradient.
func (o *SGD) Step() {
	o.each(func(gi int, g *ParamGroup, p *nn.Parameter, grad *autograd.Tensor, st *paramState) {
		d := grad
		if g.WeightDecay != 0 {
			d = axpy(d, p.Tensor, g.WeightDecay)
		}
		if mom := o.momentum[gi]; mom != 0 {
			buf := st.bufs["momentum_buffer"]
			if buf == nil {
				buf = d.Clone()
			} else {
				buf = axpy(scale(buf, mom), d, 1-o.cfg.Dampening)
			}
			st.bufs["momentum_buffer"] = buf
			if o.cfg.Nesterov {
				d = axpy(d, buf, mom)
			} else {
				d = buf
			}
		}
		st.step++
		p.AddInPlace(d, float32(-g.LR))
	})
}
