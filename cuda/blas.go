package cuda

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/deepgo/deepgo/autograd"
)

// blasLib is the bound cuBLAS library.
type blasLib struct {
	lib                                *library
	create, setStream, setMathMode     uintptr
	sgemmStridedBatched                uintptr
	statusName, statusString, getVersn uintptr // optional
}

func openBLAS(sp searchPath) (*blasLib, error) {
	lib, err := openLibrary(specBLAS, sp)
	if err != nil {
		return nil, err
	}
	b := &blasLib{lib: lib}
	if err := bindSymbols(lib, []symbol{
		{"cublasCreate_v2", &b.create},
		{"cublasSetStream_v2", &b.setStream},
		{"cublasSetMathMode", &b.setMathMode},
		{"cublasSgemmStridedBatched", &b.sgemmStridedBatched},
	}, "it is not cuBLAS 11 or newer"); err != nil {
		return nil, err
	}
	b.statusName, _ = dlsym(lib.handle, "cublasGetStatusName")
	b.statusString, _ = dlsym(lib.handle, "cublasGetStatusString")
	return b, nil
}

// blasStatusNames are cuBLAS's status codes, for cuBLAS versions that
// cannot name them.
var blasStatusNames = map[int]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
	8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func (b *blasLib) check(call string, r uintptr) error {
	code := int(int32(uint32(r)))
	if code == 0 {
		return nil
	}
	e := &Error{Call: call, Code: code, Name: blasStatusNames[code]}
	if b.statusName != 0 {
		e.Name = cstring(retPointer(ccall(b.statusName, uintptr(code))))
	}
	if b.statusString != 0 {
		e.Message = cstring(retPointer(ccall(b.statusString, uintptr(code))))
	}
	return e
}

// cuBLAS constants.
const (
	cublasOpN          = 0
	cublasOpT          = 1
	cublasDefaultMath  = 0
	cublasTF32TensorOp = 3
)

var tf32 atomic.Bool

// SetTF32 lets matrix products on CUDA devices use TF32 tensor cores
// (about 10 significant bits in the products, float32 accumulation) when
// on is true; the default is full float32, which matches the CPU device.
// It applies to every CUDA device from the next product on.
func SetTF32(on bool) { tf32.Store(on) }

// TF32 reports whether SetTF32 turned TF32 products on.
func TF32() bool { return tf32.Load() }

// sgemmCall is one cublasSgemmStridedBatched call in cuBLAS's
// column-major terms. A, B and C are cuBLAS's operands, offsets in
// elements from the buffers' starts.
type sgemmCall struct {
	transA, transB            int
	m, n, k                   int
	lda, ldb, ldc             int
	offA, offB, offC          int
	strideA, strideB, strideC int
	batch                     int
	alpha, beta               float32
	swapped                   bool // A is autograd's B and B is autograd's A
}

// columnMajor maps a row-major product to cuBLAS. A row-major matrix with
// leading dimension ld is, read column-major with the same ld, its
// transpose; so row-major C = op(A)·op(B) is column-major
// Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS multiplies autograd's B (as its A) by
// autograd's A (as its B), with m and n exchanged and the transpose flags
// kept.
func columnMajor(g autograd.GemmArgs) sgemmCall {
	op := func(t bool) int {
		if t {
			return cublasOpT
		}
		return cublasOpN
	}
	return sgemmCall{
		transA: op(g.TransB), transB: op(g.TransA),
		m: g.N, n: g.M, k: g.K,
		lda: max(g.LDB, 1), ldb: max(g.LDA, 1), ldc: max(g.LDC, 1),
		offA: g.OffB, offB: g.OffA, offC: g.OffC,
		strideA: g.StrideB, strideB: g.StrideA, strideC: g.StrideC,
		batch: g.Batch,
		alpha: g.Alpha, beta: g.Beta,
		swapped: true,
	}
}

// validate checks the call against cuBLAS's argument rules, so that a
// mapping mistake is a clear panic rather than CUBLAS_STATUS_INVALID_VALUE.
func (c sgemmCall) validate() error {
	rowsA, rowsB := c.m, c.k // rows of A and B as stored, column-major
	if c.transA == cublasOpT {
		rowsA = c.k
	}
	if c.transB == cublasOpT {
		rowsB = c.n
	}
	switch {
	case c.m < 0 || c.n < 0 || c.k < 0 || c.batch < 0:
		return fmt.Errorf("negative size m=%d n=%d k=%d batch=%d", c.m, c.n, c.k, c.batch)
	case c.lda < max(1, rowsA):
		return fmt.Errorf("lda %d < %d", c.lda, max(1, rowsA))
	case c.ldb < max(1, rowsB):
		return fmt.Errorf("ldb %d < %d", c.ldb, max(1, rowsB))
	case c.ldc < max(1, c.m):
		return fmt.Errorf("ldc %d < %d", c.ldc, max(1, c.m))
	}
	return nil
}

// sgemm runs the call on the device's cuBLAS handle; a, b, c are the
// device addresses of the buffers holding cuBLAS's A, B and C.
func (g *GPU) sgemm(c sgemmCall, a, b, cc uintptr) {
	want := uintptr(cublasDefaultMath)
	if tf32.Load() {
		want = cublasTF32TensorOp
	}
	if want != g.blasMode {
		g.must(g.blas.check("cublasSetMathMode", ccall(g.blas.setMathMode, g.blasHandle, want)))
		g.blasMode = want
	}
	args := &g.scalars
	args[0] = uint64(floatBits(c.alpha))
	args[1] = uint64(floatBits(c.beta))
	t := g.profBegin()
	r := ccall(g.blas.sgemmStridedBatched, g.blasHandle,
		uintptr(c.transA), uintptr(c.transB), uintptr(c.m), uintptr(c.n), uintptr(c.k),
		uintptr(unsafe.Pointer(&args[0])),
		a+4*uintptr(c.offA), uintptr(c.lda), uintptr(c.strideA),
		b+4*uintptr(c.offB), uintptr(c.ldb), uintptr(c.strideB),
		uintptr(unsafe.Pointer(&args[1])),
		cc+4*uintptr(c.offC), uintptr(c.ldc), uintptr(c.strideC),
		uintptr(c.batch))
	g.must(g.blas.check("cublasSgemmStridedBatched", r))
	if t >= 0 {
		g.profEnd(c.profName(), t)
	}
}

// profName names the call in a profile by its transposes and shape.
func (c sgemmCall) profName() string {
	tr := func(t int) string {
		if t != 0 {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("sgemm %s%s m=%d n=%d k=%d batch=%d", tr(int(c.transA)), tr(int(c.transB)), c.m, c.n, c.k, c.batch)
}
