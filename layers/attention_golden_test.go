package layers

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
	"github.com/deepgo/deepgo/nn"
)

// The goldens in testdata/attn come from testdata/attn/gen_attn.py: each
// file holds the reference module's state_dict (timm's and T2T-ViT's
// names), its inputs, outputs, the upstream gradients of the outputs and
// the gradients of sum(output·up) for the inputs and every trainable
// parameter, computed by PyTorch in float64. Each case builds the Go layer,
// loads the state_dict strictly (so names and shapes must be the
// reference's), runs it on both attention paths (fused and composed) and
// compares.

// attnGoldenTol is the tolerance: |got − want| ≤ 1e-4·max(|want|, 1).
const attnGoldenTol = 1e-4

type attnIO = map[string]*autograd.Tensor

type attnGoldenCase struct {
	name    string
	build   func(rng *autograd.RNG) any
	forward func(m any, in attnIO) attnIO
}

// attnMaskOf returns the key padding mask of the inputs ("mask"), if any,
// with the causal flag.
func attnMaskOf(in attnIO, causal bool) AttentionMask {
	return AttentionMask{KeyPadding: in["mask"], Causal: causal}
}

func attnSelf(causal bool) func(m any, in attnIO) attnIO {
	return func(m any, in attnIO) attnIO {
		return attnIO{"y": m.(*Attention).ForwardMask(in["x"], attnMaskOf(in, causal))}
	}
}

func attnCross(causal bool) func(m any, in attnIO) attnIO {
	return func(m any, in attnIO) attnIO {
		return attnIO{"y": m.(*CrossAttention).ForwardMask(in["x"], in["context"], attnMaskOf(in, causal))}
	}
}

func attnBlockFwd(m any, in attnIO) attnIO {
	return attnIO{"y": m.(*Block).ForwardMask(in["x"], attnMaskOf(in, false))}
}

func attnLayerFwd(m any, in attnIO) attnIO {
	return attnIO{"y": m.(nn.Layer).Forward(in["x"])}
}

var attnGoldenCases = []attnGoldenCase{
	{"attn_self", func(r *autograd.RNG) any {
		return NewAttention(r, 16, AttentionConfig{NumHeads: 4, QKVBias: true})
	}, attnSelf(false)},
	{"attn_self_nobias_scale", func(r *autograd.RNG) any {
		return NewAttention(r, 12, AttentionConfig{NumHeads: 2, Scale: 0.3})
	}, attnSelf(false)},
	{"attn_keypad", func(r *autograd.RNG) any {
		return NewAttention(r, 16, AttentionConfig{NumHeads: 4, QKVBias: true})
	}, attnSelf(false)},
	{"attn_causal", func(r *autograd.RNG) any {
		return NewAttention(r, 8, AttentionConfig{NumHeads: 2, QKVBias: true})
	}, attnSelf(true)},
	{"attn_keypad_causal", func(r *autograd.RNG) any {
		return NewAttention(r, 8, AttentionConfig{NumHeads: 1})
	}, attnSelf(true)},
	{"cross_kv", func(r *autograd.RNG) any {
		return NewCrossAttention(r, 16, CrossAttentionConfig{NumHeads: 4, QKVBias: true, KVDim: 12})
	}, attnCross(false)},
	{"cross_separate", func(r *autograd.RNG) any {
		return NewCrossAttention(r, 8, CrossAttentionConfig{NumHeads: 2, SeparateKV: true})
	}, attnCross(true)},
	{"block_layerscale", func(r *autograd.RNG) any {
		return NewBlock(r, 16, BlockConfig{NumHeads: 4, QKVBias: true, InitValues: 0.1})
	}, attnBlockFwd},
	{"block_t2tvit", func(r *autograd.RNG) any {
		return NewBlock(r, 12, BlockConfig{NumHeads: 3, MLPRatio: 3, Eps: 1e-5, Scale: 1 / math.Sqrt(12)})
	}, attnBlockFwd},
	{"token_transformer", func(r *autograd.RNG) any { return NewTokenTransformer(r, 27, 8) }, attnLayerFwd},
	{"token_performer", func(r *autograd.RNG) any { return NewTokenPerformer(r, 27, 8, 0.5, 0.1) }, attnLayerFwd},
	{"t2t_performer", func(r *autograd.RNG) any {
		return NewT2TModule(r, T2TConfig{InChans: 3, EmbedDim: 16, TokenDim: 8})
	}, attnLayerFwd},
	{"t2t_transformer", func(r *autograd.RNG) any {
		return NewT2TModule(r, T2TConfig{Tokens: T2TTransformer, InChans: 3, EmbedDim: 16, TokenDim: 8})
	}, attnLayerFwd},
}

// attnGolden is one golden file, split by key prefix.
type attnGolden struct {
	state, in, out, up, grad attnIO
}

func attnLoadGolden(t *testing.T, name string) attnGolden {
	t.Helper()
	f, err := nn.LoadSafetensors(filepath.Join("testdata", "attn", name+".safetensors"))
	require.NoError(t, err)
	g := attnGolden{attnIO{}, attnIO{}, attnIO{}, attnIO{}, attnIO{}}
	for _, nt := range f.Tensors {
		key, io := strings.CutPrefix(nt.Name, "io.")
		if !io {
			g.state[key] = nt.Tensor
			continue
		}
		dst := g.in
		for _, p := range []struct {
			prefix string
			m      attnIO
		}{{"out.", g.out}, {"up.", g.up}, {"grad.", g.grad}} {
			if rest, ok := strings.CutPrefix(key, p.prefix); ok {
				key, dst = rest, p.m
				break
			}
		}
		dst[key] = nt.Tensor
	}
	return g
}

