//go:build !amd64

package cpu

// No direct-convolution kernels on this architecture: convolutions take
// the im2col path.
const haveDirectConv = false

func directKernel(mr, k int, a, base []float32, offs []int32, c []float32, ldc, m, n int, bias []float32) {
	panic("cpu: direct convolution kernels are amd64-only")
}

func wgradKernel(q *wgradArgs, gy, x []float32) {
	panic("cpu: direct convolution kernels are amd64-only")
}
