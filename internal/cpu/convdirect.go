package cpu

import (
	"math"
	"sync"
)

// The direct dense convolution: stride 1, one group, no im2col matrix.
//
// Forward (and the input gradient, which is the same operation on the
// output gradient with the kernel flipped and transposed) runs a GEMM
// micro-kernel whose B operand is read in place: for a tile of output
// channels and 32 consecutive output columns of one row, tap t = (c, kh,
// kw) contributes the 32 input values that start at a fixed offset from
// the row's position in a zero-padded copy of the input. The offsets are
// the same for every row, so one table of them replaces the im2col
// matrix, and the input rows a tile reads (all channels, KH rows) stay in
// L1 across the output-channel tiles.
//
// The weight gradient dW[o, (c, kh, kw)] = sum over pixels of gy[o, pix] ·
// xpad[c, pix + tap] is a matrix of dot products: a kernel keeps a 4 × 6
// tile of them in registers, vectorised along the output row, over every
// pixel of every image.

// DirectConv switches the direct kernels on (the default where the CPU
// has AVX-512) or off, for tests and benchmarks.
var DirectConv = haveAVX512

// directSegment is the number of output columns one direct tile covers.
const directSegment = 32

// directEfficiency is the share of a tile's columns that must be real
// output for the direct path to be chosen over im2col.
func directEfficiency(ow int) float64 {
	segs := (ow + directSegment - 1) / directSegment
	return float64(ow) / float64(segs*directSegment)
}

// ConvDirectForward reports whether the forward pass of a convolution
// with geometry g and groups groups runs on the direct kernels.
func ConvDirectForward(g ConvGeom, groups int) bool {
	return DirectConv && groups == 1 && g.SH == 1 && g.SW == 1 && g.OH > 0 &&
		g.OW > 0 && g.C > 0 && directEfficiency(g.OW) >= 0.7 &&
		directOffsetsFit(g.C, g.OH+(g.KH-1)*g.DH, g.OW+(g.KW-1)*g.DW)
}

// ConvDirectInputGrad reports whether the input gradient of a convolution
// with o output channels runs on the direct kernels: it is a forward pass
// over the output gradient whose output is the input's H × W.
func ConvDirectInputGrad(g ConvGeom, groups, o int) bool {
	return DirectConv && groups == 1 && g.SH == 1 && g.SW == 1 && g.H > 0 &&
		g.W > 0 && g.OH > 0 && g.OW > 0 && o > 0 && directEfficiency(g.W) >= 0.7 &&
		directOffsetsFit(o, g.H+(g.KH-1)*g.DH, g.W+(g.KW-1)*g.DW)
}

// ConvDirectWeightGrad reports whether the weight gradient runs on the
// direct kernel (16-column chunks along each output row).
func ConvDirectWeightGrad(g ConvGeom, groups int) bool {
	chunks := (g.OW + 15) / 16
	return DirectConv && groups == 1 && g.SH == 1 && g.SW == 1 && g.OH > 0 &&
		g.OW > 0 && float64(g.OW)/float64(chunks*16) >= 0.5 &&
		directOffsetsFit(g.C, g.OH+(g.KH-1)*g.DH, g.OW+(g.KW-1)*g.DW)
}

// directOffsetsFit reports whether the byte offsets of taps in c padded
// planes of rows × wp floats (and the 32 floats a tile reads past one)
// fit the kernels' int32 offset table.
func directOffsetsFit(c, rows, wp int) bool {
	return 4*(c*rows*wp+directSegment) <= math.MaxInt32
}

// directMR picks the tile height (output channels per tile) for m
// channels: the one that wastes fewer rows, 12 on a tie.
func directMR(m int) int {
	waste := func(mr int) int { return (m+mr-1)/mr*mr - m }
	if waste(8) < waste(12) {
		return 8
	}
	return 12
}

// packDirectA packs the m × k matrix at(i, t) into tiles of mr rows:
// ap[(tile·k + t)·mr + i], zero past row m.
func packDirectA(m, k, mr int, at func(i, t int) float32) []float32 {
	tiles := (m + mr - 1) / mr
	ap := make([]float32, tiles*k*mr)
	for tl := 0; tl < tiles; tl++ {
		for i := 0; i < mr && tl*mr+i < m; i++ {
			for t := 0; t < k; t++ {
				ap[(tl*k+t)*mr+i] = at(tl*mr+i, t)
			}
		}
	}
	return ap
}

// tapOffsets returns the byte offset of tap (c, kh, kw), in that order,
// from an output position in c planes of rows × wp floats.
func tapOffsets(c, kh, kw, dh, dw, rows, wp int) []int32 {
	offs := make([]int32, 0, c*kh*kw)
	for ci := 0; ci < c; ci++ {
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				offs = append(offs, int32(4*(ci*rows*wp+i*dh*wp+j*dw)))
			}
		}
	}
	return offs
}

