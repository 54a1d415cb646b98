// Package vit holds the Vision Transformer (ViT, as timm's
// VisionTransformer) and T2T-ViT (yitu-opensource/T2T-ViT), built from the
// transformer blocks and the tokens-to-token module of package layers.
//
// Both models are plain structs whose parameter names are those of the
// reference implementations' state_dicts: "cls_token", "pos_embed",
// "patch_embed.proj.weight", "blocks.0.norm1.weight",
// "blocks.0.attn.qkv.weight", ..., "norm.weight", "head.weight" for ViT,
// and "tokens_to_token.attention1.kqv.weight", ...,
// "tokens_to_token.project.weight" in place of the patch embedding for
// T2T-ViT. So checkpoints of timm and of the T2T-ViT repository, converted
// to safetensors, load with nn.Load, and nn.Save writes files that
// PyTorch loads into those models.
//
// Named configurations give the reference models with their exact
// parameter counts (ViTTiny16, ViTSmall16, ViTBase16, T2TViT7 to
// T2TViT24) and small models for 28–32 pixel images (ViTMNIST,
// T2TViTMNIST), which examples/vit trains on MNIST and Fashion-MNIST.
//
// Shape and configuration errors panic with the model's name and the
// shapes involved, as in packages nn and layers.
package vit

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// PatchEmbed cuts an image into non-overlapping square patches and
// projects each to a token, as timm's PatchEmbed: a convolution with
// kernel and stride PatchSize, flattened to tokens. Its state_dict names
// are "proj.weight" [D, C, p, p] and "proj.bias" [D].
type PatchEmbed struct {
	// Proj is the patch projection.
	Proj *nn.Conv2d
	// PatchSize is the side p of the patches.
	PatchSize int
}

// NewPatchEmbed returns a patch embedding of p×p patches of inChans
// channels into dim features, initialised as torch.nn.Conv2d (timm leaves
// it so).
func NewPatchEmbed(rng *autograd.RNG, inChans, dim, p int) *PatchEmbed {
	if inChans <= 0 || dim <= 0 || p <= 0 {
		panic(fmt.Sprintf("vit: NewPatchEmbed: channels %d, width %d and patch size %d must be positive", inChans, dim, p))
	}
	return &PatchEmbed{
		Proj:      nn.NewConv2d(rng, inChans, dim, p, p, nn.Conv2dConfig{Stride: [2]int{p, p}}),
		PatchSize: p,
	}
}

// Forward maps images [B, C, H, W] to tokens [B, (H/p)·(W/p), D], the
// patches in row-major order. It computes the convolution as what it is
// when the stride equals the kernel: the patches, gathered by one
// permutation, times the flattened kernel (ForwardConv gives the same
// values through the convolution op).
func (e *PatchEmbed) Forward(x *autograd.Tensor) *autograd.Tensor {
	p := e.PatchSize
	w := e.Proj.Weight
	c := w.Size(1)
	if x.Dim() != 4 || x.Size(1) != c || x.Size(2)%p != 0 || x.Size(3)%p != 0 {
		panic(fmt.Sprintf("vit: PatchEmbed: input of shape %v; need [B, %d, H, W] with H and W multiples of %d", x.Shape(), c, p))
	}
	b, gh, gw := x.Size(0), x.Size(2)/p, x.Size(3)/p
	// [B, C, gh, p, gw, p] → [B, gh, gw, C, p, p]: each patch's features in
	// the kernel's order (channel, row, column).
	patches := x.Reshape(b, c, gh, p, gw, p).Permute(0, 2, 4, 1, 3, 5).Reshape(b, gh*gw, c*p*p)
	y := autograd.MatMulT(patches, w.Reshape(w.Size(0), c*p*p), false, true)
	if e.Proj.Bias != nil {
		y = y.Add(e.Proj.Bias.Tensor)
	}
	return y
}

// ForwardConv is Forward computed with the convolution itself (timm's
// proj(x).flatten(2).transpose(1, 2)); Forward gives the same values.
func (e *PatchEmbed) ForwardConv(x *autograd.Tensor) *autograd.Tensor {
	y := e.Proj.Forward(x) // [B, D, H/p, W/p]
	return y.Flatten(2, 3).Transpose(1, 2)
}

// VisionTransformer is timm's VisionTransformer with a class token:
//
//	x = patch_embed(img)                 [B, N, D]
//	x = cat(cls_token, x) + pos_embed    [B, N+1, D]
//	x = blocks(pos_drop(x))              pre-norm transformer blocks
//	logits = head(norm(x)[:, 0])         [B, classes]
//
// Its state_dict names and their order are timm's: "cls_token" [1, 1, D],
// "pos_embed" [1, N+1, D], "patch_embed.proj.weight",
// "patch_embed.proj.bias", "blocks.<i>.…" (see layers.Block),
// "norm.weight", "norm.bias", "head.weight", "head.bias". Hold it by
// pointer so that nn.Train and nn.Eval reach its dropouts.
type VisionTransformer struct {
	// ClsToken is the learned class token [1, 1, D].
	ClsToken *nn.Parameter
	// PosEmbed is the learned position embedding [1, N+1, D] (class token
	// first).
	PosEmbed *nn.Parameter
	// PatchEmbed makes the patch tokens.
	PatchEmbed *PatchEmbed
	// PosDrop drops features after the position embedding.
	PosDrop *nn.Dropout
	// Blocks are the transformer blocks.
	Blocks []*layers.Block
	// Norm is the final LayerNorm.
	Norm *nn.LayerNorm
	// Head maps the class token's features to class scores.
	Head *nn.Linear
	// Config is the configuration the model was built with.
	Config Config
}

