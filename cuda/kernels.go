package cuda

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deepgo/deepgo/autograd"
)

// The kernels are CUDA C, compiled by NVRTC the first time a kernel of their
// module is launched (see nvrtc.go). Each module is the common header plus
// one family of kernels; the elementwise module's op switches are generated
// from the tables below, so that adding an autograd.UnaryOp or BinaryOp
// without its CUDA form fails a test instead of a training run.
//
// Conventions every kernel follows:
//   - 1-D grid-stride loops (dgLoop), so any grid size is correct and the
//     host picks one from the element count and the number of SMs;
//   - block sizes are powers of two up to dgMaxBlock, and every
//     __syncthreads is reached by all threads of the block (the host-side
//     emulator used by the tests relies on that, as the hardware does);
//   - indices are 64-bit, so tensors past 2^31 elements work;
//   - sums accumulate in double, as the CPU device does in float64.

// dgMaxBlock is the largest block any kernel is launched with; the shared
// arrays of the block reductions have this many entries.
const dgMaxBlock = 256

// kernelHeader is prepended to every module.
const kernelHeader = `
typedef long long i64;
#define DG_MAXD 16
#define DG_BLOCK 256

// dg_geo describes up to four strided operands over one shape. Dimension 0
// is the innermost (fastest varying); n[d] is its size and st[k][d] the
// stride of operand k, off[k] its first element. Operand 0 is the output.
struct dg_geo {
	i64 n[DG_MAXD];
	i64 st[4][DG_MAXD];
	i64 off[4];
	i64 ndim;
	i64 total;
};

#define dgLoop(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

__device__ __forceinline__ float dg_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ float dg_nan() { return __int_as_float(0x7fffffff); }
__device__ __forceinline__ i64 dg_min64(i64 a, i64 b) { return a < b ? a : b; }

__device__ __forceinline__ float dg_sigmoid(float x) {
	if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
	float e = expf(x);
	return e / (1.0f + e);
}

// dg_offsets sets o[k] to the element of operand k (k < nops) at the flat
// row-major index i of the shape.
__device__ __forceinline__ void dg_offsets(const dg_geo& g, i64 i, int nops, i64* o) {
	for (int k = 0; k < nops; k++) o[k] = g.off[k];
#pragma unroll
	for (int d = 0; d < DG_MAXD; d++) {
		if (d < g.ndim) {
			i64 n = g.n[d];
			i64 c = i % n;
			i /= n;
			for (int k = 0; k < nops; k++) o[k] += c * g.st[k][d];
		}
	}
}

// dg_maxnan folds v into a running maximum (isMin: minimum); NaN wins.
__device__ __forceinline__ float dg_maxnan(float acc, float v, int isMin) {
	if (acc != acc) return acc;
	if (v != v) return v;
	if (isMin) return v < acc ? v : acc;
	return v > acc ? v : acc;
}

// dg_arg_better reports whether (v, i) beats (bv, bi) for argmax (isMin:
// argmin): the first NaN wins, then the larger (smaller) value, then the
// smaller index.
__device__ __forceinline__ bool dg_arg_better(float v, i64 i, float bv, i64 bi, int isMin) {
	bool vn = v != v, bn = bv != bv;
	if (vn || bn) {
		if (vn && bn) return i < bi;
		return vn;
	}
	if (v == bv) return i < bi;
	return isMin ? v < bv : v > bv;
}

// Block reductions over shared arrays of blockDim.x entries (a power of two);
// every thread of the block must call them, and they leave the result in
// element 0 (read it, then __syncthreads before the array is reused).
__device__ __forceinline__ void dg_block_sum(double* sh) {
	__syncthreads();
	for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
		__syncthreads();
	}
}

__device__ __forceinline__ void dg_block_sum2(double* a, double* b) {
	__syncthreads();
	for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) {
			a[threadIdx.x] += a[threadIdx.x + w];
			b[threadIdx.x] += b[threadIdx.x + w];
		}
		__syncthreads();
	}
}

__device__ __forceinline__ void dg_block_maxnan(float* sh, int isMin) {
	__syncthreads();
	for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
		if (threadIdx.x < w) sh[threadIdx.x] = dg_maxnan(sh[threadIdx.x], sh[threadIdx.x + w], isMin);
		__syncthreads();
	}
}
`

