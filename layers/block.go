package layers

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// MLP is the transformer feed-forward network as timm's Mlp: fc1, an
// activation (GELU), dropout, fc2, dropout. Its state_dict names are
// "fc1.weight", "fc1.bias", "fc2.weight" and "fc2.bias". Hold it by pointer
// so that nn.Train and nn.Eval reach its dropouts.
type MLP struct {
	// FC1 maps in → hidden features.
	FC1 *nn.Linear
	// Act is the activation between the two layers (GELU, erf form).
	Act nn.Layer
	// Drop1 follows the activation (nil: none).
	Drop1 *nn.Dropout
	// FC2 maps hidden → out features.
	FC2 *nn.Linear
	// Drop2 follows fc2 (nil: none).
	Drop2 *nn.Dropout
}

// NewMLP returns an MLP from in to hidden to out features with GELU, both
// dropouts of probability drop (drawing from rng), and weights initialised
// as timm's vision transformers do (trunc_normal std 0.02, biases 0).
func NewMLP(rng *autograd.RNG, in, hidden, out int, drop float64) *MLP {
	if in <= 0 || hidden <= 0 || out <= 0 {
		panic(fmt.Sprintf("layers: NewMLP: sizes %d → %d → %d must be positive", in, hidden, out))
	}
	return &MLP{
		FC1:   attnLinear(rng, in, hidden, true),
		Act:   nn.GELU{},
		Drop1: nn.NewDropout(drop, rng),
		FC2:   attnLinear(rng, hidden, out, true),
		Drop2: nn.NewDropout(drop, rng),
	}
}

// Forward maps x of shape [..., in] to [..., out].
func (m *MLP) Forward(x *autograd.Tensor) *autograd.Tensor {
	x = m.FC1.Forward(x)
	if m.Act != nil {
		x = m.Act.Forward(x)
	}
	x = attnDrop(m.Drop1, x)
	return attnDrop(m.Drop2, m.FC2.Forward(x))
}

// LayerScale multiplies its input by a learned per-channel gamma, as timm's
// LayerScale (CaiT). Its state_dict name is "gamma".
type LayerScale struct {
	// Gamma has the shape of the last dimension of the input.
	Gamma *nn.Parameter
}

// NewLayerScale returns a LayerScale over dim channels with gamma set to
// initValues.
func NewLayerScale(dim int, initValues float64) *LayerScale {
	if dim <= 0 {
		panic(fmt.Sprintf("layers: NewLayerScale: dim %d must be positive", dim))
	}
	return &LayerScale{Gamma: nn.NewParameter(autograd.Full(float32(initValues), dim))}
}

// Forward returns x·gamma, broadcasting over all but the last dimension.
func (l *LayerScale) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() == 0 || x.Size(-1) != l.Gamma.Size(0) {
		panic(fmt.Sprintf("layers: LayerScale: input of shape %v does not end in %d channels", x.Shape(), l.Gamma.Size(0)))
	}
	return x.Mul(l.Gamma.Tensor)
}

// BlockConfig holds the options of NewBlock. The zero value is a timm ViT
// block without qkv bias: 8 heads, MLP ratio 4, LayerNorm eps 1e-6, no
// LayerScale, no dropout or drop path.
type BlockConfig struct {
	// NumHeads is the number of attention heads; zero means 8.
	NumHeads int
	// MLPRatio is the MLP's hidden width over dim; zero means 4.
	MLPRatio float64
	// QKVBias gives the qkv projection a bias (timm's ViTs: true;
	// T2T-ViT: false).
	QKVBias bool
	// Scale is the attention's qk_scale; zero means d_h^−½ (T2T-ViT's
	// released weights need dim^−½).
	Scale float64
	// Eps is the LayerNorms' epsilon; zero means 1e-6 (timm's ViT;
	// T2T-ViT uses torch's default 1e-5).
	Eps float64
	// InitValues, when non-zero, adds LayerScale after the attention and
	// the MLP with gamma initialised to it (timm's init_values).
	InitValues float64
	// Drop is the dropout probability after the attention projection and
	// inside the MLP (timm's proj_drop).
	Drop float64
	// AttnDrop is the dropout probability on the attention weights.
	AttnDrop float64
	// DropPath is the stochastic depth probability of both residual
	// branches.
	DropPath float64
	// Composed selects the attention's reference path (see
	// AttentionOptions).
	Composed bool
}

