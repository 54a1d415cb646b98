package autograd

import "github.com/deepgo/deepgo/internal/cpu"

// The CPU device's kernels for the neural-network ops: convolution,
// pooling, normalisation, gather/scatter and the long causal convolution.
// Each forwards to internal/cpu, which runs it over the worker pool.

func (g ConvGeom) cpu() cpu.ConvGeom {
	return cpu.ConvGeom{
		N: g.N, C: g.C, H: g.H, W: g.W, KH: g.KH, KW: g.KW, OH: g.OH, OW: g.OW,
		SH: g.StrideH, SW: g.StrideW, PH: g.PadH, PW: g.PadW, DH: g.DilH, DW: g.DilW,
	}
}

// cpuDataOrNil is cpuData that lets a nil buffer through as a nil slice.
func cpuDataOrNil(b Buffer) []float32 {
	if b == nil {
		return nil
	}
	return cpuData(b)
}

func (cpuDevice) Im2col(g ConvGeom, col, x Buffer, first, count, rowStride, imageStride int) {
	cpu.Im2col(g.cpu(), cpuData(col), cpuData(x), first, count, rowStride, imageStride)
}

// convForwarder is implemented by devices with a whole-convolution
// forward kernel (the CPU's: implicit im2col, parallel over images):
// y = conv(x, w) + b (b may be nil), overwriting y, for o output channels
// in groups groups.
type convForwarder interface {
	conv2dForward(g ConvGeom, groups, o int, y, x, w, b Buffer)
}

func (cpuDevice) conv2dForward(g ConvGeom, groups, o int, y, x, w, b Buffer) {
	cpu.Conv2dForward(g.cpu(), groups, o, cpuData(y), cpuData(x), cpuData(w), cpuDataOrNil(b))
}

// convBackwarder is implemented by devices with whole-convolution
// gradient kernels (the CPU's direct kernels for stride 1, one group):
// each overwrites its output and reports whether it handled the
// geometry; on false the caller falls back to im2col and GEMM.
type convBackwarder interface {
	conv2dInputGrad(g ConvGeom, groups, o int, dx, gy, w Buffer) bool
	conv2dWeightGrad(g ConvGeom, groups, o int, dw, gy, x Buffer) bool
}

func (cpuDevice) conv2dInputGrad(g ConvGeom, groups, o int, dx, gy, w Buffer) bool {
	cg := g.cpu()
	if !cpu.ConvDirectInputGrad(cg, groups, o) {
		return false
	}
	cpu.Conv2dDirectInputGrad(cg, o, cpuData(dx), cpuData(gy), cpuData(w))
	return true
}

func (cpuDevice) conv2dWeightGrad(g ConvGeom, groups, o int, dw, gy, x Buffer) bool {
	cg := g.cpu()
	if !cpu.ConvDirectWeightGrad(cg, groups) {
		return false
	}
	cpu.Conv2dDirectWeightGrad(cg, o, cpuData(dw), cpuData(gy), cpuData(x))
	return true
}

func (cpuDevice) Col2im(g ConvGeom, dx, col Buffer, first, count, rowStride, imageStride int) {
	cpu.Col2im(g.cpu(), cpuData(dx), cpuData(col), first, count, rowStride, imageStride)
}

func (cpuDevice) DepthwiseConv2d(g ConvGeom, y, x, w, b Buffer) {
	cpu.DepthwiseConv2d(g.cpu(), cpuData(y), cpuData(x), cpuData(w), cpuDataOrNil(b))
}

func (cpuDevice) DepthwiseConv2dGrad(g ConvGeom, dx, dw, gy, x, w Buffer) {
	cpu.DepthwiseConv2dGrad(g.cpu(), cpuDataOrNil(dx), cpuDataOrNil(dw), cpuData(gy), cpuData(x), cpuData(w))
}

func (cpuDevice) MaxPool2d(g ConvGeom, y, x Buffer) {
	cpu.MaxPool2d(g.cpu(), cpuData(y), cpuData(x))
}

func (cpuDevice) MaxPool2dGrad(g ConvGeom, dx, gy, x, y Buffer) {
	cpu.MaxPool2dGrad(g.cpu(), cpuData(dx), cpuData(gy), cpuData(x), cpuData(y))
}

func (cpuDevice) AvgPool2d(g ConvGeom, y, x Buffer, countPad bool, divisor int) {
	cpu.AvgPool2d(g.cpu(), cpuData(y), cpuData(x), countPad, divisor)
}

func (cpuDevice) AvgPool2dGrad(g ConvGeom, dx, gy Buffer, countPad bool, divisor int) {
	cpu.AvgPool2dGrad(g.cpu(), cpuData(dx), cpuData(gy), countPad, divisor)
}

func (cpuDevice) AdaptiveAvgPool2d(g ConvGeom, y, x Buffer) {
	cpu.AdaptiveAvgPool2d(g.cpu(), cpuData(y), cpuData(x))
}

func (cpuDevice) AdaptiveAvgPool2dGrad(g ConvGeom, dx, gy Buffer) {
	cpu.AdaptiveAvgPool2dGrad(g.cpu(), cpuData(dx), cpuData(gy))
}

func (cpuDevice) LayerNorm(y, mean, rstd, x, w, b Buffer, rows, n int, eps float32) {
	cpu.LayerNorm(cpuData(y), cpuData(mean), cpuData(rstd), cpuData(x), cpuDataOrNil(w), cpuDataOrNil(b), rows, n, eps)
}

func (cpuDevice) LayerNormGrad(dx, dw, db, g, x, mean, rstd, w Buffer, rows, n int) {
	cpu.LayerNormGrad(cpuDataOrNil(dx), cpuDataOrNil(dw), cpuDataOrNil(db), cpuData(g), cpuData(x),
		cpuData(mean), cpuData(rstd), cpuDataOrNil(w), rows, n)
}

func (cpuDevice) ChannelStats(mean, variance, x Buffer, outer, c, inner int) {
	cpu.ChannelStats(cpuData(mean), cpuData(variance), cpuData(x), outer, c, inner)
}

func (cpuDevice) ChannelAffine(y, x, scale, shift Buffer, outer, c, inner int) {
	cpu.ChannelAffine(cpuData(y), cpuData(x), cpuData(scale), cpuDataOrNil(shift), outer, c, inner)
}

func (cpuDevice) ChannelNormGrad(dx, dw, db, g, x, mean, rstd, w Buffer, outer, c, inner int, batchStats bool) {
	cpu.ChannelNormGrad(cpuDataOrNil(dx), cpuDataOrNil(dw), cpuDataOrNil(db), cpuData(g), cpuData(x),
		cpuDataOrNil(mean), cpuDataOrNil(rstd), cpuDataOrNil(w), outer, c, inner, batchStats)
}

func (cpuDevice) Gather(dst, src Buffer, outer, n, inner, k int, idx []int) {
	cpu.GatherAxis(cpuData(dst), cpuData(src), outer, n, inner, k, idx)
}

func (cpuDevice) ScatterAdd(dst, src Buffer, outer, n, inner, k int, idx []int) {
	cpu.ScatterAddAxis(cpuData(dst), cpuData(src), outer, n, inner, k, idx)
}

func (cpuDevice) SegmentSum(dst, src Buffer, ids []int, segments, inner int) {
	cpu.SegmentSum(cpuData(dst), cpuData(src), ids, segments, inner)
}

func (cpuDevice) CausalConv(y, u, k Buffer, b, h, l int, kBatched bool) {
	cpu.CausalConv(cpuData(y), cpuData(u), cpuData(k), b, h, l, kBatched)
}
