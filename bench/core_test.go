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
		x.MatMul(y).BackwardWith(seed, false)
	}
	b.ReportMetric(3*2*512*512*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

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
		y.Sum().Backward()
		x.ZeroGrad()
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
