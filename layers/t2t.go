package layers

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// SoftSplit is T2T-ViT's soft split: nn.Unfold with a square kernel,
// stride and padding, transposed so that each window is a token. An image
// [B, C, H, W] becomes [B, L, C·k²] with L the number of windows, the
// features of a token ordered as torch's unfold orders them (index
// c·k² + i·k + j for channel c, kernel row i, column j). It has no
// parameters.
type SoftSplit struct {
	// Kernel is the window size k.
	Kernel int
	// Stride is the step between windows (zero means 1).
	Stride int
	// Padding is the zero padding on each side.
	Padding int
}

// Forward splits x [B, C, H, W] into tokens [B, L, C·k²].
func (s SoftSplit) Forward(x *autograd.Tensor) *autograd.Tensor {
	if x.Dim() != 4 {
		panic(fmt.Sprintf("layers: SoftSplit: input of shape %v is not [B, C, H, W]", x.Shape()))
	}
	return autograd.Unfold(x, s.options()).Transpose(1, 2)
}

// OutSize returns the number of window positions along a side of n pixels.
func (s SoftSplit) OutSize(n int) int {
	st := max(s.Stride, 1)
	return (n+2*s.Padding-s.Kernel)/st + 1
}

func (s SoftSplit) options() autograd.UnfoldOptions {
	return autograd.UnfoldOptions{
		Kernel:  [2]int{s.Kernel, s.Kernel},
		Stride:  [2]int{s.Stride, s.Stride},
		Padding: [2]int{s.Padding, s.Padding},
	}
}

// TokenTransformer is T2T-ViT's Token_transformer, the "transformer"
// tokens-to-token layer: one-head attention from dim to inDim features
// whose skip connection is the values v (the width changes), with the
// repository's scale dim^−½ (the input width, not the head width), no qkv
// bias, then an MLP of ratio 1:
//
//	y = v + proj(softmax(q·kᵀ·dim^−½)·v),  q, k, v from norm1(x)
//	out = y + drop_path(mlp(norm2(y)))
//
// Its state_dict names are the repository's: "norm1.weight", "norm1.bias",
// "attn.qkv.weight" [3·inDim, dim], "attn.proj.weight", "attn.proj.bias",
// "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
// "mlp.fc2.weight", "mlp.fc2.bias".
type TokenTransformer struct {
	// Norm1 normalises the input (dim features).
	Norm1 *nn.LayerNorm
	// Attn is the one-head attention dim → inDim.
	Attn *Attention
	// DropPath drops the MLP branch per sample (nil: none).
	DropPath *nn.DropPath
	// Norm2 normalises the attention's output (inDim features).
	Norm2 *nn.LayerNorm
	// MLP maps inDim → inDim → inDim.
	MLP *MLP
}

// NewTokenTransformer returns a TokenTransformer from dim to inDim
// features, initialised as T2T-ViT does (Linear weights trunc_normal std
// 0.02, biases 0, LayerNorm eps 1e-5 with weight 1 and bias 0), without
// dropout or drop path.
func NewTokenTransformer(rng *autograd.RNG, dim, inDim int) *TokenTransformer {
	if dim <= 0 || inDim <= 0 {
		panic(fmt.Sprintf("layers: NewTokenTransformer: dim %d and in_dim %d must be positive", dim, inDim))
	}
	return &TokenTransformer{
		Norm1: nn.NewLayerNorm([]int{dim}, nn.LayerNormConfig{}),
		Attn: NewAttention(rng, dim, AttentionConfig{
			NumHeads: 1, InnerDim: inDim, Scale: 1 / math.Sqrt(float64(dim)),
		}),
		Norm2: nn.NewLayerNorm([]int{inDim}, nn.LayerNormConfig{}),
		MLP:   NewMLP(rng, inDim, inDim, inDim, 0),
	}
}

// Forward maps tokens [B, N, dim] to [B, N, inDim].
func (t *TokenTransformer) Forward(x *autograd.Tensor) *autograd.Tensor {
	y, v := t.Attn.ForwardValues(t.Norm1.Forward(x), AttentionMask{})
	y = v.Add(y)
	z := t.MLP.Forward(t.Norm2.Forward(y))
	if t.DropPath != nil {
		z = t.DropPath.Forward(z)
	}
	return y.Add(z)
}

