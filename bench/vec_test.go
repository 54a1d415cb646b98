package bench

// Benchmarks of the elementwise, reduction, softmax and normalisation
// kernels through the public autograd API. Each has a twin with the same
// name and shapes in torch_vec.py. "Backward" benchmarks time the forward
// op and the backward pass from a ones seed into a leaf whose gradient is
// cleared first (x.grad = None in PyTorch).

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
)

// vecN is the size of the 1M-element elementwise benchmarks.
const vecN = 1 << 20

// The [64, 197, 192] activations of ViT-Tiny's blocks (a batch of 64
// sequences of 197 tokens of width 192).
var vitShape = []int{64, 197, 192}

// benchForward times f(x), forward only, each call inside Scope.Run so
// that its output's storage is reused by the next call, as an inference
// loop with scopes (and train.Trainer's evaluation) runs.
func benchForward(b *testing.B, x *ag.Tensor, f func(*ag.Tensor) *ag.Tensor) {
	call := func() {
		s := ag.OpenScope()
		s.Run(func() { f(x) })
		s.Close()
	}
	call() // warm up the pool
	b.ReportAllocs()
	b.SetBytes(int64(4 * x.Numel()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call()
	}
}

// benchBackward times f(x) and its backward pass with a ones seed, inside
// a Scope as train.Trainer runs a step.
func benchBackward(b *testing.B, x *ag.Tensor, f func(*ag.Tensor) *ag.Tensor) {
	x.SetRequiresGrad(true)
	seed := ag.Ones(x.Shape()...)
	call := func() {
		x.ReleaseGrad()
		s := ag.OpenScope()
		s.BackwardWith(f(x), seed, false)
		s.Close()
	}
	call()
	b.ReportAllocs()
	b.SetBytes(int64(4 * x.Numel()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		call()
	}
}

func vec1M(seed uint64) *ag.Tensor { return ag.NewRNG(seed).Normal(0, 2, vecN) }

func vit(seed uint64) *ag.Tensor { return ag.NewRNG(seed).Normal(0, 1, vitShape...) }

func softmaxLast(x *ag.Tensor) *ag.Tensor { return x.Softmax(-1) }

// layerNormViT is layer_norm over the last axis (192) with weight and bias.
func layerNormViT() func(*ag.Tensor) *ag.Tensor {
	rng := ag.NewRNG(9)
	w := rng.Normal(1, 0.1, vitShape[2])
	bias := rng.Normal(0, 0.1, vitShape[2])
	return func(x *ag.Tensor) *ag.Tensor { return ag.LayerNorm(x, vitShape[2:], w, bias, 1e-5) }
}

// BenchmarkSoftmaxViT is softmax over the last axis of [64, 197, 192].
func BenchmarkSoftmaxViT(b *testing.B) { benchForward(b, vit(5), softmaxLast) }

// BenchmarkSoftmaxViTBackward is BenchmarkSoftmaxViT forward and backward.
func BenchmarkSoftmaxViTBackward(b *testing.B) { benchBackward(b, vit(5), softmaxLast) }

// BenchmarkLayerNormViT is layer_norm over the last axis of [64, 197, 192]
// with weight and bias (weight and bias take no gradient).
func BenchmarkLayerNormViT(b *testing.B) { benchForward(b, vit(6), layerNormViT()) }

// BenchmarkLayerNormViTBackward is BenchmarkLayerNormViT forward and backward.
func BenchmarkLayerNormViTBackward(b *testing.B) { benchBackward(b, vit(6), layerNormViT()) }

// BenchmarkTanh1M is tanh of 1M elements drawn from N(0, 4).
func BenchmarkTanh1M(b *testing.B) { benchForward(b, vec1M(7), (*ag.Tensor).Tanh) }

// BenchmarkTanh1MBackward is BenchmarkTanh1M forward and backward.
func BenchmarkTanh1MBackward(b *testing.B) { benchBackward(b, vec1M(7), (*ag.Tensor).Tanh) }

// BenchmarkExp1M is exp of 1M elements drawn from N(0, 4).
func BenchmarkExp1M(b *testing.B) { benchForward(b, vec1M(7), (*ag.Tensor).Exp) }

// BenchmarkExp1MBackward is BenchmarkExp1M forward and backward.
func BenchmarkExp1MBackward(b *testing.B) { benchBackward(b, vec1M(7), (*ag.Tensor).Exp) }

// BenchmarkSigmoid1M is the logistic sigmoid of 1M elements.
func BenchmarkSigmoid1M(b *testing.B) { benchForward(b, vec1M(7), (*ag.Tensor).Sigmoid) }

// BenchmarkSigmoid1MBackward is BenchmarkSigmoid1M forward and backward.
func BenchmarkSigmoid1MBackward(b *testing.B) { benchBackward(b, vec1M(7), (*ag.Tensor).Sigmoid) }

// BenchmarkGelu1M is GELU (the exact, erf form: torch's default) of 1M
// elements.
func BenchmarkGelu1M(b *testing.B) { benchForward(b, vec1M(7), (*ag.Tensor).Gelu) }

// BenchmarkGelu1MBackward is BenchmarkGelu1M forward and backward.
func BenchmarkGelu1MBackward(b *testing.B) { benchBackward(b, vec1M(7), (*ag.Tensor).Gelu) }

// BenchmarkAdd1MFlat adds two tensors of 1M elements (shape [1<<20]).
func BenchmarkAdd1MFlat(b *testing.B) {
	y := vec1M(8)
	benchForward(b, vec1M(7), func(x *ag.Tensor) *ag.Tensor { return x.Add(y) })
}
