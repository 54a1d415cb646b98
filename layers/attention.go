package layers

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// AttentionMask says which keys each query may attend to. The zero value
// masks nothing. Masked logits are −Inf, so masked keys get weight exactly
// 0; a query whose every key is masked gets NaN weights, as in PyTorch.
type AttentionMask struct {
	// KeyPadding, of shape [B, Nk], marks with a non-zero entry each key
	// to ignore (padding), as PyTorch's key_padding_mask with True = ignore.
	// It is read on the host and never differentiated.
	KeyPadding *autograd.Tensor
	// Causal lets query i attend keys j ≤ i only, aligned at the top left
	// when Nq ≠ Nk (torch.ones(Nq, Nk).tril()), as is_causal in PyTorch.
	Causal bool
	// Bias is added to the scaled logits and must broadcast to
	// [B, h, Nq, Nk]: a float attn_mask (−Inf excludes a key) or a learned
	// relative-position bias, which may require grad.
	Bias *autograd.Tensor
}

// AttentionOptions configures ScaledDotProductAttention and
// AttentionWeights. The zero value is plain softmax(q·kᵀ/√d_h)·v.
type AttentionOptions struct {
	// Scale multiplies the logits q·kᵀ; zero means d_h^−½ with d_h the
	// last dimension of q.
	Scale float64
	// Mask restricts the keys each query sees.
	Mask AttentionMask
	// Dropout, when not nil, is applied to the attention weights (in
	// training mode, as timm's attn_drop).
	Dropout *nn.Dropout
	// Composed selects the reference path, written op by op as timm's
	// Attention.forward: the logits q·kᵀ, scaled, masked with Where, then
	// softmax. The default (fused) path folds the scale into q (or into
	// the query weights, in the layers) and adds one broadcast mask bias,
	// so it records fewer [B, h, Nq, Nk] tensors; under NoGrad (without
	// active dropout) it runs over blocks of query rows once the logits
	// would pass 16 MiB, so that no full [B, h, Nq, Nk] matrix is
	// allocated. Both give the same values and gradients up to rounding
	// (the tests hold them to each other).
	Composed bool
}

// attnBlockElems bounds the logits held at once by the fused path when no
// gradient is recorded: query rows are processed in blocks of about this
// many logits (16 MiB of float32).
var attnBlockElems = 1 << 22

// attnNegInf is the logit of a masked key.
var attnNegInf = float32(math.Inf(-1))

// ScaledDotProductAttention returns softmax(q·kᵀ·scale + mask)·v for q of
// shape [B, h, Nq, d], k of shape [B, h, Nk, d] and v of shape
// [B, h, Nk, dv]: the core of multi-head attention, with the heads in the
// second dimension. The result has shape [B, h, Nq, dv]. Rows are softmaxed
// stably (the row maximum is subtracted first), so logits of any size are
// safe.
//
// Memory: the autograd graph holds the inputs and outputs of every
// recorded op until Backward. The fused path (the default) records two
// [B, h, Nq, Nk] tensors, the logits and the softmax output (three with a
// mask: the masked logits; one more with active dropout), where the
// composed path records three to five. Under NoGrad, on large problems and
// without active dropout, the fused path runs over blocks of query rows
// and never holds a full [B, h, Nq, Nk] matrix.
func ScaledDotProductAttention(q, k, v *autograd.Tensor, opts AttentionOptions) *autograd.Tensor {
	attnCheck("ScaledDotProductAttention", q, k, v)
	scale := attnScale(opts.Scale, q.Size(3))
	if opts.Composed {
		return attnComposed(q, k, v, scale, opts.Mask, opts.Dropout)
	}
	return attnFused(attnScaled(q, scale), k, v, opts.Mask, opts.Dropout)
}

// AttentionWeights returns the attention weights softmax(q·kᵀ·scale + mask)
// of shape [B, h, Nq, Nk] for q of shape [B, h, Nq, d] and k of shape
// [B, h, Nk, d], without dropout: each row is a probability distribution
// over the keys. opts.Dropout is ignored.
func AttentionWeights(q, k *autograd.Tensor, opts AttentionOptions) *autograd.Tensor {
	attnCheck("AttentionWeights", q, k, nil)
	scale := attnScale(opts.Scale, q.Size(3))
	if opts.Composed {
		return attnComposed(q, k, nil, scale, opts.Mask, nil)
	}
	return attnFusedRows(attnScaled(q, scale), k, nil, opts.Mask, nil, 0, q.Size(2))
}

