package cpu

import "math"

// normGrain is the number of elements below which a normalisation kernel
// stops splitting work.
const normGrain = 1 << 14

// LayerNorm normalises each of rows rows of n elements of x to zero mean and
// unit variance (biased, with eps added), then scales by w and shifts by b
// elementwise along the row (either may be nil). It stores each row's mean
// and 1/√(var+eps) in mean and rstd. Statistics are accumulated in float64.
func LayerNorm(y, mean, rstd, x, w, b []float32, rows, n int, eps float32) {
	ParallelFor(rows, max(1, normGrain/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
			m, v := moments(xr)
			rs := float32(1 / math.Sqrt(v+float64(eps)))
			mf := float32(m)
			mean[r], rstd[r] = mf, rs
			switch {
			case w != nil && b != nil:
				lnAffineVec(yr, xr, w, b, mf, rs)
			case w != nil:
				lnScaleVec(yr, xr, w, mf, rs)
			case b != nil:
				lnShiftVec(yr, xr, b, mf, rs)
			default:
				lnNormVec(yr, xr, mf, rs)
			}
		}
	})
}

// moments returns the mean and the biased variance of x: the mean, then
// the deviations from its float32 rounding (with the first-order correction
// for that rounding).
func moments(x []float32) (float64, float64) {
	if len(x) == 0 {
		return 0, 0
	}
	n := float64(len(x))
	m := blockSum(x) / n
	s1, s2 := blockDev(x, float32(m))
	d := s1 / n
	return float64(float32(m)) + d, max(s2/n-d*d, 0)
}

// LayerNormGrad computes the gradients of LayerNorm from the output gradient
// g and the saved mean and rstd: dx (overwritten), dw and db (overwritten,
// summed over rows); any of them may be nil, and w may be nil when the
// forward had no weight.
func LayerNormGrad(dx, dw, db, g, x, mean, rstd, w []float32, rows, n int) {
	if dx != nil {
		ParallelFor(rows, max(1, normGrain/max(n, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xr, gr, dr := x[r*n:(r+1)*n], g[r*n:(r+1)*n], dx[r*n:(r+1)*n]
				m, rs := mean[r], rstd[r]
				sg, sgx := blockGradSums(gr, w, xr, m)
				a := float32(sg / float64(n))
				c := float32(sgx/float64(n)) * rs * rs * rs // Σ g·w·x̂/n · rs, per unit of (x − m)
				if w != nil {
					lnGradWVec(dr, gr, w, xr, rs, a, m, c)
					continue
				}
				lnGradVec(dr, gr, xr, rs, a, m, c)
			}
		})
	}
	if dw == nil && db == nil {
		return
	}
	// Partial sums over row blocks, one block per worker, then combined in
	// block order (deterministic for a given worker count).
	blocks := min(Workers(), max(1, rows*n/normGrain))
	blocks = max(1, min(blocks, rows))
	pw := make([][]float64, blocks)
	pb := make([][]float64, blocks)
	ParallelTasks(blocks, func(k int) {
		lo, hi := k*rows/blocks, (k+1)*rows/blocks
		sw, sb := make([]float64, n), make([]float64, n)
		fw, fb := make([]float32, n), make([]float32, n)
		// Rows go into float32 partials 32 at a time, then into float64.
		for r0 := lo; r0 < hi; r0 += 32 {
			clear(fw)
			clear(fb)
			for r := r0; r < min(r0+32, hi); r++ {
				xr, gr := x[r*n:(r+1)*n], g[r*n:(r+1)*n]
				lnAccWVec(fw, fw, gr, xr, mean[r], rstd[r]) // fw += g·x̂
				addVec(fb, fb, gr)
			}
			for i := range sw {
				sw[i] += float64(fw[i])
				sb[i] += float64(fb[i])
			}
		}
		pw[k], pb[k] = sw, sb
	})
	for i := 0; i < n; i++ {
		var sw, sb float64
		for k := 0; k < blocks; k++ {
			sw += pw[k][i]
			sb += pb[k][i]
		}
		if dw != nil {
			dw[i] = float32(sw)
		}
		if db != nil {
			db[i] = float32(sb)
		}
	}
}

