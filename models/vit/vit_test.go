package vit

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// tinyViT and tinyT2T are small models for the invariant tests.
func tinyViT(rng *autograd.RNG) *VisionTransformer {
	return New(rng, Config{ImageSize: 8, PatchSize: 4, InChans: 2, NumClasses: 3, EmbedDim: 8, Depth: 2, NumHeads: 2, MLPRatio: 2})
}

func tinyT2T(rng *autograd.RNG, tokens string) *T2TViT {
	return NewT2T(rng, T2TConfig{ImageSize: 32, InChans: 1, NumClasses: 3, Tokens: tokens, TokenDim: 4, EmbedDim: 8, Depth: 2, NumHeads: 2, MLPRatio: 2})
}

func TestSmallConfigShapes(t *testing.T) {
	rng := autograd.NewRNG(1)
	v := New(rng, ViTMNIST())
	assert.Equal(t, []int{1, ViTMNIST().NumPatches() + 1, 128}, v.PosEmbed.Shape())
	for _, tokens := range []string{layers.T2TPerformer, layers.T2TTransformer} {
		c := T2TViTMNIST()
		c.Tokens = tokens
		m := NewT2T(rng, c)
		assert.Equal(t, 4, m.NumTokens(), "32² gives 2×2 tokens")
		// The same width, depth, heads and MLP as the ViT; only the
		// tokenizer differs.
		assert.Equal(t, v.Config.EmbedDim, m.Config.EmbedDim)
		assert.Equal(t, len(v.Blocks), len(m.Blocks))
		nn.Eval(m)
		autograd.NoGrad(func() {
			assert.Equal(t, []int{3, 10}, m.Forward(rng.Normal(0, 1, 3, 1, 32, 32)).Shape())
		})
		// A 28×28 image also gives 4 tokens, so the model may take MNIST
		// unpadded (the repository's own count would say 1).
		c.ImageSize = 28
		m28 := NewT2T(rng, c)
		assert.Equal(t, 4, m28.NumTokens())
		autograd.NoGrad(func() {
			assert.Equal(t, []int{2, 10}, m28.Forward(rng.Normal(0, 1, 2, 1, 28, 28)).Shape())
		})
	}
	nn.Eval(v)
	autograd.NoGrad(func() {
		assert.Equal(t, []int{3, 10}, v.Forward(rng.Normal(0, 1, 3, 1, 28, 28)).Shape())
		assert.Equal(t, []int{3, 128}, v.ForwardFeatures(rng.Normal(0, 1, 3, 1, 28, 28)).Shape())
	})
	assert.PanicsWithValue(t, "vit: VisionTransformer: input of shape [3 1 32 32]; need [B, 1, 28, 28]", func() {
		v.Forward(rng.Normal(0, 1, 3, 1, 32, 32))
	})
	assert.Panics(t, func() {
		New(rng, Config{ImageSize: 30, PatchSize: 4, InChans: 1, NumClasses: 2, EmbedDim: 8, Depth: 1, NumHeads: 2, MLPRatio: 1})
	})
	assert.Panics(t, func() {
		New(rng, Config{ImageSize: 28, PatchSize: 4, InChans: 1, NumClasses: 2, EmbedDim: 8, Depth: 1, NumHeads: 3, MLPRatio: 1})
	})
	bad := T2TViTMNIST()
	bad.Tokens = "convolution"
	assert.PanicsWithValue(t, `vit: NewT2T: tokens "convolution"; use "performer" or "transformer"`, func() { NewT2T(rng, bad) })
	bad = T2TViTMNIST()
	bad.DropPathRate = 1.5
	assert.Panics(t, func() { NewT2T(rng, bad) })
}

// TestPatchEmbedIsConvolution checks that the patch embedding computed as
// patchify + matrix product equals the strided convolution, values and
// gradients (the spec's "patch conv == patchify + Linear").
func TestPatchEmbedIsConvolution(t *testing.T) {
	rng := autograd.NewRNG(2)
	e := NewPatchEmbed(rng, 3, 10, 4)
	x := rng.Normal(0, 1, 2, 3, 12, 8)
	up := rng.Normal(0, 1, 2, 6, 10)
	run := func(f func(*autograd.Tensor) *autograd.Tensor) (y, gx, gw, gb []float32) {
		nn.ZeroGrad(e)
		xi := x.Clone().SetRequiresGrad(true)
		out := f(xi)
		require.Equal(t, []int{2, 6, 10}, out.Shape())
		out.Mul(up).Sum().Backward()
		return out.Data(), xi.Grad.Data(), e.Proj.Weight.Grad.Data(), e.Proj.Bias.Grad.Data()
	}
	y1, gx1, gw1, gb1 := run(e.Forward)
	y2, gx2, gw2, gb2 := run(e.ForwardConv)
	assert.InDeltaSlice(t, y2, y1, 1e-5)
	assert.InDeltaSlice(t, gx2, gx1, 1e-5)
	assert.InDeltaSlice(t, gw2, gw1, 1e-4)
	assert.InDeltaSlice(t, gb2, gb1, 1e-4)
	// Token 1 is the patch at row 0, column 1 (row-major patches).
	var want float64
	for c := 0; c < 3; c++ {
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				want += float64(x.At(0, c, i, 4+j)) * float64(e.Proj.Weight.At(5, c, i, j))
			}
		}
	}
	want += float64(e.Proj.Bias.At(5))
	assert.InDelta(t, want, y1[(0*6+1)*10+5], 1e-5)
}

