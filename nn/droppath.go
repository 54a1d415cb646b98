package nn

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
)

// DropPath is stochastic depth per sample, as timm's DropPath (drop_path):
// in training mode each sample of the batch (the first dimension) is zeroed
// with probability P, and the kept samples are scaled by 1/(1−P) when
// ScaleByKeep is set; in evaluation mode, or with P = 0, it is the
// identity. It goes on the residual branch of a block: x + DropPath(f(x)).
// The keep decisions come from the layer's own RNG. Create it with
// NewDropPath and hold it by pointer so that Train and Eval reach its Mode.
type DropPath struct {
	Mode
	// P is the probability of dropping a sample's path.
	P float64
	// ScaleByKeep divides the kept samples by 1−P (timm's default), so the
	// expected output equals the input.
	ScaleByKeep bool
	rng         *autograd.RNG
}

// NewDropPath returns a DropPath dropping each sample with probability p
// in [0, 1], scaling by 1/(1−p), drawing from rng.
func NewDropPath(p float64, rng *autograd.RNG) *DropPath {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("nn: NewDropPath: probability %v is outside [0, 1]", p))
	}
	return &DropPath{P: p, ScaleByKeep: true, rng: rng}
}

// Forward drops whole samples of x ([N, ...]) in training mode.
func (d *DropPath) Forward(x *autograd.Tensor) *autograd.Tensor {
	if !d.Training() || d.P == 0 {
		return x
	}
	if d.P < 0 || d.P > 1 {
		panic(fmt.Sprintf("nn: DropPath: probability %v is outside [0, 1]", d.P))
	}
	if x.Dim() == 0 {
		panic("nn: DropPath: input is a scalar; need a batch dimension")
	}
	if d.rng == nil {
		panic("nn: DropPath: no RNG; create the layer with NewDropPath(p, rng)")
	}
	keep := 1 - d.P
	scale := float32(1)
	if keep > 0 && d.ScaleByKeep {
		scale = float32(1 / keep)
	}
	n := x.Size(0)
	mask := make([]float32, n)
	for i := range mask {
		// Bernoulli(keep): Float32 is uniform in [0, 1).
		if float64(d.rng.Float32()) < keep {
			mask[i] = scale
		}
	}
	shape := make([]int, x.Dim())
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = n
	return x.Mul(autograd.New(mask, shape...).To(x.Device()))
}
