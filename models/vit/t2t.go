package vit

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// SinusoidEncoding returns T2T-ViT's fixed position encoding
// (get_sinusoid_encoding) of n positions and d features, [1, n, d]:
//
//	PE[p, 2i]   = sin(p / 10000^(2i/d))
//	PE[p, 2i+1] = cos(p / 10000^(2i/d))
//
// computed in float64 and rounded to float32, as the repository does with
// NumPy.
func SinusoidEncoding(n, d int) *autograd.Tensor {
	if n <= 0 || d <= 0 {
		panic(fmt.Sprintf("vit: SinusoidEncoding: %d positions and %d features must be positive", n, d))
	}
	out := make([]float32, n*d)
	for p := 0; p < n; p++ {
		for j := 0; j < d; j++ {
			a := float64(p) / math.Pow(10000, float64(2*(j/2))/float64(d))
			if j%2 == 0 {
				out[p*d+j] = float32(math.Sin(a))
			} else {
				out[p*d+j] = float32(math.Cos(a))
			}
		}
	}
	return autograd.New(out, 1, n, d)
}

// T2TViT is the Tokens-to-Token Vision Transformer of yitu-opensource/T2T-ViT
// (models/t2t_vit.py): the T2T module turns the image into tokens
// (layers.T2TModule), then
//
//	x = cat(cls_token, tokens) + pos_embed    fixed sinusoidal encoding
//	x = blocks(pos_drop(x))                   pre-norm blocks, no qkv bias,
//	                                          LayerNorm eps 1e-5
//	logits = head(norm(x)[:, 0])
//
// Its state_dict names and their order are the repository's: "cls_token"
// [1, 1, D], "pos_embed" [1, L+1, D], "tokens_to_token.attention1.…",
// "tokens_to_token.attention2.…", "tokens_to_token.project.weight",
// "tokens_to_token.project.bias", "blocks.<i>.…", "norm.weight",
// "norm.bias", "head.weight", "head.bias". As in the repository, pos_embed
// and the performers' random features ("….w") are parameters with
// requires-grad off: saved and loaded, never trained, and not counted by
// nn.NumParams as trainable. Hold it by pointer so that nn.Train and
// nn.Eval reach its dropouts.
//
// The repository sizes pos_embed as (ImageSize/16)²+1, which matches the
// token count only for sides that are multiples of 16; here it is sized by
// the real count (T2TModule.NumTokens), the same for 224 and 32, so
// checkpoints load, and a 28×28 image also works (4 tokens).
type T2TViT struct {
	// ClsToken is the learned class token [1, 1, D].
	ClsToken *nn.Parameter
	// PosEmbed is the fixed sinusoidal position encoding [1, L+1, D]
	// (requires-grad off).
	PosEmbed *nn.Parameter
	// TokensToToken is the T2T module: image → L tokens of width D.
	TokensToToken *layers.T2TModule
	// PosDrop drops features after the position encoding.
	PosDrop *nn.Dropout
	// Blocks are the transformer blocks.
	Blocks []*layers.Block
	// Norm is the final LayerNorm.
	Norm *nn.LayerNorm
	// Head maps the class token's features to class scores.
	Head *nn.Linear
	// Config is the configuration the model was built with.
	Config T2TConfig
}

// NewT2T returns a T2T-ViT initialised as the repository's: Linear
// weights trunc_normal(std 0.02) with zero biases, LayerNorms 1 and 0,
// cls_token trunc_normal(std 0.02), the performers' features orthogonal.
// It panics on an invalid configuration.
func NewT2T(rng *autograd.RNG, cfg T2TConfig) *T2TViT {
	cfg.check()
	d := cfg.EmbedDim
	m := &T2TViT{
		ClsToken: nn.NewParameter(nn.TruncNormal(autograd.Zeros(1, 1, d), 0, 0.02, -2, 2, rng)),
		TokensToToken: layers.NewT2TModule(rng, layers.T2TConfig{
			Tokens: cfg.Tokens, InChans: cfg.InChans, EmbedDim: d, TokenDim: cfg.TokenDim,
		}),
		PosDrop: nn.NewDropout(cfg.DropRate, rng),
		Config:  cfg,
	}
	n := m.TokensToToken.NumTokens(cfg.ImageSize, cfg.ImageSize)
	m.PosEmbed = nn.NewParameter(SinusoidEncoding(n+1, d))
	m.PosEmbed.SetRequiresGrad(false)
	for _, dp := range dropPathRates(cfg.DropPathRate, cfg.Depth) {
		m.Blocks = append(m.Blocks, layers.NewBlock(rng, d, layers.BlockConfig{
			NumHeads: cfg.NumHeads, MLPRatio: cfg.MLPRatio, QKVBias: cfg.QKVBias, Scale: cfg.QKScale,
			Eps: 1e-5, Drop: cfg.DropRate, AttnDrop: cfg.AttnDropRate, DropPath: dp,
		}))
	}
	m.Norm = nn.NewLayerNorm([]int{d}, nn.LayerNormConfig{Eps: 1e-5})
	m.Head = truncLinear(rng, d, cfg.NumClasses)
	return m
}

// NumTokens returns the number of image tokens L (without the class
// token).
func (m *T2TViT) NumTokens() int { return m.PosEmbed.Size(1) - 1 }

// Forward maps images [B, C, H, W] (the configured channels and size) to
// class scores [B, classes].
func (m *T2TViT) Forward(x *autograd.Tensor) *autograd.Tensor {
	return m.Head.Forward(m.ForwardFeatures(x))
}

// ForwardFeatures returns the normalised features of the class token,
// [B, D]: what the head classifies.
func (m *T2TViT) ForwardFeatures(x *autograd.Tensor) *autograd.Tensor {
	c := m.Config
	if x.Dim() != 4 || x.Size(1) != c.InChans || x.Size(2) != c.ImageSize || x.Size(3) != c.ImageSize {
		panic(fmt.Sprintf("vit: T2TViT: input of shape %v; need [B, %d, %d, %d]", x.Shape(), c.InChans, c.ImageSize, c.ImageSize))
	}
	return backbone(m.TokensToToken.Forward(x), m.ClsToken, m.PosEmbed, m.PosDrop, m.Blocks, m.Norm)
}
