package cpu

import "math"

//go:generate go run vmath_gen.go

// Vectorised float32 math over slices: e^x, log, tanh, σ, erf, and the
// activations built from them (GELU in both forms, SiLU, softplus, ELU) with
// their derivatives, elementwise arithmetic, and reductions.
//
// The kernels are written once in vmath_gen.go and emitted twice: as AVX2+FMA
// assembly (vmath_amd64.s, chosen at run time when the CPU has AVX2 and FMA)
// and as portable Go (vmath_kern.go) that performs the same float32
// operations in the same order, so that the two agree to float32 rounding.
//
// Accuracy against float64 math over the whole float32 range (max error in
// units in the last place over 3M inputs each, the same on both paths, as
// vmath_test.go measures and bounds it): Exp 0.93, Log 0.83, Tanh 1.29,
// Sigmoid 2.29, Erf 1.01, GeluErf 5.1, Silu 2.8, Softplus 1.9, Elu 1.4.
// Overflow to ±Inf, gradual underflow to subnormals and 0, ±0, ±Inf and NaN
// are handled as float64 math (or PyTorch, where they differ) does. GeluTanh
// is within 2.7 ulp for x ≥ −1; below, its tiny results inherit the float32
// rounding of the tanh argument times its magnitude (up to about 150 ulp
// where the result nears underflow, a relative error below 1e-5).
//
// Every function takes dst and its inputs as slices; the inputs must be at
// least as long as dst, and may be dst itself (element i is read before it
// is written). None allocates.

// vmathAsm lets tests force the portable kernels.
var vmathAsm = true

// Exp sets dst[i] = e^x[i].
func Exp(dst, x []float32) { expVec(dst, x) }

// Log sets dst[i] = log x[i] (−Inf at ±0, NaN below 0).
func Log(dst, x []float32) { logVec(dst, x) }

// Tanh sets dst[i] = tanh x[i].
func Tanh(dst, x []float32) { tanhVec(dst, x) }

// Sigmoid sets dst[i] = 1/(1 + e^−x[i]).
func Sigmoid(dst, x []float32) { sigmoidVec(dst, x) }

// Erf sets dst[i] = erf x[i].
func Erf(dst, x []float32) { erfVec(dst, x) }

// GeluErf sets dst[i] = x·Φ(x) = x/2·(1 + erf(x/√2)), the exact GELU.
func GeluErf(dst, x []float32) { geluErfVec(dst, x) }

// GeluTanh sets dst[i] = x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the tanh
// approximation of GELU.
func GeluTanh(dst, x []float32) { geluTanhVec(dst, x) }

// Silu sets dst[i] = x·σ(x).
func Silu(dst, x []float32) { siluVec(dst, x) }

// Softplus sets dst[i] = log(1 + e^(β·x))/β, or x where β·x > threshold.
func Softplus(dst, x []float32, beta, threshold float32) { softplusVec(dst, x, beta, threshold) }

// Elu sets dst[i] = x where x ≥ 0, else α·(e^x − 1).
func Elu(dst, x []float32, alpha float32) { eluVec(dst, x, alpha) }

// Add sets dst[i] = a[i] + b[i].
func Add(dst, a, b []float32) { addVec(dst, a, b) }

// Sub sets dst[i] = a[i] − b[i].
func Sub(dst, a, b []float32) { subVec(dst, a, b) }

// Mul sets dst[i] = a[i]·b[i].
func Mul(dst, a, b []float32) { mulVec(dst, a, b) }

// Div sets dst[i] = a[i]/b[i].
func Div(dst, a, b []float32) { divVec(dst, a, b) }

// AddScalar sets dst[i] = x[i] + s.
func AddScalar(dst, x []float32, s float32) { addSVec(dst, x, s) }

// MulScalar sets dst[i] = x[i]·s.
func MulScalar(dst, x []float32, s float32) { mulSVec(dst, x, s) }

// DivScalar sets dst[i] = x[i]/s.
func DivScalar(dst, x []float32, s float32) { divSVec(dst, x, s) }

// RSubScalar sets dst[i] = s − x[i].
func RSubScalar(dst, x []float32, s float32) { rsubSVec(dst, x, s) }

