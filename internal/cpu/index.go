package cpu

// GatherAxis sets dst[o, j, i] = src[o, idx[(o·k + j)·inner + i], i] for src
// viewed as [outer, n, inner] and dst and idx as [outer, k, inner]
// (torch.gather along the middle axis). Indices must be in [0, n).
func GatherAxis(dst, src []float32, outer, n, inner, k int, idx []int) {
	ParallelFor(outer*k, max(1, convGrain/max(inner, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o := t / k
			d := dst[t*inner : (t+1)*inner]
			ix := idx[t*inner : (t+1)*inner]
			s := src[o*n*inner : (o+1)*n*inner]
			for i, j := range ix {
				d[i] = s[j*inner+i]
			}
		}
	})
}

// ScatterAddAxis adds src[o, j, i] into dst[o, idx[(o·k + j)·inner + i], i]
// for dst viewed as [outer, n, inner] and src and idx as [outer, k, inner]
// (torch.scatter_add along the middle axis); repeated indices accumulate.
// Work is split over outer and column blocks, so no two workers write the
// same element.
func ScatterAddAxis(dst, src []float32, outer, n, inner, k int, idx []int) {
	cols := max(1, min(inner, 1024))
	chunks := (inner + cols - 1) / cols
	ParallelFor(outer*chunks, max(1, convGrain/max(k*cols, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, c0 := t/chunks, (t%chunks)*cols
			c1 := min(c0+cols, inner)
			d := dst[o*n*inner : (o+1)*n*inner]
			for j := 0; j < k; j++ {
				off := (o*k + j) * inner
				s, ix := src[off+c0:off+c1], idx[off+c0:off+c1]
				for i, v := range s {
					d[ix[i]*inner+c0+i] += v
				}
			}
		}
	})
}

// SegmentSum sets dst[s, :] (segments rows of inner values) to the sum of the
// rows r of src whose ids[r] == s, for src viewed as [len(ids), inner]. Ids
// must be in [0, segments). Segments are summed in parallel; unsorted ids
// are first grouped with a counting sort, so the result is deterministic and
// rows are added in their original order within each segment.
func SegmentSum(dst, src []float32, ids []int, segments, inner int) {
	sorted := true
	for r := 1; r < len(ids); r++ {
		if ids[r] < ids[r-1] {
			sorted = false
			break
		}
	}
	// start[s] .. start[s+1] are the positions (in order) of segment s.
	start := make([]int, segments+1)
	for _, s := range ids {
		start[s+1]++
	}
	for s := 0; s < segments; s++ {
		start[s+1] += start[s]
	}
	var order []int
	if !sorted {
		order = make([]int, len(ids))
		next := append([]int(nil), start[:segments]...)
		for r, s := range ids {
			order[next[s]] = r
			next[s]++
		}
	}
	grain := max(1, convGrain/max(inner*max(1, len(ids)/max(segments, 1)), 1))
	ParallelFor(segments, grain, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			d := dst[s*inner : (s+1)*inner]
			clear(d)
			for p := start[s]; p < start[s+1]; p++ {
				r := p
				if order != nil {
					r = order[p]
				}
				for i, v := range src[r*inner : (r+1)*inner] {
					d[i] += v
				}
			}
		}
	})
}
