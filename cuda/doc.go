// Package cuda is deepgo's CUDA device: tensors on NVIDIA GPUs, without cgo
// and without a CUDA toolkit at build time.
//
// The package loads the NVIDIA driver (libcuda.so.1), cuBLAS and NVRTC at
// run time through purego, so CGO_ENABLED=0 go build works everywhere and
// the same binary uses a GPU where one exists. Importing it registers one
// autograd device per GPU, named "cuda:0", "cuda:1", ... (like a
// database/sql driver); the core packages never import it:
//
//	import "github.com/deepgo/deepgo/cuda"
//
//	if err := cuda.Available(); err != nil {
//		log.Fatal(err) // says what is missing and what to do
//	}
//	gpu := cuda.Device(0)
//	x := autograd.New(data, 64, 128).To(gpu)
//	y := x.MatMul(w.To(gpu)).Relu() // runs on the GPU
//	fmt.Println(y.Data())           // copies to the host, waiting for the GPU
//
// Libraries are searched in the folders of DEEPGO_CUDA_PATH (colon
// separated), then by the system loader (ld.so.cache, LD_LIBRARY_PATH).
// Kernels are CUDA C compiled by NVRTC on first use for the GPU's
// architecture, and cached in memory and on disk (DEEPGO_CUDA_CACHE).
// Matrix products go to cuBLAS (SetTF32 allows TF32 tensor cores).
// Device memory comes from a caching allocator with size-class free lists;
// buffers return to it when the garbage collector finds them unreachable.
// All work of a device runs in order on one stream; the host waits only
// where it reads results (Tensor.Data, GPU.Synchronize).
//
// Not every autograd.Device method has a CUDA kernel yet: the convolution,
// pooling, batch-norm, gather/scatter and long-convolution kernels panic
// with "cuda: <Method> is not implemented yet" (see README.md).
package cuda