// unaryForward maps each unary op to its CUDA expression in x (the input,
// float), A and B (its parameters). The forms follow the CPU device's
// scalar reference (autograd/cpu_device.go): NaN propagates through Relu
// and Clamp, Softplus and GELU use their numerically stable forms.
var unaryForward = map[autograd.UnaryOp]string{
	autograd.OpNeg:        `-x`,
	autograd.OpExp:        `expf(x)`,
	autograd.OpLog:        `logf(x)`,
	autograd.OpSqrt:       `sqrtf(x)`,
	autograd.OpRsqrt:      `1.0f / sqrtf(x)`,
	autograd.OpAbs:        `fabsf(x)`,
	autograd.OpSin:        `sinf(x)`,
	autograd.OpCos:        `cosf(x)`,
	autograd.OpTanh:       `tanhf(x)`,
	autograd.OpSigmoid:    `dg_sigmoid(x)`,
	autograd.OpRelu:       `(x > 0.0f || x != x) ? x : 0.0f`,
	autograd.OpLeakyRelu:  `x > 0.0f ? x : x * A`,
	autograd.OpGeluErf:    `0.5f * x * erfcf(-x * 0.70710678118654752f)`,
	autograd.OpGeluTanh:   `0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)))`,
	autograd.OpSilu:       `x * dg_sigmoid(x)`,
	autograd.OpSoftplus:   `(A * x > B) ? x : (fmaxf(A * x, 0.0f) + log1pf(expf(-fabsf(A * x)))) / A`,
	autograd.OpElu:        `x > 0.0f ? x : A * expm1f(x)`,
	autograd.OpPowScalar:  `(float)pow((double)x, (double)A)`,
	autograd.OpClamp:      `x < A ? A : (x > B ? B : x)`,
	autograd.OpAddScalar:  `x + A`,
	autograd.OpMulScalar:  `x * A`,
	autograd.OpSquare:     `x * x`,
	autograd.OpReciprocal: `1.0f / x`,
	autograd.OpSign:       `x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x)`,
}

// unaryGrad maps each unary op to the CUDA expression of dx from the
// upstream gradient g, the forward input x and output y (only the one the
// derivative reads is meaningful; see autograd.Device.UnaryGrad), and A, B.
var unaryGrad = map[autograd.UnaryOp]string{
	autograd.OpNeg:        `-g`,
	autograd.OpExp:        `g * y`,
	autograd.OpLog:        `g / x`,
	autograd.OpSqrt:       `(0.5f / y) * g`,
	autograd.OpRsqrt:      `g * (float)(-0.5 * (double)y * (double)y * (double)y)`,
	autograd.OpAbs:        `g * (x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x))`,
	autograd.OpSin:        `g * cosf(x)`,
	autograd.OpCos:        `g * -sinf(x)`,
	autograd.OpTanh:       `g * (1.0f - y * y)`,
	autograd.OpSigmoid:    `g * y * (1.0f - y)`,
	autograd.OpRelu:       `x > 0.0f ? g : 0.0f`,
	autograd.OpLeakyRelu:  `x > 0.0f ? g : A * g`,
	autograd.OpGeluErf:    `g * dg_gelu_erf_d(x)`,
	autograd.OpGeluTanh:   `g * dg_gelu_tanh_d(x)`,
	autograd.OpSilu:       `g * dg_silu_d(x)`,
	autograd.OpSoftplus:   `(A * x > B) ? g : g * dg_sigmoid(A * x)`,
	autograd.OpElu:        `x > 0.0f ? g : g * A * expf(x)`,
	autograd.OpPowScalar:  `A == 0.0f ? 0.0f * g : g * (float)((double)A * pow((double)x, (double)A - 1.0))`,
	autograd.OpClamp:      `(x >= A && x <= B) ? g : 0.0f`,
	autograd.OpAddScalar:  `g`,
	autograd.OpMulScalar:  `g * A`,
	autograd.OpSquare:     `2.0f * g * x`,
	autograd.OpReciprocal: `g * (-y * y)`,
	autograd.OpSign:       `g * 0.0f`,
}

// binaryForms maps each binary op to its CUDA expression in a and b.
var binaryForms = map[autograd.BinaryOp]string{
	autograd.OpAdd:     `a + b`,
	autograd.OpSub:     `a - b`,
	autograd.OpMul:     `a * b`,
	autograd.OpDiv:     `a / b`,
	autograd.OpPow:     `(float)pow((double)a, (double)b)`,
	autograd.OpMaximum: `(a != a || a > b) ? a : b`,
	autograd.OpMinimum: `(a != a || a < b) ? a : b`,
	autograd.OpEq:      `a == b ? 1.0f : 0.0f`,
	autograd.OpNe:      `a != b ? 1.0f : 0.0f`,
	autograd.OpLt:      `a < b ? 1.0f : 0.0f`,
	autograd.OpLe:      `a <= b ? 1.0f : 0.0f`,
	autograd.OpGt:      `a > b ? 1.0f : 0.0f`,
	autograd.OpGe:      `a >= b ? 1.0f : 0.0f`,
}

// allUnaryOps and allBinaryOps list the ops autograd defines: every value
// whose String is a name rather than the numeric fallback.
func allUnaryOps() []autograd.UnaryOp {
	var ops []autograd.UnaryOp
	for op := autograd.UnaryOp(0); !strings.HasPrefix(op.String(), "UnaryOp("); op++ {
		ops = append(ops, op)
	}
	return ops
}