// padRows copies rows [r0, r0+rows) of the padded version of c planes of
// src (h × w each, placed at row offH and column offW of planes wp wide;
// offsets may be negative to crop) into dst, plane after plane, rows × wp
// floats each. Everything outside src reads zero.
func padRows(dst, src []float32, c, h, w, offH, offW, r0, rows, wp int) {
	lo, hi := max(0, offW), min(wp, offW+w)
	for ci := 0; ci < c; ci++ {
		plane := src[ci*h*w : (ci+1)*h*w]
		for r := 0; r < rows; r++ {
			d := dst[(ci*rows+r)*wp : (ci*rows+r+1)*wp]
			sr := r0 + r - offH
			if sr < 0 || sr >= h || hi <= lo {
				clear(d)
				continue
			}
			clear(d[:lo])
			copy(d[lo:hi], plane[sr*w+lo-offW:sr*w+hi-offW])
			clear(d[hi:])
		}
	}
}

// Scratch of the direct convolutions, pooled by use so that sizes do not
// churn: the forward pass's per-task padded rows, the weight gradient's
// padded batch and its per-worker tile sums.
var directPad, directXpad, directAcc sync.Pool

// directForward computes out[n, m, oh, ow] = bias[m] + sum over taps of
// ap-packed weights times the padded input, for every image: g describes
// the input (c planes of h × w in x, placed at pad offsets g.PH, g.PW,
// possibly negative) and the output size (OH × OW); k = C·KH·KW taps.
func directForward(g ConvGeom, m int, out, x, ap, bias []float32) {
	mr := directMR(m)
	k := g.C * g.KH * g.KW
	tiles := (m + mr - 1) / mr
	wp := g.OW + (g.KW-1)*g.DW
	l := g.OH * g.OW
	// Split each image's rows into blocks so that every worker has work
	// even for one image; each block pads the input rows it reads.
	w := Workers()
	blocks := 1
	if g.N < w {
		blocks = min(g.OH, (2*w+g.N-1)/g.N)
	}
	per := (g.OH + blocks - 1) / blocks
	rows := per + (g.KH-1)*g.DH
	offs := tapOffsets(g.C, g.KH, g.KW, g.DH, g.DW, rows, wp)
	size := g.C*rows*wp + directSegment
	var biasTiles []float32
	if bias != nil {
		biasTiles = make([]float32, tiles*mr)
		copy(biasTiles, bias[:m])
	}
	ParallelTasks(g.N*blocks, func(task int) {
		n, blk := task/blocks, task%blocks
		oh0 := blk * per
		oh1 := min(g.OH, oh0+per)
		if oh0 >= oh1 {
			return
		}
		buf := getBuf(&directPad, size)
		defer putBuf(&directPad, buf)
		clear(buf[size-directSegment:])
		padRows(buf, x[n*g.C*g.H*g.W:(n+1)*g.C*g.H*g.W], g.C, g.H, g.W, g.PH, g.PW, oh0, rows, wp)
		img := out[n*m*l : (n+1)*m*l]
		for oh := oh0; oh < oh1; oh++ {
			for ow := 0; ow < g.OW; ow += directSegment {
				cols := min(directSegment, g.OW-ow)
				base := buf[(oh-oh0)*wp+ow:]
				for t := 0; t < tiles; t++ {
					var b []float32
					if bias != nil {
						b = biasTiles[t*mr : (t+1)*mr]
					}
					c := img[t*mr*l+oh*g.OW+ow:]
					directKernel(mr, k, ap[t*k*mr:(t+1)*k*mr], base, offs, c, l, min(mr, m-t*mr), cols, b)
				}
			}
		}
	})
}

// directPadBudget caps the floats of padded input the weight gradient
// holds at once (16 MiB): larger batches are padded and swept a group of
// images at a time. (A variable so that tests can force small groups.)
var directPadBudget = 4 << 20

