package nn

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
)

// ReLU is max(x, 0), as torch.nn.ReLU.
type ReLU struct{}

// Forward applies ReLU elementwise.
func (ReLU) Forward(x *autograd.Tensor) *autograd.Tensor { return x.Relu() }

// GELU is x·Φ(x), as torch.nn.GELU; with Tanh set it uses the tanh
// approximation (torch's approximate='tanh').
type GELU struct {
	Tanh bool
}

// Forward applies GELU elementwise.
func (g GELU) Forward(x *autograd.Tensor) *autograd.Tensor {
	if g.Tanh {
		return x.GeluTanh()
	}
	return x.Gelu()
}

// Tanh is the hyperbolic tangent, as torch.nn.Tanh.
type Tanh struct{}

// Forward applies tanh elementwise.
func (Tanh) Forward(x *autograd.Tensor) *autograd.Tensor { return x.Tanh() }

// Sigmoid is 1/(1+e^−x), as torch.nn.Sigmoid.
type Sigmoid struct{}

// Forward applies the sigmoid elementwise.
func (Sigmoid) Forward(x *autograd.Tensor) *autograd.Tensor { return x.Sigmoid() }

// SiLU is x·σ(x) (swish), as torch.nn.SiLU.
type SiLU struct{}

// Forward applies SiLU elementwise.
func (SiLU) Forward(x *autograd.Tensor) *autograd.Tensor { return x.Silu() }

// LeakyReLU is x for x > 0 and Slope·x elsewhere, as torch.nn.LeakyReLU.
// The zero value has slope 0 (a ReLU); NewLeakyReLU(0.01) is torch's
// default.
type LeakyReLU struct {
	Slope float32
}

// NewLeakyReLU returns a LeakyReLU with the given negative slope.
func NewLeakyReLU(slope float32) LeakyReLU { return LeakyReLU{Slope: slope} }

// Forward applies LeakyReLU elementwise.
func (l LeakyReLU) Forward(x *autograd.Tensor) *autograd.Tensor { return x.LeakyRelu(l.Slope) }

// Softmax normalises exponentials along Dim (negative counts from the end),
// as torch.nn.Softmax(dim).
type Softmax struct {
	Dim int
}

// Forward applies softmax along Dim.
func (s Softmax) Forward(x *autograd.Tensor) *autograd.Tensor { return x.Softmax(s.Dim) }

// LogSoftmax is the logarithm of Softmax along Dim, computed stably, as
// torch.nn.LogSoftmax(dim).
type LogSoftmax struct {
	Dim int
}

// Forward applies log-softmax along Dim.
func (s LogSoftmax) Forward(x *autograd.Tensor) *autograd.Tensor { return x.LogSoftmax(s.Dim) }

// Dropout zeroes each element with probability P during training and scales
// the rest by 1/(1−P), as torch.nn.Dropout; in evaluation mode it is the
// identity. The keep-mask is drawn from the layer's own RNG, so a seeded
// model drops the same elements on every run. Create it with NewDropout and
// hold it by pointer, so that Train and Eval can set its Mode.
type Dropout struct {
	Mode
	P   float64
	rng *autograd.RNG
}

// NewDropout returns a Dropout layer with drop probability p in [0, 1),
// drawing its masks from rng.
func NewDropout(p float64, rng *autograd.RNG) *Dropout {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("nn: NewDropout: probability %v is outside [0, 1]", p))
	}
	return &Dropout{P: p, rng: rng}
}

// Forward applies dropout in training mode and returns x unchanged in
// evaluation mode (or when P is 0).
func (d *Dropout) Forward(x *autograd.Tensor) *autograd.Tensor {
	if !d.Training() || d.P == 0 {
		return x
	}
	if d.P < 0 || d.P > 1 {
		panic(fmt.Sprintf("nn: Dropout: probability %v is outside [0, 1]", d.P))
	}
	if d.P == 1 {
		return x.Mul(autograd.ZerosOn(x.Device(), x.Shape()...))
	}
	if d.rng == nil {
		panic("nn: Dropout: no RNG; create the layer with NewDropout(p, rng)")
	}
	scale := float32(1 / (1 - d.P))
	mask := make([]float32, x.Numel())
	for i := range mask {
		// Keep with probability 1−P: Float32 is uniform in [0, 1).
		if float64(d.rng.Float32()) >= d.P {
			mask[i] = scale
		}
	}
	return x.Mul(autograd.New(mask, x.Shape()...).To(x.Device()))
}