// TokenPerformer is T2T-ViT's Token_performer, the default tokens-to-token
// layer: one-head linear attention with positive random features (FAVOR+).
// With z = norm1(x) and k, q, v = split(kqv(z)) (in that order, emb = inDim
// features each),
//
//	φ(u) = exp(u·Wᵀ − ‖u‖²/2) / √m                  (W: [m, emb], fixed)
//	y = v + dp(proj(φ(q)·(φ(k)ᵀ·v) / (φ(q)·Σₜφ(kₜ) + ε)))
//	out = y + mlp(norm2(y)),  mlp = Linear, GELU, Linear, Dropout
//
// W holds m = emb·kernelRatio orthogonal rows scaled by √m; it is a
// parameter with requires-grad off, as in the repository, so it is saved
// and loaded ("w") but not trained and not counted as trainable. The
// state_dict names are the repository's: "kqv.weight" [3·emb, dim],
// "kqv.bias", "proj.weight", "proj.bias", "norm1.weight", "norm1.bias",
// "norm2.weight", "norm2.bias", "mlp.0.weight", "mlp.0.bias",
// "mlp.2.weight", "mlp.2.bias" and "w". Hold it by pointer so that nn.Train
// and nn.Eval reach its dropouts.
type TokenPerformer struct {
	// KQV projects dim → 3·emb features: k, q, v.
	KQV *nn.Linear
	// Dp drops the projected attention output (nil: none).
	Dp *nn.Dropout
	// Proj is the output projection emb → emb.
	Proj *nn.Linear
	// Norm1 normalises the input (dim features).
	Norm1 *nn.LayerNorm
	// Norm2 normalises the attention's output (emb features).
	Norm2 *nn.LayerNorm
	// MLP is Linear(emb, emb), GELU, Linear(emb, emb), Dropout.
	MLP *nn.Sequential
	// W holds the m random feature directions, [m, emb]; not trained.
	W *nn.Parameter
	// Epsilon keeps the normalisation away from zero (1e-8).
	Epsilon float64
}

// NewTokenPerformer returns a TokenPerformer from dim to inDim features
// with m = inDim·kernelRatio random features (kernelRatio zero means 0.5,
// the repository's default) and both dropouts of probability drop (0.1 in
// T2T-ViT). Linear weights are trunc_normal(std 0.02) with zero biases,
// and W is orthogonal·√m, drawn from rng (torch.nn.init.orthogonal_).
func NewTokenPerformer(rng *autograd.RNG, dim, inDim int, kernelRatio, drop float64) *TokenPerformer {
	if kernelRatio == 0 {
		kernelRatio = 0.5
	}
	m := int(float64(inDim) * kernelRatio)
	if dim <= 0 || inDim <= 0 || m <= 0 {
		panic(fmt.Sprintf("layers: NewTokenPerformer: dim %d, in_dim %d and features %d must be positive", dim, inDim, m))
	}
	p := &TokenPerformer{
		KQV:     attnLinear(rng, dim, 3*inDim, true),
		Dp:      nn.NewDropout(drop, rng),
		Proj:    attnLinear(rng, inDim, inDim, true),
		Norm1:   nn.NewLayerNorm([]int{dim}, nn.LayerNormConfig{}),
		Norm2:   nn.NewLayerNorm([]int{inDim}, nn.LayerNormConfig{}),
		MLP:     nn.NewSequential(attnLinear(rng, inDim, inDim, true), nn.GELU{}, attnLinear(rng, inDim, inDim, true), nn.NewDropout(drop, rng)),
		Epsilon: 1e-8,
	}
	w := nn.Orthogonal(autograd.Zeros(m, inDim), math.Sqrt(float64(m)), rng)
	p.W = nn.NewParameter(w)
	p.W.SetRequiresGrad(false)
	return p
}

