package layers_test

import (
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// The golden harness below serves the SSF, LoRA/LoRAMoE and graph goldens
// (testdata/adapt from gen_adapt.py, testdata/graph from gen_graph.py).

// ssfGoldenTol is the golden tolerance: |got − want| ≤ 1e-4·max(|want|, 1).
const ssfGoldenTol = 1e-4

type ssfIO = map[string]*autograd.Tensor

// ssfGolden is one golden file split by its key prefixes.
type ssfGolden struct {
	state, in, out, up, grad ssfIO
}

func ssfLoadGolden(t *testing.T, dir, name string) ssfGolden {
	t.Helper()
	f, err := nn.LoadSafetensors(filepath.Join("testdata", dir, name+".safetensors"))
	require.NoError(t, err)
	g := ssfGolden{ssfIO{}, ssfIO{}, ssfIO{}, ssfIO{}, ssfIO{}}
	for _, nt := range f.Tensors {
		key, io := strings.CutPrefix(nt.Name, "io.")
		if !io {
			g.state[key] = nt.Tensor
			continue
		}
		dst := g.in
		for _, p := range []struct {
			prefix string
			m      ssfIO
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

// ssfMaxErr is max |got − want| / max(|want|, 1), after checking shapes.
func ssfMaxErr(t *testing.T, what string, want, got *autograd.Tensor) float64 {
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

// ssfGoldenCase builds a layer with the golden's configuration and runs it.
type ssfGoldenCase struct {
	name    string
	build   func(rng *autograd.RNG) any
	forward func(m any, in ssfIO) ssfIO // nil: a single-input nn.Layer on "input"
}

// ssfGoldenMax records each case's worst error, for the report.
var ssfGoldenMax = map[string]float64{}

// ssfRunGoldens loads each case's state_dict strictly, keeps the
// requires-grad state the layer gave each parameter (frozen base weights
// stay frozen), compares the outputs and the gradients of Σ sum(out·up)
// for the inputs and every trainable parameter, and checks that frozen
// parameters got no gradient.
func ssfRunGoldens(t *testing.T, dir string, cases []ssfGoldenCase) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		overall := 0.0
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				g := ssfLoadGolden(t, dir, c.name)
				m := c.build(autograd.NewRNG(1))
				_, err := nn.LoadStateDict(m, g.state, true)
				require.NoError(t, err, "torch's state_dict must load strictly")
				for _, np := range nn.NamedParameters(m) {
					np.Param.Tensor = np.Param.To(dev).Detach().SetRequiresGrad(np.Param.RequiresGrad())
				}
				nn.Train(m)
				in := ssfIO{}
				for k, v := range g.in {
					v = v.To(dev)
					if _, ok := g.grad[k]; ok {
						v = v.Detach().SetRequiresGrad(true)
					}
					in[k] = v
				}
				var outs ssfIO
				if c.forward != nil {
					outs = c.forward(m, in)
				} else {
					outs = ssfIO{"output": m.(nn.Layer).Forward(in["input"])}
				}
				worst := 0.0
				check := func(what string, want, got *autograd.Tensor) {
					e := ssfMaxErr(t, what, want, got)
					assert.LessOrEqual(t, e, ssfGoldenTol, "%s: %s", c.name, what)
					worst = math.Max(worst, e)
				}
				require.Len(t, outs, len(g.out))
				keys := make([]string, 0, len(outs))
				for k := range outs {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var loss *autograd.Tensor
				for _, k := range keys {
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
						assert.False(t, ok, "%s is frozen in Go but trainable in torch", np.Name)
						assert.Nil(t, np.Param.Grad, "frozen %s got a gradient", np.Name)
						continue
					}
					require.True(t, ok, "no golden gradient for parameter %s", np.Name)
					check("grad of "+np.Name, want, np.Param.Grad)
					checked++
				}
				assert.Equal(t, len(g.grad), checked, "every golden gradient is checked")
				ssfGoldenMax[dir+"/"+c.name] = worst
				overall = math.Max(overall, worst)
			})
		}
		t.Logf("%s goldens on %s: max error %.2g over %d cases (tolerance %g)", dir, dev.Name(), overall, len(cases), ssfGoldenTol)
		if testing.Verbose() {
			for _, c := range cases {
				t.Logf("  %-22s %.2g", c.name, ssfGoldenMax[dir+"/"+c.name])
			}
		}
	})
}

