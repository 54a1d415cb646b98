package autograd

import "fmt"

// checkIndexShape validates an index given as values idx with shape
// idxShape for op on t along axis a: the rank matches, the sizes agree with
// len(idx), every index is in [0, t.shape[a]), and for every other
// dimension idxShape[d] ≤ limit[d].
func checkIndexShape(op string, t *Tensor, a int, idx, idxShape, limit []int) {
	if len(idxShape) != len(t.shape) {
		panic(fmt.Sprintf("autograd: %s: index shape %v and input %v have different ranks", op, idxShape, t.shape))
	}
	if n := numel(op, idxShape); n != len(idx) {
		panic(fmt.Sprintf("autograd: %s: index shape %v needs %d indices, got %d", op, idxShape, n, len(idx)))
	}
	for d, s := range idxShape {
		if d != a && s > limit[d] {
			panic(fmt.Sprintf("autograd: %s: index shape %v is larger than %v outside dimension %d", op, idxShape, limit, a))
		}
	}
	n := t.shape[a]
	for _, v := range idx {
		if v < 0 || v >= n {
			panic(fmt.Sprintf("autograd: %s: index %d out of range for dimension %d of shape %v", op, v, a, t.shape))
		}
	}
}

// narrowTo cuts t down to shape (each dimension at most t's) from the start.
func narrowTo(t *Tensor, shape []int) *Tensor {
	for d, s := range shape {
		if s < t.shape[d] {
			t = t.Narrow(d, 0, s)
		}
	}
	return t
}

// Gather picks, as torch.gather, out[i] = t[i with coordinate axis replaced
// by idx[i]] for every position i of the index, whose values idx are given
// in row-major order with shape idxShape (same rank as t; idxShape[d] ≤
// t.Size(d) for d ≠ axis). The result has shape idxShape; the gradient is
// scatter-added back.
func (t *Tensor) Gather(axis int, idx []int, idxShape []int) *Tensor {
	const op = "Gather"
	a := t.axis(op, axis)
	checkIndexShape(op, t, a, idx, idxShape, t.shape)
	lim := append([]int{}, idxShape...)
	lim[a] = t.shape[a]
	src := narrowTo(t, lim)
	outer, n, inner, k := prod(idxShape[:a]), src.shape[a], prod(idxShape[a+1:]), idxShape[a]
	out := empty(t.dev, idxShape)
	if out.Numel() > 0 {
		t.dev.Gather(out.buf, src.buf, outer, n, inner, k, idx)
	}
	ix := append([]int(nil), idx...)
	record(op, out, []*Tensor{src}, func(g *Tensor) []*Tensor {
		ds := empty(g.dev, src.shape)
		if g.Numel() > 0 {
			g.dev.ScatterAdd(ds.buf, g.buf, outer, n, inner, k, ix)
		}
		return []*Tensor{ds}
	})
	return out
}

// ScatterAdd returns t with the values of src added at the positions an
// index picks, as torch's scatter_add (out of place): for every position i
// of the index (values idx, shape idxShape), out[i with coordinate axis
// replaced by idx[i]] += src[i]. idxShape[d] ≤ src.Size(d) for every d and
// ≤ t.Size(d) for d ≠ axis; repeated indices accumulate. Gradients flow to
// t (unchanged) and src (gathered).
func (t *Tensor) ScatterAdd(axis int, idx []int, idxShape []int, src *Tensor) *Tensor {
	const op = "ScatterAdd"
	sameDevice(op, t, src)
	a := t.axis(op, axis)
	if src.Dim() != t.Dim() {
		panic(fmt.Sprintf("autograd: %s: source %v and input %v have different ranks", op, src.shape, t.shape))
	}
	for d, s := range idxShape {
		if d < src.Dim() && s > src.shape[d] {
			panic(fmt.Sprintf("autograd: %s: index shape %v is larger than source %v", op, idxShape, src.shape))
		}
	}
	checkIndexShape(op, t, a, idx, idxShape, t.shape)
	s := narrowTo(src, idxShape)
	match := true
	for d := range idxShape {
		match = match && (d == a || idxShape[d] == t.shape[d])
	}
	if !match {
		// Scatter into the matching corner of t, then pad it to t's shape.
		sub := append([]int{}, idxShape...)
		sub[a] = t.shape[a]
		part := ZerosOn(t.dev, sub...).ScatterAdd(a, idx, idxShape, s)
		pads := make([]int, 0, 2*t.Dim())
		for d := t.Dim() - 1; d >= 0; d-- {
			pads = append(pads, 0, t.shape[d]-sub[d])
		}
		return t.Add(part.Pad(pads, PadConstant, 0))
	}
	outer, n, inner, k := prod(idxShape[:a]), t.shape[a], prod(idxShape[a+1:]), idxShape[a]
	out := t.copyData()
	if s.Numel() > 0 {
		t.dev.ScatterAdd(out.buf, s.buf, outer, n, inner, k, idx)
	}
	ix := append([]int(nil), idx...)
	record(op, out, []*Tensor{t, s}, func(g *Tensor) []*Tensor {
		var ds *Tensor
		if s.requiresGrad {
			ds = empty(g.dev, s.shape)
			if ds.Numel() > 0 {
				g.dev.Gather(ds.buf, g.buf, outer, n, inner, k, ix)
			}
		}
		return []*Tensor{g, ds}
	})
	return out
}