func allBinaryOps() []autograd.BinaryOp {
	var ops []autograd.BinaryOp
	for op := autograd.BinaryOp(0); !strings.HasPrefix(op.String(), "BinaryOp("); op++ {
		ops = append(ops, op)
	}
	return ops
}

// switchFunc writes a device function that switches on op over the cases
// (op value → expression), returning NaN for an unknown op.
func switchFunc(sig string, cases map[int]string) string {
	keys := make([]int, 0, len(cases))
	for k := range cases {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "__device__ __forceinline__ float %s {\n\tswitch (op) {\n", sig)
	for _, k := range keys {
		fmt.Fprintf(&b, "\tcase %d: return %s;\n", k, cases[k])
	}
	b.WriteString("\t}\n\treturn dg_nan();\n}\n")
	return b.String()
}

// elementwiseSource generates the elementwise module: the op switches from
// the tables, then the kernels.
func elementwiseSource() string {
	fw, gr, bi := map[int]string{}, map[int]string{}, map[int]string{}
	for op, e := range unaryForward {
		fw[int(op)] = e
	}
	for op, e := range unaryGrad {
		gr[int(op)] = e
	}
	for op, e := range binaryForms {
		bi[int(op)] = e
	}
	var b strings.Builder
	b.WriteString(`
__device__ __forceinline__ float dg_gelu_tanh_d(float x) {
	float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
	float t = tanhf(u);
	return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
}

// Φ(x) + x·φ(x), with x·φ(x) = 0 where φ underflows (x = ±∞ included).
__device__ __forceinline__ float dg_gelu_erf_d(float x) {
	float e = expf(-0.5f * x * x);
	float t = e == 0.0f ? 0.0f : x * 0.39894228040143268f * e;
	return 0.5f * erfcf(-x * 0.70710678118654752f) + t;
}

__device__ __forceinline__ float dg_silu_d(float x) {
	float s = dg_sigmoid(x);
	return s * (1.0f + x * (1.0f - s));
}
`)
	b.WriteString(switchFunc("dg_unary_f(int op, float x, float A, float B)", fw))
	b.WriteString(switchFunc("dg_unary_g(int op, float g, float x, float y, float A, float B)", gr))
	b.WriteString(switchFunc("dg_binary_f(int op, float a, float b)", bi))
	b.WriteString(elementwiseKernels)
	return b.String()
}

const elementwiseKernels = `
extern "C" __global__ void dg_fill(float* d, i64 n, float v) {
	dgLoop(i, n) d[i] = v;
}

extern "C" __global__ void dg_unary(int op, float A, float B, float* __restrict__ d, const float* __restrict__ x, i64 n) {
	dgLoop(i, n) d[i] = dg_unary_f(op, x[i], A, B);
}

// x or y may be null when the derivative does not read it.
extern "C" __global__ void dg_unary_grad(int op, float A, float B, float* dx, const float* g, const float* x, const float* y, i64 n) {
	dgLoop(i, n) {
		float xv = x ? x[i] : 0.0f;
		float yv = y ? y[i] : 0.0f;
		dx[i] = dg_unary_g(op, g[i], xv, yv, A, B);
	}
}

// dg_binary_flat: d[i] = op(a[oa + i*ia], b[ob + i*ib]) with ia, ib in {0, 1}.
extern "C" __global__ void dg_binary_flat(int op, float* d, const float* a, i64 oa, i64 ia, const float* b, i64 ob, i64 ib, i64 n) {
	dgLoop(i, n) d[i] = dg_binary_f(op, a[oa + i * ia], b[ob + i * ib]);
}

// dg_binary: operand 0 is d (contiguous), 1 is a, 2 is b.
extern "C" __global__ void dg_binary(int op, float* d, const float* a, const float* b, dg_geo g) {
	dgLoop(i, g.total) {
		i64 o[3];
		dg_offsets(g, i, 3, o);
		d[o[0]] = dg_binary_f(op, a[o[1]], b[o[2]]);
	}
}

// dg_where: operand 0 is d, 1 the mask, 2 a, 3 b.
extern "C" __global__ void dg_where(float* d, const float* m, const float* a, const float* b, dg_geo g) {
	dgLoop(i, g.total) {
		i64 o[4];
		dg_offsets(g, i, 4, o);
		d[o[0]] = m[o[1]] != 0.0f ? a[o[2]] : b[o[3]];
	}
}

// dg_copy: operand 0 is d, 1 is s; acc adds instead of storing.
extern "C" __global__ void dg_copy(float* d, const float* s, dg_geo g, int acc) {
	dgLoop(i, g.total) {
		i64 o[2];
		dg_offsets(g, i, 2, o);
		if (acc) d[o[0]] += s[o[1]];
		else d[o[0]] = s[o[1]];
	}
}

// dg_add_flat: d[i] += s[i].
extern "C" __global__ void dg_add_flat(float* d, const float* s, i64 n) {
	dgLoop(i, n) d[i] += s[i];
}

// dg_adam is one Adam/AdamW update (autograd.AdamKernel).
extern "C" __global__ void dg_adam(float* p, const float* g, float* m, float* v, float* vmax, i64 n,
		float beta1, float beta2, float stepSize, float bc2Sqrt, float eps, float l2, float decay) {
	dgLoop(i, n) {
		float gv = g[i], pv = p[i];
		if (l2 != 0.0f) gv = gv + l2 * pv;
		if (decay != 1.0f) pv = pv * decay;
		float mv = m[i] * beta1 + (1.0f - beta1) * gv;
		float vv = v[i] * beta2 + (1.0f - beta2) * (gv * gv);
		m[i] = mv;
		v[i] = vv;
		float second = vv;
		if (vmax) {
			float w = vmax[i];
			second = (w != w || w > vv) ? w : vv;
			vmax[i] = second;
		}
		p[i] = pv - stepSize * (mv / (sqrtf(second) / bc2Sqrt + eps));
	}
}

// dg_gemm_k0 sets each C matrix to beta·C (a product with K = 0).
extern "C" __global__ void dg_gemm_k0(float* c, i64 off, i64 batch, i64 stride, i64 m, i64 n, i64 ldc, float beta) {
	dgLoop(t, batch * m * n) {
		i64 j = t % n, r = t / n;
		i64 i = r % m, bt = r / m;
		float* p = c + off + bt * stride + i * ldc + j;
		*p = beta == 0.0f ? 0.0f : beta * *p;
	}
}
`

