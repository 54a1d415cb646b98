package layers

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

func TestAttnSoftSplitFeatureOrder(t *testing.T) {
	rng := autograd.NewRNG(1)
	b, c, h, w := 2, 3, 9, 7
	x := rng.Normal(0, 1, b, c, h, w)
	s := SoftSplit{Kernel: 3, Stride: 2, Padding: 1}
	y := s.Forward(x)
	oh, ow := s.OutSize(h), s.OutSize(w)
	require.Equal(t, []int{b, oh * ow, c * 9}, y.Shape())
	for bi := 0; bi < b; bi++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ci := 0; ci < c; ci++ {
					for i := 0; i < 3; i++ {
						for j := 0; j < 3; j++ {
							iy, ix := oy*2-1+i, ox*2-1+j
							want := float32(0)
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								want = x.At(bi, ci, iy, ix)
							}
							assert.Equal(t, want, y.At(bi, oy*ow+ox, ci*9+i*3+j))
						}
					}
				}
			}
		}
	}
}

func TestAttnT2TStageShapes(t *testing.T) {
	for _, tokens := range []string{T2TPerformer, T2TTransformer} {
		m := NewT2TModule(autograd.NewRNG(2), T2TConfig{Tokens: tokens, EmbedDim: 32})
		nn.Eval(m)
		for _, c := range []struct {
			size, batch int
			want        [][]int
		}{
			{224, 1, [][]int{{1, 3136, 147}, {1, 3136, 64}, {1, 64, 56, 56}, {1, 784, 576}, {1, 784, 64}, {1, 64, 28, 28}, {1, 196, 576}, {1, 196, 32}}},
			{32, 2, [][]int{{2, 64, 147}, {2, 64, 64}, {2, 64, 8, 8}, {2, 16, 576}, {2, 16, 64}, {2, 64, 4, 4}, {2, 4, 576}, {2, 4, 32}}},
		} {
			x := autograd.NewRNG(3).Normal(0, 1, c.batch, 3, c.size, c.size)
			var got [][]int
			autograd.NoGrad(func() {
				for _, s := range m.ForwardStages(x) {
					got = append(got, s.Shape())
					attnNoNaN(t, tokens, s)
				}
			})
			assert.Equal(t, c.want, got, "%s %d²", tokens, c.size)
			assert.Equal(t, c.want[len(c.want)-1][1], m.NumTokens(c.size, c.size))
		}
	}
	m := NewT2TModule(autograd.NewRNG(2), T2TConfig{EmbedDim: 8, TokenDim: 4})
	assert.Equal(t, 4, m.NumTokens(28, 28), "28² gives 2×2 tokens (the repository's count says 1)")
	assert.Equal(t, 16, m.NumTokens(64, 64))
	assert.Panics(t, func() { NewT2TModule(autograd.NewRNG(2), T2TConfig{Tokens: "convolution"}) })
}

func TestAttnT2TStateDictNames(t *testing.T) {
	names := func(m any) map[string][]int {
		out := map[string][]int{}
		for _, nt := range nn.NamedStateDict(m) {
			out[nt.Name] = nt.Tensor.Shape()
		}
		return out
	}
	p := names(NewT2TModule(autograd.NewRNG(3), T2TConfig{EmbedDim: 384}))
	for name, shape := range map[string][]int{
		"attention1.kqv.weight": {192, 147}, "attention1.kqv.bias": {192},
		"attention1.proj.weight": {64, 64}, "attention1.norm1.weight": {147}, "attention1.norm2.bias": {64},
		"attention1.mlp.0.weight": {64, 64}, "attention1.mlp.2.bias": {64}, "attention1.w": {32, 64},
		"attention2.kqv.weight": {192, 576}, "attention2.w": {32, 64},
		"project.weight": {384, 576}, "project.bias": {384},
	} {
		assert.Equal(t, shape, p[name], name)
	}
	assert.Len(t, p, 2*13+2)
	tr := names(NewT2TModule(autograd.NewRNG(3), T2TConfig{Tokens: T2TTransformer, EmbedDim: 384}))
	for name, shape := range map[string][]int{
		"attention1.norm1.weight": {147}, "attention1.attn.qkv.weight": {192, 147},
		"attention1.attn.proj.weight": {64, 64}, "attention1.attn.proj.bias": {64},
		"attention1.norm2.weight": {64}, "attention1.mlp.fc1.weight": {64, 64}, "attention1.mlp.fc2.bias": {64},
		"attention2.attn.qkv.weight": {192, 576}, "project.weight": {384, 576},
	} {
		assert.Equal(t, shape, tr[name], name)
	}
	assert.Len(t, tr, 2*11+2)
}

func TestAttnPerformerFeatures(t *testing.T) {
	rng := autograd.NewRNG(4)
	p := NewTokenPerformer(rng, 12, 16, 0.5, 0)
	assert.Equal(t, []int{8, 16}, p.W.Shape())
	assert.False(t, p.W.RequiresGrad(), "W is fixed")
	// Rows of W are orthogonal with norm √m.
	w := p.W.Tensor
	gram := autograd.MatMulT(w, w, false, true)
	attnClose(t, "W·Wᵀ = m·I", autograd.Eye(8).MulScalar(8), gram, 1e-4)

	// φ > 0, so the normaliser D is positive (for inputs of LayerNorm's
	// scale; exp underflows in float32 once ‖u‖²/2 nears 100).
	u := rng.Normal(0, 1, 2, 9, 16)
	for i, v := range p.Features(u).Data() {
		require.Greater(t, v, float32(0), "feature %d", i)
	}
	x := rng.Normal(0, 1, 2, 9, 12).SetRequiresGrad(true)
	y := p.Forward(x)
	attnNoNaN(t, "performer output", y)
	y.Sum().Backward()
	attnNoNaN(t, "performer input gradient", x.Grad)
	assert.Nil(t, p.W.Grad, "W gets no gradient")

	// With many Gaussian directions, φ(q)·φ(k) estimates exp(q·k).
	const m, e = 20000, 4
	p.W = nn.NewParameter(rng.Normal(0, 1, m, e))
	p.W.SetRequiresGrad(false)
	q := rng.Normal(0, 0.3, 1, 6, e)
	k := rng.Normal(0, 0.3, 1, 6, e)
	est := autograd.MatMulT(p.Features(q), p.Features(k), false, true).Data() // [1, 6, 6]
	exact := autograd.MatMulT(q, k, false, true).Exp().Data()
	for i := range exact {
		assert.InDelta(t, 1, float64(est[i]/exact[i]), 0.05, "pair %d: %v vs %v", i, est[i], exact[i])
	}
}

func TestAttnTokenTransformerScaleQuirk(t *testing.T) {
	tt := NewTokenTransformer(autograd.NewRNG(5), 147, 64)
	assert.InDelta(t, 1/math.Sqrt(147), tt.Attn.Scale, 1e-12, "scale from the input width (147), not the head width (64)")
	assert.Equal(t, 1, tt.Attn.NumHeads)
	assert.Nil(t, tt.Attn.QKV.Bias)
	assert.Equal(t, []int{64, 64}, tt.MLP.FC1.Weight.Shape(), "mlp_ratio 1")
}