// attnCheck panics unless q, k (and v, when not nil) have the shapes
// ScaledDotProductAttention needs.
func attnCheck(op string, q, k, v *autograd.Tensor) {
	bad := q == nil || k == nil || q.Dim() != 4 || k.Dim() != 4 ||
		q.Size(0) != k.Size(0) || q.Size(1) != k.Size(1) || q.Size(3) != k.Size(3)
	if !bad && v != nil {
		bad = v.Dim() != 4 || v.Size(0) != k.Size(0) || v.Size(1) != k.Size(1) || v.Size(2) != k.Size(2)
	}
	if bad {
		shape := func(t *autograd.Tensor) any {
			if t == nil {
				return "nil"
			}
			return t.Shape()
		}
		panic(fmt.Sprintf("layers: %s: q %v, k %v, v %v: need q [B, h, Nq, d], k [B, h, Nk, d], v [B, h, Nk, dv]",
			op, shape(q), shape(k), shape(v)))
	}
}

// attnScale returns scale, or d^−½ when scale is zero.
func attnScale(scale float64, d int) float32 {
	if scale == 0 {
		return float32(1 / math.Sqrt(float64(d)))
	}
	return float32(scale)
}

// attnScaled returns x·s (x itself for s = 1).
func attnScaled(x *autograd.Tensor, s float32) *autograd.Tensor {
	if s == 1 {
		return x
	}
	return x.MulScalar(s)
}

// attnDrop applies d to x (x itself for a nil d).
func attnDrop(d *nn.Dropout, x *autograd.Tensor) *autograd.Tensor {
	if d == nil {
		return x
	}
	return d.Forward(x)
}

// attnFused is the fused path on a query already multiplied by the scale.
// Without recorded gradients (and without active dropout, whose mask order
// would change) it runs over blocks of query rows.
func attnFused(q, k, v *autograd.Tensor, m AttentionMask, drop *nn.Dropout) *autograd.Tensor {
	b, h, nq, nk := q.Size(0), q.Size(1), q.Size(2), k.Size(2)
	needGrad := autograd.IsGradEnabled() && (q.RequiresGrad() || k.RequiresGrad() || v.RequiresGrad() ||
		(m.Bias != nil && m.Bias.RequiresGrad()))
	dropping := drop != nil && drop.Training() && drop.P > 0
	if needGrad || dropping || nq < 2 || b*h*nq*nk <= attnBlockElems {
		return attnFusedRows(q, k, v, m, drop, 0, nq)
	}
	rows := max(1, attnBlockElems/(b*h*max(nk, 1)))
	var outs []*autograd.Tensor
	for r0 := 0; r0 < nq; r0 += rows {
		n := min(rows, nq-r0)
		outs = append(outs, attnFusedRows(q.Narrow(2, r0, n), k, v, m, drop, r0, nq))
	}
	return autograd.Concat(outs, 2)
}

// attnFusedRows computes the attention of the query rows q (rows row0,
// row0+1, ... of nq in all) on k and v; with a nil v it returns the weights.
func attnFusedRows(q, k, v *autograd.Tensor, m AttentionMask, drop *nn.Dropout, row0, nq int) *autograd.Tensor {
	s := autograd.MatMulT(q, k, false, true)
	if bias := attnMaskTensor(m, q.Size(0), row0, q.Size(2), k.Size(2), q.Device(), false); bias != nil {
		s = s.Add(bias)
	}
	if m.Bias != nil {
		s = s.Add(attnBiasRows(m.Bias, row0, q.Size(2), nq))
	}
	p := s.Softmax(-1)
	if v == nil {
		return p
	}
	return attnDrop(drop, p).MatMul(v)
}

// attnBiasRows returns the rows row0..row0+n of a bias that broadcasts to
// [B, h, nq, Nk] (the bias itself when it has no row dimension).
func attnBiasRows(bias *autograd.Tensor, row0, n, nq int) *autograd.Tensor {
	if bias.Dim() < 2 || bias.Size(-2) == 1 || (row0 == 0 && n == nq) {
		return bias
	}
	return bias.Narrow(bias.Dim()-2, row0, n)
}

