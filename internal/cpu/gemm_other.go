//go:build !amd64

package cpu

// No assembly GEMM kernels on this architecture: the portable Go kernel
// (GoKernel) and the Go packing routines are used.