// ssfAssertClose checks |got − want| ≤ tol·max(|want|, 1) elementwise.
func ssfAssertClose(t *testing.T, want, got *autograd.Tensor, tol float64, msg string) {
	t.Helper()
	e := ssfMaxErr(t, msg, want, got)
	assert.LessOrEqual(t, e, tol, msg)
}

func TestSSFGoldens(t *testing.T) {
	ssfRunGoldens(t, "adapt", []ssfGoldenCase{
		{name: "ssf_tokens", build: func(r *autograd.RNG) any { return layers.NewSSF(r, 6) }},
		{name: "ssf_nchw", build: func(r *autograd.RNG) any { return layers.NewSSF(r, 4) }},
	})
}

func TestSSFIdentity(t *testing.T) {
	rng := autograd.NewRNG(3)
	for _, shape := range [][]int{{2, 5, 6}, {2, 6, 3, 4}, {6}} {
		s := &layers.SSF{Scale: nn.NewParameter(autograd.Ones(6)), Shift: nn.NewParameter(autograd.Zeros(6))}
		x := rng.Normal(0, 3, shape...)
		assert.Equal(t, x.Data(), s.Forward(x).Data(), "γ=1, β=0 is the identity for %v", shape)
	}
}

func TestSSFInit(t *testing.T) {
	s := layers.NewSSF(autograd.NewRNG(4), 20000)
	for _, c := range []struct {
		p    *nn.Parameter
		mean float64
	}{{s.Scale, 1}, {s.Shift, 0}} {
		assert.InDelta(t, c.mean, float64(c.p.Mean().Item()), 0.001)
		assert.InDelta(t, 0.02, float64(c.p.Std().Item()), 0.001)
		assert.True(t, c.p.RequiresGrad())
	}
	assert.Equal(t, 20000, s.Dim())
}

func TestSSFBroadcast(t *testing.T) {
	rng := autograd.NewRNG(5)
	s := layers.NewSSF(rng, 4)
	g, b := s.Scale.Data(), s.Shift.Data()
	// [B, C, H, W] with W ≠ C: over the channels.
	x := rng.Normal(0, 1, 2, 4, 3, 5)
	y := s.Forward(x)
	assert.InDelta(t, x.At(1, 2, 0, 3)*g[2]+b[2], y.At(1, 2, 0, 3), 1e-6)
	// [B, N, C]: over the last dimension.
	x = rng.Normal(0, 1, 2, 3, 4)
	y = s.Forward(x)
	assert.InDelta(t, x.At(1, 2, 3)*g[3]+b[3], y.At(1, 2, 3), 1e-6)
	// ChannelDim forces dimension 1 even when the last one matches too.
	s.ChannelDim = true
	x = rng.Normal(0, 1, 2, 4, 3, 4)
	y = s.Forward(x)
	assert.InDelta(t, x.At(1, 2, 0, 3)*g[2]+b[2], y.At(1, 2, 0, 3), 1e-6)
	assert.Panics(t, func() { layers.SSFApply(rng.Normal(0, 1, 2, 3, 5), s.Scale.Tensor, s.Shift.Tensor) })
	assert.Panics(t, func() { layers.SSFApply(x, s.Scale.Tensor, autograd.Zeros(3)) })
}

// ssfTrained returns an SSF with values far from the identity, as after
// training.
func ssfTrained(rng *autograd.RNG, dim int) *layers.SSF {
	return &layers.SSF{Scale: nn.NewParameter(rng.Normal(1, 0.5, dim)), Shift: nn.NewParameter(rng.Normal(0, 0.5, dim))}
}

