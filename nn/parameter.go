package nn

import (
	"github.com/deepgo/deepgo/autograd"
)

// Parameter is a trainable tensor of a model: a leaf that requires grad,
// found by the functions of this package when it is a field of the model
// (see the package documentation). The tensor's methods are promoted, so
// p.MatMul(x) works; p.Tensor is the tensor itself, to pass where a
// *autograd.Tensor is expected.
type Parameter struct {
	*autograd.Tensor
}

// NewParameter returns a parameter holding t, with requires-grad set. A
// tensor produced by a recorded op is detached first (sharing storage), as
// torch.nn.Parameter does.
func NewParameter(t *autograd.Tensor) *Parameter {
	if t == nil {
		panic("nn: NewParameter: nil tensor")
	}
	if !t.IsLeaf() {
		t = t.Detach()
	}
	return &Parameter{Tensor: t.SetRequiresGrad(true)}
}

// Buffer is non-trainable state of a model that belongs in its state_dict
// and its saved files, such as BatchNorm's running statistics. It never
// requires grad. The tensor's methods are promoted as for Parameter.
type Buffer struct {
	*autograd.Tensor
}

// NewBuffer returns a buffer holding t (detached when it was produced by a
// recorded op, and with requires-grad off).
func NewBuffer(t *autograd.Tensor) *Buffer {
	if t == nil {
		panic("nn: NewBuffer: nil tensor")
	}
	if !t.IsLeaf() || t.RequiresGrad() {
		t = t.Detach()
	}
	return &Buffer{Tensor: t}
}

// Set replaces the buffer's tensor (for state that is recomputed rather
// than updated in place, such as running statistics). The new tensor is
// detached from the graph.
func (b *Buffer) Set(t *autograd.Tensor) {
	if t == nil {
		panic("nn: Buffer.Set: nil tensor")
	}
	if !t.IsLeaf() || t.RequiresGrad() {
		t = t.Detach()
	}
	b.Tensor = t
}

// String prints the parameter as PyTorch does: "Parameter containing:" and
// the tensor.
func (p *Parameter) String() string {
	if p == nil || p.Tensor == nil {
		return "Parameter(nil)"
	}
	return "Parameter containing:\n" + p.Tensor.String()
}

// Mode records whether a layer is in training or evaluation mode. Layers
// whose behaviour depends on it (Dropout, normalisation) embed Mode and
// check Training(); Train and Eval set every Mode in a model. The zero
// value is training mode, as a new PyTorch module is.
type Mode struct {
	eval bool
}

// Training reports whether the layer is in training mode.
func (m *Mode) Training() bool { return !m.eval }

// SetTraining switches the layer to training mode (on) or evaluation mode.
func (m *Mode) SetTraining(on bool) { m.eval = !on }

// ModeSetter is implemented by layers that need to act when the mode
// changes (for example to pass it to state that the walker cannot see,
// held in a closure). Train and Eval call SetTraining on every value in the
// model whose pointer implements it; *Mode does, so any struct that embeds
// Mode does too.
type ModeSetter interface {
	SetTraining(on bool)
}

// NamedParameter is a parameter and its state_dict name. A model field of
// type []NamedParameter registers its entries under their names (see the
// package documentation).
type NamedParameter struct {
	Name  string
	Param *Parameter
}

// NamedBuffer is a buffer and its state_dict name; a []NamedBuffer field
// registers its entries under their names, as []NamedParameter does.
type NamedBuffer struct {
	Name   string
	Buffer *Buffer
}

// NamedTensor is a tensor and its name, as stored in a state_dict or a
// safetensors file.
type NamedTensor struct {
	Name   string
	Tensor *autograd.Tensor
}