// Block is the pre-norm transformer block of timm's vision transformer:
//
//	x = x + drop_path1(ls1(attn(norm1(x))))
//	x = x + drop_path2(ls2(mlp(norm2(x))))
//
// Its state_dict names are timm's: "norm1.weight", "norm1.bias",
// "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
// "attn.proj.bias", "ls1.gamma" (with LayerScale), "norm2.weight",
// "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight",
// "mlp.fc2.bias", "ls2.gamma". Without LayerScale the names are those of
// T2T-ViT's Block as well. Hold it by pointer so that nn.Train and nn.Eval
// reach its dropouts and drop paths.
type Block struct {
	// Norm1 normalises the attention's input.
	Norm1 *nn.LayerNorm
	// Attn is the multi-head self-attention.
	Attn *Attention
	// LS1 scales the attention branch (nil: no LayerScale).
	LS1 *LayerScale
	// DropPath1 drops the attention branch per sample (nil: none).
	DropPath1 *nn.DropPath
	// Norm2 normalises the MLP's input.
	Norm2 *nn.LayerNorm
	// MLP is the feed-forward network.
	MLP *MLP
	// LS2 scales the MLP branch (nil: no LayerScale).
	LS2 *LayerScale
	// DropPath2 drops the MLP branch per sample (nil: none).
	DropPath2 *nn.DropPath
}

// NewBlock returns a transformer block over tokens of width dim. Linear
// weights are drawn from trunc_normal(std 0.02) with zero biases, the
// LayerNorms start at weight 1 and bias 0, as timm's vision transformers
// initialise them; dropouts and drop paths draw from rng too.
func NewBlock(rng *autograd.RNG, dim int, cfg BlockConfig) *Block {
	ratio := cfg.MLPRatio
	if ratio == 0 {
		ratio = 4
	}
	eps := cfg.Eps
	if eps == 0 {
		eps = 1e-6
	}
	hidden := int(float64(dim) * ratio)
	b := &Block{
		Norm1: nn.NewLayerNorm([]int{dim}, nn.LayerNormConfig{Eps: eps}),
		Attn: NewAttention(rng, dim, AttentionConfig{
			NumHeads: cfg.NumHeads, QKVBias: cfg.QKVBias, Scale: cfg.Scale,
			AttnDrop: cfg.AttnDrop, ProjDrop: cfg.Drop, Composed: cfg.Composed,
		}),
		DropPath1: nn.NewDropPath(cfg.DropPath, rng),
		Norm2:     nn.NewLayerNorm([]int{dim}, nn.LayerNormConfig{Eps: eps}),
		MLP:       NewMLP(rng, dim, hidden, dim, cfg.Drop),
		DropPath2: nn.NewDropPath(cfg.DropPath, rng),
	}
	if cfg.InitValues != 0 {
		b.LS1 = NewLayerScale(dim, cfg.InitValues)
		b.LS2 = NewLayerScale(dim, cfg.InitValues)
	}
	return b
}

// Forward maps x of shape [B, N, dim] to the same shape.
func (b *Block) Forward(x *autograd.Tensor) *autograd.Tensor {
	return b.ForwardMask(x, AttentionMask{})
}

// ForwardMask is Forward with a mask over the keys of the attention.
func (b *Block) ForwardMask(x *autograd.Tensor, m AttentionMask) *autograd.Tensor {
	y := b.Attn.ForwardMask(b.Norm1.Forward(x), m)
	x = x.Add(attnBranch(b.LS1, b.DropPath1, y))
	y = b.MLP.Forward(b.Norm2.Forward(x))
	return x.Add(attnBranch(b.LS2, b.DropPath2, y))
}

// attnBranch applies the optional LayerScale and drop path of a residual
// branch.
func attnBranch(ls *LayerScale, dp *nn.DropPath, y *autograd.Tensor) *autograd.Tensor {
	if ls != nil {
		y = ls.Forward(y)
	}
	if dp != nil {
		y = dp.Forward(y)
	}
	return y
}
