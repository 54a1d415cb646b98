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

// Im2colGemm computes c = alpha·A·col + beta·c for the im2col matrix col
// of images [first, first+count) without writing col out: the GEMM packs
// its B operand straight from x. gm describes the product as for
// Gemm.Run with B = col (K = the rows of col of one group, N = count·OH·OW,
// batch = groups); cg is the number of input channels per group.
func Im2colGemm(g ConvGeom, gm Gemm, cg int, a, x, c []float32, first, count int) {
	rows := g.colRows(cg)
	gm.PackB = func(i int, dst []float32, pc, kc, col, w, nr int) {
		var buf [8]colSpan
		spans := g.colSpans(buf[:0], first, col, col+w)
		g.im2colRows(dst, nr, x, i*cg*g.H*g.W, rows[pc:pc+kc], spans)
	}
	gm.Run(a, nil, c)
}

// colRow describes one row of the im2col matrix (one channel and tap):
// the channel plane's offset, the tap's offsets and the output columns
// whose tap falls inside the image.
type colRow struct{ plane, offH, offW, wlo, whi int }

// colRows returns the descriptions of the cg·KH·KW rows of one group.
func (g *ConvGeom) colRows(cg int) []colRow {
	rows := make([]colRow, 0, cg*g.KH*g.KW)
	for ci := 0; ci < cg; ci++ {
		for kh := 0; kh < g.KH; kh++ {
			for kw := 0; kw < g.KW; kw++ {
				r := colRow{plane: ci * g.H * g.W, offH: kh*g.DH - g.PH, offW: kw*g.DW - g.PW}
				r.wlo, r.whi = validRange(g.OW, g.SW, r.offW, g.W)
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// colSpan is a run of im2col columns within one output row: seg columns
// from (img, oh, ow), stored from offset k.
type colSpan struct{ img, oh, ow, seg, k int }

// colSpans splits columns [j0, j1) of the im2col matrix of images first, …
// (ordered image, oh, ow) into runs within one output row.
func (g *ConvGeom) colSpans(dst []colSpan, first, j0, j1 int) []colSpan {
	l := g.OH * g.OW
	for j, k := j0, 0; j < j1; {
		pix := j % l
		s := colSpan{img: first + j/l, oh: pix / g.OW, ow: pix % g.OW, k: k}
		s.seg = min(g.OW-s.ow, j1-j)
		dst = append(dst, s)
		j += s.seg
		k += s.seg
	}
	return dst
}

// im2colRows writes the im2col rows described by rows (their planes
// offset by base), restricted to the columns in spans, to consecutive
// width-wide rows of dst, and zeros the rest of each row.
func (g *ConvGeom) im2colRows(dst []float32, width int, x []float32, base int, rows []colRow, spans []colSpan) {
	chw := g.C * g.H * g.W
	used := 0
	if n := len(spans); n > 0 {
		used = spans[n-1].k + spans[n-1].seg
	}
	for ri, r := range rows {
		row := dst[ri*width : (ri+1)*width]
		for _, s := range spans {
			d := row[s.k : s.k+s.seg]
			ih := s.oh*g.SH + r.offH
			if ih < 0 || ih >= g.H {
				clear(d)
				continue
			}
			lo := min(max(r.wlo, s.ow), s.ow+s.seg)
			hi := max(min(max(r.whi, s.ow), s.ow+s.seg), lo)
			if lo > s.ow {
				clear(d[:lo-s.ow])
			}
			if hi < s.ow+s.seg {
				clear(d[hi-s.ow:])
			}
			if hi == lo {
				continue
			}
			src := x[s.img*chw+base+r.plane+ih*g.W:]
			if g.SW == 1 {
				copy(d[lo-s.ow:hi-s.ow], src[lo+r.offW:hi+r.offW])
				continue
			}
			for o := lo; o < hi; o++ {
				d[o-s.ow] = src[o*g.SW+r.offW]
			}
		}
		if used < width {
			clear(row[used:])
		}
	}
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
	if g.SH == 1 && g.SW == 1 {
		depthwiseS1(g, y, x, w, b)
		return
	}
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
	if g.SH == 1 && g.SW == 1 {
		depthwiseS1Grad(g, dx, dw, gy, x, w)
		return
	}
	depthwiseGradGeneral(g, dx, dw, gy, x, w)
}

// depthwiseGradGeneral is DepthwiseConv2dGrad for any stride, one output
// row at a time.
func depthwiseGradGeneral(g ConvGeom, dx, dw, gy, x, w []float32) {
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

// padPlane is the geometry of a stride-1 depthwise convolution on a
// zero-padded copy of each input plane, Hp×Wp with Hp = OH + (KH−1)·DH and
// Wp = OW + (KW−1)·DW. Computing the output in rows Wp wide (the last
// (KW−1)·DW columns of each row are discarded) turns every tap into one
// contiguous axpy or dot of length span over the plane, instead of one
// short call per output row.
type padPlane struct {
	hp, wp, span int
}

func newPadPlane(g ConvGeom) padPlane {
	hp, wp := g.OH+(g.KH-1)*g.DH, g.OW+(g.KW-1)*g.DW
	return padPlane{hp: hp, wp: wp, span: (g.OH-1)*wp + g.OW}
}

// slack is the number of floats past the padded plane that the plane
// kernels may read (dwPlane512 reads a row and 16 columns beyond).
func (p padPlane) slack() int { return p.wp + 32 }

// tap returns the offset in the padded plane of tap (kh, kw).
func (p padPlane) tap(g ConvGeom, kh, kw int) int { return kh*g.DH*p.wp + kw*g.DW }

// load copies an H×W plane into the interior of the padded plane dst,
// whose border must already be zero.
func (p padPlane) load(g ConvGeom, dst, src []float32) {
	n, rows := min(g.W, p.wp-g.PW), min(g.H, p.hp-g.PH)
	if n > 0 && rows > 0 {
		copyRows(dst[g.PH*p.wp+g.PW:], p.wp, src, g.W, rows, n)
	}
}

// depthwiseS1 is DepthwiseConv2d for stride 1 through padded planes.
func depthwiseS1(g ConvGeom, y, x, w, b []float32) {
	hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	pp := newPadPlane(g)
	ParallelFor(g.N*g.C, max(1, convGrain/max(l*kk, 1)), func(lo, hi int) {
		pad := make([]float32, pp.hp*pp.wp+pp.slack())
		for t := lo; t < hi; t++ {
			c := t % g.C
			pp.load(g, pad, x[t*hw:(t+1)*hw])
			bias := float32(0)
			if b != nil {
				bias = b[c]
			}
			convPlane(y[t*l:(t+1)*l], g.OW, g.OH, g.OW, pad, pp.wp, w[c*kk:(c+1)*kk], g.KH, g.KW, g.DH, g.DW, bias)
		}
	})
}

// convPlane sets out[r·outStride+i] = bias + Σ_{a,b} w[a·kw+b]·src[(r+a·dh)·srcStride+i+b·dw]
// for r < rows and i < n: one plane of a stride-1 depthwise convolution
// over a padded input.
func convPlane(out []float32, outStride, rows, n int, src []float32, srcStride int, w []float32, kh, kw, dh, dw int, bias float32) {
	if dwPlane512(out, outStride, rows, n, src, srcStride, w, kh, kw, dh, dw, bias) ||
		dwPlane(out, outStride, rows, n, src, srcStride, w, kh, kw, dh, dw, bias) {
		return
	}
	for r := 0; r < rows; r++ {
		o := out[r*outStride : r*outStride+n]
		for i := range o {
			o[i] = bias
		}
		for a := 0; a < kh; a++ {
			s := src[(r+a*dh)*srcStride:]
			for bb := 0; bb < kw; bb++ {
				convAxpy(w[a*kw+bb], s[bb*dw:bb*dw+n], o)
			}
		}
	}
}

// depthwiseS1Grad is DepthwiseConv2dGrad for stride 1. dx is the
// convolution of the output gradient, zero-padded by the kernel's extent
// less the forward padding, with the flipped filters (computed by the
// forward kernel); each filter tap's gradient is one dot product per plane
// between the output gradient laid out Wp wide (zeros in the discarded
// columns) and the padded input.
func depthwiseS1Grad(g ConvGeom, dx, dw, gy, x, w []float32) {
	hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	pp := newPadPlane(g)
	if dx != nil {
		// The output gradient's padding: negative when the forward padding
		// exceeds the kernel's extent (then the general kernel runs).
		tq, lq := (g.KH-1)*g.DH-g.PH, (g.KW-1)*g.DW-g.PW
		if tq < 0 || lq < 0 {
			depthwiseGradGeneral(g, dx, nil, gy, x, w)
		} else {
			hq, wq := g.H+(g.KH-1)*g.DH, g.W+(g.KW-1)*g.DW
			flip := make([]float32, len(w))
			for c := 0; c < g.C; c++ {
				for k := 0; k < kk; k++ {
					flip[c*kk+k] = w[c*kk+kk-1-k]
				}
			}
			ParallelFor(g.N*g.C, max(1, convGrain/max(hw*kk, 1)), func(lo, hi int) {
				q := make([]float32, hq*wq+wq+32)
				for t := lo; t < hi; t++ {
					c := t % g.C
					gp := gy[t*l : (t+1)*l]
					n := min(g.OW, wq-lq)
					for oh := 0; oh < g.OH && oh+tq < hq; oh++ {
						copy(q[(oh+tq)*wq+lq:][:n], gp[oh*g.OW:][:n])
					}
					convPlane(dx[t*hw:(t+1)*hw], g.W, g.H, g.W, q, wq, flip[c*kk:(c+1)*kk], g.KH, g.KW, g.DH, g.DW, 0)
				}
			})
		}
	}
	// loadGrad lays gy's plane out Wp wide; the extra columns stay zero.
	loadGrad := func(dst, src []float32) {
		for oh := 0; oh < g.OH; oh++ {
			copy(dst[oh*pp.wp:][:g.OW], src[oh*g.OW:(oh+1)*g.OW])
		}
	}
	if dw != nil {
		// One task per channel: it sums over every image, so no two tasks
		// write the same filter.
		ParallelFor(g.C, max(1, convGrain/max(g.N*l*kk, 1)), func(lo, hi int) {
			acc := make([]float64, kk)
			gw := make([]float32, g.OH*pp.wp)
			pad := make([]float32, pp.hp*pp.wp)
			for c := lo; c < hi; c++ {
				clear(acc)
				for n := 0; n < g.N; n++ {
					t := n*g.C + c
					loadGrad(gw, gy[t*l:(t+1)*l])
					pp.load(g, pad, x[t*hw:(t+1)*hw])
					for kh := 0; kh < g.KH; kh++ {
						for kw := 0; kw < g.KW; kw++ {
							off := pp.tap(g, kh, kw)
							acc[kh*g.KW+kw] += float64(convDot(gw[:pp.span], pad[off:off+pp.span]))
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

// Conv2dForward computes y [N, O, OH, OW] = conv(x, w) + b for x
// [N, C, H, W], w [O, C/groups, KH, KW] and b [O] (or nil): on the direct
// kernels where ConvDirectForward allows, otherwise one GEMM per
// image and group with the im2col operand packed straight from x. With
// several images, each worker takes whole images (no synchronisation
// inside a product); a single image runs one parallel product.
func Conv2dForward(g ConvGeom, groups, o int, y, x, w, b []float32) {
	if ConvDirectForward(g, groups) {
		Conv2dDirectForward(g, o, y, x, w, b)
		return
	}
	l := g.OH * g.OW
	cg, og := g.C/groups, o/groups
	kg := cg * g.KH * g.KW
	image := func(n int, serial bool) {
		out := y[n*o*l : (n+1)*o*l]
		beta := float32(0)
		if b != nil {
			for r := 0; r < o; r++ {
				row := out[r*l : (r+1)*l]
				for i := range row {
					row[i] = b[r]
				}
			}
			beta = 1
		}
		gm := Gemm{M: og, N: l, K: kg, Alpha: 1, Beta: beta, Batch: groups,
			LDA: kg, StrideA: og * kg, LDC: l, StrideC: og * l, Serial: serial}
		Im2colGemm(g, gm, cg, w, x, out, n, 1)
	}
	if g.N >= 2 && Workers() > 1 {
		ParallelTasks(g.N, func(n int) { image(n, true) })
		return
	}
	for n := 0; n < g.N; n++ {
		image(n, false)
	}
}