// Features returns the positive random features φ(u) = exp(u·Wᵀ −
// ‖u‖²/2)/√m of u [..., emb], shape [..., m]: every entry is positive, and
// for many Gaussian directions φ(q)·φ(k) estimates exp(q·k).
func (p *TokenPerformer) Features(u *autograd.Tensor) *autograd.Tensor {
	m, emb := p.W.Size(0), p.W.Size(1)
	if u.Dim() == 0 || u.Size(-1) != emb {
		panic(fmt.Sprintf("layers: TokenPerformer: features of shape %v; need [..., %d]", u.Shape(), emb))
	}
	wtx := autograd.MatMulT(u, p.W.Tensor, false, true)
	// ‖u‖²/2 + log √m on [..., 1], then one exp over [..., m]. As in the
	// reference, exp underflows to 0 in float32 once ‖u‖²/2 nears 100.
	off := u.Square().SumKeep(-1).MulScalar(0.5).AddScalar(float32(0.5 * math.Log(float64(m))))
	return wtx.Sub(off).Exp()
}

// Forward maps tokens [B, T, dim] to [B, T, emb].
func (p *TokenPerformer) Forward(x *autograd.Tensor) *autograd.Tensor {
	dim, emb := p.KQV.Weight.Size(1), p.W.Size(1)
	if x.Dim() != 3 || x.Size(2) != dim {
		panic(fmt.Sprintf("layers: TokenPerformer: input of shape %v; need [B, T, %d]", x.Shape(), dim))
	}
	z := p.Norm1.Forward(x)
	k := attnRows(z, p.KQV, 0, emb, 1)
	q := attnRows(z, p.KQV, emb, emb, 1)
	v := attnRows(z, p.KQV, 2*emb, emb, 1)
	kp, qp := p.Features(k), p.Features(q)                // [B, T, m]
	d := autograd.MatMulT(qp, kp.SumKeep(1), false, true) // [B, T, 1]
	kptv := autograd.MatMulT(v, kp, true, false)          // [B, emb, m]
	y := autograd.MatMulT(qp, kptv, false, true)          // [B, T, emb]
	y = y.Div(d.AddScalar(float32(p.Epsilon)))
	y = v.Add(attnDrop(p.Dp, p.Proj.Forward(y)))
	return y.Add(p.MLP.Forward(p.Norm2.Forward(y)))
}

// T2T token layer kinds, T2TConfig.Tokens.
const (
	// T2TPerformer selects TokenPerformer (T2T-ViT's default).
	T2TPerformer = "performer"
	// T2TTransformer selects TokenTransformer (T2T-ViT_t).
	T2TTransformer = "transformer"
)

// T2TConfig holds the options of NewT2TModule; the zero value is
// T2T_module's default: performer tokens, 3 input channels, embed_dim 768,
// token_dim 64.
type T2TConfig struct {
	// Tokens is T2TPerformer (or "") or T2TTransformer.
	Tokens string
	// InChans is the number of image channels; zero means 3.
	InChans int
	// EmbedDim is the width of the output tokens; zero means 768.
	EmbedDim int
	// TokenDim is the width of the tokens between the soft splits; zero
	// means 64.
	TokenDim int
}

// T2TModule is T2T-ViT's tokens-to-token module: three soft splits (kernel
// 7 stride 4 padding 2, then twice kernel 3 stride 2 padding 1) with a
// token layer after each of the first two that re-structures the tokens
// into an image, and a final Linear projection:
//
//	x → soft_split0 → attention1 → image → soft_split1 → attention2 →
//	image → soft_split2 → project
//
// A 224² image gives [B, 3136, 147] → [B, 3136, 64] → [B, 64, 56, 56] →
// [B, 784, 576] → [B, 784, 64] → [B, 64, 28, 28] → [B, 196, 576] →
// [B, 196, embed]; a 32² image gives 64, 16 and 4 tokens. Its state_dict
// names are the repository's: "attention1.…", "attention2.…" (see
// TokenPerformer and TokenTransformer) and "project.weight",
// "project.bias"; the soft splits have none.
type T2TModule struct {
	// SoftSplit0, SoftSplit1 and SoftSplit2 are the three soft splits.
	SoftSplit0, SoftSplit1, SoftSplit2 SoftSplit
	// Attention1 maps C·49 → token_dim features (*TokenPerformer or
	// *TokenTransformer).
	Attention1 nn.Layer
	// Attention2 maps token_dim·9 → token_dim features.
	Attention2 nn.Layer
	// Project maps token_dim·9 → embed_dim features.
	Project *nn.Linear
}

