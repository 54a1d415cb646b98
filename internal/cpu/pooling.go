package cpu

import "math"

// The pooling kernels work on N·C independent planes (g.N·g.C of H×W in,
// OH×OW out) and run planes in parallel. They follow PyTorch's CPU kernels
// exactly: window bounds, divisors and the choice of the maximum.

// tapRanges returns, for each output position o of a window axis, the taps
// k in [lo[o], hi[o]) whose input o·stride − pad + k·dil lies in [0, size).
func tapRanges(out, stride, pad, dil, k, size int) (lo, hi []int) {
	lo, hi = make([]int, out), make([]int, out)
	for o := range lo {
		start := o*stride - pad
		l, h := 0, k
		for l < k && start+l*dil < 0 {
			l++
		}
		for h > l && start+(h-1)*dil >= size {
			h--
		}
		lo[o], hi[o] = l, h
	}
	return lo, hi
}

// maxWindow returns the maximum of the nh×nw taps of one window whose
// first valid tap is in[base] (NaN if any tap is NaN, −Inf for none). The
// common three-wide undilated row is unrolled; otherwise two independent
// chains of max keep the dependency short.
func maxWindow(in []float32, base, w, dh, dw, nh, nw int) float32 {
	best0, best1 := float32(math.Inf(-1)), float32(math.Inf(-1))
	if nw == 3 && dw == 1 {
		for kh := 0; kh < nh; kh++ {
			r := base + kh*dh*w
			s := in[r : r+3 : r+3]
			best0 = max(best0, max(s[0], s[1], s[2]))
		}
		return best0
	}
	for kh := 0; kh < nh; kh++ {
		row := base + kh*dh*w
		kw := 0
		for ; kw+2 <= nw; kw += 2 {
			best0 = max(best0, in[row+kw*dw])
			best1 = max(best1, in[row+(kw+1)*dw])
		}
		if kw < nw {
			best0 = max(best0, in[row+kw*dw])
		}
	}
	return max(best0, best1)
}

// MaxPool2d sets y to the maximum of each window.
func MaxPool2d(g ConvGeom, y, x []float32) {
	hw, l := g.H*g.W, g.OH*g.OW
	khLo, khHi := tapRanges(g.OH, g.SH, g.PH, g.DH, g.KH, g.H)
	kwLo, kwHi := tapRanges(g.OW, g.SW, g.PW, g.DW, g.KW, g.W)
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*g.KH*g.KW, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			in, out := x[t*hw:(t+1)*hw], y[t*l:(t+1)*l]
			for oh := 0; oh < g.OH; oh++ {
				a, b := khLo[oh], khHi[oh]
				h := oh*g.SH - g.PH + a*g.DH
				o := out[oh*g.OW : (oh+1)*g.OW]
				for ow := range o {
					c, e := kwLo[ow], kwHi[ow]
					o[ow] = maxWindow(in, h*g.W+ow*g.SW-g.PW+c*g.DW, g.W, g.DH, g.DW, b-a, e-c)
				}
			}
		}
	})
}

// MaxPool2dGrad sets dx to the gradient of MaxPool2d from its output y: each
// gy element goes to the input element its window chose, as torch chooses
// it: the first tap equal to the maximum, or the last NaN.
func MaxPool2dGrad(g ConvGeom, dx, gy, x, y []float32) {
	hw, l := g.H*g.W, g.OH*g.OW
	khLo, khHi := tapRanges(g.OH, g.SH, g.PH, g.DH, g.KH, g.H)
	kwLo, kwHi := tapRanges(g.OW, g.SW, g.PW, g.DW, g.KW, g.W)
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*g.KH*g.KW, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			in, d, gp, yp := x[t*hw:(t+1)*hw], dx[t*hw:(t+1)*hw], gy[t*l:(t+1)*l], y[t*l:(t+1)*l]
			clear(d)
			for oh := 0; oh < g.OH; oh++ {
				h0 := oh*g.SH - g.PH
				for ow := 0; ow < g.OW; ow++ {
					w0 := ow*g.SW - g.PW
					a, b, c, e := khLo[oh], khHi[oh], kwLo[ow], kwHi[ow]
					m := yp[oh*g.OW+ow]
					arg := -1
					if m == m {
					first:
						for kh := a; kh < b; kh++ {
							base := (h0+kh*g.DH)*g.W + w0
							for kw := c; kw < e; kw++ {
								if in[base+kw*g.DW] == m {
									arg = base + kw*g.DW
									break first
								}
							}
						}
					} else {
						for kh := a; kh < b; kh++ {
							base := (h0+kh*g.DH)*g.W + w0
							for kw := c; kw < e; kw++ {
								if v := in[base+kw*g.DW]; v != v {
									arg = base + kw*g.DW // the last NaN wins
								}
							}
						}
					}
					if arg >= 0 {
						d[arg] += gp[oh*g.OW+ow]
					}
				}
			}
		}
	})
}

