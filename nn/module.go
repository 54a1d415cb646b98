package nn

import (
	"github.com/deepgo/deepgo/autograd"
)

// Layer is a single-input, single-output layer: anything with
// Forward(x) → y. Layers compose with Sequential.
type Layer interface {
	Forward(x *autograd.Tensor) *autograd.Tensor
}

// LayerFunc adapts a function to Layer, for parameter-free steps inside a
// Sequential (a reshape, a residual of ops).
type LayerFunc func(x *autograd.Tensor) *autograd.Tensor

// Forward calls f(x).
func (f LayerFunc) Forward(x *autograd.Tensor) *autograd.Tensor { return f(x) }

// NamedParameters returns the model's parameters with their state_dict
// names, in field order, each parameter once (under the first name it is
// reached by), as torch's named_parameters. model is a pointer to a struct
// (or any value holding layers); see the package documentation for how
// fields are found and named.
func NamedParameters(model any) []NamedParameter {
	var out []NamedParameter
	seen := map[*Parameter]bool{}
	walk("NamedParameters", model, visitor{param: func(name string, p *Parameter) {
		if !seen[p] {
			seen[p] = true
			out = append(out, NamedParameter{Name: name, Param: p})
		}
	}})
	return out
}

// Parameters returns the model's parameters in the order of
// NamedParameters, ready to hand to an optimizer.
func Parameters(model any) []*Parameter {
	named := NamedParameters(model)
	out := make([]*Parameter, len(named))
	for i, np := range named {
		out[i] = np.Param
	}
	return out
}

// NamedBuffers returns the model's buffers with their state_dict names,
// each once, in field order.
func NamedBuffers(model any) []NamedBuffer {
	var out []NamedBuffer
	seen := map[*Buffer]bool{}
	walk("NamedBuffers", model, visitor{buffer: func(name string, b *Buffer) {
		if !seen[b] {
			seen[b] = true
			out = append(out, NamedBuffer{Name: name, Buffer: b})
		}
	}})
	return out
}

// To moves every parameter and buffer of the model to dev, in place, as
// torch's model.to(device): each Parameter and Buffer keeps its identity
// (so references to them stay valid) and gets a tensor on dev with the same
// values; parameters keep their requires-grad setting and lose any gradient.
// Tensors already on dev are left as they are. Move a model before making
// its optimizer: an optimizer's moment state stays on the device it was
// made on.
func To(model any, dev autograd.Device) {
	if dev == nil {
		panic("nn: To: nil device")
	}
	for _, np := range NamedParameters(model) {
		p := np.Param
		if p.Tensor == nil || p.Device() == dev {
			continue
		}
		p.Tensor = p.Tensor.Detach().To(dev).SetRequiresGrad(p.RequiresGrad())
	}
	for _, nb := range NamedBuffers(model) {
		b := nb.Buffer
		if b.Tensor == nil || b.Device() == dev {
			continue
		}
		b.Tensor = b.Tensor.Detach().To(dev)
	}
}

// NamedStateDict returns every parameter and buffer of the model under
// every name it is reachable by, in field order: the ordered form of
// StateDict, and what Save writes. The tensors are the model's own (not
// copies).
func NamedStateDict(model any) []NamedTensor {
	var out []NamedTensor
	walk("StateDict", model, visitor{
		param:  func(name string, p *Parameter) { out = append(out, NamedTensor{Name: name, Tensor: p.Tensor}) },
		buffer: func(name string, b *Buffer) { out = append(out, NamedTensor{Name: name, Tensor: b.Tensor}) },
	})
	return out
}

// StateDict returns the model's parameters and buffers by state_dict name,
// as torch's state_dict(). The tensors are the model's own (not copies).
func StateDict(model any) map[string]*autograd.Tensor {
	named := NamedStateDict(model)
	out := make(map[string]*autograd.Tensor, len(named))
	for _, nt := range named {
		out[nt.Name] = nt.Tensor
	}
	return out
}

// NumParams returns the number of trainable elements (parameters that
// require grad) and of all parameter elements in the model; buffers are not
// counted.
func NumParams(model any) (trainable, total int) {
	for _, np := range NamedParameters(model) {
		n := np.Param.Numel()
		total += n
		if np.Param.RequiresGrad() {
			trainable += n
		}
	}
	return trainable, total
}

// Train puts every layer of the model in training mode: it calls
// SetTraining(true) on every Mode and every other ModeSetter found. It
// panics when a layer with a mode is held by value where it cannot be
// changed (pass the model by pointer).
func Train(model any) { setMode("Train", model, true) }

// Eval puts every layer of the model in evaluation mode (see Train).
func Eval(model any) { setMode("Eval", model, false) }

func setMode(fn string, model any, on bool) {
	walk(fn, model, visitor{mode: func(_ string, m ModeSetter) { m.SetTraining(on) }})
}

// Freeze turns requires-grad off for every parameter of the model (or of
// the part of it passed), so that backward skips them and optimizers leave
// them unchanged.
func Freeze(model any) {
	for _, p := range Parameters(model) {
		p.SetRequiresGrad(false)
	}
}

// Unfreeze turns requires-grad back on for every parameter of the model.
func Unfreeze(model any) {
	for _, p := range Parameters(model) {
		p.SetRequiresGrad(true)
	}
}

// ZeroGrad drops the accumulated gradient of every parameter of the model
// (sets it to nil, as torch's zero_grad(set_to_none=True)) and hands its
// storage back for reuse (autograd.Tensor.ReleaseGrad): a Grad tensor read
// before ZeroGrad must not be used after it; Clone it to keep it.
func ZeroGrad(model any) {
	for _, p := range Parameters(model) {
		p.ReleaseGrad()
	}
}