// ChannelStats computes, for x viewed as [outer, c, inner], the mean and the
// biased variance of each channel over outer and inner (two passes,
// accumulated in float64).
func ChannelStats(mean, variance, x []float32, outer, c, inner int) {
	ParallelFor(c, max(1, normGrain/max(outer*inner, 1)), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for o := 0; o < outer; o++ {
				s += blockSum(x[(o*c+ch)*inner : (o*c+ch+1)*inner])
			}
			cnt := float64(outer * inner)
			m := s / cnt
			mf := float32(m)
			var s1, s2 float64
			for o := 0; o < outer; o++ {
				a, b := blockDev(x[(o*c+ch)*inner:(o*c+ch+1)*inner], mf)
				s1 += a
				s2 += b
			}
			d := s1 / cnt
			mean[ch], variance[ch] = float32(float64(mf)+d), float32(max(s2/cnt-d*d, 0))
		}
	})
}

// ChannelAffine sets y = x·scale[ch] + shift[ch] for x viewed as
// [outer, c, inner]; shift may be nil.
func ChannelAffine(y, x, scale, shift []float32, outer, c, inner int) {
	if inner == 1 {
		// Channels last: each row of c values at once.
		ParallelFor(outer, max(1, normGrain/max(c, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				if shift != nil {
					lnAffineVec(y[r*c:(r+1)*c], x[r*c:(r+1)*c], scale, shift, 0, 1)
				} else {
					lnScaleVec(y[r*c:(r+1)*c], x[r*c:(r+1)*c], scale, 0, 1)
				}
			}
		})
		return
	}
	ParallelFor(outer*c, max(1, normGrain/max(inner, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			ch := t % c
			a := scale[ch]
			var b float32
			if shift != nil {
				b = shift[ch]
			}
			xr, yr := x[t*inner:(t+1)*inner], y[t*inner:(t+1)*inner]
			for i, v := range xr {
				yr[i] = v*a + b
			}
		}
	})
}

// ChannelNormGrad computes the gradients of y = x̂·w[ch] + b[ch] with
// x̂ = (x − mean[ch])·rstd[ch], for x viewed as [outer, c, inner]: dw =
// Σ g·x̂, db = Σ g, and dx = w·rstd·(g − (Σg + x̂·Σg·x̂)/M) when the
// statistics came from this batch (batchStats, M = outer·inner), else
// dx = w·rstd·g. Any output may be nil; mean and rstd nil mean 0 and 1,
// w nil means 1.
func ChannelNormGrad(dx, dw, db, g, x, mean, rstd, w []float32, outer, c, inner int, batchStats bool) {
	if inner == 1 && !batchStats && mean == nil && rstd == nil {
		affineGradRows(dx, dw, db, g, x, w, outer, c)
		return
	}
	// Per-channel sums first (needed by dw, db and the batch-stat dx).
	sg := make([]float64, c)
	sgx := make([]float64, c)
	needSums := dw != nil || db != nil || (dx != nil && batchStats)
	if needSums {
		ParallelFor(c, max(1, normGrain/max(outer*inner, 1)), func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				m, rs := chanStat(mean, rstd, ch)
				var a, b float64
				for o := 0; o < outer; o++ {
					off := (o*c + ch) * inner
					sa, sb := blockGradSums(g[off:off+inner], nil, x[off:off+inner], m)
					a += sa
					b += sb
				}
				sg[ch], sgx[ch] = a, b*float64(rs)
			}
		})
	}
	for ch := 0; ch < c; ch++ {
		if dw != nil {
			dw[ch] = float32(sgx[ch])
		}
		if db != nil {
			db[ch] = float32(sg[ch])
		}
	}
	if dx == nil {
		return
	}
	cnt := float64(outer * inner)
	ParallelFor(outer*c, max(1, normGrain/max(inner, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			ch := t % c
			m, rs := chanStat(mean, rstd, ch)
			k := rs
			if w != nil {
				k *= w[ch]
			}
			gr, dr := g[t*inner:(t+1)*inner], dx[t*inner:(t+1)*inner]
			if !batchStats {
				for i, gv := range gr {
					dr[i] = k * gv
				}
				continue
			}
			a := float32(sg[ch] / cnt)
			b := float32(sgx[ch] / cnt)
			xr := x[t*inner : (t+1)*inner]
			for i, gv := range gr {
				dr[i] = k * (gv - a - (xr[i]-m)*rs*b)
			}
		}
	})
}