// RDivScalar sets dst[i] = s/x[i].
func RDivScalar(dst, x []float32, s float32) { rdivSVec(dst, x, s) }

// Maximum sets dst[i] = max(a[i], b[i]) with NaN in either winning and
// b[i] on ties (a[i] where a[i] > b[i], else b[i], NaN kept).
func Maximum(dst, a, b []float32) { maxNaNVec(dst, b, a) }

// Minimum sets dst[i] = min(a[i], b[i]), as Maximum.
func Minimum(dst, a, b []float32) { minNaNVec(dst, b, a) }

// Neg sets dst[i] = −x[i].
func Neg(dst, x []float32) { negVec(dst, x) }

// Abs sets dst[i] = |x[i]|.
func Abs(dst, x []float32) { absVec(dst, x) }

// Square sets dst[i] = x[i]².
func Square(dst, x []float32) { squareVec(dst, x) }

// Sqrt sets dst[i] = √x[i] (correctly rounded).
func Sqrt(dst, x []float32) { sqrtVec(dst, x) }

// Relu sets dst[i] = max(x[i], 0), keeping NaN (and −0 becomes +0).
func Relu(dst, x []float32) { reluVec(dst, x) }

// LeakyRelu sets dst[i] = x where x > 0, else a·x.
func LeakyRelu(dst, x []float32, a float32) { leakyReluVec(dst, x, a) }

// Clamp sets dst[i] = min(max(x[i], lo), hi), keeping NaN; it needs lo ≤ hi.
func Clamp(dst, x []float32, lo, hi float32) { clampVec(dst, x, lo, hi) }

// The derivatives: each sets dx[i] = g[i]·f'(x[i]), from the forward input
// x or output y as named.

// TanhGrad sets dx = g·(1 − y²).
func TanhGrad(dx, g, y []float32) { tanhGradVec(dx, g, y) }

// SigmoidGrad sets dx = g·y·(1 − y).
func SigmoidGrad(dx, g, y []float32) { sigmoidGradVec(dx, g, y) }

// ReluGrad sets dx = g where x > 0, else 0.
func ReluGrad(dx, g, x []float32) { reluGradVec(dx, g, x) }

// SquareGrad sets dx = 2·g·x.
func SquareGrad(dx, g, x []float32) { squareGradVec(dx, g, x) }

// SqrtGrad sets dx = g·(0.5/y).
func SqrtGrad(dx, g, y []float32) { sqrtGradVec(dx, g, y) }

// LeakyReluGrad sets dx = g where x > 0, else a·g.
func LeakyReluGrad(dx, g, x []float32, a float32) { leakyReluGradVec(dx, g, x, a) }

// ClampGrad sets dx = g where lo ≤ x ≤ hi, else 0.
func ClampGrad(dx, g, x []float32, lo, hi float32) { clampGradVec(dx, g, x, lo, hi) }

// SiluGrad sets dx = g·σ(x)·(1 + x·(1 − σ(x))).
func SiluGrad(dx, g, x []float32) { siluGradVec(dx, g, x) }

// GeluErfGrad sets dx = g·(Φ(x) + x·φ(x)).
func GeluErfGrad(dx, g, x []float32) { geluErfGradVec(dx, g, x) }

// GeluTanhGrad sets dx to g times the derivative of GeluTanh.
func GeluTanhGrad(dx, g, x []float32) { geluTanhGradVec(dx, g, x) }

// SoftplusGrad sets dx = g·σ(β·x), or g where β·x > threshold.
func SoftplusGrad(dx, g, x []float32, beta, threshold float32) {
	softplusGradVec(dx, g, x, beta, threshold)
}

// EluGrad sets dx = g where x > 0, else g·α·e^x.
func EluGrad(dx, g, x []float32, alpha float32) { eluGradVec(dx, g, x, alpha) }

// Sum returns Σ x in float32 lanes added into float64 every few elements
// (fast, and within a few float32 roundings of the exact sum).
func Sum(x []float32) float64 { return sumVec(x) }

// Dot returns Σ x[i]·y[i] over i < len(x), as Sum does.
func Dot(x, y []float32) float64 { return dotVec(x, y) }

