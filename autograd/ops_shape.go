package autograd

import (
	"fmt"
	"slices"
)

// Reshape returns the tensor with a new shape and the same elements in
// row-major order, sharing storage (free). One dimension may be −1 and is
// inferred. View is the same operation.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = inferShape("Reshape", t.shape, t.Numel(), shape)
	if sameShape(shape, t.shape) {
		return t
	}
	markShared(t.buf)
	out := newTensor(t.dev, t.buf, shape)
	in := t.shape
	record("Reshape", out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(in...)} })
	return out
}

// View is Reshape: every tensor is contiguous, so a view always exists.
func (t *Tensor) View(shape ...int) *Tensor { return t.Reshape(shape...) }

// Flatten reshapes dimensions start..end (inclusive, negative counts from
// the end) into one.
func (t *Tensor) Flatten(start, end int) *Tensor {
	if t.Dim() == 0 {
		return t.Reshape(1)
	}
	s, e := t.axis("Flatten", start), t.axis("Flatten", end)
	if s > e {
		panic(fmt.Sprintf("autograd: Flatten: start %d is after end %d for shape %v", start, end, t.shape))
	}
	shape := append([]int{}, t.shape[:s]...)
	shape = append(shape, prod(t.shape[s:e+1]))
	shape = append(shape, t.shape[e+1:]...)
	return t.Reshape(shape...)
}

func inferShape(op string, from []int, n int, shape []int) []int {
	shape = append([]int{}, shape...)
	infer := -1
	known := 1
	for i, s := range shape {
		switch {
		case s == -1 && infer < 0:
			infer = i
		case s < 0:
			panic(fmt.Sprintf("autograd: %s: invalid shape %v for tensor of shape %v (only one -1 is allowed)", op, shape, from))
		default:
			known *= s
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("autograd: %s: cannot infer -1 in shape %v for tensor of shape %v (%d elements)", op, shape, from, n))
		}
		shape[infer] = n / known
		known *= shape[infer]
	}
	if known != n {
		panic(fmt.Sprintf("autograd: %s: shape %v holds %d elements, tensor of shape %v has %d", op, shape, known, from, n))
	}
	checkRank(op, shape)
	return shape
}

// gather copies the view (shape, layout over t's storage) into a new
// contiguous tensor, without recording.
func (t *Tensor) gather(shape []int, l Layout) *Tensor {
	out := output(t.dev, shape)
	t.dev.Copy(shape, out.buf, Layout{Strides: contiguousStrides(shape)}, t.buf, l, false)
	return out
}

// scatterInto returns zeros of shape full with g written (or accumulated)
// into the view l; the adjoint of gather.
func scatterInto(g *Tensor, full []int, l Layout) *Tensor {
	out := empty(g.dev, full)
	g.dev.Copy(g.shape, out.buf, l, g.buf, Layout{Strides: contiguousStrides(g.shape)}, true)
	return out
}

// Permute reorders dimensions: output dimension i is input dimension
// perm[i]. Negative entries count from the end.
func (t *Tensor) Permute(perm ...int) *Tensor {
	if len(perm) != t.Dim() {
		panic(fmt.Sprintf("autograd: Permute: permutation %v has %d entries for shape %v", perm, len(perm), t.shape))
	}
	p := make([]int, len(perm))
	seen := make([]bool, len(perm))
	identity := true
	for i, d := range perm {
		d = t.axis("Permute", d)
		if seen[d] {
			panic(fmt.Sprintf("autograd: Permute: %v repeats dimension %d", perm, d))
		}
		seen[d] = true
		p[i] = d
		identity = identity && d == i
	}
	if identity {
		return t
	}
	cs := contiguousStrides(t.shape)
	shape := make([]int, len(p))
	st := make([]int, len(p))
	for i, d := range p {
		shape[i], st[i] = t.shape[d], cs[d]
	}
	out := t.gather(shape, Layout{Strides: st})
	record("Permute", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		inv := make([]int, len(p))
		for i, d := range p {
			inv[d] = i
		}
		return []*Tensor{g.Permute(inv...)}
	})
	return out
}

