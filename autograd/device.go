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
	// output y (either may be used).
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