// Max returns the largest element of x (len(x) ≥ 1), NaN when any is NaN.
func Max(x []float32) float32 { return maxVec(x) }

// Min returns the smallest element of x (len(x) ≥ 1), NaN when any is NaN.
func Min(x []float32) float32 { return minVec(x) }

// SoftmaxRow sets dst to softmax(x) (log-softmax when log) over the whole
// row: e^(x − max)/Σ e^(x − max), or x − max − log Σ e^(x − max).
func SoftmaxRow(dst, x []float32, log bool) {
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	m := maxVec(x)
	s := expShiftSumVec(dst, x, m)
	if log {
		addSVec(dst, x, -(m + float32(math.Log(s))))
		return
	}
	mulSVec(dst, dst, float32(1/s))
}

// SoftmaxRowGrad sets dx to the gradient of SoftmaxRow (log-softmax when
// log) from the upstream gradient g and its output y.
func SoftmaxRowGrad(dx, g, y []float32, log bool) {
	if log {
		logSoftmaxGradVec(dx, g, y, float32(sumVec(g[:len(dx)])))
		return
	}
	softmaxGradVec(dx, g, y, float32(dotVec(g[:len(dx)], y)))
}

// SoftmaxRowsGrad is SoftmaxRowGrad (softmax, not log-softmax) for rows
// consecutive rows of n values: dx, g and y hold rows·n values each. On
// AVX-512 one call sweeps every row, the dot product and the update of a
// row in one pass over memory.
func SoftmaxRowsGrad(dx, g, y []float32, rows, n int) {
	if softmaxRowsGrad512(dx, g, y, rows, n) {
		return
	}
	for r := 0; r < rows; r++ {
		SoftmaxRowGrad(dx[r*n:(r+1)*n], g[r*n:(r+1)*n], y[r*n:(r+1)*n], false)
	}
}

// softmaxCols is the widest column block of SoftmaxCols.
const softmaxCols = 256

// softmaxGather is the longest column that a narrow SoftmaxCols block
// gathers into a contiguous row (a stack array) instead of running the
// vector kernels across a few columns at a time.
const softmaxGather = 512

// softmaxNarrow is the block width below which SoftmaxCols gathers.
const softmaxNarrow = 8

// SoftmaxCols applies SoftmaxRow down the columns of x viewed as [n, inner]
// (row j at x[j·inner:]), for the columns c in [lo, hi): blocks of up to
// 256 columns go through the vector kernels row by row, with the running
// maxima and sums in stack arrays; narrow blocks of short columns are
// gathered into a row, one column at a time.
func SoftmaxCols(dst, x []float32, n, inner, lo, hi int, log bool) {
	if hi-lo < softmaxNarrow && n <= softmaxGather {
		var rb, yb [softmaxGather]float32
		r, y := rb[:n], yb[:n]
		for c := lo; c < hi; c++ {
			for j := range r {
				r[j] = x[j*inner+c]
			}
			SoftmaxRow(y, r, log)
			for j, v := range y {
				dst[j*inner+c] = v
			}
		}
		return
	}
	var mb, sb [softmaxCols]float32
	for c := lo; c < hi; c += softmaxCols {
		w := min(softmaxCols, hi-c)
		m, s := mb[:w], sb[:w]
		copy(m, x[c:c+w])
		for j := 1; j < n; j++ {
			maxNaNVec(m, m, x[j*inner+c:])
		}
		clear(s)
		for j := 0; j < n; j++ {
			d := dst[j*inner+c : j*inner+c+w]
			expSubVec(d, x[j*inner+c:], m)
			addVec(s, s, d)
		}
		if log {
			logVec(s, s)
			addVec(s, s, m)
			for j := 0; j < n; j++ {
				subVec(dst[j*inner+c:j*inner+c+w], x[j*inner+c:], s)
			}
			continue
		}
		rdivSVec(s, s, 1)
		for j := 0; j < n; j++ {
			d := dst[j*inner+c : j*inner+c+w]
			mulVec(d, d, s)
		}
	}
}

