// Package gorgonia converts between gorgonia.org/tensor's float32 *tensor.Dense
// and deepgo's *autograd.Tensor without copying: both sides share one
// []float32, so a write through either shows in the other.
//
// Both conversions require the row-major, contiguous layout that autograd
// uses. A Dense that is a view (from Slice), that carries a pending lazy
// transpose (from T), that is column-major or masked is refused with an error
// that says how to get a contiguous copy first (usually d.Materialize()).
//
// Because the memory is shared, treat the pair as one value: gradients flow
// through a converted tensor as through any other autograd leaf, but ops that
// change the Dense's data in place (gorgonia's UseUnsafe, or writes through
// Float32s) also change the autograd tensor, and autograd's backward pass
// reads the values as they are when it runs.
package gorgonia

// gorgonia.org/tensor v0.9.24 imports go4.org/unsafe/assume-no-moving-gc,
// whose version in tensor's go.mod (2022-06) panics at init on Go releases it
// has not heard of ("...hasn't been updated to assert that it's safe against
// the go1.26 runtime"). go.mod therefore requires the 2023-11 version, which
// no longer panics; keep it at least that new.

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"gorgonia.org/tensor"
)

// FromDense returns an autograd tensor that shares d's backing []float32
// (no copy) and has d's shape. A gorgonia scalar (shape ()) becomes a 0-D
// tensor.
//
// It returns an error when d is nil, is not float32, is a view or has a
// pending lazy transpose (call d.Materialize() for a contiguous copy, or
// d.Transpose() to apply the transpose in place), is column-major, masked,
// or not held in Go memory.
func FromDense(d *tensor.Dense) (*autograd.Tensor, error) {
	if d == nil {
		return nil, fmt.Errorf("gorgonia.FromDense: nil *tensor.Dense")
	}
	if dt := d.Dtype(); dt != tensor.Float32 {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v has dtype %v, but autograd holds float32 only; copy its values into a []float32 and build a float32 Dense with tensor.New(tensor.WithShape(...), tensor.WithBacking(values)) first", d.Shape(), dt)
	}
	shape := []int(d.Shape())
	if d.IsView() {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v is a view of another Dense and does not own contiguous storage; call d.Materialize() first to get a contiguous copy", shape)
	}
	if d.IsMaterializable() {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v has a pending lazy transpose; call d.Transpose() to apply it in place, or d.Materialize() to get a contiguous copy, first", shape)
	}
	if d.DataOrder().IsColMajor() {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v is column-major; autograd needs row-major data, so build a row-major Dense (tensor.WithShape without tensor.AsFortran) first", shape)
	}
	if !d.IsNativelyAccessible() || d.IsManuallyManaged() {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v is not held in Go memory (manually managed or on a device); copy it to a Go-allocated Dense first", shape)
	}
	data := d.Float32s()
	n := d.Shape().TotalSize()
	if len(shape) == 0 {
		n = 1
	}
	if d.IsMasked() && n > 0 {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v carries a mask, which autograd cannot hold; drop it with d.SetMask(nil) (or copy the values you want into an unmasked Dense) first", shape)
	}
	if len(data) != n {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v needs %d values but its storage holds %d; call d.Materialize() first to get a contiguous copy", shape, n, len(data))
	}
	if !rowMajorStrides(shape, d.Strides()) {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v has strides %v, not the contiguous row-major strides autograd needs; call d.Materialize() first to get a contiguous copy", shape, d.Strides())
	}
	if len(shape) > autograd.MaxDims {
		return nil, fmt.Errorf("gorgonia.FromDense: Dense of shape %v has %d dimensions; autograd supports at most %d", shape, len(shape), autograd.MaxDims)
	}
	return autograd.Wrap(data[:n:n], append([]int{}, shape...)...), nil
}

// ToDense returns a float32 *tensor.Dense that shares t's storage (no copy)
// and has t's shape. A 0-D tensor becomes a gorgonia scalar (shape ()), as
// tensor.New(tensor.FromScalar(v)) makes, still sharing t's one element.
//
// It returns an error when t is nil or lives on a device other than the CPU
// (move it with t.To(autograd.CPU) first).
func ToDense(t *autograd.Tensor) (*tensor.Dense, error) {
	if t == nil {
		return nil, fmt.Errorf("gorgonia.ToDense: nil *autograd.Tensor")
	}
	data, err := t.HostData()
	if err != nil {
		return nil, fmt.Errorf("gorgonia.ToDense: %w", err)
	}
	shape := t.Shape()
	if len(data) != t.Numel() {
		return nil, fmt.Errorf("gorgonia.ToDense: tensor of shape %v has storage of %d values for %d elements; call t.Clone() first", shape, len(data), t.Numel())
	}
	if len(shape) == 0 {
		// gorgonia keeps a scalar as a one-element array with shape ().
		return tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(), tensor.WithBacking(data)), nil
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
}

// rowMajorStrides reports whether strides address shape contiguously in
// row-major order; dimensions of size one may have any stride.
func rowMajorStrides(shape, strides []int) bool {
	if len(shape) == 0 {
		return true
	}
	if len(strides) != len(shape) {
		return false
	}
	want := 1
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] != 1 && strides[d] != want {
			return false
		}
		want *= shape[d]
	}
	return true
}
