package autograd

import "fmt"

// ConvGeom is the geometry of a 2-D sliding window, shared by the
// convolution, unfold and pooling kernels of a Device: N images of C planes
// of H×W, KH×KW taps DilH, DilW apart, moved StrideH, StrideW at a time,
// with PadH rows of padding on top and PadW columns on the left, giving
// OH×OW outputs per plane. Padding at the bottom and right is implied by
// OH and OW; taps outside the image read zero.
type ConvGeom struct {
	N, C, H, W       int
	KH, KW           int
	OH, OW           int
	StrideH, StrideW int
	PadH, PadW       int
	DilH, DilW       int
}

// Conv2dOptions configures Conv2d. The zero value is torch's default: stride
// 1, no padding, dilation 1, one group.
type Conv2dOptions struct {
	// Stride is (h, w); zero entries mean 1.
	Stride [2]int
	// Padding is (left, right, top, bottom), the order of
	// torch.nn.functional.pad; SymmetricPadding(h, w) gives torch's
	// padding=(h, w).
	Padding [4]int
	// Same pads so that the output has the input's size (torch's
	// padding='same', stride 1 only): the total d·(k−1) is split with the
	// smaller half first. Padding is ignored then.
	Same bool
	// PadMode is how the padding is filled: PadConstant pads with zeros
	// (torch's padding_mode='zeros'), PadCircular wraps around
	// (padding_mode='circular').
	PadMode PadMode
	// Dilation is (h, w); zero entries mean 1.
	Dilation [2]int
	// Groups splits the channels into groups convolved separately; zero
	// means 1. Groups equal to the input and output channel counts is a
	// depthwise convolution, run by a dedicated direct kernel.
	Groups int
}

// SymmetricPadding returns Conv2dOptions.Padding for h rows on top and
// bottom and w columns on the left and right (torch's padding=(h, w)).
func SymmetricPadding(h, w int) [4]int { return [4]int{w, w, h, h} }

// Conv1dOptions configures Conv1d; the zero value is torch's default.
type Conv1dOptions struct {
	// Stride of the window; zero means 1.
	Stride int
	// Padding is (left, right).
	Padding [2]int
	// Same pads so the output has the input's length (stride 1 only).
	Same bool
	// PadMode is PadConstant (zeros) or PadCircular.
	PadMode PadMode
	// Dilation of the taps; zero means 1.
	Dilation int
	// Groups splits the channels; zero means 1.
	Groups int
}

func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// Conv1d is torch.nn.functional.conv1d: x is [N, C, L] (or [C, L]), w is
// [O, C/groups, K], b is [O] or nil; the result is [N, O, Lout]. Gradients
// flow to x, w and b.
func Conv1d(x, w, b *Tensor, opts Conv1dOptions) *Tensor {
	const op = "Conv1d"
	if x.Dim() == 2 {
		return Conv1d(x.Unsqueeze(0), w, b, opts).Squeeze(0)
	}
	if x.Dim() != 3 || w.Dim() != 3 {
		panic(fmt.Sprintf("autograd: %s: input %v and weight %v: want input [N, C, L] and weight [O, C/groups, K]", op, x.shape, w.shape))
	}
	o := Conv2dOptions{
		Stride:   [2]int{1, orOne(opts.Stride)},
		Padding:  [4]int{opts.Padding[0], opts.Padding[1], 0, 0},
		Same:     opts.Same,
		PadMode:  opts.PadMode,
		Dilation: [2]int{1, orOne(opts.Dilation)},
		Groups:   opts.Groups,
	}
	n, c, l := x.shape[0], x.shape[1], x.shape[2]
	y := conv2d(op, x, w, b, x.Reshape(n, c, 1, l), w.Reshape(w.shape[0], w.shape[1], 1, w.shape[2]), o)
	return y.Reshape(y.shape[0], y.shape[1], y.shape[3])
}

