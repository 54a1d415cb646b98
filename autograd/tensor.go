// Package autograd is deepgo's core: the N-dimensional float32 Tensor, the
// eager reverse-mode autograd engine that records operations on a tape and
// runs them backward, the Device contract that backends implement, and the
// CPU device.
//
// Every tensor is contiguous and row-major. Reshape is free; permute,
// transpose, expand and slicing produce new contiguous tensors. Ops follow
// PyTorch's semantics and NumPy broadcasting.
//
// Errors: a shape or argument error inside an op is a programmer error and
// panics with the op's name and the shapes involved, as PyTorch raises.
// Anything that touches the outside world returns an error.
//
// Concurrency: a tensor may be read by several goroutines at once, but the
// tape is single-goroutine: build and run backward on one graph from one
// goroutine at a time. Kernels themselves run in parallel over a worker pool
// sized by GOMAXPROCS.
package autograd

import (
	"fmt"
	"math"
)

// MaxDims is the highest tensor rank the kernels accept.
const MaxDims = 16

// Tensor is an N-dimensional array of float32 on a device, and a node in the
// autograd graph when it takes part in a gradient.
type Tensor struct {
	shape        []int // never shares memory with the struct: backward rules keep shapes without keeping tensors
	dev          Device
	buf          Buffer
	requiresGrad bool
	retainGrad   bool
	node         *node

	// Grad holds the accumulated gradient after Backward: always for leaf
	// tensors that require grad, and for other tensors after RetainGrad.
	Grad *Tensor
}

// numel returns the number of elements of shape, panicking on a negative size.
func numel(op string, shape []int) int {
	n := 1
	for _, s := range shape {
		if s < 0 {
			panic(fmt.Sprintf("autograd: %s: negative dimension in shape %v", op, shape))
		}
		n *= s
	}
	return n
}

func checkRank(op string, shape []int) {
	if len(shape) > MaxDims {
		panic(fmt.Sprintf("autograd: %s: shape %v has %d dimensions; at most %d are supported", op, shape, len(shape), MaxDims))
	}
}

// newTensor wraps a buffer; shape is copied.
func newTensor(dev Device, buf Buffer, shape []int) *Tensor {
	return &Tensor{dev: dev, buf: buf, shape: append(make([]int, 0, len(shape)), shape...)}
}

// empty allocates a zeroed tensor of the given shape on dev.
func empty(dev Device, shape []int) *Tensor {
	checkRank("alloc", shape)
	return newTensor(dev, dev.Alloc(numel("alloc", shape)), shape)
}

// UninitAllocator is an optional capability of a Device: storage for n
// values that the caller's kernel overwrites entirely, handed out without
// clearing it first (it may hold stale values). Ops whose kernels write
// every element of their result allocate it this way when the device
// offers it, and with Alloc otherwise; on a GPU this saves a memset per
// op. A device may fill the storage with NaN in a debugging mode, so that
// a kernel that reads before writing shows up in tests.
type UninitAllocator interface {
	AllocUninit(n int) Buffer
}

// output is empty for an op's result that its kernel overwrites entirely:
// the storage may hold stale values until then.
func output(dev Device, shape []int) *Tensor {
	u, ok := dev.(UninitAllocator)
	if !ok {
		return empty(dev, shape)
	}
	checkRank("alloc", shape)
	return newTensor(dev, u.AllocUninit(numel("alloc", shape)), shape)
}

// New returns a CPU tensor holding a copy of data with the given shape. The
// shape's element count must equal len(data); no shape makes a 1-D tensor
// and an empty shape with one value a 0-D scalar (use Scalar).
func New(data []float32, shape ...int) *Tensor {
	if shape == nil {
		shape = []int{len(data)}
	}
	checkRank("New", shape)
	if n := numel("New", shape); n != len(data) {
		panic(fmt.Sprintf("autograd: New: shape %v needs %d values, got %d", shape, n, len(data)))
	}
	return newTensor(CPU, CPU.FromHost(data), shape)
}

// Wrap returns a CPU tensor that shares data's memory (no copy). Writes to
// data show through the tensor and back; use it for interop, not for values
// that ops will later change.
func Wrap(data []float32, shape ...int) *Tensor {
	if shape == nil {
		shape = []int{len(data)}
	}
	checkRank("Wrap", shape)
	if n := numel("Wrap", shape); n != len(data) {
		panic(fmt.Sprintf("autograd: Wrap: shape %v needs %d values, got %d", shape, n, len(data)))
	}
	return newTensor(CPU, &cpuBuffer{data: data, n: len(data), seq: allocSeq.Add(1), flags: bufEscaped}, shape)
}

// Scalar returns a 0-D CPU tensor holding v.
func Scalar(v float32) *Tensor { return New([]float32{v}, []int{}...) }

// Zeros returns a CPU tensor of zeros.
func Zeros(shape ...int) *Tensor { return ZerosOn(CPU, shape...) }

// ZerosOn returns a tensor of zeros on dev.
func ZerosOn(dev Device, shape ...int) *Tensor { return empty(dev, shape) }

// Ones returns a CPU tensor of ones.
func Ones(shape ...int) *Tensor { return Full(1, shape...) }

// Full returns a CPU tensor with every element set to v.
func Full(v float32, shape ...int) *Tensor { return FullOn(CPU, v, shape...) }

