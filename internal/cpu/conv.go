package cpu

// ConvGeom is the geometry of a 2-D sliding window over N images of C planes
// of H×W: KH×KW taps spaced DH, DW apart (dilation), moved SH, SW at a time,
// with PH rows of padding on top and PW columns on the left, giving OH×OW
// outputs. Padding at the bottom and right is implied by OH and OW: any tap
// that falls outside the image reads zero.
type ConvGeom struct {
	N, C, H, W int
	KH, KW     int
	OH, OW     int
	SH, SW     int
	PH, PW     int
	DH, DW     int
}

// convGrain is the number of output elements below which a parallel kernel
// stops splitting work.
const convGrain = 1 << 14

// validRange returns the outputs o in [0, n) whose tap o·stride + off lies in
// [0, size).
func validRange(n, stride, off, size int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	last := size - 1 - off
	if last < 0 {
		return 0, 0
	}
	hi = min(n, last/stride+1)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// Im2col writes the patches of images [first, first+count) of x (N×C×H×W)
// into col: the value that tap (c, kh, kw) of output position p = oh·OW + ow
// of image first+j reads goes to col[r·rowStride + j·imageStride + p] with
// row r = (c·KH + kh)·KW + kw. Taps in the padding write zero. Rows are
// filled in parallel.
func Im2col(g ConvGeom, col, x []float32, first, count, rowStride, imageStride int) {
	rows := g.C * g.KH * g.KW
	l := g.OH * g.OW
	hw := g.H * g.W
	ParallelFor(rows*count, max(1, convGrain/max(l, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			r, j := t/count, t%count
			c, kh, kw := r/(g.KH*g.KW), (r/g.KW)%g.KH, r%g.KW
			dst := col[r*rowStride+j*imageStride:][:l]
			src := x[((first+j)*g.C+c)*hw:][:hw]
			im2colRow(&g, dst, src, kh, kw)
		}
	})
}

// im2colRow fills one row of col (all OH×OW positions of one tap) from one
// input plane.
func im2colRow(g *ConvGeom, dst, src []float32, kh, kw int) {
	offH, offW := kh*g.DH-g.PH, kw*g.DW-g.PW
	hlo, hhi := validRange(g.OH, g.SH, offH, g.H)
	wlo, whi := validRange(g.OW, g.SW, offW, g.W)
	clear(dst[:hlo*g.OW])
	clear(dst[hhi*g.OW:])
	for oh := hlo; oh < hhi; oh++ {
		d := dst[oh*g.OW : (oh+1)*g.OW]
		s := src[(oh*g.SH+offH)*g.W:][:g.W]
		clear(d[:wlo])
		clear(d[whi:])
		if whi <= wlo {
			continue
		}
		if g.SW == 1 {
			copy(d[wlo:whi], s[wlo+offW:whi+offW])
			continue
		}
		for ow := wlo; ow < whi; ow++ {
			d[ow] = s[ow*g.SW+offW]
		}
	}
}

// Col2im is the adjoint of Im2col: it adds every entry of col back into the
// input position it was read from, accumulating into dx (N×C×H×W) for
// images [first, first+count). Planes are processed in parallel, so no two
// workers write the same element.
func Col2im(g ConvGeom, dx, col []float32, first, count, rowStride, imageStride int) {
	l := g.OH * g.OW
	hw := g.H * g.W
	kk := g.KH * g.KW
	ParallelFor(count*g.C, max(1, convGrain/max(l*kk, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			j, c := t/g.C, t%g.C
			dst := dx[((first+j)*g.C+c)*hw:][:hw]
			for k := 0; k < kk; k++ {
				r := c*kk + k
				src := col[r*rowStride+j*imageStride:][:l]
				col2imRow(&g, dst, src, k/g.KW, k%g.KW)
			}
		}
	})
}

func col2imRow(g *ConvGeom, dst, src []float32, kh, kw int) {
	offH, offW := kh*g.DH-g.PH, kw*g.DW-g.PW
	hlo, hhi := validRange(g.OH, g.SH, offH, g.H)
	wlo, whi := validRange(g.OW, g.SW, offW, g.W)
	if whi <= wlo {
		return
	}
	for oh := hlo; oh < hhi; oh++ {
		s := src[oh*g.OW : (oh+1)*g.OW]
		d := dst[(oh*g.SH+offH)*g.W:][:g.W]
		if g.SW == 1 {
			convAxpy(1, s[wlo:whi], d[wlo+offW:whi+offW])
			continue
		}
		for ow := wlo; ow < whi; ow++ {
			d[ow*g.SW+offW] += s[ow]
		}
	}
}

// DepthwiseConv2d is the direct convolution of each plane with its own
// filter (groups = channels, one filter per channel): y (N×C×OH×OW) gets
// Σ w[c, kh, kw]·x[n, c, tap] plus b[c] (b may be nil). w is C×KH×KW.
// Planes run in parallel.
func DepthwiseConv2d(g ConvGeom, y, x, w, b []float32) {
	hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*kk, 1)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			c := t % g.C
			out := y[t*l : (t+1)*l]
			in := x[t*hw : (t+1)*hw]
			wc := w[c*kk : (c+1)*kk]
			bias := float32(0)
			if b != nil {
				bias = b[c]
			}
			for i := range out {
				out[i] = bias
			}
			for kh := 0; kh < g.KH; kh++ {
				offH := kh*g.DH - g.PH
				hlo, hhi := validRange(g.OH, g.SH, offH, g.H)
				for kw := 0; kw < g.KW; kw++ {
					offW := kw*g.DW - g.PW
					wlo, whi := validRange(g.OW, g.SW, offW, g.W)
					if whi <= wlo {
						continue
					}
					wv := wc[kh*g.KW+kw]
					for oh := hlo; oh < hhi; oh++ {
						o := out[oh*g.OW : (oh+1)*g.OW]
						s := in[(oh*g.SH+offH)*g.W:][:g.W]
						if g.SW == 1 {
							convAxpy(wv, s[wlo+offW:whi+offW], o[wlo:whi])
							continue
						}
						for ow := wlo; ow < whi; ow++ {
							o[ow] += wv * s[ow*g.SW+offW]
						}
					}
				}
			}
		}
	})
}

