package autograd

import (
	"fmt"
	"sort"
	"sync"
)

// Buffer is a block of float32 storage owned by a Device. Only the device that
// made a buffer may read or write it.
type Buffer interface {
	// Len is the number of float32 elements the buffer holds.
	Len() int
}

// UnaryOp names an elementwise function of one operand. Some take parameters
// from OpParams (noted beside each).
type UnaryOp int

// The unary ops every device implements, forward (Device.Unary) and backward
// (Device.UnaryGrad).
const (
	OpNeg        UnaryOp = iota
	OpExp                // e^x
	OpLog                // natural log
	OpSqrt               // √x
	OpRsqrt              // 1/√x
	OpAbs                // |x|
	OpSin                // sin x
	OpCos                // cos x
	OpTanh               // tanh x
	OpSigmoid            // 1/(1+e^-x)
	OpRelu               // max(x, 0)
	OpLeakyRelu          // x if x > 0 else A*x
	OpGeluErf            // x·Φ(x) with the exact erf
	OpGeluTanh           // the tanh approximation of GELU
	OpSilu               // x·σ(x)
	OpSoftplus           // (1/A)·log(1+e^(A·x)), linear where A·x > B
	OpElu                // x if x > 0 else A·(e^x − 1)
	OpPowScalar          // x^A
	OpClamp              // min(max(x, A), B)
	OpAddScalar          // x + A
	OpMulScalar          // A·x
	OpSquare             // x²
	OpReciprocal         // 1/x
	OpSign               // −1, 0 or 1 (gradient zero)
	numUnaryOps
)

var unaryNames = [...]string{"Neg", "Exp", "Log", "Sqrt", "Rsqrt", "Abs", "Sin", "Cos", "Tanh",
	"Sigmoid", "Relu", "LeakyRelu", "GeluErf", "GeluTanh", "Silu", "Softplus", "Elu", "PowScalar",
	"Clamp", "AddScalar", "MulScalar", "Square", "Reciprocal", "Sign"}

// String returns the op's name.
func (op UnaryOp) String() string {
	if op >= 0 && int(op) < len(unaryNames) {
		return unaryNames[op]
	}
	return fmt.Sprintf("UnaryOp(%d)", int(op))
}

// OpParams carries the scalar parameters of a unary op (see each UnaryOp).
type OpParams struct {
	A, B float32
}

// BinaryOp names an elementwise function of two broadcast operands.
type BinaryOp int

// The binary ops every device implements. Comparisons produce 1 where true
// and 0 where false.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpPow
	OpMaximum
	OpMinimum
	OpEq
	OpNe
	OpLt
	OpLe
	OpGt
	OpGe
	numBinaryOps
)

var binaryNames = [...]string{"Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Eq", "Ne", "Lt", "Le", "Gt", "Ge"}

// String returns the op's name.
func (op BinaryOp) String() string {
	if op >= 0 && int(op) < len(binaryNames) {
		return binaryNames[op]
	}
	return fmt.Sprintf("BinaryOp(%d)", int(op))
}

// ReduceOp names a reduction.
type ReduceOp int

// The reductions every device implements.
const (
	ReduceSum ReduceOp = iota
	ReduceMax
	ReduceMin
	ReduceArgMax // index of the first maximum, as a float32
	ReduceArgMin // index of the first minimum, as a float32
)

// Layout is a strided view of a buffer: element (i0, i1, ...) of a view with
// shape s lives at Offset + Σ i_d·Strides[d]. A stride of 0 broadcasts; a
// negative one walks backwards.
type Layout struct {
	Offset  int
	Strides []int
}

// GemmArgs describes a batched matrix product C = Alpha·op(A)·op(B) + Beta·C
// on row-major matrices: op(A) is M×K, op(B) is K×N, C is M×N. Matrix i of A
// starts at OffA + i·StrideA (a stride of 0 shares one matrix across the
// batch), likewise B and C. With TransA, A is stored K×M (leading dimension
// LDA) and used transposed; likewise TransB.
type GemmArgs struct {
	TransA, TransB            bool
	M, N, K                   int
	Alpha, Beta               float32
	Batch                     int
	OffA, OffB, OffC          int
	LDA, LDB, LDC             int
	StrideA, StrideB, StrideC int
}