// reduceSource is the reductions module: Reduce (sum, max/min, argmax/min),
// as [rows, n] row kernels (one block per row or row chunk) and
// [outer, n, inner] column kernels (one thread per output column). Both
// reduce chunk-long pieces of n and write [outer, splits, inner] partials,
// so that a long reduction can run as two passes.
const reduceSource = `
extern "C" __global__ void dg_sum_rows(float* dst, const float* src, i64 rows, i64 n, i64 splits, i64 chunk) {
	__shared__ double sh[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows * splits; r += gridDim.x) {
		i64 o = r / splits, s = r % splits;
		i64 lo = s * chunk, hi = dg_min64(n, lo + chunk);
		const float* p = src + o * n;
		double acc = 0.0;
		for (i64 j = lo + threadIdx.x; j < hi; j += blockDim.x) acc += (double)p[j];
		sh[threadIdx.x] = acc;
		dg_block_sum(sh);
		if (threadIdx.x == 0) dst[r] = (float)sh[0];
		__syncthreads();
	}
}

extern "C" __global__ void dg_maxmin_rows(int isMin, float* dst, const float* src, i64 rows, i64 n, i64 splits, i64 chunk) {
	__shared__ float sh[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows * splits; r += gridDim.x) {
		i64 o = r / splits, s = r % splits;
		i64 lo = s * chunk, hi = dg_min64(n, lo + chunk);
		const float* p = src + o * n;
		float acc = isMin ? dg_inf() : -dg_inf();
		for (i64 j = lo + threadIdx.x; j < hi; j += blockDim.x) acc = dg_maxnan(acc, p[j], isMin);
		sh[threadIdx.x] = acc;
		dg_block_maxnan(sh, isMin);
		if (threadIdx.x == 0) dst[r] = sh[0];
		__syncthreads();
	}
}

extern "C" __global__ void dg_arg_rows(int isMin, float* dst, const float* src, i64 rows, i64 n) {
	__shared__ float shv[DG_BLOCK];
	__shared__ i64 shi[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* p = src + r * n;
		float bv = isMin ? dg_inf() : -dg_inf();
		i64 bi = 0x7fffffffffffffffLL;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			if (dg_arg_better(p[j], j, bv, bi, isMin)) { bv = p[j]; bi = j; }
		}
		shv[threadIdx.x] = bv;
		shi[threadIdx.x] = bi;
		__syncthreads();
		for (unsigned w = blockDim.x / 2; w > 0; w >>= 1) {
			if (threadIdx.x < w && dg_arg_better(shv[threadIdx.x + w], shi[threadIdx.x + w], shv[threadIdx.x], shi[threadIdx.x], isMin)) {
				shv[threadIdx.x] = shv[threadIdx.x + w];
				shi[threadIdx.x] = shi[threadIdx.x + w];
			}
			__syncthreads();
		}
		if (threadIdx.x == 0) dst[r] = (float)shi[0];
		__syncthreads();
	}
}

// op: 0 sum, 1 max, 2 min, 3 argmax, 4 argmin (autograd.ReduceOp).
extern "C" __global__ void dg_reduce_cols(int op, float* dst, const float* src, i64 outer, i64 n, i64 inner, i64 splits, i64 chunk) {
	dgLoop(t, outer * splits * inner) {
		i64 i = t % inner, r = t / inner;
		i64 s = r % splits, o = r / splits;
		i64 lo = s * chunk, hi = dg_min64(n, lo + chunk);
		const float* p = src + o * n * inner + i;
		if (op == 0) {
			double acc = 0.0;
			for (i64 j = lo; j < hi; j++) acc += (double)p[j * inner];
			dst[t] = (float)acc;
		} else if (op <= 2) {
			int isMin = op == 2;
			float acc = isMin ? dg_inf() : -dg_inf();
			for (i64 j = lo; j < hi; j++) acc = dg_maxnan(acc, p[j * inner], isMin);
			dst[t] = acc;
		} else {
			int isMin = op == 4;
			float bv = p[lo * inner];
			i64 bi = lo;
			for (i64 j = lo + 1; j < hi; j++) {
				if (dg_arg_better(p[j * inner], j, bv, bi, isMin)) { bv = p[j * inner]; bi = j; }
			}
			dst[t] = (float)bi;
		}
	}
}
`

