package vit

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/layers"
)

// Config describes a Vision Transformer (see New). The named
// configurations below fill it in; change fields of their result for
// variants (NumClasses for another dataset, DropPathRate for training).
type Config struct {
	// ImageSize is the side of the square input images in pixels.
	ImageSize int
	// PatchSize is the side of the square patches, the stride of the patch
	// embedding; it must divide ImageSize.
	PatchSize int
	// InChans is the number of image channels.
	InChans int
	// NumClasses is the number of classes of the head.
	NumClasses int
	// EmbedDim is the token width D.
	EmbedDim int
	// Depth is the number of transformer blocks.
	Depth int
	// NumHeads is the number of attention heads; it must divide EmbedDim.
	NumHeads int
	// MLPRatio is the hidden width of the blocks' MLP over EmbedDim.
	MLPRatio float64
	// NoQKVBias leaves out the bias of the qkv projections (timm's ViTs
	// have one: qkv_bias=True).
	NoQKVBias bool
	// DropRate is the dropout after the position embedding, after each
	// attention projection and inside each MLP (timm's drop_rate).
	DropRate float64
	// AttnDropRate is the dropout on the attention weights.
	AttnDropRate float64
	// DropPathRate is the stochastic depth of the last block; the rate
	// rises linearly from 0 at the first block, as in timm.
	DropPathRate float64
}

// NumPatches returns the number of patch tokens (without the class token).
func (c Config) NumPatches() int {
	n := c.ImageSize / c.PatchSize
	return n * n
}

// check panics when the configuration cannot build a model.
func (c Config) check() {
	if c.ImageSize <= 0 || c.PatchSize <= 0 || c.ImageSize%c.PatchSize != 0 || c.InChans <= 0 ||
		c.NumClasses <= 0 || c.EmbedDim <= 0 || c.Depth <= 0 || c.NumHeads <= 0 ||
		c.EmbedDim%c.NumHeads != 0 || !(c.MLPRatio > 0) {
		panic(fmt.Sprintf("vit: New: invalid config %+v: sizes must be positive, the patch size must divide the image size and the heads the width", c))
	}
	checkRates("New", c.DropRate, c.AttnDropRate, c.DropPathRate)
}

func checkRates(fn string, rates ...float64) {
	for _, r := range rates {
		if !(r >= 0 && r < 1) {
			panic(fmt.Sprintf("vit: %s: dropout and drop-path rates must be in [0, 1), got %v", fn, rates))
		}
	}
}

// vitBase returns timm's ViT at 224² with 16² patches and 1000 classes.
func vitBase(dim, heads int) Config {
	return Config{ImageSize: 224, PatchSize: 16, InChans: 3, NumClasses: 1000,
		EmbedDim: dim, Depth: 12, NumHeads: heads, MLPRatio: 4}
}

// ViTTiny16 is timm's vit_tiny_patch16_224 (DeiT-Ti): D=192, 3 heads,
// depth 12, 5,717,416 parameters.
func ViTTiny16() Config { return vitBase(192, 3) }

// ViTSmall16 is timm's vit_small_patch16_224 (DeiT-S): D=384, 6 heads,
// depth 12, 22,050,664 parameters.
func ViTSmall16() Config { return vitBase(384, 6) }

// ViTBase16 is timm's vit_base_patch16_224: D=768, 12 heads, depth 12,
// 86,567,656 parameters.
func ViTBase16() Config { return vitBase(768, 12) }

// ViTMNIST is a small ViT for 28×28 grey images (MNIST, Fashion-MNIST):
// 7×7 patches (16 tokens and the class token), D=128, 4 heads, depth 6,
// MLP ratio 2, 10 classes; 805,130 parameters. T2TViTMNIST has the same
// width, heads, depth and MLP.
func ViTMNIST() Config {
	return Config{ImageSize: 28, PatchSize: 7, InChans: 1, NumClasses: 10,
		EmbedDim: 128, Depth: 6, NumHeads: 4, MLPRatio: 2}
}

