package optim

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// AdamConfig holds the hyperparameters of Adam and AdamW, as
// torch.optim.Adam's arguments. LR and WeightDecay apply to the single
// group of NewAdam and NewAdamW; groups given to the *Groups constructors
// carry their own.
type AdamConfig struct {
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	// AMSGrad uses the running maximum of the second moment (Reddi et al.).
	AMSGrad bool
}

// AdamWConfig holds the hyperparameters of AdamW; they mean what they mean
// for Adam, but WeightDecay is decoupled.
type AdamWConfig = AdamConfig

// DefaultAdamConfig returns torch.optim.Adam's defaults: lr 1e-3, betas
// (0.9, 0.999), eps 1e-8, no weight decay.
func DefaultAdamConfig() AdamConfig {
	return AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// DefaultAdamWConfig returns torch.optim.AdamW's defaults: Adam's, with
// weight decay 1e-2.
func DefaultAdamWConfig() AdamWConfig {
	c := DefaultAdamConfig()
	c.WeightDecay = 1e-2
	return c
}

// Adam is the Adam optimizer with torch.optim.Adam's update (L2 weight
// decay added to the gradient):
//
//	g ← g + wd·p
//	m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// AdamW is the same with decoupled weight decay.
type Adam struct {
	base
	cfg       AdamConfig
	decoupled bool
}

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter), as
// torch.optim.AdamW: before the Adam update, p ← p·(1 − lr·wd), and the
// gradient is not changed.
type AdamW = Adam

// NewAdam returns Adam over params as one group with cfg.LR and
// cfg.WeightDecay.
func NewAdam(params []*nn.Parameter, cfg AdamConfig) *Adam {
	return NewAdamGroups(singleGroup(params, cfg.LR, cfg.WeightDecay), cfg)
}

// NewAdamGroups returns Adam over parameter groups, each with its own LR
// and WeightDecay; the other hyperparameters come from cfg.
func NewAdamGroups(groups []ParamGroup, cfg AdamConfig) *Adam {
	return newAdam("Adam", groups, cfg, false)
}

// NewAdamW returns AdamW over params as one group with cfg.LR and
// cfg.WeightDecay.
func NewAdamW(params []*nn.Parameter, cfg AdamWConfig) *AdamW {
	return NewAdamWGroups(singleGroup(params, cfg.LR, cfg.WeightDecay), cfg)
}

// NewAdamWGroups returns AdamW over parameter groups, each with its own LR
// and WeightDecay; the other hyperparameters come from cfg.
func NewAdamWGroups(groups []ParamGroup, cfg AdamWConfig) *AdamW {
	return newAdam("AdamW", groups, cfg, true)
}

func newAdam(kind string, groups []ParamGroup, cfg AdamConfig, decoupled bool) *Adam {
	if cfg.Eps < 0 {
		panic(fmt.Sprintf("optim: %s: invalid epsilon %v", kind, cfg.Eps))
	}
	if cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1 {
		panic(fmt.Sprintf("optim: %s: invalid betas (%v, %v); each must be in [0, 1)", kind, cfg.Beta1, cfg.Beta2))
	}
	return &Adam{base: newBase(kind, []string{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, groups, cfg.Beta1), cfg: cfg, decoupled: decoupled}
}

// Step updates every parameter that has a gradient, in one fused pass
// per parameter (autograd.AdamStep); the moments are updated in place.
func (o *Adam) Step() {
	o.each(func(gi int, g *ParamGroup, p *nn.Parameter, grad *autograd.Tensor, st *paramState) {
		m, v := st.bufs["exp_avg"], st.bufs["exp_avg_sq"]
		if m == nil {
			m = autograd.ZerosLike(p.Tensor)
			st.bufs["exp_avg"] = m
		}
		if v == nil {
			v = autograd.ZerosLike(p.Tensor)
			st.bufs["exp_avg_sq"] = v
		}
		var vmax *autograd.Tensor
		if o.cfg.AMSGrad {
			vmax = st.bufs["max_exp_avg_sq"]
			if vmax == nil {
				vmax = autograd.ZerosLike(p.Tensor)
				st.bufs["max_exp_avg_sq"] = vmax
			}
		}
		st.step++
		autograd.AdamStep(p.Tensor, grad, m, v, vmax, autograd.AdamStepArgs{
			LR: g.LR, Beta1: o.momentum[gi], Beta2: o.cfg.Beta2, Eps: o.cfg.Eps,
			WeightDecay: g.WeightDecay, Decoupled: o.decoupled, Step: int(st.step),
		})
	})
}