func TestSinusoidEncoding(t *testing.T) {
	pe := SinusoidEncoding(5, 6)
	require.Equal(t, []int{1, 5, 6}, pe.Shape())
	for p := 0; p < 5; p++ {
		for i := 0; i < 3; i++ {
			a := float64(p) / math.Pow(10000, float64(2*i)/6)
			assert.InDelta(t, math.Sin(a), pe.At(0, p, 2*i), 1e-7)
			assert.InDelta(t, math.Cos(a), pe.At(0, p, 2*i+1), 1e-7)
		}
	}
	// Position 0 is (0, 1, 0, 1, ...).
	assert.Equal(t, []float32{0, 1, 0, 1, 0, 1}, pe.Narrow(1, 0, 1).Reshape(6).Data())
}

// TestFixedParameters checks that T2T-ViT's position encoding and the
// performers' features are saved but never trained, and that the ViT's
// are trained.
func TestFixedParameters(t *testing.T) {
	rng := autograd.NewRNG(3)
	m := tinyT2T(rng, layers.T2TPerformer)
	trainable, total := nn.NumParams(m)
	fixed := m.PosEmbed.Numel() + 2*2*4 // pos_embed and two w of [m=2, emb=4]
	assert.Equal(t, total-fixed, trainable)
	m.Forward(rng.Normal(0, 1, 2, 1, 32, 32)).Sum().Backward()
	for _, np := range nn.NamedParameters(m) {
		switch np.Name {
		case "pos_embed", "tokens_to_token.attention1.w", "tokens_to_token.attention2.w":
			assert.False(t, np.Param.RequiresGrad(), np.Name)
			assert.Nil(t, np.Param.Grad, np.Name)
		default:
			assert.True(t, np.Param.RequiresGrad(), np.Name)
			assert.NotNil(t, np.Param.Grad, np.Name)
		}
	}
	v := tinyViT(rng)
	v.Forward(rng.Normal(0, 1, 2, 2, 8, 8)).Sum().Backward()
	for _, np := range nn.NamedParameters(v) {
		assert.NotNil(t, np.Param.Grad, np.Name)
	}
}

// TestPatchPermutationEquivariance: without a position embedding a ViT
// sees a set of patches, so permuting the patch tokens leaves the class
// token's features unchanged; with the position embedding they change.
func TestPatchPermutationEquivariance(t *testing.T) {
	rng := autograd.NewRNG(4)
	v := tinyViT(rng)
	nn.Eval(v)
	tokens := rng.Normal(0, 1, 2, 4, 8)
	perm := []int{2, 0, 3, 1}
	autograd.NoGrad(func() {
		withPos := v.ForwardTokens(tokens)
		withPosPerm := v.ForwardTokens(tokens.IndexSelect(1, perm))
		assert.Greater(t, maxAbsDiff(withPos, withPosPerm), 1e-4)
		// The cls token and every position get the same embedding:
		// permuting the patches then changes nothing.
		v.PosEmbed.CopyFrom(rng.Normal(0, 1, 1, 1, 8).Expand(1, 5, 8))
		a := v.ForwardTokens(tokens)
		b := v.ForwardTokens(tokens.IndexSelect(1, perm))
		assert.Less(t, maxAbsDiff(a, b), 1e-5)
	})
}

func maxAbsDiff(a, b *autograd.Tensor) float64 {
	d := 0.0
	for i, x := range a.Data() {
		d = math.Max(d, math.Abs(float64(x-b.Data()[i])))
	}
	return d
}

// TestBatchIndependence: in evaluation mode each sample's logits depend
// on that sample only.
func TestBatchIndependence(t *testing.T) {
	rng := autograd.NewRNG(5)
	for _, m := range []nn.Layer{tinyViT(rng), tinyT2T(rng, layers.T2TPerformer), tinyT2T(rng, layers.T2TTransformer)} {
		nn.Eval(m)
		var x *autograd.Tensor
		if v, ok := m.(*VisionTransformer); ok {
			x = rng.Normal(0, 1, 3, v.Config.InChans, 8, 8)
		} else {
			x = rng.Normal(0, 1, 3, 1, 32, 32)
		}
		autograd.NoGrad(func() {
			all := m.Forward(x)
			one := m.Forward(x.Narrow(0, 1, 1))
			assert.Less(t, maxAbsDiff(all.Narrow(0, 1, 1), one), 1e-5)
		})
	}
}