// attnComposed is the reference path, op by op as timm's Attention.
func attnComposed(q, k, v *autograd.Tensor, scale float32, m AttentionMask, drop *nn.Dropout) *autograd.Tensor {
	s := autograd.MatMulT(q, k, false, true).MulScalar(scale)
	if keep := attnMaskTensor(m, q.Size(0), 0, q.Size(2), k.Size(2), q.Device(), true); keep != nil {
		s = autograd.Where(keep, s, autograd.FullOn(q.Device(), attnNegInf))
	}
	if m.Bias != nil {
		s = s.Add(m.Bias)
	}
	p := s.Softmax(-1)
	if v == nil {
		return p
	}
	return attnDrop(drop, p).MatMul(v)
}

// attnMaskTensor returns the key padding and causal masks for the query
// rows row0..row0+rows as one tensor that broadcasts to [B, h, rows, nk]:
// additive (0 where a key is allowed, −Inf where not) or, with keep, 1
// where allowed and 0 where not. It returns nil when neither mask is set.
func attnMaskTensor(m AttentionMask, b, row0, rows, nk int, dev autograd.Device, keep bool) *autograd.Tensor {
	if m.KeyPadding == nil && !m.Causal {
		return nil
	}
	var pad []float32
	bm := 1
	if m.KeyPadding != nil {
		if m.KeyPadding.Dim() != 2 || m.KeyPadding.Size(0) != b || m.KeyPadding.Size(1) != nk {
			panic(fmt.Sprintf("layers: attention: key padding mask of shape %v; need [B, Nk] = [%d %d]", m.KeyPadding.Shape(), b, nk))
		}
		pad, bm = m.KeyPadding.Data(), b
	}
	rm := 1
	if m.Causal {
		rm = rows
	}
	allowed, masked := float32(0), attnNegInf
	if keep {
		allowed, masked = 1, 0
	}
	data := make([]float32, bm*rm*nk)
	for i := 0; i < bm; i++ {
		for r := 0; r < rm; r++ {
			row := data[(i*rm+r)*nk : (i*rm+r+1)*nk]
			for j := range row {
				ok := pad == nil || pad[i*nk+j] == 0
				if m.Causal && j > row0+r {
					ok = false
				}
				if ok {
					row[j] = allowed
				} else {
					row[j] = masked
				}
			}
		}
	}
	return autograd.New(data, bm, 1, rm, nk).To(dev)
}

// attnRows returns x·W[start:start+n]ᵀ (+ b[start:start+n]), times scale:
// the rows start..start+n of a Linear layer's output, computed from a slice
// of its weight. The scale is folded into the (small) weight rows rather
// than applied to the activations.
func attnRows(x *autograd.Tensor, l *nn.Linear, start, n int, scale float32) *autograd.Tensor {
	w := l.Weight.Tensor
	if start != 0 || n != w.Size(0) {
		w = w.Narrow(0, start, n)
	}
	y := autograd.MatMulT(x, attnScaled(w, scale), false, true)
	if l.Bias != nil {
		bias := l.Bias.Tensor
		if start != 0 || n != bias.Size(0) {
			bias = bias.Narrow(0, start, n)
		}
		y = y.Add(attnScaled(bias, scale))
	}
	return y
}

// attnHeads returns attnRows(x, l, start, n, scale) split into h heads:
// [B, N, Din] → [B, h, N, n/h].
func attnHeads(x *autograd.Tensor, l *nn.Linear, start, n, h int, scale float32) *autograd.Tensor {
	y := attnRows(x, l, start, n, scale)
	b, t := x.Size(0), x.Size(1)
	if h == 1 {
		return y.Reshape(b, 1, t, n)
	}
	return y.Reshape(b, t, h, n/h).Permute(0, 2, 1, 3)
}

// attnMerge joins the heads: [B, h, N, d] → [B, N, h·d].
func attnMerge(o *autograd.Tensor) *autograd.Tensor {
	b, h, t, d := o.Size(0), o.Size(1), o.Size(2), o.Size(3)
	if h == 1 {
		return o.Reshape(b, t, d)
	}
	return o.Permute(0, 2, 1, 3).Reshape(b, t, h*d)
}