// softmaxSource is the softmax module: softmax and log-softmax over the
// middle axis of [outer, n, inner] and their gradients, as row kernels
// (inner = 1: a block per row) and column kernels (a thread per column).
const softmaxSource = `
extern "C" __global__ void dg_softmax_rows(float* dst, const float* src, i64 rows, i64 n, int lg) {
	__shared__ float shm[DG_BLOCK];
	__shared__ double shs[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* x = src + r * n;
		float* y = dst + r * n;
		float m = -dg_inf();
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) m = dg_maxnan(m, x[j], 0);
		shm[threadIdx.x] = m;
		dg_block_maxnan(shm, 0);
		m = shm[0];
		double s = 0.0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) s += (double)expf(x[j] - m);
		shs[threadIdx.x] = s;
		dg_block_sum(shs);
		s = shs[0];
		if (lg) {
			float c = -(m + (float)log(s));
			for (i64 j = threadIdx.x; j < n; j += blockDim.x) y[j] = x[j] + c;
		} else {
			float inv = (float)(1.0 / s);
			for (i64 j = threadIdx.x; j < n; j += blockDim.x) y[j] = expf(x[j] - m) * inv;
		}
		__syncthreads();
	}
}

extern "C" __global__ void dg_softmax_cols(float* dst, const float* src, i64 outer, i64 n, i64 inner, int lg) {
	dgLoop(t, outer * inner) {
		i64 i = t % inner, o = t / inner;
		const float* x = src + o * n * inner + i;
		float* y = dst + o * n * inner + i;
		float m = -dg_inf();
		for (i64 j = 0; j < n; j++) m = dg_maxnan(m, x[j * inner], 0);
		double s = 0.0;
		for (i64 j = 0; j < n; j++) s += (double)expf(x[j * inner] - m);
		if (lg) {
			float c = -(m + (float)log(s));
			for (i64 j = 0; j < n; j++) y[j * inner] = x[j * inner] + c;
		} else {
			float inv = (float)(1.0 / s);
			for (i64 j = 0; j < n; j++) y[j * inner] = expf(x[j * inner] - m) * inv;
		}
	}
}

// softmax: dx = (g − Σ g·y)·y; log-softmax: dx = g − e^y·Σ g.
extern "C" __global__ void dg_softmax_grad_rows(float* dx, const float* g, const float* y, i64 rows, i64 n, int lg) {
	__shared__ double sh[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* gr = g + r * n;
		const float* yr = y + r * n;
		float* d = dx + r * n;
		double s = 0.0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) s += lg ? (double)gr[j] : (double)gr[j] * (double)yr[j];
		sh[threadIdx.x] = s;
		dg_block_sum(sh);
		float dot = (float)sh[0];
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) d[j] = lg ? gr[j] - expf(yr[j]) * dot : (gr[j] - dot) * yr[j];
		__syncthreads();
	}
}

extern "C" __global__ void dg_softmax_grad_cols(float* dx, const float* g, const float* y, i64 outer, i64 n, i64 inner, int lg) {
	dgLoop(t, outer * inner) {
		i64 i = t % inner, o = t / inner;
		i64 base = o * n * inner + i;
		double s = 0.0;
		for (i64 j = 0; j < n; j++) {
			i64 k = base + j * inner;
			s += lg ? (double)g[k] : (double)g[k] * (double)y[k];
		}
		float dot = (float)s;
		for (i64 j = 0; j < n; j++) {
			i64 k = base + j * inner;
			dx[k] = lg ? g[k] - expf(y[k]) * dot : (g[k] - dot) * y[k];
		}
	}
}

// Rows of at most 32·PER elements: one warp per row, the row in registers,
// reductions by shuffles. The loop over row groups is the same for every
// thread of a block, so all lanes reach every shuffle.
template <int PER>
__device__ __forceinline__ void dg_softmax_warp(float* dst, const float* src, i64 rows, i64 n, int lg) {
	const int lane = threadIdx.x & 31;
	const i64 per = blockDim.x >> 5;
	for (i64 base = (i64)blockIdx.x * per; base < rows; base += (i64)gridDim.x * per) {
		const i64 r = base + (threadIdx.x >> 5);
		const bool act = r < rows;
		const float* x = src + r * n;
		float v[PER];
		float m = -dg_inf();
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			v[i] = act && j < n ? x[j] : -dg_inf();
			m = dg_maxnan(m, v[i], 0);
		}
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) m = dg_maxnan(m, __shfl_xor_sync(0xffffffffu, m, o), 0);
		double s = 0.0;
#pragma unroll
		for (int i = 0; i < PER; i++)
			if (act && lane + 32 * i < n) s += (double)expf(v[i] - m);
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
		if (!act) continue;
		float* y = dst + r * n;
		const float c = -(m + (float)log(s)), inv = (float)(1.0 / s);
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			if (j < n) y[j] = lg ? v[i] + c : expf(v[i] - m) * inv;
		}
	}
}

extern "C" __global__ void dg_softmax_rows_w8(float* dst, const float* src, i64 rows, i64 n, int lg) {
	dg_softmax_warp<8>(dst, src, rows, n, lg);
}

extern "C" __global__ void dg_softmax_rows_w32(float* dst, const float* src, i64 rows, i64 n, int lg) {
	dg_softmax_warp<32>(dst, src, rows, n, lg);
}

template <int PER>
__device__ __forceinline__ void dg_softmax_grad_warp(float* dx, const float* g, const float* y, i64 rows, i64 n, int lg) {
	const int lane = threadIdx.x & 31;
	const i64 per = blockDim.x >> 5;
	for (i64 base = (i64)blockIdx.x * per; base < rows; base += (i64)gridDim.x * per) {
		const i64 r = base + (threadIdx.x >> 5);
		const bool act = r < rows;
		const float* gr = g + r * n;
		const float* yr = y + r * n;
		float gv[PER], yv[PER];
		double s = 0.0;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			const bool in = act && j < n;
			gv[i] = in ? gr[j] : 0.0f;
			yv[i] = in ? yr[j] : 0.0f;
			s += lg ? (double)gv[i] : (double)gv[i] * (double)yv[i];
		}
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
		if (!act) continue;
		const float dot = (float)s;
		float* d = dx + r * n;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			if (j < n) d[j] = lg ? gv[i] - expf(yv[i]) * dot : (gv[i] - dot) * yv[i];
		}
	}
}

extern "C" __global__ void dg_softmax_grad_rows_w8(float* dx, const float* g, const float* y, i64 rows, i64 n, int lg) {
	dg_softmax_grad_warp<8>(dx, g, y, rows, n, lg);
}

extern "C" __global__ void dg_softmax_grad_rows_w32(float* dx, const float* g, const float* y, i64 rows, i64 n, int lg) {
	dg_softmax_grad_warp<32>(dx, g, y, rows, n, lg);
}
`