// Device is the backend contract: storage, transfers and the kernel set that
// the ops of this package are built from. Every kernel works on whole buffers
// of contiguous row-major data unless a Layout says otherwise. Shapes are
// checked by the ops before a kernel is called, so kernels may assume valid
// arguments. The CPU device implements all of it; see DESIGN.md for how other
// devices join.
type Device interface {
	// Name identifies the device, e.g. "cpu" or "cuda:0".
	Name() string

	// Alloc returns a zero-filled buffer of n elements.
	Alloc(n int) Buffer
	// FromHost returns a buffer holding a copy of src.
	FromHost(src []float32) Buffer
	// ToHost copies b into dst (len(dst) == b.Len()).
	ToHost(dst []float32, b Buffer)
	// Fill sets every element of b to v.
	Fill(b Buffer, v float32)

	// Unary sets dst[i] = op(x[i]).
	Unary(op UnaryOp, p OpParams, dst, x Buffer)
	// UnaryGrad sets dx[i] = g[i]·op'(x[i]), given the forward input x and
	// output y; only the one the derivative reads is passed, the other is
	// nil (exp, sqrt, rsqrt, tanh, sigmoid and reciprocal read y; neg,
	// scalar add/mul and sign read neither; the rest read x).
	UnaryGrad(op UnaryOp, p OpParams, dx, g, x, y Buffer)
	// Binary sets dst[idx] = op(a[la(idx)], b[lb(idx)]) over shape; dst is
	// contiguous with that shape, la and lb are broadcast layouts.
	Binary(op BinaryOp, shape []int, dst, a Buffer, la Layout, b Buffer, lb Layout)
	// Where sets dst[idx] = mask ≠ 0 ? a : b, all three broadcast over shape.
	Where(shape []int, dst, mask Buffer, lm Layout, a Buffer, la Layout, b Buffer, lb Layout)
	// Copy copies the view src/ls into dst/ld over shape, or adds it into dst
	// when accumulate is set (views of dst must not overlap then).
	Copy(shape []int, dst Buffer, ld Layout, src Buffer, ls Layout, accumulate bool)

	// Reduce reduces src viewed as [outer, n, inner] over its middle axis into
	// dst of shape [outer, inner].
	Reduce(op ReduceOp, dst, src Buffer, outer, n, inner int)
	// Softmax sets dst to softmax (or log_softmax) of src viewed as
	// [outer, n, inner] along the middle axis.
	Softmax(dst, src Buffer, outer, n, inner int, log bool)
	// SoftmaxGrad sets dx from the upstream gradient g and the forward output
	// y of Softmax with the same arguments.
	SoftmaxGrad(dx, g, y Buffer, outer, n, inner int, log bool)

	// Gemm runs a batched matrix product on a, b and c.
	Gemm(args GemmArgs, a, b, c Buffer)

	// IndexSelect sets dst[o, j, i] = src[o, idx[j], i] for src viewed as
	// [outer, n, inner] and dst as [outer, len(idx), inner].
	IndexSelect(dst, src Buffer, outer, n, inner int, idx []int)
	// IndexAdd adds src[o, j, i] into dst[o, idx[j], i] (repeated indices
	// accumulate); dst is [outer, n, inner], src [outer, len(idx), inner].
	IndexAdd(dst, src Buffer, outer, n, inner int, idx []int)

	// Im2col writes the patches of images [first, first+count) of x
	// (g.N×g.C×g.H×g.W) into col: tap (c, kh, kw) of output position
	// p = oh·OW + ow of image first+j goes to col[r·rowStride +
	// j·imageStride + p] with r = (c·KH + kh)·KW + kw; taps in the padding
	// write zero.
	Im2col(g ConvGeom, col, x Buffer, first, count, rowStride, imageStride int)
	// Col2im is Im2col's adjoint: it adds each col entry into the input
	// element it was read from, accumulating into dx.
	Col2im(g ConvGeom, dx, col Buffer, first, count, rowStride, imageStride int)
	// DepthwiseConv2d sets y (N×C×OH×OW) to the convolution of each plane
	// of x with its own KH×KW filter of w (C×KH×KW) plus b[c] (b may be nil).
	DepthwiseConv2d(g ConvGeom, y, x, w, b Buffer)
	// DepthwiseConv2dGrad sets dx and dw (either may be nil) from the
	// output gradient gy of DepthwiseConv2d.
	DepthwiseConv2dGrad(g ConvGeom, dx, dw, gy, x, w Buffer)

	// MaxPool2d sets y to the window maxima of the g.N·g.C planes of x, as
	// torch (first maximum wins, NaN propagates).
	MaxPool2d(g ConvGeom, y, x Buffer)
	// MaxPool2dGrad sets dx: each gy element goes to the element of x its
	// window chose (the first equal to the forward output y, or the last NaN).
	MaxPool2dGrad(g ConvGeom, dx, gy, x, y Buffer)
	// AvgPool2d sets y to the window averages (no dilation); countPad
	// counts padding in the divisor and divisor > 0 overrides it, as torch.
	AvgPool2d(g ConvGeom, y, x Buffer, countPad bool, divisor int)
	// AvgPool2dGrad sets dx from the output gradient of AvgPool2d.
	AvgPool2dGrad(g ConvGeom, dx, gy Buffer, countPad bool, divisor int)
	// AdaptiveAvgPool2d sets y (OH×OW per plane) to the averages over
	// torch's adaptive windows [⌊o·H/OH⌋, ⌈(o+1)·H/OH⌉); kernel, stride,
	// padding and dilation of g are unused.
	AdaptiveAvgPool2d(g ConvGeom, y, x Buffer)
	// AdaptiveAvgPool2dGrad sets dx from the output gradient.
	AdaptiveAvgPool2dGrad(g ConvGeom, dx, gy Buffer)

	// LayerNorm normalises rows rows of n elements (biased variance plus
	// eps), scales by w and shifts by b along the row (either may be nil),
	// and stores each row's mean and 1/√(var+eps).
	LayerNorm(y, mean, rstd, x, w, b Buffer, rows, n int, eps float32)
	// LayerNormGrad sets dx, dw and db (any may be nil) from the output
	// gradient g and LayerNorm's saved mean and rstd.
	LayerNormGrad(dx, dw, db, g, x, mean, rstd, w Buffer, rows, n int)
	// ChannelStats sets the mean and biased variance of each channel of x
	// viewed as [outer, c, inner], over outer and inner.
	ChannelStats(mean, variance, x Buffer, outer, c, inner int)
	// ChannelAffine sets y = x·scale[ch] + shift[ch] for x viewed as
	// [outer, c, inner] (shift may be nil).
	ChannelAffine(y, x, scale, shift Buffer, outer, c, inner int)
	// ChannelNormGrad computes the gradients of y = x̂·w[ch] + b with
	// x̂ = (x − mean[ch])·rstd[ch]: dw = Σ g·x̂, db = Σ g and dx, which
	// includes the terms through the batch statistics when batchStats.
	// Outputs may be nil; mean, rstd and w nil mean 0, 1 and 1.
	ChannelNormGrad(dx, dw, db, g, x, mean, rstd, w Buffer, outer, c, inner int, batchStats bool)

	// Gather sets dst[o, j, i] = src[o, idx[(o·k+j)·inner+i], i] for src
	// viewed as [outer, n, inner] and dst as [outer, k, inner].
	Gather(dst, src Buffer, outer, n, inner, k int, idx []int)
	// ScatterAdd adds src[o, j, i] into dst[o, idx[(o·k+j)·inner+i], i]
	// (repeated indices accumulate) for dst viewed as [outer, n, inner] and
	// src as [outer, k, inner].
	ScatterAdd(dst, src Buffer, outer, n, inner, k int, idx []int)
	// SegmentSum sets row s of dst ([segments, inner]) to the sum of the
	// rows r of src ([len(ids), inner]) with ids[r] == s.
	SegmentSum(dst, src Buffer, ids []int, segments, inner int)

	// CausalConv sets y[r, t] = Σ_{s≤t} k[r', s]·u[r, t−s] for the b·h rows
	// of length l of u and y, where r' = r when kBatched and r mod h
	// otherwise.
	CausalConv(y, u, k Buffer, b, h, l int, kBatched bool)
}

var (
	devicesMu sync.RWMutex
	devices   = map[string]Device{}
)

// RegisterDevice makes a device available by name to DeviceByName. Backends
// call it from init (the cuda package does when imported). Registering a name
// twice replaces the earlier device.
func RegisterDevice(d Device) {
	devicesMu.Lock()
	defer devicesMu.Unlock()
	devices[d.Name()] = d
}

// DeviceByName returns a registered device, or an error listing the
// registered names.
func DeviceByName(name string) (Device, error) {
	devicesMu.RLock()
	defer devicesMu.RUnlock()
	if d, ok := devices[name]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("autograd: no device %q is registered (have %v); import the backend package (for example deepgo/cuda) to register it", name, deviceNamesLocked())
}

// Devices lists the names of the registered devices, sorted.
func Devices() []string {
	devicesMu.RLock()
	defer devicesMu.RUnlock()
	return deviceNamesLocked()
}

func deviceNamesLocked() []string {
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