// DepthwiseConv2dGrad computes the gradients of DepthwiseConv2d from the
// output gradient gy: dx (N×C×H×W, overwritten) and dw (C×KH×KW,
// overwritten); either may be nil. The bias gradient is a plain sum of gy
// and is left to the caller.
func DepthwiseConv2dGrad(g ConvGeom, dx, dw, gy, x, w []float32) {
	hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	if dx != nil {
		ParallelFor(g.N*g.C, max(1, convGrain/max(l*kk, 1)), func(lo, hi int) {
			for t := lo; t < hi; t++ {
				c := t % g.C
				d := dx[t*hw : (t+1)*hw]
				clear(d)
				gp := gy[t*l : (t+1)*l]
				wc := w[c*kk : (c+1)*kk]
				for kh := 0; kh < g.KH; kh++ {
					offH := kh*g.DH - g.PH
					hlo, hhi := validRange(g.OH, g.SH, offH, g.H)
					for kw := 0; kw < g.KW; kw++ {
						offW := kw*g.DW - g.PW
						wlo, whi := validRange(g.OW, g.SW, offW, g.W)
						if whi <= wlo {
							continue
						}
						wv := wc[kh*g.KW+kw]
						for oh := hlo; oh < hhi; oh++ {
							s := gp[oh*g.OW : (oh+1)*g.OW]
							dr := d[(oh*g.SH+offH)*g.W:][:g.W]
							if g.SW == 1 {
								convAxpy(wv, s[wlo:whi], dr[wlo+offW:whi+offW])
								continue
							}
							for ow := wlo; ow < whi; ow++ {
								dr[ow*g.SW+offW] += wv * s[ow]
							}
						}
					}
				}
			}
		})
	}
	if dw != nil {
		// One task per channel: it sums over every image, so no two tasks
		// write the same filter.
		ParallelFor(g.C, max(1, convGrain/max(g.N*l*kk, 1)), func(lo, hi int) {
			acc := make([]float64, kk)
			for c := lo; c < hi; c++ {
				clear(acc)
				for n := 0; n < g.N; n++ {
					t := n*g.C + c
					gp := gy[t*l : (t+1)*l]
					in := x[t*hw : (t+1)*hw]
					for kh := 0; kh < g.KH; kh++ {
						offH := kh*g.DH - g.PH
						hlo, hhi := validRange(g.OH, g.SH, offH, g.H)
						for kw := 0; kw < g.KW; kw++ {
							offW := kw*g.DW - g.PW
							wlo, whi := validRange(g.OW, g.SW, offW, g.W)
							if whi <= wlo {
								continue
							}
							var s float32
							for oh := hlo; oh < hhi; oh++ {
								gr := gp[oh*g.OW : (oh+1)*g.OW]
								xr := in[(oh*g.SH+offH)*g.W:][:g.W]
								if g.SW == 1 {
									s += convDot(gr[wlo:whi], xr[wlo+offW:whi+offW])
									continue
								}
								for ow := wlo; ow < whi; ow++ {
									s += gr[ow] * xr[ow*g.SW+offW]
								}
							}
							acc[kh*g.KW+kw] += float64(s)
						}
					}
				}
				for k, v := range acc {
					dw[c*kk+k] = float32(v)
				}
			}
		})
	}
}

// convAxpy sets y += a·x (len(x) == len(y)).
func convAxpy(a float32, x, y []float32) {
	if vecAxpy(a, x, y) {
		return
	}
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

// convDot returns Σ x[i]·y[i] (len(y) ≥ len(x)) with four partial sums.
func convDot(x, y []float32) float32 {
	if s, ok := vecDot(x, y); ok {
		return s
	}
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
