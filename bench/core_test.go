// Package bench holds deepgo's benchmarks. Each Go benchmark here has a twin
// with the same shapes in torch_core.py; `go run ./bench/table` runs both
// and prints the ratios.
package bench

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

// BenchmarkMatMul512 multiplies two 512×512 matrices (forward only) and
// reports GFLOP/s.
func BenchmarkMatMul512(b *testing.B) {
	rng := ag.NewRNG(1)
	x, y := rng.Normal(0, 1, 512, 512), rng.Normal(0, 1, 512, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.MatMul(y)
	}
	b.ReportMetric(2*512*512*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkMatMul512Backward runs forward and backward of a 512³ product
// (three GEMMs).
func BenchmarkMatMul512Backward(b *testing.B) {
	rng := ag.NewRNG(1)
	x, y := rng.Normal(0, 1, 512, 512).SetRequiresGrad(true), rng.Normal(0, 1, 512, 512).SetRequiresGrad(true)
	seed := ag.Ones(512, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := ag.OpenScope()
		s.BackwardWith(x.MatMul(y), seed, false)
		s.Close()
	}
	b.ReportMetric(3*2*512*512*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchSgemm times op(x) @ op(y) for x of shape [m, k] (or [k, m] when
// transA) and y of shape [k, n] (or [n, k] when transB), forward only,
// through the public API, and reports GFLOP/s (2mnk per product). Each
// product runs inside Scope.Run, so the result's storage is reused by the
// next, as PyTorch's allocator reuses it.
func benchSgemm(b *testing.B, m, k, n int, transA, transB bool) {
	rng := ag.NewRNG(1)
	xs, ys := []int{m, k}, []int{k, n}
	if transA {
		xs = []int{k, m}
	}
	if transB {
		ys = []int{n, k}
	}
	x, y := rng.Normal(0, 1, xs...), rng.Normal(0, 1, ys...)
	call := func() {
		s := ag.OpenScope()
		s.Run(func() { ag.MatMulT(x, y, transA, transB) })
		s.Close()
	}
	call() // warm up the pool and buffers
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call()
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm256 multiplies two 256×256 matrices.
func BenchmarkSgemm256(b *testing.B) { benchSgemm(b, 256, 256, 256, false, false) }

// BenchmarkSgemm512 multiplies two 512×512 matrices.
func BenchmarkSgemm512(b *testing.B) { benchSgemm(b, 512, 512, 512, false, false) }

// BenchmarkSgemm1024 multiplies two 1024×1024 matrices.
func BenchmarkSgemm1024(b *testing.B) { benchSgemm(b, 1024, 1024, 1024, false, false) }

// BenchmarkSgemm2048 multiplies two 2048×2048 matrices.
func BenchmarkSgemm2048(b *testing.B) { benchSgemm(b, 2048, 2048, 2048, false, false) }

// BenchmarkSgemm1024TN is 1024³ with the left operand transposed (x^T @ y,
// the shape of a weight gradient).
func BenchmarkSgemm1024TN(b *testing.B) { benchSgemm(b, 1024, 1024, 1024, true, false) }

// BenchmarkSgemm1024NT is 1024³ with the right operand transposed (x @ y^T,
// the shape of an input gradient and of nn.Linear's forward).
func BenchmarkSgemm1024NT(b *testing.B) { benchSgemm(b, 1024, 1024, 1024, false, true) }

// BenchmarkSgemmQKV is a ViT-Tiny-sized qkv projection: 4096 tokens
// (a batch of 21 images of 196 patches) of width 192, [4096, 192] @ [192, 576].
func BenchmarkSgemmQKV(b *testing.B) { benchSgemm(b, 4096, 192, 576, false, false) }

// BenchmarkSgemmQKVLinear is the same projection in nn.Linear's layout:
// x @ W^T with W stored [576, 192].
func BenchmarkSgemmQKVLinear(b *testing.B) { benchSgemm(b, 4096, 192, 576, false, true) }

// BenchmarkSgemmProj is the matching down-projection, [4096, 576] @ [576, 192].
func BenchmarkSgemmProj(b *testing.B) { benchSgemm(b, 4096, 576, 192, false, false) }

// BenchmarkSgemmProjLinear is the down-projection in nn.Linear's layout:
// x @ W^T with W stored [192, 576].
func BenchmarkSgemmProjLinear(b *testing.B) { benchSgemm(b, 4096, 576, 192, false, true) }

// elementwiseChain builds a chain of n elementwise ops on a small tensor and
// runs it backward: the per-op overhead of the tape.
func elementwiseChain(b *testing.B, n, size int) {
	x := ag.NewRNG(2).Normal(0, 1, size).SetRequiresGrad(true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		y := x
		for j := 0; j < n; j++ {
			switch j % 4 {
			case 0:
				y = y.MulScalar(0.999)
			case 1:
				y = y.AddScalar(0.001)
			case 2:
				y = y.Tanh()
			case 3:
				y = y.Add(x)
			}
		}
		s := ag.OpenScope()
		s.Backward(y.Sum())
		s.Close()
		x.ReleaseGrad()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elemop")
}

// BenchmarkElementwiseChain10k is a 10,000-op chain over 64 elements,
// forward and backward.
func BenchmarkElementwiseChain10k(b *testing.B) { elementwiseChain(b, 10000, 64) }

// BenchmarkElementwiseChain10kLarge is the same chain over 4096 elements.
func BenchmarkElementwiseChain10kLarge(b *testing.B) { elementwiseChain(b, 10000, 4096) }

// BenchmarkAdd1M adds two 1M-element tensors (forward only).
func BenchmarkAdd1M(b *testing.B) {
	rng := ag.NewRNG(3)
	x, y := rng.Normal(0, 1, 1024, 1024), rng.Normal(0, 1, 1024, 1024)
	b.ReportAllocs()
	b.SetBytes(3 * 4 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Add(y)
	}
}

// BenchmarkSoftmax runs softmax over rows of a [256, 1024] tensor.
func BenchmarkSoftmax(b *testing.B) {
	x := ag.NewRNG(4).Normal(0, 1, 256, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Softmax(-1)
	}
}