// Transpose swaps two dimensions.
func (t *Tensor) Transpose(d0, d1 int) *Tensor {
	a, b := t.axis("Transpose", d0), t.axis("Transpose", d1)
	p := make([]int, t.Dim())
	for i := range p {
		p[i] = i
	}
	p[a], p[b] = p[b], p[a]
	return t.Permute(p...)
}

// T returns the transpose of the last two dimensions (a matrix transpose),
// as torch's mT.
func (t *Tensor) T() *Tensor {
	if t.Dim() < 2 {
		panic(fmt.Sprintf("autograd: T: tensor of shape %v has fewer than 2 dimensions", t.shape))
	}
	return t.Transpose(-2, -1)
}

// Squeeze removes the given size-1 dimensions, or every size-1 dimension
// when none are given. Naming a dimension whose size is not 1 leaves it, as
// torch does.
func (t *Tensor) Squeeze(axes ...int) *Tensor {
	drop := make([]bool, t.Dim())
	if len(axes) == 0 {
		for i, s := range t.shape {
			drop[i] = s == 1
		}
	}
	for _, a := range axes {
		a = t.axis("Squeeze", a)
		drop[a] = t.shape[a] == 1
	}
	var shape []int
	for i, s := range t.shape {
		if !drop[i] {
			shape = append(shape, s)
		}
	}
	return t.Reshape(shape...)
}

// Unsqueeze inserts a size-1 dimension at position axis (−1 appends).
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	a := normAxis("Unsqueeze", axis, t.Dim()+1, t.shape)
	shape := slices.Insert(append([]int{}, t.shape...), a, 1)
	return t.Reshape(shape...)
}

// Expand broadcasts the tensor to shape (−1 keeps a dimension), as
// torch.expand, and materialises the result. The gradient sums over the
// broadcast dimensions.
func (t *Tensor) Expand(shape ...int) *Tensor {
	shape = append([]int{}, shape...)
	if len(shape) < t.Dim() {
		panic(fmt.Sprintf("autograd: Expand: shape %v has fewer dimensions than tensor of shape %v", shape, t.shape))
	}
	off := len(shape) - t.Dim()
	for i := range shape {
		if shape[i] == -1 {
			if i < off {
				panic(fmt.Sprintf("autograd: Expand: -1 at new leading dimension %d in %v", i, shape))
			}
			shape[i] = t.shape[i-off]
		}
		if i >= off && t.shape[i-off] != 1 && t.shape[i-off] != shape[i] {
			panic(fmt.Sprintf("autograd: Expand: tensor of shape %v cannot expand to %v", t.shape, shape))
		}
	}
	checkRank("Expand", shape)
	if sameShape(shape, t.shape) {
		return t
	}
	out := t.gather(shape, broadcastLayout(t.shape, shape))
	in := t.shape
	record("Expand", out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{sumTo(g, in)} })
	return out
}

// BroadcastTo is Expand with torch.broadcast_to's name.
func (t *Tensor) BroadcastTo(shape ...int) *Tensor { return t.Expand(shape...) }

// Narrow returns length elements of dimension axis starting at start, as
// torch.narrow (start may be negative).
func (t *Tensor) Narrow(axis, start, length int) *Tensor {
	a := t.axis("Narrow", axis)
	if start < 0 {
		start += t.shape[a]
	}
	if start < 0 || length < 0 || start+length > t.shape[a] {
		panic(fmt.Sprintf("autograd: Narrow: start %d length %d out of range for dimension %d of shape %v", start, length, a, t.shape))
	}
	return t.slice("Narrow", a, start, length, 1)
}

