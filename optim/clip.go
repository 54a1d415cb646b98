package optim

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// ClipGradNorm rescales the gradients of params in place so that their
// global norm (of all gradients together, as if concatenated) is at most
// maxNorm, and returns the norm before clipping, as
// torch.nn.utils.clip_grad_norm_: the gradients are multiplied by
// min(1, maxNorm/(norm + 1e-6)). normType is the p of the p-norm (2 is the
// usual choice; math.Inf(1) takes the largest absolute value). Parameters
// without a gradient are skipped; with none at all the norm is 0. The norm
// is accumulated over parameters in float64.
func ClipGradNorm(params []*nn.Parameter, maxNorm, normType float64) float64 {
	if normType <= 0 || math.IsNaN(normType) {
		panic(fmt.Sprintf("optim: ClipGradNorm: norm type must be positive, got %v", normType))
	}
	var grads []*autograd.Tensor
	for _, p := range params {
		if p != nil && p.Grad != nil {
			grads = append(grads, p.Grad)
		}
	}
	if len(grads) == 0 {
		return 0
	}
	var total float64
	autograd.NoGrad(func() {
		for _, g := range grads {
			a := g.Abs()
			switch {
			case math.IsInf(normType, 1):
				total = math.Max(total, float64(a.Max().Item()))
			case normType == 2:
				total += float64(a.Square().Sum().Item())
			case normType == 1:
				total += float64(a.Sum().Item())
			default:
				total += float64(a.PowScalar(float32(normType)).Sum().Item())
			}
		}
		switch {
		case math.IsInf(normType, 1), normType == 1:
		case normType == 2:
			total = math.Sqrt(total)
		default:
			total = math.Pow(total, 1/normType)
		}
		coef := float32(maxNorm / (total + 1e-6))
		if coef < 1 {
			for _, g := range grads {
				g.CopyFrom(g.MulScalar(coef))
			}
		}
	})
	return total
}

// ClipGradValue clamps every gradient element of params to [−clip, clip]
// in place, as torch.nn.utils.clip_grad_value_.
func ClipGradValue(params []*nn.Parameter, clip float64) {
	if clip < 0 {
		panic(fmt.Sprintf("optim: ClipGradValue: clip value must be non-negative, got %v", clip))
	}
	autograd.NoGrad(func() {
		for _, p := range params {
			if p != nil && p.Grad != nil {
				p.Grad.CopyFrom(p.Grad.Clamp(float32(-clip), float32(clip)))
			}
		}
	})
}
