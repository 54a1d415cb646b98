package cpu

// maxOperands is the most operands Walk handles (output plus three inputs).
const maxOperands = 4

// Walk visits every element of an N-D index space whose operands are laid out
// with arbitrary strides (in elements; 0 broadcasts, negative walks
// backwards). It calls fn once per run along the innermost (coalesced)
// dimension with each operand's starting offset in offs and the run length n;
// inside a run operand k steps by Inner(k). Runs are split over the worker
// pool when the space holds at least grain elements per worker. fn must not
// retain offs.
//
// strides[k] and base[k] describe operand k; every strides[k] has len(shape)
// entries.
func Walk(shape []int, strides [][]int, base []int, grain int, fn func(offs []int, n int)) {
	w := newWalker(shape, strides, base)
	if w.total == 0 {
		return
	}
	runs := w.total / w.inner
	runGrain := max(1, grain/max(w.inner, 1))
	ParallelFor(runs, runGrain, func(lo, hi int) {
		var idx [16]int
		var offs [maxOperands]int
		w.seek(lo, idx[:len(w.shape)-1], offs[:w.ops])
		for r := lo; r < hi; r++ {
			fn(offs[:w.ops], w.inner)
			w.step(idx[:len(w.shape)-1], offs[:w.ops])
		}
	})
}

// WalkInner reports, for the same arguments as Walk, each operand's step
// inside a run, so callers can choose a fast loop before walking.
func WalkInner(shape []int, strides [][]int) [maxOperands]int {
	w := newWalker(shape, strides, make([]int, len(strides)))
	return w.innerStride
}

type walker struct {
	ops         int
	shape       []int // coalesced; last entry is the run length
	strides     [maxOperands][]int
	base        [maxOperands]int
	innerStride [maxOperands]int
	inner       int
	total       int
}

func newWalker(shape []int, strides [][]int, base []int) *walker {
	if len(strides) > maxOperands {
		panic("cpu.Walk: too many operands")
	}
	w := &walker{ops: len(strides)}
	copy(w.base[:], base)
	total := 1
	for _, s := range shape {
		total *= s
	}
	w.total = total
	// Drop size-1 dims, then merge neighbours that are contiguous in every operand.
	var sh []int
	var st [maxOperands][]int
	for d, s := range shape {
		if s == 1 {
			continue
		}
		if n := len(sh); n > 0 {
			merge := true
			for k := 0; k < w.ops; k++ {
				if st[k][n-1] != strides[k][d]*s {
					merge = false
					break
				}
			}
			if merge {
				sh[n-1] *= s
				for k := 0; k < w.ops; k++ {
					st[k][n-1] = strides[k][d]
				}
				continue
			}
		}
		sh = append(sh, s)
		for k := 0; k < w.ops; k++ {
			st[k] = append(st[k], strides[k][d])
		}
	}
	if len(sh) == 0 {
		sh = []int{1}
		for k := 0; k < w.ops; k++ {
			st[k] = []int{0}
		}
	}
	if len(sh) > 17 {
		panic("cpu.Walk: too many dimensions")
	}
	w.shape = sh
	w.strides = st
	w.inner = sh[len(sh)-1]
	for k := 0; k < w.ops; k++ {
		w.innerStride[k] = st[k][len(sh)-1]
	}
	return w
}

// seek sets idx (outer multi-index) and offs to run number r.
func (w *walker) seek(r int, idx []int, offs []int) {
	copy(offs, w.base[:w.ops])
	for d := len(idx) - 1; d >= 0; d-- {
		i := r % w.shape[d]
		r /= w.shape[d]
		idx[d] = i
		for k := range offs {
			offs[k] += i * w.strides[k][d]
		}
	}
}

// step advances idx and offs to the next run.
func (w *walker) step(idx []int, offs []int) {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < w.shape[d] {
			for k := range offs {
				offs[k] += w.strides[k][d]
			}
			return
		}
		idx[d] = 0
		for k := range offs {
			offs[k] -= (w.shape[d] - 1) * w.strides[k][d]
		}
	}
}