// Slice returns elements start, start+step, ... before end along axis, with
// Python's slicing rules: negative start and end count from the end, and
// out-of-range bounds are clamped. step must be positive.
func (t *Tensor) Slice(axis, start, end, step int) *Tensor {
	a := t.axis("Slice", axis)
	if step <= 0 {
		panic(fmt.Sprintf("autograd: Slice: step must be positive, got %d", step))
	}
	n := t.shape[a]
	clampIdx := func(i int) int {
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	start, end = clampIdx(start), clampIdx(end)
	length := 0
	if end > start {
		length = (end - start + step - 1) / step
	}
	return t.slice("Slice", a, start, length, step)
}

func (t *Tensor) slice(op string, a, start, length, step int) *Tensor {
	if step == 1 && start == 0 && length == t.shape[a] {
		return t
	}
	cs := contiguousStrides(t.shape)
	shape := t.Shape()
	shape[a] = length
	st := append([]int{}, cs...)
	st[a] *= step
	l := Layout{Offset: start * cs[a], Strides: st}
	out := t.gather(shape, l)
	in := t.shape
	record(op, out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{scatterInto(g, in, l)} })
	return out
}

// Flip reverses the order of elements along the given dimensions.
func (t *Tensor) Flip(axes ...int) *Tensor {
	cs := contiguousStrides(t.shape)
	st := append([]int{}, cs...)
	off := 0
	done := make([]bool, t.Dim())
	for _, a := range axes {
		a = t.axis("Flip", a)
		if done[a] {
			panic(fmt.Sprintf("autograd: Flip: dimension %d listed twice in %v", a, axes))
		}
		done[a] = true
		if t.shape[a] > 0 {
			off += (t.shape[a] - 1) * cs[a]
		}
		st[a] = -cs[a]
	}
	out := t.gather(t.shape, Layout{Offset: off, Strides: st})
	record("Flip", out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.Flip(axes...)} })
	return out
}

// IndexSelect picks the entries idx along axis, as torch.index_select
// (indices may repeat; negative indices count from the end). The gradient
// scatter-adds back.
func (t *Tensor) IndexSelect(axis int, idx []int) *Tensor {
	a := t.axis("IndexSelect", axis)
	n := t.shape[a]
	ix := make([]int, len(idx))
	for i, v := range idx {
		if v < 0 {
			v += n
		}
		if v < 0 || v >= n {
			panic(fmt.Sprintf("autograd: IndexSelect: index %d out of range for dimension %d of shape %v", idx[i], a, t.shape))
		}
		ix[i] = v
	}
	outer, inner := prod(t.shape[:a]), prod(t.shape[a+1:])
	shape := t.Shape()
	shape[a] = len(ix)
	out := output(t.dev, shape)
	t.dev.IndexSelect(out.buf, t.buf, outer, n, inner, ix)
	in := t.shape
	record("IndexSelect", out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		dx := empty(g.dev, in)
		g.dev.IndexAdd(dx.buf, g.buf, outer, n, inner, ix)
		return []*Tensor{dx}
	})
	return out
}

// Concat joins tensors along axis; all other dimensions must match.
func Concat(ts []*Tensor, axis int) *Tensor {
	if len(ts) == 0 {
		panic("autograd: Concat: no tensors given")
	}
	sameDevice("Concat", ts...)
	first := ts[0]
	a := first.axis("Concat", axis)
	shape := first.Shape()
	shape[a] = 0
	for _, t := range ts {
		if t.Dim() != first.Dim() {
			panic(fmt.Sprintf("autograd: Concat: shapes %v and %v have different ranks", first.shape, t.shape))
		}
		for d := range t.shape {
			if d != a && t.shape[d] != first.shape[d] {
				panic(fmt.Sprintf("autograd: Concat: shapes %v and %v differ outside dimension %d", first.shape, t.shape, a))
			}
		}
		shape[a] += t.shape[a]
	}
	out := output(first.dev, shape) // the parts cover it
	cs := contiguousStrides(shape)
	starts := make([]int, len(ts))
	pos := 0
	for i, t := range ts {
		starts[i] = pos
		if t.Numel() > 0 {
			first.dev.Copy(t.shape, out.buf, Layout{Offset: pos * cs[a], Strides: cs}, t.buf, Layout{Strides: contiguousStrides(t.shape)}, false)
		}
		pos += t.shape[a]
	}
	inputs := append([]*Tensor{}, ts...)
	record("Concat", out, inputs, func(g *Tensor) []*Tensor {
		gs := make([]*Tensor, len(inputs))
		for i, t := range inputs {
			if t.requiresGrad {
				gs[i] = g.Narrow(a, starts[i], t.shape[a])
			}
		}
		return gs
	})
	return out
}