// Conv2d is torch.nn.functional.conv2d: x is [N, C, H, W] (or [C, H, W]),
// w is [O, C/groups, KH, KW], b is [O] or nil; the result is
// [N, O, OH, OW]. It runs as im2col plus a batched GEMM on the device, or
// as a direct kernel when the convolution is depthwise. Gradients flow to
// x, w and b.
func Conv2d(x, w, b *Tensor, opts Conv2dOptions) *Tensor {
	if x.Dim() == 3 {
		return Conv2d(x.Unsqueeze(0), w, b, opts).Squeeze(0)
	}
	if x.Dim() != 4 || w.Dim() != 4 {
		panic(fmt.Sprintf("autograd: Conv2d: input %v and weight %v: want input [N, C, H, W] and weight [O, C/groups, KH, KW]", x.shape, w.shape))
	}
	return conv2d("Conv2d", x, w, b, x, w, opts)
}

// conv2d checks the arguments (naming op and the caller's shapes ux, uw)
// and runs the 4-D convolution of x and w.
func conv2d(op string, ux, uw, b, x, w *Tensor, opts Conv2dOptions) *Tensor {
	if b != nil {
		sameDevice(op, x, w, b)
	} else {
		sameDevice(op, x, w)
	}
	groups := orOne(opts.Groups)
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	o, cg, kh, kw := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	sh, sw := orOne(opts.Stride[0]), orOne(opts.Stride[1])
	dh, dw := orOne(opts.Dilation[0]), orOne(opts.Dilation[1])
	switch {
	case groups < 0 || sh < 0 || sw < 0 || dh < 0 || dw < 0:
		panic(fmt.Sprintf("autograd: %s: input %v, weight %v: negative stride %v, dilation %v or groups %d", op, ux.shape, uw.shape, opts.Stride, opts.Dilation, opts.Groups))
	case c%groups != 0 || o%groups != 0:
		panic(fmt.Sprintf("autograd: %s: input %v and weight %v: %d input and %d output channels are not divisible by groups %d", op, ux.shape, uw.shape, c, o, groups))
	case cg != c/groups:
		panic(fmt.Sprintf("autograd: %s: input %v and weight %v with groups %d: weight needs %d input channels, has %d", op, ux.shape, uw.shape, groups, c/groups, cg))
	case b != nil && (b.Dim() != 1 || b.shape[0] != o):
		panic(fmt.Sprintf("autograd: %s: weight %v needs bias [%d], got %v", op, uw.shape, o, b.shape))
	case kh == 0 || kw == 0:
		panic(fmt.Sprintf("autograd: %s: weight %v has an empty kernel", op, uw.shape))
	}
	pads := opts.Padding
	if opts.Same {
		if sh != 1 || sw != 1 {
			panic(fmt.Sprintf("autograd: %s: input %v, weight %v: padding 'same' needs stride 1, got %v", op, ux.shape, uw.shape, opts.Stride))
		}
		th, tw := dh*(kh-1), dw*(kw-1)
		pads = [4]int{tw / 2, tw - tw/2, th / 2, th - th/2}
	}
	for _, p := range pads {
		if p < 0 {
			panic(fmt.Sprintf("autograd: %s: input %v: negative padding %v", op, ux.shape, pads))
		}
	}
	switch opts.PadMode {
	case PadConstant:
	case PadCircular:
		if pads != [4]int{} {
			if pads[0] > wd || pads[1] > wd || pads[2] > h || pads[3] > h {
				panic(fmt.Sprintf("autograd: %s: circular padding %v larger than input %v", op, pads, ux.shape))
			}
			x = x.Pad(pads[:], PadCircular, 0)
			h, wd = x.shape[2], x.shape[3]
			pads = [4]int{}
		}
	default:
		panic(fmt.Sprintf("autograd: %s: unknown padding mode %d", op, opts.PadMode))
	}
	effH, effW := h+pads[2]+pads[3], wd+pads[0]+pads[1]
	if effH < dh*(kh-1)+1 || effW < dw*(kw-1)+1 {
		panic(fmt.Sprintf("autograd: %s: padded input %v is smaller than the dilated kernel of weight %v", op, ux.shape, uw.shape))
	}
	g := ConvGeom{
		N: n, C: c, H: h, W: wd, KH: kh, KW: kw,
		OH: (effH-dh*(kh-1)-1)/sh + 1, OW: (effW-dw*(kw-1)-1)/sw + 1,
		StrideH: sh, StrideW: sw, PadH: pads[2], PadW: pads[0], DilH: dh, DilW: dw,
	}
	checkRank(op, []int{n, o, g.OH, g.OW})
	if groups == c && o == c && groups > 1 {
		return depthwiseConv(g, x, w, b)
	}
	return convIm2col(g, groups, x, w, b)
}