func chanStat(mean, rstd []float32, ch int) (float32, float32) {
	m, rs := float32(0), float32(1)
	if mean != nil {
		m = mean[ch]
	}
	if rstd != nil {
		rs = rstd[ch]
	}
	return m, rs
}

// The row reductions below run the vector kernels of vmath: float32 lanes
// added into float64 every 128 elements (no lane sums more than 16 values),
// fast and accurate.

// blockSum returns Σ x.
func blockSum(x []float32) float64 { return sumVec(x) }

// blockDev returns Σ (x − m) and Σ (x − m)².
func blockDev(x []float32, m float32) (float64, float64) { return sumDevVec(x, m) }

// blockGradSums returns Σ g·w and Σ g·w·(x − m) (w nil means 1).
func blockGradSums(g, w, x []float32, m float32) (float64, float64) {
	if w == nil {
		return gradSumsVec(g, x, m)
	}
	return gradSumsWVec(g, w, x, m)
}

// affineRowBlock is the number of rows affineGradRows sums in float32
// before adding the block into its float64 totals.
const affineRowBlock = 64

// affineGradRows is ChannelNormGrad for y = x·w + b over rows of c
// channels (inner = 1, no statistics): dx = g·w, dw = Σ g·x and db = Σ g
// down the columns, from one pass over g and x. Workers take row ranges
// and keep per-column partial sums, float32 within blocks of rows and
// float64 across them.
func affineGradRows(dx, dw, db, g, x, w []float32, rows, c int) {
	chunks := max(1, min(Workers(), rows/affineRowBlock))
	per := (rows + chunks - 1) / chunks
	sums := make([][]float64, chunks)
	ParallelTasks(chunks, func(i int) {
		lo, hi := i*per, min(rows, (i+1)*per)
		var tot []float64
		var accG, accGX []float32
		if dw != nil || db != nil {
			tot = make([]float64, 2*c)
			accG, accGX = make([]float32, c), make([]float32, c)
		}
		for r0 := lo; r0 < hi; r0 += affineRowBlock {
			r1 := min(hi, r0+affineRowBlock)
			for r := r0; r < r1; r++ {
				gr, xr := g[r*c:(r+1)*c], x[r*c:(r+1)*c]
				if db != nil {
					addVec(accG, accG, gr)
				}
				if dw != nil {
					fmaAccVec(accGX, accGX, gr, xr)
				}
				if dx != nil {
					if w != nil {
						mulVec(dx[r*c:(r+1)*c], gr, w)
					} else {
						copy(dx[r*c:(r+1)*c], gr)
					}
				}
			}
			if tot != nil {
				for j := 0; j < c; j++ {
					tot[j] += float64(accG[j])
					tot[c+j] += float64(accGX[j])
				}
				clear(accG)
				clear(accGX)
			}
		}
		sums[i] = tot
	})
	if dw == nil && db == nil {
		return
	}
	for j := 0; j < c; j++ {
		var sg, sgx float64
		for _, t := range sums {
			if t != nil {
				sg += t[j]
				sgx += t[c+j]
			}
		}
		if db != nil {
			db[j] = float32(sg)
		}
		if dw != nil {
			dw[j] = float32(sgx)
		}
	}
}
