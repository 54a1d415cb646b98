//go:build amd64

package cpu

import xcpu "golang.org/x/sys/cpu"

// The vector helpers of the convolution and normalisation kernels
// (vec_amd64.s). Lengths are the callers' business.

//go:noescape
func vecAxpyAVX2(a float32, x, y *float32, n int)

//go:noescape
func vecDotAVX2(x, y *float32, n int) float32

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