// normSource is the normalisation module: layer norm forward and backward.
const normSource = `
// One block per row: the mean, then the deviations from its float rounding
// (with the first-order correction), as the CPU device computes them.
extern "C" __global__ void dg_layernorm(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, i64 rows, i64 n, float eps) {
	__shared__ double s1[DG_BLOCK];
	__shared__ double s2[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* xr = x + r * n;
		float* yr = y + r * n;
		double s = 0.0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) s += (double)xr[j];
		s1[threadIdx.x] = s;
		dg_block_sum(s1);
		float mf = (float)(s1[0] / (double)n);
		__syncthreads();
		double a = 0.0, q = 0.0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			double d = (double)xr[j] - (double)mf;
			a += d;
			q += d * d;
		}
		s1[threadIdx.x] = a;
		s2[threadIdx.x] = q;
		dg_block_sum2(s1, s2);
		double dm = s1[0] / (double)n;
		double var = s2[0] / (double)n - dm * dm;
		if (var < 0.0) var = 0.0;
		float m = (float)((double)mf + dm);
		float rs = (float)(1.0 / sqrt(var + (double)eps));
		if (threadIdx.x == 0) {
			mean[r] = m;
			rstd[r] = rs;
		}
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			float v = (xr[j] - m) * rs;
			if (w) v = b ? fmaf(v, w[j], b[j]) : v * w[j];
			else if (b) v = v + b[j];
			yr[j] = v;
		}
		__syncthreads();
	}
}

// dx = rs·(g·w − a) − (x − m)·c with a = Σ g·w / n and c = Σ g·w·(x − m) / n · rs³.
extern "C" __global__ void dg_layernorm_grad_dx(float* dx, const float* g, const float* x, const float* mean, const float* rstd, const float* w, i64 rows, i64 n) {
	__shared__ double s1[DG_BLOCK];
	__shared__ double s2[DG_BLOCK];
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* xr = x + r * n;
		const float* gr = g + r * n;
		float* dr = dx + r * n;
		float m = mean[r], rs = rstd[r];
		double a = 0.0, q = 0.0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			double gw = (double)gr[j] * (w ? (double)w[j] : 1.0);
			a += gw;
			q += gw * (double)(xr[j] - m);
		}
		s1[threadIdx.x] = a;
		s2[threadIdx.x] = q;
		dg_block_sum2(s1, s2);
		float av = (float)(s1[0] / (double)n);
		float c = (float)(s2[0] / (double)n) * rs * rs * rs;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			float gw = w ? gr[j] * w[j] : gr[j];
			dr[j] = rs * (gw - av) - (xr[j] - m) * c;
		}
		__syncthreads();
	}
}

// Partial sums of dw = Σ g·x̂ and db = Σ g over the rows of chunk c, into
// pw[c·n + j] and pb[c·n + j] (either may be null).
extern "C" __global__ void dg_layernorm_grad_wb(float* pw, float* pb, const float* g, const float* x, const float* mean, const float* rstd, i64 rows, i64 n, i64 chunks, i64 chunk) {
	dgLoop(t, chunks * n) {
		i64 j = t % n, c = t / n;
		i64 lo = c * chunk, hi = dg_min64(rows, lo + chunk);
		double sw = 0.0, sb = 0.0;
		for (i64 r = lo; r < hi; r++) {
			float gv = g[r * n + j];
			sw += (double)(gv * ((x[r * n + j] - mean[r]) * rstd[r]));
			sb += (double)gv;
		}
		if (pw) pw[t] = (float)sw;
		if (pb) pb[t] = (float)sb;
	}
}

// Layer norm over rows of at most 32·PER elements: one warp per row, as
// dg_softmax_warp, with the same sums as dg_layernorm.
template <int PER>
__device__ __forceinline__ void dg_layernorm_warp(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, i64 rows, i64 n, float eps) {
	const int lane = threadIdx.x & 31;
	const i64 per = blockDim.x >> 5;
	for (i64 base = (i64)blockIdx.x * per; base < rows; base += (i64)gridDim.x * per) {
		const i64 r = base + (threadIdx.x >> 5);
		const bool act = r < rows;
		const float* xr = x + r * n;
		float v[PER];
		double s = 0.0;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			v[i] = act && j < n ? xr[j] : 0.0f;
			s += (double)v[i];
		}
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
		const float mf = (float)(s / (double)n);
		double a = 0.0, q = 0.0;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			if (act && lane + 32 * i < n) {
				const double d = (double)v[i] - (double)mf;
				a += d;
				q += d * d;
			}
		}
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) {
			a += __shfl_xor_sync(0xffffffffu, a, o);
			q += __shfl_xor_sync(0xffffffffu, q, o);
		}
		if (!act) continue;
		const double dm = a / (double)n;
		double var = q / (double)n - dm * dm;
		if (var < 0.0) var = 0.0;
		const float m = (float)((double)mf + dm);
		const float rs = (float)(1.0 / sqrt(var + (double)eps));
		if (lane == 0) {
			mean[r] = m;
			rstd[r] = rs;
		}
		float* yr = y + r * n;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			if (j < n) {
				float t = (v[i] - m) * rs;
				if (w) t = b ? fmaf(t, w[j], b[j]) : t * w[j];
				else if (b) t = t + b[j];
				yr[j] = t;
			}
		}
	}
}

extern "C" __global__ void dg_layernorm_w8(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, i64 rows, i64 n, float eps) {
	dg_layernorm_warp<8>(y, mean, rstd, x, w, b, rows, n, eps);
}

extern "C" __global__ void dg_layernorm_w32(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, i64 rows, i64 n, float eps) {
	dg_layernorm_warp<32>(y, mean, rstd, x, w, b, rows, n, eps);
}

template <int PER>
__device__ __forceinline__ void dg_layernorm_grad_dx_warp(float* dx, const float* g, const float* x, const float* mean, const float* rstd, const float* w, i64 rows, i64 n) {
	const int lane = threadIdx.x & 31;
	const i64 per = blockDim.x >> 5;
	for (i64 base = (i64)blockIdx.x * per; base < rows; base += (i64)gridDim.x * per) {
		const i64 r = base + (threadIdx.x >> 5);
		const bool act = r < rows;
		const float* xr = x + r * n;
		const float* gr = g + r * n;
		const float m = act ? mean[r] : 0.0f, rs = act ? rstd[r] : 0.0f;
		float gw[PER], xc[PER];
		double a = 0.0, q = 0.0;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			const bool in = act && j < n;
			gw[i] = in ? (w ? gr[j] * w[j] : gr[j]) : 0.0f;
			xc[i] = in ? xr[j] - m : 0.0f;
			const double gd = in ? (double)gr[j] * (w ? (double)w[j] : 1.0) : 0.0;
			a += gd;
			q += gd * (double)xc[i];
		}
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) {
			a += __shfl_xor_sync(0xffffffffu, a, o);
			q += __shfl_xor_sync(0xffffffffu, q, o);
		}
		if (!act) continue;
		const float av = (float)(a / (double)n);
		const float c = (float)(q / (double)n) * rs * rs * rs;
		float* dr = dx + r * n;
#pragma unroll
		for (int i = 0; i < PER; i++) {
			const i64 j = lane + 32 * i;
			if (j < n) dr[j] = rs * (gw[i] - av) - xc[i] * c;
		}
	}
}

extern "C" __global__ void dg_layernorm_grad_dx_w8(float* dx, const float* g, const float* x, const float* mean, const float* rstd, const float* w, i64 rows, i64 n) {
	dg_layernorm_grad_dx_warp<8>(dx, g, x, mean, rstd, w, rows, n);
}

extern "C" __global__ void dg_layernorm_grad_dx_w32(float* dx, const float* g, const float* x, const float* mean, const float* rstd, const float* w, i64 rows, i64 n) {
	dg_layernorm_grad_dx_warp<32>(dx, g, x, mean, rstd, w, rows, n);
}
`