// attnSplitComposed splits a packed projection [B, N, parts·h·d] into its
// parts as [B, h, N, d] each, the way timm does: reshape to
// [B, N, parts, h, d], permute to [parts, B, h, N, d], then index.
func attnSplitComposed(y *autograd.Tensor, parts, h int) []*autograd.Tensor {
	b, t := y.Size(0), y.Size(1)
	d := y.Size(2) / parts / h
	y = y.Reshape(b, t, parts, h, d).Permute(2, 0, 3, 1, 4)
	out := make([]*autograd.Tensor, parts)
	for i := range out {
		out[i] = y.Narrow(0, i, 1).Reshape(b, h, t, d)
	}
	return out
}

// attnLinear returns a Linear layer from in to out features initialised as
// timm's vision transformers do: weight trunc_normal(std 0.02, cut at ±2),
// bias 0.
func attnLinear(rng *autograd.RNG, in, out int, bias bool) *nn.Linear {
	l := &nn.Linear{Weight: nn.NewParameter(nn.TruncNormal(autograd.Zeros(out, in), 0, 0.02, -2, 2, rng))}
	if bias {
		l.Bias = nn.NewParameter(autograd.Zeros(out))
	}
	return l
}

// attnHeadCount checks that inner features split into h heads.
func attnHeadCount(layer string, inner, h int) int {
	if h <= 0 || inner%h != 0 {
		panic(fmt.Sprintf("layers: %s: %d features do not split into %d heads", layer, inner, h))
	}
	return h
}

// AttentionConfig holds the options of NewAttention. The zero value is
// timm's Attention default: 8 heads, no qkv bias, scale d_h^−½, no
// dropout.
type AttentionConfig struct {
	// NumHeads is the number of heads; zero means 8.
	NumHeads int
	// QKVBias gives the qkv projection a bias (timm's ViTs set it).
	QKVBias bool
	// Scale multiplies the logits; zero means d_h^−½ (d_h = InnerDim /
	// NumHeads). T2T-ViT's released weights use embed_dim^−½.
	Scale float64
	// InnerDim is the width of q, k, v and the output; zero means dim.
	// T2T-ViT's token transformer maps dim → InnerDim (its in_dim).
	InnerDim int
	// AttnDrop is the dropout probability on the attention weights.
	AttnDrop float64
	// ProjDrop is the dropout probability after the output projection.
	ProjDrop float64
	// Composed selects the reference path (see AttentionOptions).
	Composed bool
}

// Attention is multi-head self-attention as timm's Attention: a packed
// qkv projection, scaled dot-product attention per head, and an output
// projection. Its state_dict names are timm's: "qkv.weight" of shape
// [3·inner, dim] (rows: q, k, v, each head after head), "qkv.bias"
// (with QKVBias), "proj.weight" [inner, inner] and "proj.bias". Hold it by
// pointer so that nn.Train and nn.Eval reach its dropouts.
type Attention struct {
	// QKV projects x to q, k and v at once.
	QKV *nn.Linear
	// AttnDrop drops attention weights (nil: none).
	AttnDrop *nn.Dropout
	// Proj is the output projection.
	Proj *nn.Linear
	// ProjDrop drops the output (nil: none).
	ProjDrop *nn.Dropout
	// NumHeads is the number of heads.
	NumHeads int
	// Scale multiplies the logits; zero means d_h^−½.
	Scale float64
	// Composed selects the reference path (see AttentionOptions); the
	// default fused path splits the qkv weight rather than its output and
	// folds the scale into the query weights.
	Composed bool
}

// NewAttention returns self-attention over tokens of width dim, with
// weights from trunc_normal(std 0.02) and zero biases, as timm's vision
// transformers initialise them; the dropouts draw from rng too.
func NewAttention(rng *autograd.RNG, dim int, cfg AttentionConfig) *Attention {
	inner := cfg.InnerDim
	if inner == 0 {
		inner = dim
	}
	h := cfg.NumHeads
	if h == 0 {
		h = 8
	}
	if dim <= 0 || inner <= 0 {
		panic(fmt.Sprintf("layers: NewAttention: dim %d and inner dim %d must be positive", dim, inner))
	}
	attnHeadCount("NewAttention", inner, h)
	return &Attention{
		QKV:      attnLinear(rng, dim, 3*inner, cfg.QKVBias),
		AttnDrop: nn.NewDropout(cfg.AttnDrop, rng),
		Proj:     attnLinear(rng, inner, inner, true),
		ProjDrop: nn.NewDropout(cfg.ProjDrop, rng),
		NumHeads: h,
		Scale:    cfg.Scale,
		Composed: cfg.Composed,
	}
}