// attnMaxErr returns max |got − want| / max(|want|, 1) after checking
// shapes; NaN counts as infinite.
func attnMaxErr(t *testing.T, what string, want, got *autograd.Tensor) float64 {
	t.Helper()
	require.NotNil(t, got, what)
	require.Equal(t, want.Shape(), got.Shape(), what)
	w, g := want.Data(), got.Data()
	worst := 0.0
	for i := range w {
		e := math.Abs(float64(g[i])-float64(w[i])) / math.Max(math.Abs(float64(w[i])), 1)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

// attnToDevice moves every parameter of the model to dev, keeping each
// one's requires-grad setting.
func attnToDevice(model any, dev autograd.Device) {
	for _, np := range nn.NamedParameters(model) {
		rg := np.Param.RequiresGrad()
		np.Param.Tensor = np.Param.To(dev).Detach().SetRequiresGrad(rg)
	}
}

// attnSetComposed switches every attention inside the model to the
// composed (on) or fused path.
func attnSetComposed(model any, on bool) {
	switch m := model.(type) {
	case *Attention:
		m.Composed = on
	case *CrossAttention:
		m.Composed = on
	case *Block:
		m.Attn.Composed = on
	case *TokenTransformer:
		m.Attn.Composed = on
	case *T2TModule:
		attnSetComposed(m.Attention1, on)
		attnSetComposed(m.Attention2, on)
	}
}

func attnSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestAttnGoldens(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		worstOf := map[string]float64{}
		for _, c := range attnGoldenCases {
			for _, composed := range []bool{false, true} {
				path := "fused"
				if composed {
					path = "composed"
				}
				t.Run(c.name+"/"+path, func(t *testing.T) {
					g := attnLoadGolden(t, c.name)
					m := c.build(autograd.NewRNG(1))
					_, err := nn.LoadStateDict(m, g.state, true)
					require.NoError(t, err, "the reference state_dict must load strictly")
					attnToDevice(m, dev)
					nn.Eval(m)
					attnSetComposed(m, composed)
					in := attnIO{}
					for k, v := range g.in {
						v = v.To(dev)
						if _, ok := g.grad[k]; ok {
							v = v.Detach().SetRequiresGrad(true)
						}
						in[k] = v
					}
					outs := c.forward(m, in)
					worst := 0.0
					check := func(what string, want, got *autograd.Tensor) {
						e := attnMaxErr(t, what, want, got)
						assert.LessOrEqual(t, e, attnGoldenTol, "%s: %s", c.name, what)
						worst = math.Max(worst, e)
					}
					require.Len(t, outs, len(g.out))
					var loss *autograd.Tensor
					for _, k := range attnSortedKeys(outs) {
						check("output "+k, g.out[k], outs[k])
						l := outs[k].Mul(g.up[k].To(dev)).Sum()
						if loss == nil {
							loss = l
						} else {
							loss = loss.Add(l)
						}
					}
					loss.Backward()
					checked := 0
					for k, v := range in {
						if want, ok := g.grad[k]; ok {
							check("grad of input "+k, want, v.Grad)
							checked++
						}
					}
					for _, np := range nn.NamedParameters(m) {
						want, ok := g.grad[np.Name]
						if !np.Param.RequiresGrad() {
							assert.False(t, ok, "frozen %s has a golden gradient", np.Name)
							assert.Nil(t, np.Param.Grad, "frozen %s got a gradient", np.Name)
							continue
						}
						require.True(t, ok, "no golden gradient for parameter %s", np.Name)
						check("grad of "+np.Name, want, np.Param.Grad)
						checked++
					}
					assert.Equal(t, len(g.grad), checked, "every golden gradient is checked")
					worstOf[c.name+"/"+path] = worst
				})
			}
		}
		overall := 0.0
		for _, k := range attnSortedKeys(worstOf) {
			overall = math.Max(overall, worstOf[k])
			if testing.Verbose() {
				t.Logf("  %-32s %.3g", k, worstOf[k])
			}
		}
		t.Logf("largest error over %d attention goldens (both paths) on %s: %.3g (tolerance %g)",
			len(attnGoldenCases), dev.Name(), overall, attnGoldenTol)
	})
}

// TestAttnEveryGoldenHasACase keeps the script and the table in step.
func TestAttnEveryGoldenHasACase(t *testing.T) {
	files, err := os.ReadDir(filepath.Join("testdata", "attn"))
	require.NoError(t, err)
	var onDisk, inTable []string
	for _, f := range files {
		if name, ok := strings.CutSuffix(f.Name(), ".safetensors"); ok {
			onDisk = append(onDisk, name)
		}
	}
	for _, c := range attnGoldenCases {
		inTable = append(inTable, c.name)
	}
	slices.Sort(onDisk)
	slices.Sort(inTable)
	assert.Equal(t, onDisk, inTable)
}