// SoftmaxColsGrad is the gradient of SoftmaxCols for the columns in [lo, hi).
func SoftmaxColsGrad(dx, g, y []float32, n, inner, lo, hi int, log bool) {
	if hi-lo < softmaxNarrow && n <= softmaxGather {
		var gb, yb, db [softmaxGather]float32
		gr, yr, dr := gb[:n], yb[:n], db[:n]
		for c := lo; c < hi; c++ {
			for j := range gr {
				gr[j], yr[j] = g[j*inner+c], y[j*inner+c]
			}
			SoftmaxRowGrad(dr, gr, yr, log)
			for j, v := range dr {
				dx[j*inner+c] = v
			}
		}
		return
	}
	var db [softmaxCols]float32
	for c := lo; c < hi; c += softmaxCols {
		w := min(softmaxCols, hi-c)
		dot := db[:w]
		clear(dot)
		for j := 0; j < n; j++ {
			if log {
				addVec(dot, dot, g[j*inner+c:])
			} else {
				fmaAccVec(dot, dot, g[j*inner+c:], y[j*inner+c:])
			}
		}
		for j := 0; j < n; j++ {
			d := dx[j*inner+c : j*inner+c+w]
			if log {
				logSoftmaxGradVVec(d, g[j*inner+c:], y[j*inner+c:], dot)
			} else {
				softmaxGradVVec(d, g[j*inner+c:], y[j*inner+c:], dot)
			}
		}
	}
}

// maxGo and minGo are the portable forms of maxAVX2 and minAVX2.
func maxGo(x []float32) float32 {
	best := x[0]
	for _, v := range x {
		if v != v {
			return v
		}
		if v > best {
			best = v
		}
	}
	return best
}

func minGo(x []float32) float32 {
	best := x[0]
	for _, v := range x {
		if v != v {
			return v
		}
		if v < best {
			best = v
		}
	}
	return best
}

// The scalar forms of the vector instructions, used by the portable kernels.

// fma32 is a·b + c rounded once to float32. (The product is exact in
// float64 and the sum rounds twice, to float64 and then float32: this
// differs from a float32 FMA about once in 2^29 random operations.)
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// vmax is x86 MAXPS: a if a > b, else b (so b when either is NaN).
func vmax(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// vmin is x86 MINPS: a if a < b, else b.
func vmin(a, b float32) float32 {
	if a < b {
		return a
	}
	return b
}

func vbits(a float32) uint32 { return math.Float32bits(a) }

func vfrom(u uint32) float32 { return math.Float32frombits(u) }

func vand(a, b float32) float32 { return vfrom(vbits(a) & vbits(b)) }

func vor(a, b float32) float32 { return vfrom(vbits(a) | vbits(b)) }

func vxor(a, b float32) float32 { return vfrom(vbits(a) ^ vbits(b)) }

func vaddi(a, b float32) float32 { return vfrom(vbits(a) + vbits(b)) }

func vsubi(a, b float32) float32 { return vfrom(vbits(a) - vbits(b)) }

func vshl(a float32, n int) float32 { return vfrom(vbits(a) << n) }

func vshr(a float32, n int) float32 { return vfrom(vbits(a) >> n) }

func vsar(a float32, n int) float32 { return vfrom(uint32(int32(vbits(a)) >> n)) }

func vround(a float32) float32 { return float32(math.RoundToEven(float64(a))) }

// vcvti is CVTPS2DQ: round to the nearest int32, 0x80000000 for NaN and
// out-of-range values; the int32 is returned in a float32's bits.
func vcvti(a float32) float32 {
	if a >= -(1<<31) && a < 1<<31 {
		return vfrom(uint32(int32(math.RoundToEven(float64(a)))))
	}
	return vfrom(0x80000000)
}

// vcvtf is CVTDQ2PS: the int32 in a's bits, converted to float32.
func vcvtf(a float32) float32 { return float32(int32(vbits(a))) }

func vsqrt(a float32) float32 { return float32(math.Sqrt(float64(a))) }

// vmask is a compare's lane: all ones (a NaN pattern) or zero.
func vmask(c bool) float32 {
	if c {
		return vfrom(0xffffffff)
	}
	return 0
}

// vblend is BLENDVPS: b where mask's sign bit is set, else a.
func vblend(mask, a, b float32) float32 {
	if vbits(mask)&0x80000000 != 0 {
		return b
	}
	return a
}
