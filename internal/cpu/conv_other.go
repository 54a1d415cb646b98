//go:build !amd64

package cpu

// No direct-convolution kernels on this architecture: convolutions take
// the im2col path.
const haveAVX512 = false

func directKernel(mr, k int, a, base []float32, offs []int32, c []float32, ldc, m, n int, bias []float32) {
	panic("cpu: direct convolution kernels are amd64-only")
}

func wgradKernel(q *wgradArgs) {
	panic("cpu: direct convolution kernels are amd64-only")
}

func dwPlane512(out []float32, outStride, rows, n int, src []float32, srcStride int, w []float32, kh, kw, dh, dw int, bias float32) bool {
	return false
}

// copyRows copies rows × n floats between strided planes.
func copyRows(dst []float32, dstStride int, src []float32, srcStride int, rows, n int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*dstStride:r*dstStride+n], src[r*srcStride:r*srcStride+n])
	}
}
