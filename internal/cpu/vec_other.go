//go:build !amd64

package cpu

// Without assembly the callers' portable loops run.

func vecAxpy(a float32, x, y []float32) bool { return false }

func vecDot(x, y []float32) (float32, bool) { return 0, false }

func dwPlane(out []float32, outStride, rows, n int, src []float32, srcStride int, w []float32, kh, kw, dh, dw int, bias float32) bool {
	return false
}

// hasVecAVX2 is false: there is no assembly here.
var hasVecAVX2 = false
