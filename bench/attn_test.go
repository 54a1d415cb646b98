package bench

// Benchmarks of the attention layers (package layers) at ViT-Ti and T2T-ViT
// sizes, forward and backward; their PyTorch twins, with the same names and
// shapes, are in torch_attn.py.

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// benchTrainStep times forward, backward of the sum of the output, and
// dropping the gradients, of f on x (which requires grad, as the output of
// a previous layer would), inside an autograd.Scope as train.Trainer runs
// a step.
func benchTrainStep(b *testing.B, model any, x *ag.Tensor, f func(x *ag.Tensor) *ag.Tensor) {
	x = x.SetRequiresGrad(true)
	step := func() {
		s := ag.OpenScope()
		s.Backward(f(x).Sum())
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

// vitTi returns ViT-Ti's token batch: 16 images × 197 tokens × 192.
func vitTi() *ag.Tensor { return ag.NewRNG(2).Normal(0, 1, 16, 197, 192) }

// BenchmarkAttnViTTi runs timm's Attention at ViT-Ti size (B=16, N=197,
// D=192, 3 heads, qkv bias), forward and backward, on the fused path.
func BenchmarkAttnViTTi(b *testing.B) {
	a := layers.NewAttention(ag.NewRNG(1), 192, layers.AttentionConfig{NumHeads: 3, QKVBias: true})
	benchTrainStep(b, a, vitTi(), a.Forward)
}

// BenchmarkAttnViTTiComposed is BenchmarkAttnViTTi on the composed
// (reference) path.
func BenchmarkAttnViTTiComposed(b *testing.B) {
	a := layers.NewAttention(ag.NewRNG(1), 192, layers.AttentionConfig{NumHeads: 3, QKVBias: true, Composed: true})
	benchTrainStep(b, a, vitTi(), a.Forward)
}

// BenchmarkAttnViTTiInference runs the same attention forward only, under
// NoGrad.
func BenchmarkAttnViTTiInference(b *testing.B) {
	a := layers.NewAttention(ag.NewRNG(1), 192, layers.AttentionConfig{NumHeads: 3, QKVBias: true})
	x := vitTi()
	a.Forward(x)
	b.ReportAllocs()
	b.ResetTimer()
	ag.NoGrad(func() {
		for i := 0; i < b.N; i++ {
			a.Forward(x)
		}
	})
}

// BenchmarkBlockViTTi runs timm's Block at ViT-Ti size (B=16, N=197,
// D=192, 3 heads, MLP ratio 4, qkv bias), forward and backward.
func BenchmarkBlockViTTi(b *testing.B) {
	blk := layers.NewBlock(ag.NewRNG(1), 192, layers.BlockConfig{NumHeads: 3, QKVBias: true})
	benchTrainStep(b, blk, vitTi(), blk.Forward)
}

// benchT2T runs T2T-ViT-14's tokens-to-token module (embed 384, token dim
// 64) on a batch of images, forward and backward, in training mode (the
// performers' dropout 0.1 is on).
func benchT2T(b *testing.B, tokens string, batch, size int) {
	m := layers.NewT2TModule(ag.NewRNG(1), layers.T2TConfig{Tokens: tokens, EmbedDim: 384})
	x := ag.NewRNG(2).Normal(0, 1, batch, 3, size, size)
	benchTrainStep(b, m, x, m.Forward)
}

// BenchmarkT2TPerformer64 runs the performer T2T module on 16×3×64×64.
func BenchmarkT2TPerformer64(b *testing.B) { benchT2T(b, layers.T2TPerformer, 16, 64) }

// BenchmarkT2TTransformer64 runs the transformer T2T module on 16×3×64×64.
func BenchmarkT2TTransformer64(b *testing.B) { benchT2T(b, layers.T2TTransformer, 16, 64) }

// BenchmarkT2TPerformer224 runs the performer T2T module on 8×3×224×224.
func BenchmarkT2TPerformer224(b *testing.B) { benchT2T(b, layers.T2TPerformer, 8, 224) }