// bufOf is t's buffer, or nil for a nil tensor.
func bufOf(t *Tensor) Buffer {
	if t == nil {
		return nil
	}
	return t.buf
}

// convBiasGrad sums gy ([N, O, L]) over N and L into a new [O] tensor.
func convBiasGrad(gy *Tensor, n, o, l int) *Tensor {
	dev := gy.dev
	part := empty(dev, []int{n * o})
	if l > 0 {
		dev.Reduce(ReduceSum, part.buf, gy.buf, n*o, l, 1)
	}
	db := empty(dev, []int{o})
	if n > 0 {
		dev.Reduce(ReduceSum, db.buf, part.buf, 1, n, o)
	}
	return db
}

func depthwiseConv(g ConvGeom, x, w, b *Tensor) *Tensor {
	dev := x.dev
	y := output(dev, []int{g.N, g.C, g.OH, g.OW})
	if y.Numel() > 0 {
		dev.DepthwiseConv2d(g, y.buf, x.buf, w.buf, bufOf(b))
	}
	record("Conv2d", y, []*Tensor{x, w, b}, func(gy *Tensor) []*Tensor {
		var dx, dw, db *Tensor
		if x.requiresGrad {
			dx = empty(dev, x.shape)
		}
		if w.requiresGrad {
			dw = empty(dev, w.shape)
		}
		if (dx != nil || dw != nil) && gy.Numel() > 0 {
			dev.DepthwiseConv2dGrad(g, bufOf(dx), bufOf(dw), gy.buf, x.buf, w.buf)
		}
		if b != nil && b.requiresGrad {
			db = convBiasGrad(gy, g.N, g.C, g.OH*g.OW)
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// convChunk picks how many images go through one im2col buffer: enough for
// GEMMs at least ~1024 columns wide, with the buffer kept under 4M floats.
func convChunk(n, l, rows int) int {
	nc := max(1, min(n, (1024+l-1)/max(l, 1)))
	for nc > 1 && rows*nc*l > 1<<22 {
		nc--
	}
	return nc
}

// convIm2col runs a (grouped) convolution as im2col and one batched GEMM
// per chunk of images: for group gi, Y_gi [Og, cnt·L] = W_gi [Og, Kg] ·
// col_gi [Kg, cnt·L], with col's columns ordered (image, oh, ow). With one
// image per chunk the GEMM writes straight into y; otherwise a strided copy
// puts the [O, cnt, L] result into y's [cnt, O, L] layout.
func convIm2col(g ConvGeom, groups int, x, w, b *Tensor) *Tensor {
	dev := x.dev
	n, c, o := g.N, g.C, w.shape[0]
	cg, og := c/groups, o/groups
	kk := g.KH * g.KW
	kg := cg * kk
	l := g.OH * g.OW
	y := output(dev, []int{n, o, g.OH, g.OW})
	if y.Numel() == 0 {
		record("Conv2d", y, []*Tensor{x, w, b}, func(gy *Tensor) []*Tensor {
			var db *Tensor
			if b != nil {
				db = ZerosLike(b)
			}
			return []*Tensor{ZerosLike(x), ZerosLike(w), db}
		})
		return y
	}
	nc := convChunk(n, l, c*kk)
	// A 1×1 kernel with stride 1 and no padding needs no im2col when each
	// chunk is one image: the image itself is the column matrix.
	pointwise := kk == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0 &&
		g.OH == g.H && g.OW == g.W && nc == 1
	kern, _ := dev.(convForwarder)
	if pointwise {
		kern = nil
	}
	var col, tmp Buffer
	if kern != nil {
		kern.conv2dForward(g, groups, o, y.buf, x.buf, w.buf, bufOf(b))
	} else {
		if !pointwise {
			col = dev.Alloc(c * kk * nc * l)
		}
		if nc > 1 {
			tmp = dev.Alloc(o * nc * l)
		}
	}
	for n0 := 0; n0 < n && kern == nil; n0 += nc {
		cnt := min(nc, n-n0)
		width := cnt * l
		colBuf, colOff := col, 0
		if pointwise {
			colBuf, colOff = x.buf, n0*c*l
		} else {
			dev.Im2col(g, col, x.buf, n0, cnt, width, l)
		}
		out, outOff := tmp, 0
		if cnt == 1 {
			out, outOff = y.buf, n0*o*l
		}
		beta := float32(0)
		if b != nil {
			// Every row o of the output starts as b[o].
			dev.Copy([]int{o, width}, out, Layout{Offset: outOff, Strides: []int{width, 1}}, b.buf, Layout{Strides: []int{1, 0}}, false)
			beta = 1
		}
		dev.Gemm(GemmArgs{
			M: og, N: width, K: kg, Alpha: 1, Beta: beta, Batch: groups,
			LDA: kg, StrideA: og * kg,
			OffB: colOff, LDB: width, StrideB: kg * width,
			OffC: outOff, LDC: width, StrideC: og * width,
		}, w.buf, colBuf, out)
		if cnt > 1 {
			// [O, cnt, L] → y[n0:n0+cnt] as [cnt, O, L].
			dev.Copy([]int{cnt, o, l}, y.buf, Layout{Offset: n0 * o * l, Strides: []int{o * l, l, 1}},
				tmp, Layout{Strides: []int{l, width, 1}}, false)
		}
	}
	freeScratch(col, tmp)
	// Backward allocates its own scratch: keeping the forward's col buffer
	// in the graph would hold one per layer until backward runs.
	record("Conv2d", y, []*Tensor{x, w, b}, func(gy *Tensor) []*Tensor {
		var dx, dw, db *Tensor
		loopDw, loopDx := w.requiresGrad, x.requiresGrad
		if bk, ok := dev.(convBackwarder); ok && !pointwise {
			// The direct kernels overwrite their output; the im2col loop
			// below accumulates into it, so a declined one is cleared.
			if loopDx {
				dx = output(dev, x.shape)
				if loopDx = !bk.conv2dInputGrad(g, groups, o, dx.buf, gy.buf, w.buf); loopDx {
					dev.Fill(dx.buf, 0)
				}
			}
			if loopDw {
				dw = output(dev, w.shape)
				if loopDw = !bk.conv2dWeightGrad(g, groups, o, dw.buf, gy.buf, x.buf); loopDw {
					dev.Fill(dw.buf, 0)
				}
			}
		}
		var col, dcol, gt Buffer
		if loopDw && !pointwise {
			col = dev.Alloc(c * kk * nc * l)
		}
		if loopDx {
			if dx == nil {
				dx = empty(dev, x.shape)
			}
			if !pointwise {
				dcol = dev.Alloc(c * kk * nc * l)
			}
		}
		if loopDw && dw == nil {
			dw = empty(dev, w.shape)
		}
		if nc > 1 && (loopDx || loopDw) {
			gt = dev.Alloc(o * nc * l)
		}
		for n0 := 0; n0 < n && (loopDx || loopDw); n0 += nc {
			cnt := min(nc, n-n0)
			width := cnt * l
			gBuf, gOff := gy.buf, n0*o*l
			if cnt > 1 {
				// y's [cnt, O, L] → [O, cnt, L].
				dev.Copy([]int{cnt, o, l}, gt, Layout{Strides: []int{l, width, 1}},
					gy.buf, Layout{Offset: n0 * o * l, Strides: []int{o * l, l, 1}}, false)
				gBuf, gOff = gt, 0
			}
			if loopDw {
				colBuf, colOff := col, 0
				if pointwise {
					colBuf, colOff = x.buf, n0*c*l
				} else {
					dev.Im2col(g, col, x.buf, n0, cnt, width, l)
				}
				// dW_gi += G_gi [Og, width] · col_giᵀ [width, Kg].
				args := GemmArgs{
					TransB: true, M: og, N: kg, K: width, Alpha: 1, Beta: 1, Batch: groups,
					OffA: gOff, LDA: width, StrideA: og * width,
					OffB: colOff, LDB: width, StrideB: kg * width,
					LDC: kg, StrideC: og * kg,
				}
				dev.Gemm(args, gBuf, colBuf, dw.buf)
			}
			if loopDx {
				// dcol_gi [Kg, width] = W_giᵀ · G_gi, then col2im.
				args := GemmArgs{
					TransA: true, M: kg, N: width, K: og, Alpha: 1, Beta: 0, Batch: groups,
					LDA: kg, StrideA: og * kg,
					OffB: gOff, LDB: width, StrideB: og * width,
					LDC: width, StrideC: kg * width,
				}
				if pointwise {
					args.OffC = n0 * c * l
					dev.Gemm(args, w.buf, gBuf, dx.buf)
				} else {
					dev.Gemm(args, w.buf, gBuf, dcol)
					dev.Col2im(g, dx.buf, dcol, n0, cnt, width, l)
				}
			}
		}
		freeScratch(col, dcol, gt)
		if b != nil && b.requiresGrad {
			db = convBiasGrad(gy, n, o, l)
		}
		return []*Tensor{dx, dw, db}
	})
	return y
}

// UnfoldOptions configures Unfold and Fold (torch.nn.functional.unfold and
// fold). Zero Stride and Dilation entries mean 1.
type UnfoldOptions struct {
	// Kernel is the window size (h, w); both must be positive.
	Kernel [2]int
	// Dilation is (h, w).
	Dilation [2]int
	// Padding is (h, w), added on both sides.
	Padding [2]int
	// Stride is (h, w).
	Stride [2]int
}

func (o UnfoldOptions) geom(op string, shape []int, n, c, h, w int) ConvGeom {
	kh, kw := o.Kernel[0], o.Kernel[1]
	sh, sw := orOne(o.Stride[0]), orOne(o.Stride[1])
	dh, dw := orOne(o.Dilation[0]), orOne(o.Dilation[1])
	ph, pw := o.Padding[0], o.Padding[1]
	if kh <= 0 || kw <= 0 || sh < 0 || sw < 0 || dh < 0 || dw < 0 || ph < 0 || pw < 0 {
		panic(fmt.Sprintf("autograd: %s: input %v: invalid kernel %v, stride %v, dilation %v or padding %v", op, shape, o.Kernel, o.Stride, o.Dilation, o.Padding))
	}
	effH, effW := h+2*ph, w+2*pw
	if effH < dh*(kh-1)+1 || effW < dw*(kw-1)+1 {
		panic(fmt.Sprintf("autograd: %s: padded size [%d %d] of input %v is smaller than the dilated kernel %v", op, effH, effW, shape, o.Kernel))
	}
	return ConvGeom{
		N: n, C: c, H: h, W: w, KH: kh, KW: kw,
		OH: (effH-dh*(kh-1)-1)/sh + 1, OW: (effW-dw*(kw-1)-1)/sw + 1,
		StrideH: sh, StrideW: sw, PadH: ph, PadW: pw, DilH: dh, DilW: dw,
	}
}

// Unfold extracts sliding patches as torch.nn.functional.unfold: x
// [N, C, H, W] becomes [N, C·KH·KW, L] with L the number of window
// positions, features ordered (c, kh, kw) with c slowest. Its gradient is
// Fold.
func Unfold(x *Tensor, opts UnfoldOptions) *Tensor {
	if x.Dim() != 4 {
		panic(fmt.Sprintf("autograd: Unfold: input %v is not [N, C, H, W]", x.shape))
	}
	g := opts.geom("Unfold", x.shape, x.shape[0], x.shape[1], x.shape[2], x.shape[3])
	rows, l := g.C*g.KH*g.KW, g.OH*g.OW
	out := empty(x.dev, []int{g.N, rows, l})
	if out.Numel() > 0 {
		x.dev.Im2col(g, out.buf, x.buf, 0, g.N, l, rows*l)
	}
	record("Unfold", out, []*Tensor{x}, func(gy *Tensor) []*Tensor {
		dx := empty(gy.dev, x.shape)
		if gy.Numel() > 0 {
			gy.dev.Col2im(g, dx.buf, gy.buf, 0, g.N, l, rows*l)
		}
		return []*Tensor{dx}
	})
	return out
}

// Fold is torch.nn.functional.fold, Unfold's adjoint: x [N, C·KH·KW, L]
// of patches is summed back into [N, C, outH, outW], overlapping entries
// adding up. L must equal the number of window positions.
func Fold(x *Tensor, outH, outW int, opts UnfoldOptions) *Tensor {
	if x.Dim() != 3 {
		panic(fmt.Sprintf("autograd: Fold: input %v is not [N, C·KH·KW, L]", x.shape))
	}
	kk := opts.Kernel[0] * opts.Kernel[1]
	if kk <= 0 || x.shape[1]%kk != 0 {
		panic(fmt.Sprintf("autograd: Fold: input %v: dimension 1 is not a multiple of the kernel size %v", x.shape, opts.Kernel))
	}
	if outH <= 0 || outW <= 0 {
		panic(fmt.Sprintf("autograd: Fold: input %v: output size [%d %d] must be positive", x.shape, outH, outW))
	}
	g := opts.geom("Fold", x.shape, x.shape[0], x.shape[1]/kk, outH, outW)
	rows, l := x.shape[1], g.OH*g.OW
	if x.shape[2] != l {
		panic(fmt.Sprintf("autograd: Fold: input %v has %d patches; output [%d %d] with kernel %v gives %d", x.shape, x.shape[2], outH, outW, opts.Kernel, l))
	}
	out := empty(x.dev, []int{g.N, g.C, outH, outW})
	if x.Numel() > 0 {
		x.dev.Col2im(g, out.buf, x.buf, 0, g.N, l, rows*l)
	}
	record("Fold", out, []*Tensor{x}, func(gy *Tensor) []*Tensor {
		dx := empty(gy.dev, x.shape)
		if dx.Numel() > 0 {
			gy.dev.Im2col(g, dx.buf, gy.buf, 0, g.N, l, rows*l)
		}
		return []*Tensor{dx}
	})
	return out
}

// PixelShuffle rearranges [..., C·r², H, W] into [..., C, H·r, W·r], as
// torch.nn.functional.pixel_shuffle.
func PixelShuffle(x *Tensor, r int) *Tensor {
	if x.Dim() < 3 || r <= 0 || x.shape[x.Dim()-3]%(r*r) != 0 {
		panic(fmt.Sprintf("autograd: PixelShuffle: input %v with factor %d: want [..., C·%d, H, W]", x.shape, r, r*r))
	}
	d := x.Dim()
	lead := x.shape[:d-3]
	c, h, w := x.shape[d-3]/(r*r), x.shape[d-2], x.shape[d-1]
	b := prod(lead)
	y := x.Reshape(b, c, r, r, h, w).Permute(0, 1, 4, 2, 5, 3)
	return y.Reshape(append(append([]int{}, lead...), c, h*r, w*r)...)
}

// PixelUnshuffle is PixelShuffle's inverse: [..., C, H·r, W·r] becomes
// [..., C·r², H, W], as torch.nn.functional.pixel_unshuffle.
func PixelUnshuffle(x *Tensor, r int) *Tensor {
	if x.Dim() < 3 || r <= 0 || x.shape[x.Dim()-2]%r != 0 || x.shape[x.Dim()-1]%r != 0 {
		panic(fmt.Sprintf("autograd: PixelUnshuffle: input %v with factor %d: want [..., C, H·%d, W·%d]", x.shape, r, r, r))
	}
	d := x.Dim()
	lead := x.shape[:d-3]
	c, h, w := x.shape[d-3], x.shape[d-2]/r, x.shape[d-1]/r
	b := prod(lead)
	y := x.Reshape(b, c, h, r, w, r).Permute(0, 1, 3, 5, 2, 4)
	return y.Reshape(append(append([]int{}, lead...), c*r*r, h, w)...)
}

// CausalConv is the long causal convolution of state-space and Hyena-style
// layers along the last axis: y[b, h, t] = Σ_{s≤t} k[h, s]·u[b, h, t−s]
// for u of shape [B, H, L] and a kernel k of shape [H, Lk] shared across
// the batch or [B, H, Lk] per sample, Lk ≤ L (a shorter kernel is
// zero-padded). The device sums directly for short sequences and through
// FFTs of size ≥ 2L for long ones. Gradients flow to u and k; they are
// causal convolutions too (of the reversed output gradient), run by the
// same kernel.
func CausalConv(u, k *Tensor) *Tensor {
	const op = "CausalConv"
	sameDevice(op, u, k)
	if u.Dim() != 3 || (k.Dim() != 2 && k.Dim() != 3) {
		panic(fmt.Sprintf("autograd: %s: input %v and kernel %v: want input [B, H, L] and kernel [H, L] or [B, H, L]", op, u.shape, k.shape))
	}
	b, h, l := u.shape[0], u.shape[1], u.shape[2]
	batched := k.Dim() == 3
	lk := k.shape[k.Dim()-1]
	if (batched && (k.shape[0] != b || k.shape[1] != h)) || (!batched && k.shape[0] != h) || lk > l {
		panic(fmt.Sprintf("autograd: %s: input %v and kernel %v: kernel needs %d channels (and %d samples if batched) and at most %d taps", op, u.shape, k.shape, h, b, l))
	}
	if lk < l {
		k = k.Pad([]int{0, l - lk}, PadConstant, 0)
	}
	dev := u.dev
	y := empty(dev, u.shape)
	if y.Numel() > 0 {
		dev.CausalConv(y.buf, u.buf, k.buf, b, h, l, batched)
	}
	record(op, y, []*Tensor{u, k}, func(g *Tensor) []*Tensor {
		var du, dk *Tensor
		if g.Numel() == 0 {
			return []*Tensor{ZerosLike(u), ZerosLike(k)}
		}
		// du[j] = Σ_{t≥j} g[t]·k[t−j] = rev(causal(rev g, k))[j], and
		// dk[s] = Σ_{t≥s} g[t]·u[t−s] = rev(causal(rev g, u))[s].
		gr := g.Flip(-1)
		if u.requiresGrad {
			du = empty(dev, u.shape)
			dev.CausalConv(du.buf, gr.buf, k.buf, b, h, l, batched)
			du = du.Flip(-1)
		}
		if k.requiresGrad {
			t := empty(dev, u.shape)
			dev.CausalConv(t.buf, gr.buf, u.buf, b, h, l, true)
			dk = t.Flip(-1)
			if !batched {
				dk = dk.Sum(0)
			}
		}
		return []*Tensor{du, dk}
	})
	return y
}