// Conv2dDirectWeightGrad computes dw = the gradient of conv(x, w) with
// respect to w given gy, overwriting dw, for a geometry
// ConvDirectWeightGrad accepts: dw[o, (c, kh, kw)] = the sum over images
// and output pixels of gy[n, o, pix] times the input tap (c, kh, kw) at
// pix.
func Conv2dDirectWeightGrad(g ConvGeom, o int, dw, gy, x []float32) {
	k := g.C * g.KH * g.KW
	hp := g.OH + (g.KH-1)*g.DH
	wp := g.OW + (g.KW-1)*g.DW
	plane := hp * wp
	l := g.OH * g.OW
	_, _, _ = dw[o*k-1], gy[g.N*o*l-1], x[g.N*g.C*g.H*g.W-1]
	offs := tapOffsets(g.C, g.KH, g.KW, g.DH, g.DW, hp, wp)
	chunks := g.OW / 16
	mtiles, otiles := (k+5)/6, (o+3)/4
	// Images go in blocks small enough that the input planes one tap
	// tile reads (6 taps span a few channels) stay in L1 while the
	// output-channel tiles' gradient planes stream past from L2.
	kk := g.KH * g.KW
	chans := min(g.C, (6+kk-1)/kk+1)
	nb := max(1, min(g.N, (16<<10)/(4*chans*plane)))
	// Padded input for groups of images (a whole number of blocks).
	group := max(1, min(g.N, directPadBudget/(g.C*plane)))
	group = max(nb, group/nb*nb)
	xpad := getBuf(&directXpad, group*g.C*plane)
	defer putBuf(&directXpad, xpad)
	// Each tile (mt, ot) adds its sums into its 32 floats of acc.
	acc := getBuf(&directAcc, mtiles*otiles*32)
	defer putBuf(&directAcc, acc)
	clear(acc)
	goffs := make([]int64, otiles*4)
	for i := range goffs {
		goffs[i] = int64(4 * min(i, o-1) * l)
	}
	for g0 := 0; g0 < g.N; g0 += group {
		gn := min(group, g.N-g0)
		ParallelFor(gn, 1, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				src := x[(g0+n)*g.C*g.H*g.W : (g0+n+1)*g.C*g.H*g.W]
				padRows(xpad[n*g.C*plane:(n+1)*g.C*plane], src, g.C, g.H, g.W, g.PH, g.PW, 0, hp, wp)
			}
		})
		ParallelFor(mtiles, 1, func(lo, hi int) {
			q := wgradArgs{
				tail:     int64(1)<<(g.OW%16) - 1,
				rows:     int64(g.OH),
				chunks:   int64(chunks),
				rowAdvGy: int64(4 * (g.OW - chunks*16)),
				rowAdvX:  int64(4 * (wp - chunks*16)),
				imgAdvGy: int64(4 * (o - 1) * l),
				imgAdvX:  int64(4 * (g.C*plane - g.OH*wp)),
			}
			for n0 := 0; n0 < gn; n0 += nb {
				q.gy, q.x = &gy[(g0+n0)*o*l], &xpad[n0*g.C*plane]
				for mt := lo; mt < hi; mt++ {
					for j := 0; j < 6; j++ {
						q.xoffs[j] = int64(offs[min(mt*6+j, k-1)])
					}
					for ot := 0; ot < otiles; ot++ {
						copy(q.goffs[:], goffs[ot*4:])
						q.out = &acc[(mt*otiles+ot)*32]
						q.images = int64(min(nb, gn-n0))
						wgradKernel(&q)
					}
				}
			}
		})
	}
	for mt := 0; mt < mtiles; mt++ {
		for ot := 0; ot < otiles; ot++ {
			sums := acc[(mt*otiles+ot)*32:][:32]
			for i := 0; i < 4 && ot*4+i < o; i++ {
				for j := 0; j < 6 && mt*6+j < k; j++ {
					// Where reduce16 left accumulator 6i+j.
					a := 6*i + j
					dw[(ot*4+i)*k+mt*6+j] = sums[16*(a/16)+4*(a%4)+(a%16)/4]
				}
			}
		}
	}
}

// wgradArgs is convWgradKernel's argument block (see conv_gen.go); its
// layout is fixed by the assembly: every field is 8 bytes.
type wgradArgs struct {
	gy, x             *float32
	goffs             [4]int64
	xoffs             [6]int64
	tail              int64
	rows, chunks      int64
	rowAdvGy, rowAdvX int64
	imgAdvGy, imgAdvX int64
	images            int64
	out               *float32
}

// Conv2dDirectForward computes y = conv(x, w) + b (b may be nil) for a
// geometry ConvDirectForward accepts: x [N, C, H, W], w [O, C, KH, KW],
// y [N, O, OH, OW].
func Conv2dDirectForward(g ConvGeom, o int, y, x, w, b []float32) {
	k := g.C * g.KH * g.KW
	ap := packDirectA(o, k, directMR(o), func(i, t int) float32 { return w[i*k+t] })
	directForward(g, o, y, x, ap, b)
}

// Conv2dDirectInputGrad computes dx = the gradient of conv(x, w) with
// respect to x given gy, overwriting dx, for a geometry
// ConvDirectInputGrad accepts: the forward pass of gy with the kernel
// flipped and its channel axes swapped.
func Conv2dDirectInputGrad(g ConvGeom, o int, dx, gy, w []float32) {
	kk := g.KH * g.KW
	k := o * kk
	ck := g.C * kk
	ap := packDirectA(g.C, k, directMR(g.C), func(c, t int) float32 {
		oi, tap := t/kk, t%kk
		return w[oi*ck+c*kk+kk-1-tap]
	})
	t := ConvGeom{
		N: g.N, C: o, H: g.OH, W: g.OW, KH: g.KH, KW: g.KW, OH: g.H, OW: g.W,
		SH: 1, SW: 1, PH: (g.KH-1)*g.DH - g.PH, PW: (g.KW-1)*g.DW - g.PW, DH: g.DH, DW: g.DW,
	}
	directForward(t, g.C, dx, gy, ap, nil)
}