// Forward maps x of shape [B, N, dim] to [B, N, inner].
func (a *Attention) Forward(x *autograd.Tensor) *autograd.Tensor {
	y, _ := a.forward(x, AttentionMask{}, false)
	return y
}

// ForwardMask is Forward with a mask over the keys (the tokens of x).
func (a *Attention) ForwardMask(x *autograd.Tensor, m AttentionMask) *autograd.Tensor {
	y, _ := a.forward(x, m, false)
	return y
}

// ForwardValues returns Forward's output and the values v with the heads
// joined, [B, N, inner]: T2T-ViT's token transformer adds v as its skip
// connection because the width changes.
func (a *Attention) ForwardValues(x *autograd.Tensor, m AttentionMask) (y, v *autograd.Tensor) {
	return a.forward(x, m, true)
}

func (a *Attention) forward(x *autograd.Tensor, m AttentionMask, wantV bool) (*autograd.Tensor, *autograd.Tensor) {
	dim := a.QKV.Weight.Size(1)
	if x.Dim() != 3 || x.Size(2) != dim {
		panic(fmt.Sprintf("layers: Attention: input of shape %v; need [B, N, %d]", x.Shape(), dim))
	}
	inner := a.QKV.Weight.Size(0) / 3
	h := attnHeadCount("Attention", inner, a.NumHeads)
	scale := attnScale(a.Scale, inner/h)
	var q, k, v, o *autograd.Tensor
	if a.Composed {
		parts := attnSplitComposed(a.QKV.Forward(x), 3, h)
		q, k, v = parts[0], parts[1], parts[2]
		o = attnComposed(q, k, v, scale, m, a.AttnDrop)
	} else {
		q = attnHeads(x, a.QKV, 0, inner, h, scale)
		k = attnHeads(x, a.QKV, inner, inner, h, 1)
		v = attnHeads(x, a.QKV, 2*inner, inner, h, 1)
		o = attnFused(q, k, v, m, a.AttnDrop)
	}
	y := attnDrop(a.ProjDrop, a.Proj.Forward(attnMerge(o)))
	if !wantV {
		return y, nil
	}
	return y, attnMerge(v)
}

// CrossAttentionConfig holds the options of NewCrossAttention; the zero
// value means 8 heads, no qkv bias, scale d_h^−½, keys and values of width
// dim from one packed "kv" projection, and no dropout.
type CrossAttentionConfig struct {
	// NumHeads is the number of heads; zero means 8.
	NumHeads int
	// QKVBias gives the q, kv (or k and v) projections a bias.
	QKVBias bool
	// Scale multiplies the logits; zero means d_h^−½.
	Scale float64
	// KVDim is the width of the context tokens; zero means dim.
	KVDim int
	// SeparateKV uses separate "k" and "v" projections instead of the
	// packed "kv".
	SeparateKV bool
	// AttnDrop and ProjDrop are the dropout probabilities on the weights
	// and after the output projection.
	AttnDrop, ProjDrop float64
	// Composed selects the reference path (see AttentionOptions).
	Composed bool
}

// CrossAttention is multi-head attention of queries from x on keys and
// values from a context sequence. Its state_dict names follow the two
// common layouts: "q.weight" [dim, dim] with a packed "kv.weight"
// [2·dim, kvdim] (k rows first, as PVT's and timm's cross-attention), or,
// with SeparateKV, "k.weight" and "v.weight" [dim, kvdim] (as CrossViT's
// wq/wk/wv, renamed); biases alongside with QKVBias; then "proj.weight"
// and "proj.bias" [dim, dim]. torch.nn.MultiheadAttention's in_proj_weight
// is the packed q, k, v of the same width: slice it into q.weight and
// kv.weight to load it. Hold it by pointer so that nn.Train and nn.Eval
// reach its dropouts.
type CrossAttention struct {
	// Q projects the queries.
	Q *nn.Linear
	// KV projects the context to keys and values at once (nil with
	// separate projections).
	KV *nn.Linear
	// K and V project the context separately (nil with KV).
	K, V *nn.Linear
	// AttnDrop drops attention weights (nil: none).
	AttnDrop *nn.Dropout
	// Proj is the output projection.
	Proj *nn.Linear
	// ProjDrop drops the output (nil: none).
	ProjDrop *nn.Dropout
	// NumHeads is the number of heads.
	NumHeads int
	// Scale multiplies the logits; zero means d_h^−½.
	Scale float64
	// Composed selects the reference path (see AttentionOptions).
	Composed bool
}

