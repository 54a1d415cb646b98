//go:build amd64

package cpu

import xcpu "golang.org/x/sys/cpu"

// The vector helpers of the convolution and normalisation kernels
// (vec_amd64.s). Lengths are the callers' business.

//go:noescape
func vecAxpyAVX2(a float32, x, y *float32, n int)

//go:noescape
func vecDotAVX2(x, y *float32, n int) float32

//go:noescape
func dwPlaneAVX2(out *float32, outStride, rows, n int, src *float32, srcStride int, w *float32, kh, kw, dh, dw int, bias float32)

// hasVecAVX2 reports whether the AVX2+FMA helpers may run.
var hasVecAVX2 = xcpu.X86.HasAVX2 && xcpu.X86.HasFMA

// vecMin is the length from which the assembly pays for its call.
const vecMin = 16

func vecAxpy(a float32, x, y []float32) bool {
	if !hasVecAVX2 || len(x) < vecMin {
		return false
	}
	y = y[:len(x)]
	vecAxpyAVX2(a, &x[0], &y[0], len(x))
	return true
}

func vecDot(x, y []float32) (float32, bool) {
	if !hasVecAVX2 || len(x) < vecMin {
		return 0, false
	}
	y = y[:len(x)]
	return vecDotAVX2(&x[0], &y[0], len(x)), true
}

// dwPlane sets out[r·outStride+i] = bias + Σ_{a,b} w[a·kw+b]·src[(r+a·dh)·srcStride+i+b·dw]
// for r < rows and i < n: one plane of a stride-1 depthwise convolution
// over a padded input (len(w) = kh·kw).
func dwPlane(out []float32, outStride, rows, n int, src []float32, srcStride int, w []float32, kh, kw, dh, dw int, bias float32) bool {
	if !hasVecAVX2 || rows <= 0 || n <= 0 || kh <= 0 || kw <= 0 {
		return false
	}
	_ = out[(rows-1)*outStride+n-1]
	_ = src[(rows-1+(kh-1)*dh)*srcStride+n-1+(kw-1)*dw]
	_ = w[kh*kw-1]
	dwPlaneAVX2(&out[0], outStride, rows, n, &src[0], srcStride, &w[0], kh, kw, dh, dw, bias)
	return true
}