// IndexAdd returns t with src added at the entries idx along axis, as
// torch's index_add (out of place): out[..., idx[j], ...] += src[..., j,
// ...]. src has t's shape with len(idx) along axis; repeated indices
// accumulate and negative ones count from the end. Gradients flow to t
// (unchanged) and src (selected).
func (t *Tensor) IndexAdd(axis int, idx []int, src *Tensor) *Tensor {
	const op = "IndexAdd"
	sameDevice(op, t, src)
	a := t.axis(op, axis)
	want := t.Shape()
	want[a] = len(idx)
	if !sameShape(want, src.shape) {
		panic(fmt.Sprintf("autograd: %s: source %v must have shape %v for input %v and %d indices along dimension %d", op, src.shape, want, t.shape, len(idx), a))
	}
	n := t.shape[a]
	ix := make([]int, len(idx))
	for i, v := range idx {
		if v < 0 {
			v += n
		}
		if v < 0 || v >= n {
			panic(fmt.Sprintf("autograd: %s: index %d out of range for dimension %d of shape %v", op, idx[i], a, t.shape))
		}
		ix[i] = v
	}
	outer, inner := prod(t.shape[:a]), prod(t.shape[a+1:])
	out := t.copyData()
	if src.Numel() > 0 {
		t.dev.IndexAdd(out.buf, src.buf, outer, n, inner, ix)
	}
	record(op, out, []*Tensor{t, src}, func(g *Tensor) []*Tensor {
		var ds *Tensor
		if src.requiresGrad {
			ds = empty(g.dev, src.shape)
			if ds.Numel() > 0 {
				g.dev.IndexSelect(ds.buf, g.buf, outer, n, inner, ix)
			}
		}
		return []*Tensor{g, ds}
	})
	return out
}

// SegmentSum sums the rows of x (along dimension 0) that share a segment
// id: out[s] = Σ_{r: ids[r] = s} x[r], for ids in [0, numSegments), sorted
// or not (empty segments are zero). out has shape [numSegments, ...]; the
// gradient of each row is its segment's gradient.
func SegmentSum(x *Tensor, ids []int, numSegments int) *Tensor {
	const op = "SegmentSum"
	if x.Dim() == 0 || len(ids) != x.shape[0] {
		panic(fmt.Sprintf("autograd: %s: input %v needs one id per row, got %d ids", op, x.shape, len(ids)))
	}
	if numSegments < 0 {
		panic(fmt.Sprintf("autograd: %s: input %v: negative number of segments %d", op, x.shape, numSegments))
	}
	for _, s := range ids {
		if s < 0 || s >= numSegments {
			panic(fmt.Sprintf("autograd: %s: input %v: segment id %d out of range [0, %d)", op, x.shape, s, numSegments))
		}
	}
	shape := x.Shape()
	shape[0] = numSegments
	inner := prod(x.shape[1:])
	out := empty(x.dev, shape)
	ix := append([]int(nil), ids...)
	if out.Numel() > 0 {
		x.dev.SegmentSum(out.buf, x.buf, ix, numSegments, inner)
	}
	record(op, out, []*Tensor{x}, func(g *Tensor) []*Tensor {
		dx := empty(g.dev, x.shape)
		if dx.Numel() > 0 {
			g.dev.IndexSelect(dx.buf, g.buf, 1, numSegments, inner, ix)
		}
		return []*Tensor{dx}
	})
	return out
}