// indexSource is the indexing module: IndexSelect and IndexAdd with int32
// indices on the device.
const indexSource = `
extern "C" __global__ void dg_index_select(float* d, const float* s, const int* idx, i64 outer, i64 n, i64 inner, i64 k) {
	dgLoop(t, outer * k * inner) {
		i64 i = t % inner, r = t / inner;
		i64 j = r % k, o = r / k;
		d[t] = s[(o * n + idx[j]) * inner + i];
	}
}

extern "C" __global__ void dg_index_add(float* d, const float* s, const int* idx, i64 outer, i64 n, i64 inner, i64 k) {
	dgLoop(t, outer * k * inner) {
		i64 i = t % inner, r = t / inner;
		i64 j = r % k, o = r / k;
		atomicAdd(&d[(o * n + idx[j]) * inner + i], s[t]);
	}
}
`

// kernelModule is one NVRTC compilation unit: a name (its cache key, with
// the architecture), the source after the header, and its kernels.
type kernelModule struct {
	name    string
	source  func() string
	kernels []string
}

// The modules. Each kernel name appears in exactly one.
var (
	modElementwise = &kernelModule{name: "elementwise", source: elementwiseSource,
		kernels: []string{"dg_fill", "dg_unary", "dg_unary_grad", "dg_binary_flat", "dg_binary", "dg_where", "dg_copy", "dg_add_flat", "dg_gemm_k0", "dg_adam"}}
	modReduce = &kernelModule{name: "reduce", source: func() string { return reduceSource },
		kernels: []string{"dg_sum_rows", "dg_maxmin_rows", "dg_arg_rows", "dg_reduce_cols"}}
	modSoftmax = &kernelModule{name: "softmax", source: func() string { return softmaxSource },
		kernels: []string{"dg_softmax_rows", "dg_softmax_cols", "dg_softmax_grad_rows", "dg_softmax_grad_cols",
			"dg_softmax_rows_w8", "dg_softmax_rows_w32", "dg_softmax_grad_rows_w8", "dg_softmax_grad_rows_w32"}}
	modNorm = &kernelModule{name: "norm", source: func() string { return normSource },
		kernels: []string{"dg_layernorm", "dg_layernorm_grad_dx", "dg_layernorm_grad_wb",
			"dg_layernorm_w8", "dg_layernorm_w32", "dg_layernorm_grad_dx_w8", "dg_layernorm_grad_dx_w32"}}
	modIndex = &kernelModule{name: "index", source: func() string { return indexSource },
		kernels: []string{"dg_index_select", "dg_index_add"}}
)

// allModules lists every module, for tests and for warming the cache.
var allModules = []*kernelModule{modElementwise, modReduce, modSoftmax, modNorm, modIndex, modNN}

// fullSource returns the complete source NVRTC compiles for m.
func (m *kernelModule) fullSource() string {
	return kernelHeader + m.source()
}