// FullOn returns a tensor on dev with every element set to v.
func FullOn(dev Device, v float32, shape ...int) *Tensor {
	t := empty(dev, shape)
	if v != 0 {
		dev.Fill(t.buf, v)
	}
	return t
}

// ZerosLike returns zeros with x's shape on x's device.
func ZerosLike(x *Tensor) *Tensor { return empty(x.dev, x.shape) }

// OnesLike returns ones with x's shape on x's device.
func OnesLike(x *Tensor) *Tensor { return FullOn(x.dev, 1, x.shape...) }

// Arange returns the 1-D CPU tensor [start, start+step, ...) stopping before
// end, as torch.arange.
func Arange(start, end, step float32) *Tensor {
	if step == 0 || math.IsNaN(float64(step)) {
		panic(fmt.Sprintf("autograd: Arange: step must be non-zero, got %v", step))
	}
	n := int(math.Ceil(float64(end-start) / float64(step)))
	if n < 0 {
		n = 0
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = start + float32(i)*step
	}
	return New(data, n)
}

// Eye returns the n×n identity matrix on the CPU.
func Eye(n int) *Tensor {
	data := make([]float32, n*n)
	for i := 0; i < n; i++ {
		data[i*n+i] = 1
	}
	return New(data, n, n)
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return append([]int{}, t.shape...) }

// Dim returns the number of dimensions (0 for a scalar).
func (t *Tensor) Dim() int { return len(t.shape) }

// Size returns the length of dimension d; negative d counts from the end.
func (t *Tensor) Size(d int) int { return t.shape[t.axis("Size", d)] }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return t.buf.Len() }

// Device returns the device holding the tensor's storage.
func (t *Tensor) Device() Device { return t.dev }

// Data returns a copy of the elements in row-major order, on the host.
func (t *Tensor) Data() []float32 {
	out := make([]float32, t.Numel())
	t.dev.ToHost(out, t.buf)
	return out
}

// HostData returns the tensor's own storage without copying when it lives on
// the CPU, and an error naming the device otherwise. Writing to the slice
// changes the tensor.
func (t *Tensor) HostData() ([]float32, error) {
	if cb, ok := t.buf.(*cpuBuffer); ok {
		if cb.flags&bufReleased != 0 {
			return nil, fmt.Errorf("autograd: HostData: the tensor's storage was handed back for reuse when the autograd.Scope that collected it closed; read it before Close or mark it with autograd.Keep")
		}
		cb.flags |= bufEscaped
		return cb.data, nil
	}
	return nil, fmt.Errorf("autograd: tensor lives on %s, not the CPU; copy it with To(autograd.CPU) or Data()", t.dev.Name())
}

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if t.Numel() != 1 {
		panic(fmt.Sprintf("autograd: Item: tensor of shape %v has %d elements; Item needs exactly one", t.shape, t.Numel()))
	}
	return t.Data()[0]
}

// At returns the element at the given index (one entry per dimension,
// negative entries count from the end).
func (t *Tensor) At(idx ...int) float32 {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("autograd: At: index %v has %d entries for a tensor of shape %v", idx, len(idx), t.shape))
	}
	off, stride := 0, 1
	for d := len(idx) - 1; d >= 0; d-- {
		i := idx[d]
		if i < 0 {
			i += t.shape[d]
		}
		if i < 0 || i >= t.shape[d] {
			panic(fmt.Sprintf("autograd: At: index %v out of range for shape %v", idx, t.shape))
		}
		off += i * stride
		stride *= t.shape[d]
	}
	if cb, ok := t.buf.(*cpuBuffer); ok {
		return cpuData(cb)[off]
	}
	return t.Data()[off]
}

// To returns the tensor on dev (the tensor itself when already there). The
// copy is differentiable: its gradient flows back to the source device.
func (t *Tensor) To(dev Device) *Tensor {
	if t.dev == dev {
		return t
	}
	host := t.Data()
	out := newTensor(dev, dev.FromHost(host), t.shape)
	src := t.dev
	record("To", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		return []*Tensor{g.To(src)}
	})
	return out
}

// Clone returns a copy with its own storage; it is differentiable.
func (t *Tensor) Clone() *Tensor {
	out := t.copyData()
	record("Clone", out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g} })
	return out
}

// copyData returns a new tensor with the same values and no graph.
func (t *Tensor) copyData() *Tensor {
	out := output(t.dev, t.shape)
	cs := contiguousStrides(t.shape)
	t.dev.Copy(t.shape, out.buf, Layout{Strides: cs}, t.buf, Layout{Strides: cs}, false)
	return out
}

// axis normalises a possibly negative dimension index for op.
func (t *Tensor) axis(op string, d int) int {
	return normAxis(op, d, len(t.shape), t.shape)
}

func normAxis(op string, d, rank int, shape []int) int {
	if d < -rank || d >= rank {
		panic(fmt.Sprintf("autograd: %s: dimension %d out of range for shape %v", op, d, shape))
	}
	if d < 0 {
		d += rank
	}
	return d
}

// contiguousStrides returns the row-major strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for d := len(shape) - 1; d >= 0; d-- {
		st[d] = s
		s *= shape[d]
	}
	return st
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}
