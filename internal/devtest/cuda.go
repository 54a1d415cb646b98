//go:build cuda

package devtest

// With the build tag cuda, every test that uses Each also runs on the CUDA
// devices: importing the cuda package registers one device per GPU the
// driver reports (none on a machine without one, so the tag is harmless
// there). For example
//
//	go test -tags cuda -run TestGolden ./autograd
//
// runs the op suite on the CPU and on cuda:0. With DEEPGO_CUDA_PATH
// pointing at the host emulator (cuda/testdata/emu/build.sh) it runs the
// CUDA kernels without a GPU.
import _ "github.com/deepgo/deepgo/cuda"