// Stack joins equally shaped tensors along a new dimension at axis.
func Stack(ts []*Tensor, axis int) *Tensor {
	if len(ts) == 0 {
		panic("autograd: Stack: no tensors given")
	}
	a := normAxis("Stack", axis, ts[0].Dim()+1, ts[0].shape)
	us := make([]*Tensor, len(ts))
	for i, t := range ts {
		if !sameShape(t.shape, ts[0].shape) {
			panic(fmt.Sprintf("autograd: Stack: shapes %v and %v differ", ts[0].shape, t.shape))
		}
		us[i] = t.Unsqueeze(a)
	}
	return Concat(us, a)
}

// Split cuts the tensor into pieces of size along axis (the last may be
// smaller), as torch.split with an int.
func (t *Tensor) Split(size, axis int) []*Tensor {
	a := t.axis("Split", axis)
	if size <= 0 {
		panic(fmt.Sprintf("autograd: Split: size must be positive, got %d", size))
	}
	var sizes []int
	for s := 0; s < t.shape[a]; s += size {
		sizes = append(sizes, min(size, t.shape[a]-s))
	}
	return t.SplitSizes(sizes, a)
}

// SplitSizes cuts the tensor along axis into pieces of the given sizes,
// which must add up to the dimension's length.
func (t *Tensor) SplitSizes(sizes []int, axis int) []*Tensor {
	a := t.axis("SplitSizes", axis)
	total := 0
	for _, s := range sizes {
		if s < 0 {
			panic(fmt.Sprintf("autograd: SplitSizes: negative size in %v", sizes))
		}
		total += s
	}
	if total != t.shape[a] {
		panic(fmt.Sprintf("autograd: SplitSizes: sizes %v add up to %d, dimension %d of shape %v is %d", sizes, total, a, t.shape, t.shape[a]))
	}
	out := make([]*Tensor, len(sizes))
	pos := 0
	for i, s := range sizes {
		out[i] = t.Narrow(a, pos, s)
		pos += s
	}
	return out
}

// Chunk splits the tensor into n pieces along axis, as torch.chunk: each of
// ceil(len/n) elements, the last smaller, possibly fewer than n pieces.
func (t *Tensor) Chunk(n, axis int) []*Tensor {
	a := t.axis("Chunk", axis)
	if n <= 0 {
		panic(fmt.Sprintf("autograd: Chunk: n must be positive, got %d", n))
	}
	size := max(1, (t.shape[a]+n-1)/n)
	return t.Split(size, a)
}

// PadMode selects how Pad fills the border.
type PadMode int

const (
	// PadConstant fills the border with a value.
	PadConstant PadMode = iota
	// PadCircular wraps around: the border on one side copies the far end
	// of the dimension (periodic boundaries, e.g. longitude).
	PadCircular
)