// avgWindow returns the clipped window of output (oh, ow) and its divisor,
// as torch's avg_pool2d: with countPad the divisor counts padding inside the
// padded image, and divisor > 0 overrides it.
func avgWindow(g *ConvGeom, oh, ow int, countPad bool, divisor int) (h0, h1, w0, w1 int, div float32) {
	h0, w0 = oh*g.SH-g.PH, ow*g.SW-g.PW
	h1, w1 = min(h0+g.KH, g.H+g.PH), min(w0+g.KW, g.W+g.PW)
	size := (h1 - h0) * (w1 - w0)
	h0, w0 = max(h0, 0), max(w0, 0)
	h1, w1 = min(h1, g.H), min(w1, g.W)
	switch {
	case divisor > 0:
		div = float32(divisor)
	case countPad:
		div = float32(size)
	default:
		div = float32((h1 - h0) * (w1 - w0))
	}
	return
}

// AvgPool2d sets y to the average of each window (no dilation).
func AvgPool2d(g ConvGeom, y, x []float32, countPad bool, divisor int) {
	hw, l := g.H*g.W, g.OH*g.OW
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*g.KH*g.KW, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			in, out := x[t*hw:(t+1)*hw], y[t*l:(t+1)*l]
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					h0, h1, w0, w1, div := avgWindow(&g, oh, ow, countPad, divisor)
					if h0 >= h1 || w0 >= w1 {
						out[oh*g.OW+ow] = 0
						continue
					}
					var s float32
					for ih := h0; ih < h1; ih++ {
						for _, v := range in[ih*g.W+w0 : ih*g.W+w1] {
							s += v
						}
					}
					out[oh*g.OW+ow] = s / div
				}
			}
		}
	})
}

// AvgPool2dGrad sets dx to the gradient of AvgPool2d.
func AvgPool2dGrad(g ConvGeom, dx, gy []float32, countPad bool, divisor int) {
	hw, l := g.H*g.W, g.OH*g.OW
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*g.KH*g.KW, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			d, gp := dx[t*hw:(t+1)*hw], gy[t*l:(t+1)*l]
			clear(d)
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					h0, h1, w0, w1, div := avgWindow(&g, oh, ow, countPad, divisor)
					if h0 >= h1 || w0 >= w1 {
						continue
					}
					v := gp[oh*g.OW+ow] / div
					for ih := h0; ih < h1; ih++ {
						r := d[ih*g.W+w0 : ih*g.W+w1]
						for i := range r {
							r[i] += v
						}
					}
				}
			}
		}
	})
}

// adaptiveRange is torch's adaptive pooling window [floor(o·in/out),
// ceil((o+1)·in/out)).
func adaptiveRange(o, out, in int) (int, int) {
	return o * in / out, ((o+1)*in + out - 1) / out
}

// AdaptiveAvgPool2d sets y (OH×OW per plane) to the averages of torch's
// adaptive windows.
func AdaptiveAvgPool2d(g ConvGeom, y, x []float32) {
	hw, l := g.H*g.W, g.OH*g.OW
	ParallelFor(g.N*g.C, max(1, convGrain/max(hw, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			in, out := x[t*hw:(t+1)*hw], y[t*l:(t+1)*l]
			for oh := 0; oh < g.OH; oh++ {
				h0, h1 := adaptiveRange(oh, g.OH, g.H)
				for ow := 0; ow < g.OW; ow++ {
					w0, w1 := adaptiveRange(ow, g.OW, g.W)
					var s float32
					for ih := h0; ih < h1; ih++ {
						for _, v := range in[ih*g.W+w0 : ih*g.W+w1] {
							s += v
						}
					}
					out[oh*g.OW+ow] = s / float32((h1-h0)*(w1-w0))
				}
			}
		}
	})
}

// AdaptiveAvgPool2dGrad sets dx to the gradient of AdaptiveAvgPool2d.
func AdaptiveAvgPool2dGrad(g ConvGeom, dx, gy []float32) {
	hw, l := g.H*g.W, g.OH*g.OW
	ParallelFor(g.N*g.C, max(1, convGrain/max(hw, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			d, gp := dx[t*hw:(t+1)*hw], gy[t*l:(t+1)*l]
			clear(d)
			for oh := 0; oh < g.OH; oh++ {
				h0, h1 := adaptiveRange(oh, g.OH, g.H)
				for ow := 0; ow < g.OW; ow++ {
					w0, w1 := adaptiveRange(ow, g.OW, g.W)
					v := gp[oh*g.OW+ow] / float32((h1-h0)*(w1-w0))
					for ih := h0; ih < h1; ih++ {
						r := d[ih*g.W+w0 : ih*g.W+w1]
						for i := range r {
							r[i] += v
						}
					}
				}
			}
		}
	})
}