// NewCrossAttention returns cross-attention from tokens of width dim to
// context tokens of width cfg.KVDim (dim when zero), initialised as
// NewAttention.
func NewCrossAttention(rng *autograd.RNG, dim int, cfg CrossAttentionConfig) *CrossAttention {
	kvDim := cfg.KVDim
	if kvDim == 0 {
		kvDim = dim
	}
	h := cfg.NumHeads
	if h == 0 {
		h = 8
	}
	if dim <= 0 || kvDim <= 0 {
		panic(fmt.Sprintf("layers: NewCrossAttention: dim %d and kv dim %d must be positive", dim, kvDim))
	}
	attnHeadCount("NewCrossAttention", dim, h)
	c := &CrossAttention{Q: attnLinear(rng, dim, dim, cfg.QKVBias), NumHeads: h, Scale: cfg.Scale, Composed: cfg.Composed}
	if cfg.SeparateKV {
		c.K = attnLinear(rng, kvDim, dim, cfg.QKVBias)
		c.V = attnLinear(rng, kvDim, dim, cfg.QKVBias)
	} else {
		c.KV = attnLinear(rng, kvDim, 2*dim, cfg.QKVBias)
	}
	c.AttnDrop = nn.NewDropout(cfg.AttnDrop, rng)
	c.Proj = attnLinear(rng, dim, dim, true)
	c.ProjDrop = nn.NewDropout(cfg.ProjDrop, rng)
	return c
}

// Forward attends from x [B, Nq, dim] to context [B, Nk, kvdim] and
// returns [B, Nq, dim].
func (c *CrossAttention) Forward(x, context *autograd.Tensor) *autograd.Tensor {
	return c.ForwardMask(x, context, AttentionMask{})
}

// ForwardMask is Forward with a mask over the keys (the context tokens).
func (c *CrossAttention) ForwardMask(x, context *autograd.Tensor, m AttentionMask) *autograd.Tensor {
	dim := c.Q.Weight.Size(1)
	kvl := c.KV
	if kvl == nil {
		kvl = c.K
	}
	if kvl == nil || (c.KV == nil) == (c.V == nil) {
		panic("layers: CrossAttention: need either KV or both K and V")
	}
	kvDim := kvl.Weight.Size(1)
	if x.Dim() != 3 || x.Size(2) != dim || context.Dim() != 3 || context.Size(2) != kvDim || context.Size(0) != x.Size(0) {
		panic(fmt.Sprintf("layers: CrossAttention: x %v and context %v; need [B, Nq, %d] and [B, Nk, %d]", x.Shape(), context.Shape(), dim, kvDim))
	}
	inner := c.Q.Weight.Size(0)
	h := attnHeadCount("CrossAttention", inner, c.NumHeads)
	scale := attnScale(c.Scale, inner/h)
	var o *autograd.Tensor
	if c.Composed {
		q := attnSplitComposed(c.Q.Forward(x), 1, h)[0]
		var k, v *autograd.Tensor
		if c.KV != nil {
			kv := attnSplitComposed(c.KV.Forward(context), 2, h)
			k, v = kv[0], kv[1]
		} else {
			k = attnSplitComposed(c.K.Forward(context), 1, h)[0]
			v = attnSplitComposed(c.V.Forward(context), 1, h)[0]
		}
		o = attnComposed(q, k, v, scale, m, c.AttnDrop)
	} else {
		q := attnHeads(x, c.Q, 0, inner, h, scale)
		var k, v *autograd.Tensor
		if c.KV != nil {
			k = attnHeads(context, c.KV, 0, inner, h, 1)
			v = attnHeads(context, c.KV, inner, inner, h, 1)
		} else {
			k = attnHeads(context, c.K, 0, inner, h, 1)
			v = attnHeads(context, c.V, 0, inner, h, 1)
		}
		o = attnFused(q, k, v, m, c.AttnDrop)
	}
	return attnDrop(c.ProjDrop, c.Proj.Forward(attnMerge(o)))
}