// NewT2TModule returns a T2T module initialised as T2T-ViT does (Linear
// weights trunc_normal std 0.02, biases 0, LayerNorms 1 and 0, performer
// directions orthogonal; the performers' dropouts are 0.1 as in the
// repository and act in training mode only).
func NewT2TModule(rng *autograd.RNG, cfg T2TConfig) *T2TModule {
	inChans, embed, tokenDim := cfg.InChans, cfg.EmbedDim, cfg.TokenDim
	if inChans == 0 {
		inChans = 3
	}
	if embed == 0 {
		embed = 768
	}
	if tokenDim == 0 {
		tokenDim = 64
	}
	t := &T2TModule{
		SoftSplit0: SoftSplit{Kernel: 7, Stride: 4, Padding: 2},
		SoftSplit1: SoftSplit{Kernel: 3, Stride: 2, Padding: 1},
		SoftSplit2: SoftSplit{Kernel: 3, Stride: 2, Padding: 1},
	}
	switch cfg.Tokens {
	case "", T2TPerformer:
		t.Attention1 = NewTokenPerformer(rng, inChans*7*7, tokenDim, 0.5, 0.1)
		t.Attention2 = NewTokenPerformer(rng, tokenDim*3*3, tokenDim, 0.5, 0.1)
	case T2TTransformer:
		t.Attention1 = NewTokenTransformer(rng, inChans*7*7, tokenDim)
		t.Attention2 = NewTokenTransformer(rng, tokenDim*3*3, tokenDim)
	default:
		panic(fmt.Sprintf("layers: NewT2TModule: tokens %q; use %q or %q", cfg.Tokens, T2TPerformer, T2TTransformer))
	}
	t.Project = attnLinear(rng, tokenDim*3*3, embed, true)
	return t
}

// NumTokens returns the number of tokens the module makes from an image of
// h×w pixels: ((h/4)/2)/2 × ((w/4)/2)/2 with the padding's rounding, 196
// for 224², 4 for 32² and 28² (T2T-ViT's own count, (h/16)², is 1 for 28²).
func (t *T2TModule) NumTokens(h, w int) int {
	side := func(n int) int { return t.SoftSplit2.OutSize(t.SoftSplit1.OutSize(t.SoftSplit0.OutSize(n))) }
	return side(h) * side(w)
}

// Forward maps images [B, C, H, W] to tokens [B, L, embed_dim].
func (t *T2TModule) Forward(x *autograd.Tensor) *autograd.Tensor {
	st := t.ForwardStages(x)
	return st[len(st)-1]
}

// ForwardStages runs Forward and returns the output of every step, in
// order: soft_split0, attention1, the re-structured image, soft_split1,
// attention2, the image, soft_split2 and project (the result).
func (t *T2TModule) ForwardStages(x *autograd.Tensor) []*autograd.Tensor {
	if x.Dim() != 4 {
		panic(fmt.Sprintf("layers: T2TModule: input of shape %v is not [B, C, H, W]", x.Shape()))
	}
	var st []*autograd.Tensor
	add := func(y *autograd.Tensor) *autograd.Tensor { st = append(st, y); return y }
	y := add(t.SoftSplit0.Forward(x))
	y = add(t.Attention1.Forward(y))
	y = add(attnTokensToImage(y))
	y = add(t.SoftSplit1.Forward(y))
	y = add(t.Attention2.Forward(y))
	y = add(attnTokensToImage(y))
	y = add(t.SoftSplit2.Forward(y))
	add(t.Project.Forward(y))
	return st
}

// attnTokensToImage re-structures tokens [B, L, C] into an image
// [B, C, √L, √L].
func attnTokensToImage(x *autograd.Tensor) *autograd.Tensor {
	b, l, c := x.Size(0), x.Size(1), x.Size(2)
	s := int(math.Sqrt(float64(l)))
	for s*s > l {
		s--
	}
	for (s+1)*(s+1) <= l {
		s++
	}
	if s*s != l {
		panic(fmt.Sprintf("layers: T2TModule: %d tokens (shape %v) do not form a square image", l, x.Shape()))
	}
	return x.Transpose(1, 2).Reshape(b, c, s, s)
}
