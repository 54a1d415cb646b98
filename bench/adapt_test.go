package bench

// Benchmarks of the adapter and graph layers (package layers): forward and
// backward of SSF, LoRA, LoRAMoE, GCN, diffusion convolution and the gated
// temporal convolution at the sizes of their models. Each has a twin with
// the same name and shapes in torch_adapt.py. The input requires grad (the
// layers sit mid-network), the backward pass starts from a ones seed, and
// gradients are cleared before each iteration (grad = None in PyTorch).

import (
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// adaptRun times forward(x) plus the backward pass from a ones seed,
// clearing the gradients of x and of the model's parameters first, inside
// an autograd.Scope as train.Trainer runs a step.
func adaptRun(b *testing.B, model any, x *ag.Tensor, forward func(*ag.Tensor) *ag.Tensor) {
	x.SetRequiresGrad(true)
	y := forward(x)
	seed := ag.Ones(y.Shape()...)
	y.BackwardWith(seed, false) // warm up
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.ReleaseGrad()
		nn.ZeroGrad(model)
		s := ag.OpenScope()
		s.BackwardWith(forward(x), seed, false)
		s.Close()
	}
}

// adaptTokens is ViT-B/16's activation for a batch of 16 images: 197
// tokens of width 768.
func adaptTokens() *ag.Tensor { return ag.NewRNG(1).Normal(0, 1, 16, 197, 768) }

// BenchmarkSSF scales and shifts [16, 197, 768] tokens.
func BenchmarkSSF(b *testing.B) {
	s := layers.NewSSF(ag.NewRNG(2), 768)
	adaptRun(b, s, adaptTokens(), s.Forward)
}

// BenchmarkLoRA runs a frozen 768→768 Linear with a rank-8 adapter
// (α = 16, no dropout) on [16, 197, 768].
func BenchmarkLoRA(b *testing.B) {
	rng := ag.NewRNG(2)
	l := layers.NewLoRALinear(rng, nn.NewLinear(rng, 768, 768, true), layers.LoRAConfig{Rank: 8, Alpha: 16})
	nn.Normal(l.LoRAB.Weight.Tensor, 0, 0.02, rng)
	adaptRun(b, l, adaptTokens(), l.Forward)
}

// BenchmarkLoRAMoE runs a frozen 768→768 Linear with 4 rank-8 experts and
// the router (α = 16, no dropout) on [16, 197, 768].
func BenchmarkLoRAMoE(b *testing.B) {
	rng := ag.NewRNG(2)
	m := layers.NewLoRAMoE(rng, nn.NewLinear(rng, 768, 768, true), layers.LoRAMoEConfig{Experts: 4, Rank: 8, Alpha: 16})
	for e := range m.NumExperts() {
		nn.Normal(m.B(e).Tensor, 0, 0.02, rng)
	}
	adaptRun(b, m, adaptTokens(), m.Forward)
}

// adaptGraph returns a directed graph of n nodes and e edges: a ring (so
// every node has an in- and an out-edge) plus random edges without
// self-loops, weighted U(0.5, 1.5).
func adaptGraph(n, e int) *layers.Graph {
	rng := ag.NewRNG(3)
	edges := make([][2]int, 0, e)
	for i := range n {
		edges = append(edges, [2]int{i, (i + 1) % n})
	}
	for len(edges) < e {
		s, d := rng.IntN(n), rng.IntN(n)
		if s != d {
			edges = append(edges, [2]int{s, d})
		}
	}
	return layers.NewGraph(n, edges, rng.Uniform(0.5, 1.5, e))
}

// BenchmarkGCN is a 64→64 GCN layer (symmetric normalisation with
// self-loops, no root weight) on 10,000 nodes and 100,000 weighted edges.
func BenchmarkGCN(b *testing.B) {
	g := adaptGraph(10000, 100000)
	c := layers.NewGraphConv(ag.NewRNG(4), 64, 64, layers.GraphConvConfig{Norm: layers.GraphNormGCN, NoRootWeight: true})
	adaptRun(b, c, ag.NewRNG(5).Normal(0, 1, 10000, 64), func(x *ag.Tensor) *ag.Tensor { return c.Forward(x, g) })
}

// BenchmarkDiffConv is a 64→64 diffusion convolution (K = 2, forward and
// backward walks, root weight) on the same graph.
func BenchmarkDiffConv(b *testing.B) {
	g := adaptGraph(10000, 100000)
	d := layers.NewDiffConv(ag.NewRNG(4), 64, 64, 2, layers.DiffConvConfig{})
	adaptRun(b, d, ag.NewRNG(5).Normal(0, 1, 10000, 64), func(x *ag.Tensor) *ag.Tensor { return d.Forward(x, g) })
}

// BenchmarkGatedTCN is Graph WaveNet's gated temporal convolution, 64→64
// channels, kernel 2, dilation 2, no padding, on [32, 64, 207, 12] (a batch
// of 32 METR-LA windows, channels first).
func BenchmarkGatedTCN(b *testing.B) {
	c := layers.NewGatedTemporalConv(ag.NewRNG(4), 64, 64, 2, layers.GatedTemporalConvConfig{Dilation: 2, NoCausalPad: true})
	adaptRun(b, c, ag.NewRNG(5).Normal(0, 1, 32, 64, 207, 12), c.Forward)
}
