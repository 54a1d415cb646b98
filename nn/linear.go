package nn

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// Linear is the affine layer y = x·Wᵀ + b of torch.nn.Linear, with Weight of
// shape [out, in] and Bias of shape [out] (nil for a layer without bias).
// Its state_dict names are "weight" and "bias".
type Linear struct {
	Weight *Parameter
	Bias   *Parameter
}

// NewLinear returns a Linear layer from in to out features, initialised as
// torch.nn.Linear.reset_parameters: the weight from
// kaiming_uniform(a=√5), which is U(−1/√in, 1/√in), and the bias from
// U(−1/√in, 1/√in), drawn from rng (weight first).
func NewLinear(rng *autograd.RNG, in, out int, bias bool) *Linear {
	if in < 0 || out < 0 {
		panic(fmt.Sprintf("nn: NewLinear: negative size (in=%d, out=%d)", in, out))
	}
	l := &Linear{Weight: NewParameter(autograd.Zeros(out, in))}
	KaimingUniform(l.Weight.Tensor, math.Sqrt(5), FanIn, "leaky_relu", rng)
	if bias {
		l.Bias = NewParameter(autograd.Zeros(out))
		bound := 0.0
		if in > 0 {
			bound = 1 / math.Sqrt(float64(in))
		}
		Uniform(l.Bias.Tensor, -bound, bound, rng)
	}
	return l
}

// Forward maps x of shape [..., in] to [..., out]. The weight is read
// transposed by the matrix product, without a copy.
func (l *Linear) Forward(x *autograd.Tensor) *autograd.Tensor {
	in := l.Weight.Size(1)
	if x.Dim() == 0 || x.Size(-1) != in {
		panic(fmt.Sprintf("nn: Linear: input of shape %v does not end in in_features=%d (weight %v)", x.Shape(), in, l.Weight.Shape()))
	}
	y := autograd.MatMulT(x, l.Weight.Tensor, false, true)
	if l.Bias != nil {
		y = y.Add(l.Bias.Tensor)
	}
	return y
}

// Identity returns its input unchanged, as torch.nn.Identity.
type Identity struct{}

// Forward returns x.
func (Identity) Forward(x *autograd.Tensor) *autograd.Tensor { return x }

// Sequential runs its layers in order, each on the previous one's output,
// as torch.nn.Sequential. Its parameters are named by position: the weight
// of the first layer is "0.weight".
type Sequential struct {
	Layers []Layer `nn:",inline"`
}

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Layer) *Sequential {
	return &Sequential{Layers: append([]Layer(nil), layers...)}
}

// Append adds layers at the end and returns s.
func (s *Sequential) Append(layers ...Layer) *Sequential {
	s.Layers = append(s.Layers, layers...)
	return s
}

// Len returns the number of layers.
func (s *Sequential) Len() int { return len(s.Layers) }

// Forward runs x through every layer.
func (s *Sequential) Forward(x *autograd.Tensor) *autograd.Tensor {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// NewMLP returns a multilayer perceptron as a Sequential: a Linear layer
// from in to hidden[0], act, a Linear to hidden[1], act, ..., and a final
// Linear to out without activation, all with bias. With hidden sizes
// {8} the layers are Linear(in, 8), act, Linear(8, out), named "0.weight",
// "0.bias", "2.weight", "2.bias", as the equivalent torch.nn.Sequential. act
// is shared between positions, so it should be stateless (any activation
// layer of this package is); nil means ReLU.
func NewMLP(rng *autograd.RNG, in int, hidden []int, out int, act Layer) *Sequential {
	if act == nil {
		act = ReLU{}
	}
	s := &Sequential{}
	prev := in
	for _, h := range hidden {
		s.Append(NewLinear(rng, prev, h, true), act)
		prev = h
	}
	return s.Append(NewLinear(rng, prev, out, true))
}
