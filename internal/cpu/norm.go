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
				w, b := w[:n], b[:n]
				for i, xv := range xr {
					yr[i] = (xv-mf)*rs*w[i] + b[i]
				}
			case w != nil:
				w := w[:n]
				for i, xv := range xr {
					yr[i] = (xv - mf) * rs * w[i]
				}
			case b != nil:
				b := b[:n]
				for i, xv := range xr {
					yr[i] = (xv-mf)*rs + b[i]
				}
			default:
				for i, xv := range xr {
					yr[i] = (xv - mf) * rs
				}
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
					w := w[:n]
					for i, xv := range xr {
						dr[i] = rs*(gr[i]*w[i]-a) - (xv-m)*c
					}
					continue
				}
				for i, xv := range xr {
					dr[i] = rs*(gr[i]-a) - (xv-m)*c
				}
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
				xr = xr[:len(gr)]
				m, rs := mean[r], rstd[r]
				for i, gv := range gr {
					fw[i] += gv * ((xr[i] - m) * rs)
					fb[i] += gv
				}
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

// The row reductions below accumulate in eight float32 lanes over blocks of
// normBlock elements and add each block's total into float64: fast (the
// lanes are independent) and accurate (no lane sums more than 32 values).
const normBlock = 256

// blockSum returns Σ x.
func blockSum(x []float32) float64 {
	var total float64
	for len(x) > 0 {
		b := x[:min(len(x), normBlock)]
		x = x[len(b):]
		var s0, s1, s2, s3, s4, s5, s6, s7 float32
		i := 0
		for ; i+8 <= len(b); i += 8 {
			v := b[i : i+8 : i+8]
			s0 += v[0]
			s1 += v[1]
			s2 += v[2]
			s3 += v[3]
			s4 += v[4]
			s5 += v[5]
			s6 += v[6]
			s7 += v[7]
		}
		for ; i < len(b); i++ {
			s0 += b[i]
		}
		total += float64(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)))
	}
	return total
}

// blockDev returns Σ (x − m) and Σ (x − m)².
func blockDev(x []float32, m float32) (float64, float64) {
	var t1, t2 float64
	for len(x) > 0 {
		b := x[:min(len(x), normBlock)]
		x = x[len(b):]
		var a0, a1, a2, a3, q0, q1, q2, q3 float32
		i := 0
		for ; i+4 <= len(b); i += 4 {
			v := b[i : i+4 : i+4]
			d0, d1, d2, d3 := v[0]-m, v[1]-m, v[2]-m, v[3]-m
			a0 += d0
			a1 += d1
			a2 += d2
			a3 += d3
			q0 += d0 * d0
			q1 += d1 * d1
			q2 += d2 * d2
			q3 += d3 * d3
		}
		for ; i < len(b); i++ {
			d := b[i] - m
			a0 += d
			q0 += d * d
		}
		t1 += float64((a0 + a1) + (a2 + a3))
		t2 += float64((q0 + q1) + (q2 + q3))
	}
	return t1, t2
}

// blockGradSums returns Σ g·w and Σ g·w·(x − m) (w nil means 1).
func blockGradSums(g, w, x []float32, m float32) (float64, float64) {
	var t1, t2 float64
	for off := 0; off < len(g); off += normBlock {
		end := min(off+normBlock, len(g))
		gb, xb := g[off:end], x[off:end]
		xb = xb[:len(gb)]
		var a0, a1, a2, a3, q0, q1, q2, q3 float32
		i := 0
		if w != nil {
			wb := w[off:end]
			wb = wb[:len(gb)]
			for ; i+4 <= len(gb); i += 4 {
				g0, g1, g2, g3 := gb[i]*wb[i], gb[i+1]*wb[i+1], gb[i+2]*wb[i+2], gb[i+3]*wb[i+3]
				a0 += g0
				a1 += g1
				a2 += g2
				a3 += g3
				q0 += g0 * (xb[i] - m)
				q1 += g1 * (xb[i+1] - m)
				q2 += g2 * (xb[i+2] - m)
				q3 += g3 * (xb[i+3] - m)
			}
			for ; i < len(gb); i++ {
				gv := gb[i] * wb[i]
				a0 += gv
				q0 += gv * (xb[i] - m)
			}
		} else {
			for ; i+4 <= len(gb); i += 4 {
				g0, g1, g2, g3 := gb[i], gb[i+1], gb[i+2], gb[i+3]
				a0 += g0
				a1 += g1
				a2 += g2
				a3 += g3
				q0 += g0 * (xb[i] - m)
				q1 += g1 * (xb[i+1] - m)
				q2 += g2 * (xb[i+2] - m)
				q3 += g3 * (xb[i+3] - m)
			}
			for ; i < len(gb); i++ {
				a0 += gb[i]
				q0 += gb[i] * (xb[i] - m)
			}
		}
		t1 += float64((a0 + a1) + (a2 + a3))
		t2 += float64((q0 + q1) + (q2 + q3))
	}
	return t1, t2
}
