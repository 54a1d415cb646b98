package autograd

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/internal/cpu"
)

// AdamStepArgs are the hyperparameters of one Adam or AdamW update (see
// AdamStep).
type AdamStepArgs struct {
	// LR is the learning rate.
	LR float64
	// Beta1 and Beta2 are the decay rates of the moments.
	Beta1, Beta2 float64
	// Eps is added to the denominator.
	Eps float64
	// WeightDecay is added to the gradient as L2 (Adam), or, with
	// Decoupled, scales the parameter by 1 − LR·WeightDecay first (AdamW).
	WeightDecay float64
	// Decoupled selects AdamW's weight decay.
	Decoupled bool
	// Step is the 1-based number of this update, for the bias corrections.
	Step int
}

// AdamScalars are the per-step scalars of a fused Adam update, in
// float32 as the kernels use them.
type AdamScalars struct {
	// Beta1 and Beta2 are the moment decay rates.
	Beta1, Beta2 float32
	// StepSize is lr / (1 − β₁ᵗ); BC2Sqrt is √(1 − β₂ᵗ).
	StepSize, BC2Sqrt float32
	// Eps is added to the denominator.
	Eps float32
	// L2 is the weight decay added to the gradient (Adam, else 0); Decay
	// is the factor 1 − lr·wd the parameter is scaled by first (AdamW,
	// else 1).
	L2, Decay float32
}

// AdamKernel is implemented by devices that update a parameter and its
// Adam moments in one pass (the CPU device does); AdamStep composes the
// update from elementwise ops on other devices.
type AdamKernel interface {
	// AdamStep updates p, m, v (and vmax, nil without AMSGrad) in place
	// from the gradient g, as AdamStep documents.
	AdamStep(a AdamScalars, p, g, m, v, vmax Buffer)
}

// AdamStep updates the leaf p in place by one step of torch.optim.Adam
// (or AdamW) from its gradient grad, updating the moments m and v (and,
// for AMSGrad, the running maximum vmax; nil otherwise) in place:
//
//	g ← grad + wd·p (Adam) or p ← p·(1 − lr·wd) (AdamW)
//	m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  vmax ← max(vmax, v)
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// It records nothing and allocates nothing on the CPU, where it is one
// fused pass over the four tensors. All tensors must have p's shape and
// device.
func AdamStep(p, grad, m, v, vmax *Tensor, a AdamStepArgs) {
	for _, t := range []*Tensor{grad, m, v, vmax} {
		if t == nil {
			continue
		}
		if !sameShape(t.shape, p.shape) {
			panic(fmt.Sprintf("autograd: AdamStep: tensor of shape %v does not match the parameter's shape %v", t.shape, p.shape))
		}
		sameDevice("AdamStep", p, t)
	}
	for _, t := range []*Tensor{p, m, v, vmax} {
		if t != nil && t.node != nil {
			panic(fmt.Sprintf("autograd: AdamStep: tensor of shape %v is the output of %s; the parameter and its moments must be leaves", t.shape, t.node.op))
		}
	}
	if a.Step < 1 {
		panic(fmt.Sprintf("autograd: AdamStep: step %d; steps count from 1", a.Step))
	}
	bc1 := 1 - math.Pow(a.Beta1, float64(a.Step))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.Step))
	args := AdamScalars{
		Beta1: float32(a.Beta1), Beta2: float32(a.Beta2),
		StepSize: float32(a.LR / bc1), BC2Sqrt: float32(math.Sqrt(bc2)),
		Eps: float32(a.Eps), Decay: 1,
	}
	if a.WeightDecay != 0 {
		if a.Decoupled {
			args.Decay = float32(1 - a.LR*a.WeightDecay)
		} else {
			args.L2 = float32(a.WeightDecay)
		}
	}
	if k, ok := p.dev.(AdamKernel); ok {
		var vm Buffer
		if vmax != nil {
			vm = vmax.buf
		}
		k.AdamStep(args, p.buf, grad.buf, m.buf, v.buf, vm)
		return
	}
	NoGrad(func() {
		g := grad
		if args.L2 != 0 {
			g = g.Add(p.MulScalar(args.L2))
		}
		if args.Decay != 1 {
			p.CopyFrom(p.MulScalar(args.Decay))
		}
		m.CopyFrom(m.MulScalar(args.Beta1).Add(g.MulScalar(1 - args.Beta1)))
		v.CopyFrom(v.MulScalar(args.Beta2).Add(g.Mul(g).MulScalar(1 - args.Beta2)))
		second := v
		if vmax != nil {
			vmax.CopyFrom(vmax.Maximum(v))
			second = vmax
		}
		den := second.Sqrt().DivScalar(args.BC2Sqrt).AddScalar(args.Eps)
		p.AddInPlace(m.Div(den), -args.StepSize)
	})
}

func (cpuDevice) AdamStep(a AdamScalars, p, g, m, v, vmax Buffer) {
	cpu.Adam(cpuData(p), cpuData(g), cpuData(m), cpuData(v), cpuDataOrNil(vmax), cpu.AdamArgs(a))
}