// Pad pads the trailing dimensions as torch.nn.functional.pad: pads holds
// (before, after) pairs starting from the last dimension, so [1, 1, 2, 0]
// pads the last dimension by 1 on each side and the one before it by 2 at
// the start. value fills the border in PadConstant mode. Circular padding
// needs each pad to be at most the dimension's length.
func (t *Tensor) Pad(pads []int, mode PadMode, value float32) *Tensor {
	if len(pads)%2 != 0 || len(pads)/2 > t.Dim() {
		panic(fmt.Sprintf("autograd: Pad: pads %v must be (before, after) pairs for at most %d dimensions of shape %v", pads, t.Dim(), t.shape))
	}
	for _, p := range pads {
		if p < 0 {
			panic(fmt.Sprintf("autograd: Pad: negative padding in %v; use Narrow to crop", pads))
		}
	}
	switch mode {
	case PadCircular:
		out := t
		for i := 0; i < len(pads)/2; i++ {
			a := t.Dim() - 1 - i
			before, after := pads[2*i], pads[2*i+1]
			n := t.shape[a]
			if before > n || after > n {
				panic(fmt.Sprintf("autograd: Pad: circular padding %v larger than dimension %d of shape %v", pads, a, t.shape))
			}
			if before == 0 && after == 0 {
				continue
			}
			parts := []*Tensor{}
			if before > 0 {
				parts = append(parts, out.Narrow(a, n-before, before))
			}
			parts = append(parts, out)
			if after > 0 {
				parts = append(parts, out.Narrow(a, 0, after))
			}
			out = Concat(parts, a)
		}
		return out
	case PadConstant:
		shape := t.Shape()
		cs0 := 0
		for i := 0; i < len(pads)/2; i++ {
			a := t.Dim() - 1 - i
			shape[a] += pads[2*i] + pads[2*i+1]
		}
		cs := contiguousStrides(shape)
		for i := 0; i < len(pads)/2; i++ {
			a := t.Dim() - 1 - i
			cs0 += pads[2*i] * cs[a]
		}
		l := Layout{Offset: cs0, Strides: cs}
		out := FullOn(t.dev, value, shape...)
		t.dev.Copy(t.shape, out.buf, l, t.buf, Layout{Strides: contiguousStrides(t.shape)}, false)
		in := t.shape
		record("Pad", out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.gather(in, l)} })
		return out
	}
	panic(fmt.Sprintf("autograd: Pad: unknown mode %d", mode))
}

// Repeat tiles the tensor reps[i] times along each dimension, as
// torch.Tensor.repeat (reps may have more entries than the tensor has
// dimensions; leading ones are new).
func (t *Tensor) Repeat(reps ...int) *Tensor {
	if len(reps) < t.Dim() {
		panic(fmt.Sprintf("autograd: Repeat: %v has fewer entries than the %d dimensions of shape %v", reps, t.Dim(), t.shape))
	}
	x := t
	for len(x.shape) < len(reps) {
		x = x.Unsqueeze(0)
	}
	// [s0, s1] → [1, s0, 1, s1] → expand [r0, s0, r1, s1] → [r0·s0, r1·s1].
	inter := make([]int, 0, 2*len(reps))
	exp := make([]int, 0, 2*len(reps))
	final := make([]int, len(reps))
	for i, r := range reps {
		if r < 0 {
			panic(fmt.Sprintf("autograd: Repeat: negative repeat count in %v", reps))
		}
		inter = append(inter, 1, x.shape[i])
		exp = append(exp, r, x.shape[i])
		final[i] = r * x.shape[i]
	}
	checkRank("Repeat", inter)
	return x.Reshape(inter...).Expand(exp...).Reshape(final...)
}

// Roll shifts elements along axes with wrap-around, as torch.roll: element
// i moves to (i + shift) mod n. With no axes the tensor is flattened,
// rolled by shifts[0] and restored.
func (t *Tensor) Roll(shifts []int, axes []int) *Tensor {
	if len(axes) == 0 {
		if len(shifts) != 1 {
			panic(fmt.Sprintf("autograd: Roll: without axes give exactly one shift, got %v", shifts))
		}
		return t.Reshape(-1).Roll(shifts, []int{0}).Reshape(t.shape...)
	}
	if len(shifts) != len(axes) {
		panic(fmt.Sprintf("autograd: Roll: %d shifts for %d axes", len(shifts), len(axes)))
	}
	out := t
	for i, ax := range axes {
		a := t.axis("Roll", ax)
		n := t.shape[a]
		if n == 0 {
			continue
		}
		s := ((shifts[i] % n) + n) % n
		if s == 0 {
			continue
		}
		out = Concat([]*Tensor{out.Narrow(a, n-s, s), out.Narrow(a, 0, n-s)}, a)
	}
	return out
}
