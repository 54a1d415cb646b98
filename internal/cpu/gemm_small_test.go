package cpu

import (
	"fmt"
	"testing"
)

// BenchmarkSmallBatched times batches of 512 small products (attention's
// per-head products) on the path Run picks; BenchmarkSmallBatchedPacked
// forces the packed path, BenchmarkTiny compares both on tinier shapes.
func BenchmarkSmallBatched(b *testing.B) {
	for _, s := range benchShapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
			m, n, k := s[0], s[1], s[2]
			batch := 512
			a := make([]float32, batch*m*k)
			bb := make([]float32, batch*n*k)
			c := make([]float32, batch*m*n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range bb {
				bb[i] = float32(i%5) * 0.1
			}
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			g := Gemm{TransA: tr[0], TransB: tr[1], M: m, N: n, K: k, Alpha: 1, Batch: batch, LDA: lda, LDB: ldb, LDC: n, StrideA: m * k, StrideB: n * k, StrideC: m * n}
			b.Run(fmt.Sprintf("%dx%dx%d_%v%v", m, n, k, tr[0], tr[1]), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					g.Run(a, bb, c)
				}
				b.ReportMetric(float64(2*m*n*k*batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkSmallBatchedPacked(b *testing.B) {
	old := smallGemm
	smallGemm = 0
	defer func() { smallGemm = old }()
	BenchmarkSmallBatched(b)
}

var benchShapes = [][3]int{{17, 17, 32}, {17, 32, 17}, {50, 50, 32}, {50, 32, 50}, {24, 24, 24}}

func BenchmarkTiny(b *testing.B) {
	old := benchShapes
	defer func() { benchShapes = old }()
	benchShapes = [][3]int{{4, 4, 4}, {8, 8, 8}, {12, 12, 12}, {1, 64, 64}, {64, 1, 64}, {16, 16, 8}}
	b.Run("naive", BenchmarkSmallBatched)
	b.Run("packed", BenchmarkSmallBatchedPacked)
}
