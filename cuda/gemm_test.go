package cuda

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

// gemmRows is the number of stored rows of a row-major operand that is
// r×c after its optional transpose.
func gemmRows(trans bool, r, c int) int {
	if trans {
		return c
	}
	return r
}

// gemmCases covers the transposes, batches with strides, a shared
// operand, offsets, padded leading dimensions, alpha and beta, and K = 0.
func gemmCases() []autograd.GemmArgs {
	var cases []autograd.GemmArgs
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			m, n, k := 5, 7, 3
			g := autograd.GemmArgs{TransA: ta, TransB: tb, M: m, N: n, K: k, Alpha: 1, Batch: 1, LDC: n}
			g.LDA, g.LDB = k, n
			if ta {
				g.LDA = m
			}
			if tb {
				g.LDB = k
			}
			cases = append(cases, g)
			// Batched, accumulating, with padded leading dimensions and offsets.
			h := g
			h.Batch, h.Alpha, h.Beta = 3, 0.5, 2
			h.LDA, h.LDB, h.LDC = g.LDA+2, g.LDB+1, n+3
			h.OffA, h.OffB, h.OffC = 3, 1, 5
			h.StrideA = gemmRows(ta, m, k)*h.LDA + 4
			h.StrideB = gemmRows(tb, k, n)*h.LDB + 2
			h.StrideC = m*h.LDC + 1
			cases = append(cases, h)
			// A shared across the batch.
			s := h
			s.StrideA = 0
			cases = append(cases, s)
		}
	}
	cases = append(cases,
		autograd.GemmArgs{M: 1, N: 1, K: 100, Alpha: 1, Batch: 1, LDA: 100, LDB: 1, LDC: 1},
		autograd.GemmArgs{M: 4, N: 3, K: 0, Alpha: 1, Beta: 0.5, Batch: 2, LDA: 1, LDB: 3, LDC: 3, StrideC: 12},
		autograd.GemmArgs{M: 4, N: 3, K: 0, Alpha: 1, Beta: 0, Batch: 1, LDA: 0, LDB: 3, LDC: 3},
		autograd.GemmArgs{TransA: true, M: 64, N: 48, K: 80, Alpha: 1, Batch: 2, LDA: 64, LDB: 48, LDC: 48,
			StrideA: 80 * 64, StrideB: 80 * 48, StrideC: 64 * 48},
	)
	return cases
}

// rowMajorGemm is the reference: autograd.GemmArgs's documented meaning.
func rowMajorGemm(g autograd.GemmArgs, a, b, c []float32) {
	for bt := 0; bt < g.Batch; bt++ {
		for i := 0; i < g.M; i++ {
			for j := 0; j < g.N; j++ {
				var s float64
				for l := 0; l < g.K; l++ {
					var x, y float32
					if g.TransA {
						x = a[g.OffA+bt*g.StrideA+l*g.LDA+i]
					} else {
						x = a[g.OffA+bt*g.StrideA+i*g.LDA+l]
					}
					if g.TransB {
						y = b[g.OffB+bt*g.StrideB+j*g.LDB+l]
					} else {
						y = b[g.OffB+bt*g.StrideB+l*g.LDB+j]
					}
					s += float64(x) * float64(y)
				}
				p := &c[g.OffC+bt*g.StrideC+i*g.LDC+j]
				if g.Beta == 0 {
					*p = float32(float64(g.Alpha) * s)
				} else {
					*p = float32(float64(g.Alpha)*s + float64(g.Beta)*float64(*p))
				}
			}
		}
	}
}

// columnMajorSgemm is cublasSgemmStridedBatched's documented meaning, on
// column-major matrices: element (i, j) of a matrix with leading dimension
// ld is at i + j·ld.
func columnMajorSgemm(c sgemmCall, a, b, cm []float32) {
	for bt := 0; bt < c.batch; bt++ {
		for j := 0; j < c.n; j++ {
			for i := 0; i < c.m; i++ {
				var s float64
				for l := 0; l < c.k; l++ {
					var x, y float32
					if c.transA == cublasOpT {
						x = a[c.offA+bt*c.strideA+l+i*c.lda]
					} else {
						x = a[c.offA+bt*c.strideA+i+l*c.lda]
					}
					if c.transB == cublasOpT {
						y = b[c.offB+bt*c.strideB+j+l*c.ldb]
					} else {
						y = b[c.offB+bt*c.strideB+l+j*c.ldb]
					}
					s += float64(x) * float64(y)
				}
				p := &cm[c.offC+bt*c.strideC+i+j*c.ldc]
				if c.beta == 0 {
					*p = float32(float64(c.alpha) * s)
				} else {
					*p = float32(float64(c.alpha)*s + float64(c.beta)*float64(*p))
				}
			}
		}
	}
}

// TestColumnMajorMapping checks the row-major → cuBLAS operand swap
// against the reference, without a GPU.
func TestColumnMajorMapping(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for i, g := range gemmCases() {
		if g.K == 0 {
			continue // runs as a kernel, not through cuBLAS
		}
		a := randn(g.OffA + g.StrideA*(g.Batch-1) + gemmRows(g.TransA, g.M, g.K)*g.LDA + 8)
		b := randn(g.OffB + g.StrideB*(g.Batch-1) + gemmRows(g.TransB, g.K, g.N)*g.LDB + 8)
		c := randn(g.OffC + g.StrideC*(g.Batch-1) + g.M*g.LDC + 8)
		want := append([]float32(nil), c...)
		rowMajorGemm(g, a, b, want)

		call := columnMajor(g)
		require.NoError(t, call.validate(), "case %d", i)
		require.True(t, call.swapped)
		got := append([]float32(nil), c...)
		columnMajorSgemm(call, b, a, got) // cuBLAS's A is autograd's B
		for j := range want {
			require.InDeltaf(t, want[j], got[j], 1e-4*math.Max(1, math.Abs(float64(want[j]))), "case %d %+v element %d", i, g, j)
		}

		// The CPU device agrees with the reference too.
		ca := autograd.CPU.FromHost(a)
		cb := autograd.CPU.FromHost(b)
		cc := autograd.CPU.FromHost(c)
		autograd.CPU.Gemm(g, ca, cb, cc)
		cpu := make([]float32, len(c))
		autograd.CPU.ToHost(cpu, cc)
		for j := range want {
			require.InDeltaf(t, want[j], cpu[j], 1e-4*math.Max(1, math.Abs(float64(want[j]))), "CPU, case %d element %d", i, j)
		}
	}
}

func TestColumnMajorValidate(t *testing.T) {
	bad := sgemmCall{transA: cublasOpN, transB: cublasOpN, m: 5, n: 4, k: 3, lda: 4, ldb: 3, ldc: 5, batch: 1}
	require.ErrorContains(t, bad.validate(), "lda 4 < 5")
	good := bad
	good.lda = 5
	require.NoError(t, good.validate())
	good.transB = cublasOpT
	require.ErrorContains(t, good.validate(), "ldb 3 < 4")
	// A degenerate leading dimension is raised to 1.
	g := columnMajor(autograd.GemmArgs{M: 1, N: 1, K: 1, Batch: 1, Alpha: 1})
	require.Equal(t, 1, g.lda)
	require.Equal(t, 1, g.ldb)
	require.Equal(t, 1, g.ldc)
}

func TestTF32Switch(t *testing.T) {
	defer SetTF32(false)
	require.False(t, TF32())
	SetTF32(true)
	require.True(t, TF32())
	require.Equal(t, "cuda: Gemm", fmt.Sprint("cuda: Gemm"))
}
