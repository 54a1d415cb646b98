package autograd

import "fmt"

// reduceAxes normalises the axes of a reduction (all axes when none are
// given) into a sorted mask.
func (t *Tensor) reduceAxes(op string, axes []int) []bool {
	mask := make([]bool, t.Dim())
	if len(axes) == 0 {
		for i := range mask {
			mask[i] = true
		}
		return mask
	}
	for _, a := range axes {
		a = t.axis(op, a)
		if mask[a] {
			panic(fmt.Sprintf("autograd: %s: dimension %d listed twice in %v", op, a, axes))
		}
		mask[a] = true
	}
	return mask
}

// reduceRaw runs a reduction kernel over the masked axes without recording.
// It returns the result in keepdim shape and the number of elements reduced
// into each output.
func (t *Tensor) reduceRaw(kind ReduceOp, mask []bool) (*Tensor, int) {
	keep := t.Shape()
	n := 1
	first, last := -1, -1
	for i, m := range mask {
		if m {
			keep[i] = 1
			n *= t.shape[i]
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	// The kernels write every element of the result, except for a sum
	// over an empty dimension, which is zeros.
	var out *Tensor
	if n == 0 {
		out = empty(t.dev, keep)
	} else {
		out = output(t.dev, keep)
	}
	if first < 0 {
		t.dev.Copy(t.shape, out.buf, Layout{Strides: contiguousStrides(t.shape)}, t.buf, Layout{Strides: contiguousStrides(t.shape)}, false)
		return out, 1
	}
	if out.Numel() == 0 {
		return out, n
	}
	if n == 0 {
		if kind != ReduceSum {
			panic(fmt.Sprintf("autograd: reduction over an empty dimension of shape %v has no identity (only Sum allows it)", t.shape))
		}
		return out, 0
	}
	src := t
	contiguous := true
	for i := first; i <= last; i++ {
		if !mask[i] && t.shape[i] != 1 {
			contiguous = false
		}
	}
	if !contiguous {
		// Move the reduced axes to the end (in order) and reduce them as one.
		var perm []int
		for i, m := range mask {
			if !m {
				perm = append(perm, i)
			}
		}
		for i, m := range mask {
			if m {
				perm = append(perm, i)
			}
		}
		NoGrad(func() { src = t.Permute(perm...) })
		t.dev.Reduce(kind, out.buf, src.buf, out.Numel(), n, 1)
		return out, n
	}
	outer, inner := prod(t.shape[:first]), prod(t.shape[last+1:])
	t.dev.Reduce(kind, out.buf, src.buf, outer, n, inner)
	return out, n
}

// squeezedShape drops the masked dimensions of shape.
func squeezedShape(shape []int, mask []bool) []int {
	out := []int{}
	for i, s := range shape {
		if !mask[i] {
			out = append(out, s)
		}
	}
	return out
}

// squeezeMask drops the masked (size-1) dimensions of a keepdim result.
func squeezeMask(t *Tensor, mask []bool) *Tensor {
	return t.Reshape(squeezedShape(t.shape, mask)...)
}

// reduce is the differentiable sum/max/min; one node whatever keepdim says.
func (t *Tensor) reduce(name string, kind ReduceOp, axes []int, keepdim bool) *Tensor {
	mask := t.reduceAxes(name, axes)
	kept, _ := t.reduceRaw(kind, mask)
	out := kept
	if !keepdim {
		out = newTensor(kept.dev, kept.buf, squeezedShape(kept.shape, mask))
	}
	in, keepShape := t.shape, kept.shape
	switch kind {
	case ReduceSum:
		record(name, out, []*Tensor{t}, func(g *Tensor) []*Tensor { return []*Tensor{g.Reshape(keepShape...).Expand(in...)} })
	case ReduceMax, ReduceMin:
		// Ties share the gradient evenly, as torch.amax/amin.
		record(name, out, []*Tensor{t}, func(g *Tensor) []*Tensor {
			hit := t.Eq(kept)
			count, _ := hit.reduceRaw(ReduceSum, mask)
			return []*Tensor{hit.Mul(g.Reshape(keepShape...).Div(count))}
		})
	}
	return out
}

// Sum adds the elements over the given axes (all when none), dropping them.
func (t *Tensor) Sum(axes ...int) *Tensor { return t.reduce("Sum", ReduceSum, axes, false) }

// SumKeep is Sum keeping the reduced axes with size 1.
func (t *Tensor) SumKeep(axes ...int) *Tensor { return t.reduce("Sum", ReduceSum, axes, true) }

// Mean averages over the given axes (all when none), dropping them.
func (t *Tensor) Mean(axes ...int) *Tensor { return t.mean(axes, false) }

// MeanKeep is Mean keeping the reduced axes with size 1.
func (t *Tensor) MeanKeep(axes ...int) *Tensor { return t.mean(axes, true) }

func (t *Tensor) mean(axes []int, keepdim bool) *Tensor {
	n := reducedCount(t, t.reduceAxes("Mean", axes))
	return t.reduce("Mean", ReduceSum, axes, keepdim).MulScalar(1 / float32(n))
}

func reducedCount(t *Tensor, mask []bool) int {
	n := 1
	for i, m := range mask {
		if m {
			n *= t.shape[i]
		}
	}
	return n
}

// Max returns the largest element over the given axes (all when none),
// dropping them, as torch.amax: tied maxima share the gradient.
func (t *Tensor) Max(axes ...int) *Tensor { return t.reduce("Max", ReduceMax, axes, false) }

// MaxKeep is Max keeping the reduced axes with size 1.
func (t *Tensor) MaxKeep(axes ...int) *Tensor { return t.reduce("Max", ReduceMax, axes, true) }

// Min returns the smallest element over the given axes (all when none), as
// torch.amin.
func (t *Tensor) Min(axes ...int) *Tensor { return t.reduce("Min", ReduceMin, axes, false) }

// MinKeep is Min keeping the reduced axes with size 1.
func (t *Tensor) MinKeep(axes ...int) *Tensor { return t.reduce("Min", ReduceMin, axes, true) }

// Var returns the unbiased variance (correction 1, torch's default) over the
// given axes (all when none).
func (t *Tensor) Var(axes ...int) *Tensor { return t.VarCorrection(1, false, axes...) }

// Std returns the unbiased standard deviation over the given axes.
func (t *Tensor) Std(axes ...int) *Tensor { return t.VarCorrection(1, false, axes...).Sqrt() }

// StdCorrection is VarCorrection's square root.
func (t *Tensor) StdCorrection(correction int, keepdim bool, axes ...int) *Tensor {
	return t.VarCorrection(correction, keepdim, axes...).Sqrt()
}

// VarCorrection returns Σ(x − mean)² / (N − correction) over the given axes:
// correction 0 is the population variance, 1 the sample variance.
func (t *Tensor) VarCorrection(correction int, keepdim bool, axes ...int) *Tensor {
	mask := t.reduceAxes("Var", axes)
	n := reducedCount(t, mask)
	d := t.Sub(t.MeanKeep(axes...))
	v := d.Mul(d).SumKeep(axes...).MulScalar(1 / float32(max(n-correction, 0)))
	if keepdim {
		return v
	}
	return squeezeMask(v, mask)
}

// LogSumExp returns log Σ e^x over the given axes (all when none), computed
// stably.
func (t *Tensor) LogSumExp(axes ...int) *Tensor { return t.logSumExp(axes, false) }

// LogSumExpKeep is LogSumExp keeping the reduced axes with size 1.
func (t *Tensor) LogSumExpKeep(axes ...int) *Tensor { return t.logSumExp(axes, true) }

func (t *Tensor) logSumExp(axes []int, keepdim bool) *Tensor {
	mask := t.reduceAxes("LogSumExp", axes)
	m, _ := t.reduceRaw(ReduceMax, mask)
	// An all −Inf slice has max −Inf; shift by 0 there so the result is −Inf, not NaN.
	m = Where(m.Abs().Eq(FullOn(m.dev, inf32)), FullOn(m.dev, 0), m)
	out := t.Sub(m).Exp().SumKeep(axes...).Log().Add(m)
	if keepdim {
		return out
	}
	return squeezeMask(out, mask)
}

// ArgMax returns the index of the first maximum over the given axes (all
// when none), counted in row-major order within the reduced axes, as a
// float32 tensor without gradient; the axes are dropped.
func (t *Tensor) ArgMax(axes ...int) *Tensor { return t.arg("ArgMax", ReduceArgMax, axes, false) }

// ArgMaxKeep is ArgMax keeping the reduced axes with size 1.
func (t *Tensor) ArgMaxKeep(axes ...int) *Tensor { return t.arg("ArgMax", ReduceArgMax, axes, true) }

// ArgMin returns the index of the first minimum over the given axes, as
// ArgMax.
func (t *Tensor) ArgMin(axes ...int) *Tensor { return t.arg("ArgMin", ReduceArgMin, axes, false) }

// ArgMinKeep is ArgMin keeping the reduced axes with size 1.
func (t *Tensor) ArgMinKeep(axes ...int) *Tensor { return t.arg("ArgMin", ReduceArgMin, axes, true) }

func (t *Tensor) arg(name string, kind ReduceOp, axes []int, keepdim bool) *Tensor {
	mask := t.reduceAxes(name, axes)
	if n := reducedCount(t, mask); n > 1<<24 {
		panic(fmt.Sprintf("autograd: %s: %d elements per reduction exceed float32's exact integers", name, n))
	}
	out, _ := t.reduceRaw(kind, mask)
	if keepdim {
		return out
	}
	return squeezeMask(out, mask)
}

// Softmax returns e^x / Σ e^x along axis.
func (t *Tensor) Softmax(axis int) *Tensor { return t.softmax("Softmax", axis, false) }

// LogSoftmax returns x − log Σ e^x along axis, computed stably.
func (t *Tensor) LogSoftmax(axis int) *Tensor { return t.softmax("LogSoftmax", axis, true) }

func (t *Tensor) softmax(name string, axis int, log bool) *Tensor {
	a := t.axis(name, axis)
	outer, n, inner := prod(t.shape[:a]), t.shape[a], prod(t.shape[a+1:])
	out := output(t.dev, t.shape)
	if out.Numel() > 0 {
		t.dev.Softmax(out.buf, t.buf, outer, n, inner, log)
	}
	record(name, out, []*Tensor{t}, func(g *Tensor) []*Tensor {
		dx := output(g.dev, g.shape)
		g.dev.SoftmaxGrad(dx.buf, g.buf, out.buf, outer, n, inner, log)
		return []*Tensor{dx}
	})
	return out
}