// Embedding looks up rows of the table w ([V, D]) by index, as
// torch.nn.functional.embedding: idx holds indices in [0, V) in row-major
// order with shape idxShape, and the result is idxShape + [D]. The gradient
// is scatter-added into the table's rows.
func Embedding(w *Tensor, idx []int, idxShape []int) *Tensor {
	return embedding(w, idx, idxShape, -1)
}

// EmbeddingPadded is Embedding with torch's padding_idx: rows looked up by
// paddingIdx (negative counts from the end) receive no gradient.
func EmbeddingPadded(w *Tensor, idx []int, idxShape []int, paddingIdx int) *Tensor {
	if w.Dim() == 2 {
		v := w.shape[0]
		if paddingIdx < 0 {
			paddingIdx += v
		}
		if paddingIdx < 0 || paddingIdx >= v {
			panic(fmt.Sprintf("autograd: Embedding: padding index out of range for table %v", w.shape))
		}
	}
	return embedding(w, idx, idxShape, paddingIdx)
}

func embedding(w *Tensor, idx []int, idxShape []int, pad int) *Tensor {
	const op = "Embedding"
	if w.Dim() != 2 {
		panic(fmt.Sprintf("autograd: %s: table %v is not [V, D]", op, w.shape))
	}
	if n := numel(op, idxShape); n != len(idx) {
		panic(fmt.Sprintf("autograd: %s: index shape %v needs %d indices, got %d", op, idxShape, n, len(idx)))
	}
	v, d := w.shape[0], w.shape[1]
	for _, i := range idx {
		if i < 0 || i >= v {
			panic(fmt.Sprintf("autograd: %s: index %d out of range for table %v", op, i, w.shape))
		}
	}
	shape := append(append([]int{}, idxShape...), d)
	checkRank(op, shape)
	out := empty(w.dev, shape)
	ix := append([]int(nil), idx...)
	if out.Numel() > 0 {
		w.dev.IndexSelect(out.buf, w.buf, 1, v, d, ix)
	}
	record(op, out, []*Tensor{w}, func(g *Tensor) []*Tensor {
		dw := empty(g.dev, w.shape)
		if g.Numel() == 0 {
			return []*Tensor{dw}
		}
		src, use := g.buf, ix
		if pad >= 0 {
			// Keep only the lookups of other rows.
			var pos []int
			use = nil
			for p, i := range ix {
				if i != pad {
					pos = append(pos, p)
					use = append(use, i)
				}
			}
			if len(pos) < len(ix) {
				src = g.dev.Alloc(len(pos) * d)
				if len(pos) > 0 {
					g.dev.IndexSelect(src, g.buf, 1, len(ix), d, pos)
				}
			} else {
				use = ix
			}
		}
		if len(use) > 0 {
			g.dev.IndexAdd(dw.buf, src, 1, v, d, use)
		}
		return []*Tensor{dw}
	})
	return out
}

// OneHot returns the one-hot encoding of the class indices idx (row-major,
// shape idxShape) as a CPU tensor of shape idxShape + [numClasses], as
// torch.nn.functional.one_hot (as float32). numClasses ≤ 0 takes the
// largest index plus one.
func OneHot(idx []int, idxShape []int, numClasses int) *Tensor {
	const op = "OneHot"
	if n := numel(op, idxShape); n != len(idx) {
		panic(fmt.Sprintf("autograd: %s: index shape %v needs %d indices, got %d", op, idxShape, n, len(idx)))
	}
	if numClasses <= 0 {
		numClasses = 0
		for _, i := range idx {
			numClasses = max(numClasses, i+1)
		}
	}
	data := make([]float32, len(idx)*numClasses)
	for p, i := range idx {
		if i < 0 || i >= numClasses {
			panic(fmt.Sprintf("autograd: %s: class %d out of range [0, %d)", op, i, numClasses))
		}
		data[p*numClasses+i] = 1
	}
	return New(data, append(append([]int{}, idxShape...), numClasses)...)
}