// New returns a Vision Transformer initialised as timm's (init mode ""):
// Linear weights trunc_normal(std 0.02) with zero biases, LayerNorms 1 and
// 0, pos_embed trunc_normal(std 0.02), cls_token normal(std 1e-6), and the
// patch convolution as torch.nn.Conv2d initialises it. It panics on an
// invalid configuration.
func New(rng *autograd.RNG, cfg Config) *VisionTransformer {
	cfg.check()
	d, n := cfg.EmbedDim, cfg.NumPatches()
	m := &VisionTransformer{
		ClsToken:   nn.NewParameter(nn.Normal(autograd.Zeros(1, 1, d), 0, 1e-6, rng)),
		PosEmbed:   nn.NewParameter(nn.TruncNormal(autograd.Zeros(1, n+1, d), 0, 0.02, -2, 2, rng)),
		PatchEmbed: NewPatchEmbed(rng, cfg.InChans, d, cfg.PatchSize),
		PosDrop:    nn.NewDropout(cfg.DropRate, rng),
		Config:     cfg,
	}
	for _, dp := range dropPathRates(cfg.DropPathRate, cfg.Depth) {
		m.Blocks = append(m.Blocks, layers.NewBlock(rng, d, layers.BlockConfig{
			NumHeads: cfg.NumHeads, MLPRatio: cfg.MLPRatio, QKVBias: !cfg.NoQKVBias, Eps: 1e-6,
			Drop: cfg.DropRate, AttnDrop: cfg.AttnDropRate, DropPath: dp,
		}))
	}
	m.Norm = nn.NewLayerNorm([]int{d}, nn.LayerNormConfig{Eps: 1e-6})
	m.Head = truncLinear(rng, d, cfg.NumClasses)
	return m
}

// dropPathRates returns torch.linspace(0, rate, depth): the stochastic
// depth of each block.
func dropPathRates(rate float64, depth int) []float64 {
	out := make([]float64, depth)
	for i := range out {
		if depth > 1 {
			out[i] = rate * float64(i) / float64(depth-1)
		}
	}
	return out
}

// truncLinear returns a Linear layer with weight trunc_normal(std 0.02)
// and zero bias, as timm and T2T-ViT initialise their Linear layers.
func truncLinear(rng *autograd.RNG, in, out int) *nn.Linear {
	return &nn.Linear{
		Weight: nn.NewParameter(nn.TruncNormal(autograd.Zeros(out, in), 0, 0.02, -2, 2, rng)),
		Bias:   nn.NewParameter(autograd.Zeros(out)),
	}
}

// Forward maps images [B, C, H, W] (the configured channels and size) to
// class scores [B, classes].
func (m *VisionTransformer) Forward(x *autograd.Tensor) *autograd.Tensor {
	return m.Head.Forward(m.ForwardFeatures(x))
}

// ForwardFeatures returns the normalised features of the class token,
// [B, D]: what the head classifies.
func (m *VisionTransformer) ForwardFeatures(x *autograd.Tensor) *autograd.Tensor {
	c := m.Config
	if x.Dim() != 4 || x.Size(1) != c.InChans || x.Size(2) != c.ImageSize || x.Size(3) != c.ImageSize {
		panic(fmt.Sprintf("vit: VisionTransformer: input of shape %v; need [B, %d, %d, %d]", x.Shape(), c.InChans, c.ImageSize, c.ImageSize))
	}
	return m.ForwardTokens(m.PatchEmbed.Forward(x))
}

// ForwardTokens runs the model from the patch tokens [B, N, D] on: it
// prepends the class token, adds the position embedding, runs the blocks
// and returns the normalised class token [B, D].
func (m *VisionTransformer) ForwardTokens(tokens *autograd.Tensor) *autograd.Tensor {
	return backbone(tokens, m.ClsToken, m.PosEmbed, m.PosDrop, m.Blocks, m.Norm)
}

// backbone is the part ViT and T2T-ViT share: class token, position
// embedding, blocks, and the final norm of the class token. The norm acts
// on each token alone, so it is applied to the class token only.
func backbone(x *autograd.Tensor, cls, pos *nn.Parameter, drop *nn.Dropout, blocks []*layers.Block, norm *nn.LayerNorm) *autograd.Tensor {
	if x.Dim() != 3 || x.Size(2) != cls.Size(2) || x.Size(1)+1 != pos.Size(1) {
		panic(fmt.Sprintf("vit: tokens of shape %v do not fit the position embedding %v (the class token first)", x.Shape(), pos.Shape()))
	}
	b, d := x.Size(0), x.Size(2)
	x = autograd.Concat([]*autograd.Tensor{cls.Expand(b, 1, d), x}, 1).Add(pos.Tensor)
	if drop != nil {
		x = drop.Forward(x)
	}
	for _, blk := range blocks {
		x = blk.Forward(x)
	}
	return norm.Forward(x.Narrow(1, 0, 1).Reshape(b, d))
}
