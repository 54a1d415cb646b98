package bench

// Benchmarks of the research layers large kernel attention, VAN's block and
// S4D, forward and backward; their PyTorch twins, with the same names and
// shapes, are in torch_lka.py.

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// lkaBenchStep times one training step's worth of work on a layer: the
// forward pass on x (which requires grad), the backward pass from a seed of
// ones, and clearing the gradients, as torch_lka.py does, inside an
// autograd.Scope as train.Trainer runs a step.
func lkaBenchStep(b *testing.B, model any, x *ag.Tensor, f func(*ag.Tensor) *ag.Tensor) {
	x.SetRequiresGrad(true)
	var seed *ag.Tensor
	step := func() {
		s := ag.OpenScope()
		y := f(x)
		if seed == nil {
			seed = ag.Keep(ag.OnesLike(y))
		}
		s.BackwardWith(y, seed, false)
		nn.ZeroGrad(model)
		x.ReleaseGrad()
		s.Close()
	}
	step() // warm up the pool and buffers
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
}

// BenchmarkLKA is large kernel attention over 64 channels, forward and
// backward on a batch of [16, 64, 32, 32].
func BenchmarkLKA(b *testing.B) {
	rng := ag.NewRNG(1)
	l := layers.NewLKA(rng, 64, layers.LKAConfig{})
	lkaBenchStep(b, l, rng.Normal(0, 1, 16, 64, 32, 32), l.Forward)
}

// BenchmarkVANBlock is VAN's block (BatchNorm in training mode, MLP ratio
// 4) over 64 channels, forward and backward on [16, 64, 32, 32].
func BenchmarkVANBlock(b *testing.B) {
	rng := ag.NewRNG(2)
	blk := layers.NewVANBlock(rng, 64, layers.VANBlockConfig{})
	lkaBenchStep(b, blk, rng.Normal(0, 1, 16, 64, 32, 32), blk.Forward)
}

// lkaBenchS4D runs an S4D layer (H = 128, N = 64, ZOH) forward and backward
// on [8, 128, l].
func lkaBenchS4D(b *testing.B, l int) {
	rng := ag.NewRNG(3)
	s := layers.NewS4D(rng, 128, layers.S4DConfig{})
	lkaBenchStep(b, s, rng.Normal(0, 1, 8, 128, l), s.Forward)
}

// BenchmarkS4D1024 is the S4D layer on sequences of 1024.
func BenchmarkS4D1024(b *testing.B) { lkaBenchS4D(b, 1024) }

// BenchmarkS4D4096 is the S4D layer on sequences of 4096.
func BenchmarkS4D4096(b *testing.B) { lkaBenchS4D(b, 4096) }