// T2TConfig describes a T2T-ViT (see NewT2T). The named configurations
// below fill it in.
type T2TConfig struct {
	// ImageSize is the side of the square input images in pixels. The
	// T2T module makes ⌈⌈⌈s/4⌉/2⌉/2⌉² tokens of a side s (with the soft
	// splits' rounding): 196 for 224, 4 for 32 and for 28.
	ImageSize int
	// InChans is the number of image channels.
	InChans int
	// NumClasses is the number of classes of the head.
	NumClasses int
	// Tokens is the T2T module's token layer: layers.T2TPerformer (the
	// default, T2T-ViT) or layers.T2TTransformer (T2T-ViT_t).
	Tokens string
	// TokenDim is the width of the tokens inside the T2T module (64).
	TokenDim int
	// EmbedDim is the token width D of the backbone.
	EmbedDim int
	// Depth is the number of transformer blocks.
	Depth int
	// NumHeads is the number of attention heads; it must divide EmbedDim.
	NumHeads int
	// MLPRatio is the hidden width of the blocks' MLP over EmbedDim.
	MLPRatio float64
	// QKVBias gives the blocks' qkv projections a bias (T2T-ViT has
	// none).
	QKVBias bool
	// QKScale multiplies the attention logits of the blocks; zero means
	// d_h^−½. The repository's released weights were trained with
	// EmbedDim^−½ (see ReleasedQKScale).
	QKScale float64
	// DropRate is the dropout after the position encoding, after each
	// attention projection and inside each MLP.
	DropRate float64
	// AttnDropRate is the dropout on the attention weights.
	AttnDropRate float64
	// DropPathRate is the stochastic depth of the last block, rising
	// linearly from 0 at the first.
	DropPathRate float64
}

// ReleasedQKScale returns c with QKScale set to EmbedDim^−½, the scale
// T2T-ViT's released ImageNet checkpoints were trained with (its
// t2t_vit_* functions set qk_scale so when pretrained=True).
func (c T2TConfig) ReleasedQKScale() T2TConfig {
	c.QKScale = 1 / math.Sqrt(float64(c.EmbedDim))
	return c
}

// check panics when the configuration cannot build a model.
func (c T2TConfig) check() {
	if c.ImageSize <= 0 || c.InChans <= 0 || c.NumClasses <= 0 || c.TokenDim <= 0 ||
		c.EmbedDim <= 0 || c.Depth <= 0 || c.NumHeads <= 0 || c.EmbedDim%c.NumHeads != 0 ||
		!(c.MLPRatio > 0) || c.QKScale < 0 {
		panic(fmt.Sprintf("vit: NewT2T: invalid config %+v: sizes must be positive and the heads must divide the width", c))
	}
	switch c.Tokens {
	case "", layers.T2TPerformer, layers.T2TTransformer:
	default:
		panic(fmt.Sprintf("vit: NewT2T: tokens %q; use %q or %q", c.Tokens, layers.T2TPerformer, layers.T2TTransformer))
	}
	checkRates("NewT2T", c.DropRate, c.AttnDropRate, c.DropPathRate)
}

// t2tBase returns the repository's T2T-ViT at 224² with 1000 classes and
// performer tokens.
func t2tBase(dim, depth, heads int, ratio float64) T2TConfig {
	return T2TConfig{ImageSize: 224, InChans: 3, NumClasses: 1000, Tokens: layers.T2TPerformer,
		TokenDim: 64, EmbedDim: dim, Depth: depth, NumHeads: heads, MLPRatio: ratio}
}

// T2TViT7 is the repository's t2t_vit_7: D=256, depth 7, 4 heads, MLP
// ratio 2, performer tokens; 4,255,694 trainable parameters.
func T2TViT7() T2TConfig { return t2tBase(256, 7, 4, 2) }

// T2TViT10 is t2t_vit_10: T2TViT7 with depth 10 (5,834,702 trainable
// parameters).
func T2TViT10() T2TConfig { return t2tBase(256, 10, 4, 2) }

// T2TViT12 is t2t_vit_12: T2TViT7 with depth 12 (6,887,374 trainable
// parameters).
func T2TViT12() T2TConfig { return t2tBase(256, 12, 4, 2) }

// T2TViT14 is t2t_vit_14: D=384, depth 14, 6 heads, MLP ratio 3;
// 21,465,806 trainable parameters. With Tokens = layers.T2TTransformer it
// is t2t_vit_t_14.
func T2TViT14() T2TConfig { return t2tBase(384, 14, 6, 3) }

// T2TViT19 is t2t_vit_19: D=448, depth 19, 7 heads, MLP ratio 3.
func T2TViT19() T2TConfig { return t2tBase(448, 19, 7, 3) }

// T2TViT24 is t2t_vit_24: D=512, depth 24, 8 heads, MLP ratio 3.
func T2TViT24() T2TConfig { return t2tBase(512, 24, 8, 3) }

// T2TViTMNIST is a small T2T-ViT for grey images padded to 32×32 (MNIST
// and Fashion-MNIST are 28×28: pad them by 2 pixels on each side, as the
// spec of the T2T module's token count asks): performer tokens of width
// 64, 4 tokens and the class token, and the width, heads, depth and MLP
// ratio of ViTMNIST, 10 classes; 1,014,956 trainable parameters.
func T2TViTMNIST() T2TConfig {
	v := ViTMNIST()
	return T2TConfig{ImageSize: 32, InChans: 1, NumClasses: 10, Tokens: layers.T2TPerformer,
		TokenDim: 64, EmbedDim: v.EmbedDim, Depth: v.Depth, NumHeads: v.NumHeads, MLPRatio: v.MLPRatio}
}