func TestDropPathAndModes(t *testing.T) {
	assert.Equal(t, []float64{0, 0.05, 0.1}, dropPathRates(0.1, 3))
	assert.Equal(t, []float64{0}, dropPathRates(0.1, 1), "torch.linspace(0, r, 1) is [0]")
	rng := autograd.NewRNG(6)
	c := T2TViTMNIST()
	c.Depth, c.DropPathRate, c.DropRate = 3, 0.2, 0.1
	m := NewT2T(rng, c)
	assert.InDelta(t, 0.0, m.Blocks[0].DropPath1.P, 1e-12)
	assert.InDelta(t, 0.1, m.Blocks[1].DropPath2.P, 1e-12)
	assert.InDelta(t, 0.2, m.Blocks[2].DropPath1.P, 1e-12)
	assert.InDelta(t, 0.1, m.PosDrop.P, 1e-12)
	x := rng.Normal(0, 1, 4, 1, 32, 32)
	autograd.NoGrad(func() {
		nn.Train(m)
		a, b := m.Forward(x), m.Forward(x)
		assert.Greater(t, maxAbsDiff(a, b), 1e-6, "dropout and drop path act in training mode")
		nn.Eval(m)
		a, b = m.Forward(x), m.Forward(x)
		assert.Equal(t, a.Data(), b.Data(), "evaluation is deterministic")
	})
}

// TestSaveLoadRoundTrip writes a model with nn.Save and loads it strictly
// into a model built from another seed: the outputs then agree.
func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for i, pair := range [][2]nn.Layer{
		{tinyViT(autograd.NewRNG(7)), tinyViT(autograd.NewRNG(8))},
		{tinyT2T(autograd.NewRNG(7), layers.T2TPerformer), tinyT2T(autograd.NewRNG(8), layers.T2TPerformer)},
		{tinyT2T(autograd.NewRNG(7), layers.T2TTransformer), tinyT2T(autograd.NewRNG(8), layers.T2TTransformer)},
	} {
		src, dst := pair[0], pair[1]
		nn.Eval(src)
		nn.Eval(dst)
		var x *autograd.Tensor
		if v, ok := src.(*VisionTransformer); ok {
			x = autograd.NewRNG(9).Normal(0, 1, 2, v.Config.InChans, 8, 8)
		} else {
			x = autograd.NewRNG(9).Normal(0, 1, 2, 1, 32, 32)
		}
		path := filepath.Join(dir, "m"+string(rune('0'+i))+".safetensors")
		require.NoError(t, nn.Save(path, src, map[string]string{"model": "test"}))
		autograd.NoGrad(func() {
			before := maxAbsDiff(src.Forward(x), dst.Forward(x))
			assert.Greater(t, before, 1e-6, "different seeds give different models")
			res, err := nn.Load(path, dst, true)
			require.NoError(t, err)
			assert.Empty(t, res.Missing)
			assert.Empty(t, res.Unexpected)
			assert.Equal(t, src.Forward(x).Data(), dst.Forward(x).Data())
		})
	}
	// A ViT checkpoint does not load into a T2T-ViT: the error names the
	// entries.
	path := filepath.Join(dir, "m0.safetensors")
	_, err := nn.Load(path, tinyT2T(autograd.NewRNG(1), layers.T2TPerformer), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "patch_embed.proj.weight")
}

// TestInitialisation checks the reference initialisation: small
// trunc_normal weights, zero biases, unit norms, cls tokens as timm and
// T2T-ViT draw them.
func TestInitialisation(t *testing.T) {
	rng := autograd.NewRNG(10)
	v := New(rng, ViTTiny16())
	std := func(x *autograd.Tensor) float64 {
		var s, s2 float64
		for _, f := range x.Data() {
			s += float64(f)
			s2 += float64(f) * float64(f)
		}
		n := float64(x.Numel())
		return math.Sqrt(s2/n - (s/n)*(s/n))
	}
	assert.InDelta(t, 0.02, std(v.PosEmbed.Tensor), 0.001)
	assert.InDelta(t, 1e-6, std(v.ClsToken.Tensor), 3e-7)
	assert.InDelta(t, 0.02, std(v.Blocks[3].Attn.QKV.Weight.Tensor), 0.001)
	assert.InDelta(t, 0.02, std(v.Head.Weight.Tensor), 0.001)
	assert.Equal(t, 0.0, std(v.Head.Bias.Tensor))
	assert.Equal(t, float32(1), v.Norm.Weight.At(7))
	// The patch convolution keeps torch's default: U(±1/√fan_in).
	assert.InDelta(t, 1/math.Sqrt(3*16*16)/math.Sqrt(3), std(v.PatchEmbed.Proj.Weight.Tensor), 0.001)
	m := NewT2T(rng, T2TViT7())
	assert.InDelta(t, 0.02, std(m.ClsToken.Tensor), 0.006)
	assert.InDelta(t, 0.02, std(m.TokensToToken.Project.Weight.Tensor), 0.001)
}