func TestSSFFold(t *testing.T) {
	rng := autograd.NewRNG(6)
	t.Run("linear", func(t *testing.T) {
		for _, bias := range []bool{true, false} {
			l := nn.NewLinear(rng, 5, 7, bias)
			nn.Freeze(l)
			w0 := l.Weight.Data()
			s := ssfTrained(rng, 7)
			f := layers.FoldSSFLinear(l, s)
			x := rng.Normal(0, 1, 3, 4, 5)
			ssfAssertClose(t, s.Forward(l.Forward(x)), f.Forward(x), 1e-6, "folded Linear")
			assert.Equal(t, w0, l.Weight.Data(), "the original is unchanged")
			assert.False(t, f.Weight.RequiresGrad(), "a frozen layer folds into a frozen layer")
			require.NotNil(t, f.Bias)
		}
	})
	t.Run("conv2d", func(t *testing.T) {
		for _, cfg := range []nn.Conv2dConfig{{}, {Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Groups: 2, NoBias: true}} {
			c := nn.NewConv2d(rng, 4, 6, 3, 3, cfg)
			s := ssfTrained(rng, 6)
			f := layers.FoldSSFConv2d(c, s)
			x := rng.Normal(0, 1, 2, 4, 7, 7)
			ssfAssertClose(t, s.Forward(c.Forward(x)), f.Forward(x), 1e-5, "folded Conv2d")
			// The patch-embedding placement: SSF on the flattened tokens.
			tokens := func(y *autograd.Tensor) *autograd.Tensor { return y.Flatten(2, 3).Transpose(1, 2) }
			ssfAssertClose(t, s.Forward(tokens(c.Forward(x))), tokens(f.Forward(x)), 1e-5, "folded patch embedding")
		}
	})
	t.Run("layernorm", func(t *testing.T) {
		for _, cfg := range []nn.LayerNormConfig{{Eps: 1e-6}, {NoAffine: true}, {NoBias: true}} {
			ln := nn.NewLayerNorm([]int{8}, cfg)
			if ln.Weight != nil {
				nn.Normal(ln.Weight.Tensor, 1, 0.3, rng)
			}
			if ln.Bias != nil {
				nn.Normal(ln.Bias.Tensor, 0, 0.3, rng)
			}
			s := ssfTrained(rng, 8)
			f := layers.FoldSSFLayerNorm(ln, s)
			x := rng.Normal(0, 2, 3, 5, 8)
			ssfAssertClose(t, s.Forward(ln.Forward(x)), f.Forward(x), 1e-5, "folded LayerNorm")
			assert.Equal(t, ln.Eps, f.Eps)
		}
	})
	assert.Panics(t, func() { layers.FoldSSFLinear(nn.NewLinear(rng, 5, 7, true), ssfTrained(rng, 5)) })
	assert.Panics(t, func() { layers.FoldSSFLayerNorm(nn.NewLayerNorm([]int{8}, nn.LayerNormConfig{}), ssfTrained(rng, 4)) })
}

// TestSSFFrozenBackbone: with the backbone frozen only SSF learns, and
// the backbone's weights get no gradient.
func TestSSFFrozenBackbone(t *testing.T) {
	rng := autograd.NewRNG(7)
	l := nn.NewLinear(rng, 4, 6, true)
	nn.Freeze(l)
	s := layers.NewSSF(rng, 6)
	x := rng.Normal(0, 1, 3, 4)
	s.Forward(l.Forward(x)).Square().Sum().Backward()
	assert.Nil(t, l.Weight.Grad)
	assert.Nil(t, l.Bias.Grad)
	require.NotNil(t, s.Scale.Grad)
	require.NotNil(t, s.Shift.Grad)
}

// ssfBlock places SSF as the reference does in one ViT block: after norm1,
// qkv (3d), the attention projection, norm2, fc1 (4d) and fc2.
type ssfBlock struct {
	Norm1, QKV, Proj, Norm2, FC1, FC2 *layers.SSF
}

// ssfViT adds the SSF after the patch projection and after the final norm.
type ssfViT struct {
	PatchEmbed *layers.SSF
	Blocks     []ssfBlock
	Norm       *layers.SSF
}

func TestSSFViTB16ParamCount(t *testing.T) {
	rng := autograd.NewRNG(8)
	const d, depth = 768, 12
	m := ssfViT{PatchEmbed: layers.NewSSF(rng, d), Norm: layers.NewSSF(rng, d)}
	for range depth {
		m.Blocks = append(m.Blocks, ssfBlock{
			Norm1: layers.NewSSF(rng, d), QKV: layers.NewSSF(rng, 3*d), Proj: layers.NewSSF(rng, d),
			Norm2: layers.NewSSF(rng, d), FC1: layers.NewSSF(rng, 4*d), FC2: layers.NewSSF(rng, d),
		})
	}
	trainable, total := nn.NumParams(&m)
	assert.Equal(t, 205824, total, "2·(768 + 12·8448 + 768)")
	assert.Equal(t, total, trainable)
	names := nn.StateDict(&m)
	assert.Contains(t, names, "blocks.11.fc1.scale")
	assert.Contains(t, names, "patch_embed.shift")
}
