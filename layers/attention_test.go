package layers

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
	"github.com/deepgo/deepgo/nn"
)

// attnPadMask returns a [b, n] key padding mask with the last pads[i] keys
// of sample i marked.
func attnPadMask(b, n int, pads ...int) *autograd.Tensor {
	d := make([]float32, b*n)
	for i, p := range pads {
		for j := n - p; j < n; j++ {
			d[i*n+j] = 1
		}
	}
	return autograd.New(d, b, n)
}

// attnClose asserts |got − want| ≤ tol·max(|want|, 1) elementwise.
func attnClose(t *testing.T, what string, want, got *autograd.Tensor, tol float64) {
	t.Helper()
	e := attnMaxErr(t, what, want, got)
	assert.LessOrEqual(t, e, tol, what)
}

// attnNoNaN asserts that every element is finite.
func attnNoNaN(t *testing.T, what string, x *autograd.Tensor) {
	t.Helper()
	for i, v := range x.Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: element %d is %v", what, i, v)
		}
	}
}

func TestAttnWeightRowsAndMasks(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(3)
		b, h, n, d := 3, 2, 6, 4
		q, k := rng.Normal(0, 1, b, h, n, d).To(dev), rng.Normal(0, 1, b, h, n, d).To(dev)
		pads := []int{0, 2, 5}
		for _, composed := range []bool{false, true} {
			for _, causal := range []bool{false, true} {
				m := AttentionMask{KeyPadding: attnPadMask(b, n, pads...).To(dev), Causal: causal}
				w := AttentionWeights(q, k, AttentionOptions{Mask: m, Composed: composed}).Data()
				require.Len(t, w, b*h*n*n)
				for bi := 0; bi < b; bi++ {
					for hi := 0; hi < h; hi++ {
						for i := 0; i < n; i++ {
							row := w[((bi*h+hi)*n+i)*n : ((bi*h+hi)*n+i+1)*n]
							allowed := 0
							for j := 0; j < n; j++ {
								if j < n-pads[bi] && (!causal || j <= i) {
									allowed++
								}
							}
							require.Positive(t, allowed, "the test's masks leave a key in every row")
							sum := 0.0
							for j, v := range row {
								masked := j >= n-pads[bi] || (causal && j > i)
								if masked {
									assert.Equal(t, float32(0), v, "masked key %d of row %d gets weight", j, i)
								} else {
									assert.Greater(t, v, float32(0))
								}
								sum += float64(v)
							}
							assert.InDelta(t, 1, sum, 1e-5, "row sums to 1 (composed=%v causal=%v)", composed, causal)
						}
					}
				}
			}
		}
	})
}

func TestAttnLargeLogits(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(4)
		// |q·k|·d^−½ is about 1e4.
		q := rng.Normal(0, 1, 2, 2, 5, 8).MulScalar(100).To(dev).Detach().SetRequiresGrad(true)
		k := rng.Normal(0, 1, 2, 2, 5, 8).MulScalar(100).To(dev).Detach().SetRequiresGrad(true)
		v := rng.Normal(0, 1, 2, 2, 5, 8).To(dev).Detach().SetRequiresGrad(true)
		for _, composed := range []bool{false, true} {
			opts := AttentionOptions{Composed: composed, Mask: AttentionMask{KeyPadding: attnPadMask(2, 5, 1, 3).To(dev)}}
			w := AttentionWeights(q, k, opts)
			attnNoNaN(t, "weights", w)
			assert.Greater(t, w.Max().Item(), float32(0.99), "large logits give a near one-hot row")
			y := ScaledDotProductAttention(q, k, v, opts)
			attnNoNaN(t, "output", y)
			y.Sum().Backward()
			for _, g := range []*autograd.Tensor{q.Grad, k.Grad, v.Grad} {
				attnNoNaN(t, "gradient", g)
			}
			q.ZeroGrad()
			k.ZeroGrad()
			v.ZeroGrad()
		}
	})
}

// attnNaive computes self-attention of the module for x on the host in
// float64, one batch element, head and query at a time.
func attnNaive(a *Attention, x *autograd.Tensor, pad []float32) []float64 {
	b, n, dim := x.Size(0), x.Size(1), x.Size(2)
	w, xs := a.QKV.Weight.Data(), x.Data()
	var bias []float32
	if a.QKV.Bias != nil {
		bias = a.QKV.Bias.Data()
	}
	inner := a.QKV.Weight.Size(0) / 3
	h := a.NumHeads
	dh := inner / h
	scale := a.Scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(dh))
	}
	proj := func(bi, t, row int) float64 { // row of the qkv output
		s := 0.0
		if bias != nil {
			s = float64(bias[row])
		}
		for c := 0; c < dim; c++ {
			s += float64(w[row*dim+c]) * float64(xs[(bi*n+t)*dim+c])
		}
		return s
	}
	o := make([]float64, b*n*inner)
	for bi := 0; bi < b; bi++ {
		for hd := 0; hd < h; hd++ {
			for i := 0; i < n; i++ {
				logits := make([]float64, n)
				mx := math.Inf(-1)
				for j := 0; j < n; j++ {
					if pad != nil && pad[bi*n+j] != 0 {
						logits[j] = math.Inf(-1)
						continue
					}
					s := 0.0
					for c := 0; c < dh; c++ {
						s += proj(bi, i, hd*dh+c) * proj(bi, j, inner+hd*dh+c)
					}
					logits[j] = s * scale
					mx = math.Max(mx, logits[j])
				}
				z := 0.0
				for j := range logits {
					logits[j] = math.Exp(logits[j] - mx)
					z += logits[j]
				}
				for c := 0; c < dh; c++ {
					s := 0.0
					for j := 0; j < n; j++ {
						s += logits[j] / z * proj(bi, j, 2*inner+hd*dh+c)
					}
					o[(bi*n+i)*inner+hd*dh+c] = s
				}
			}
		}
	}
	pw, pb := a.Proj.Weight.Data(), a.Proj.Bias.Data()
	y := make([]float64, b*n*inner)
	for r := 0; r < b*n; r++ {
		for c := 0; c < inner; c++ {
			s := float64(pb[c])
			for e := 0; e < inner; e++ {
				s += float64(pw[c*inner+e]) * o[r*inner+e]
			}
			y[r*inner+c] = s
		}
	}
	return y
}

func TestAttnEqualsNaiveLoop(t *testing.T) {
	rng := autograd.NewRNG(5)
	a := NewAttention(rng, 12, AttentionConfig{NumHeads: 3, QKVBias: true})
	nn.Normal(a.QKV.Weight.Tensor, 0, 0.3, rng) // logits of order 1
	nn.Normal(a.QKV.Bias.Tensor, 0, 0.3, rng)
	nn.Normal(a.Proj.Bias.Tensor, 0, 0.3, rng)
	x := rng.Normal(0, 1, 2, 5, 12)
	mask := attnPadMask(2, 5, 0, 2)
	want := attnNaive(a, x, mask.Data())
	for _, composed := range []bool{false, true} {
		a.Composed = composed
		got := a.ForwardMask(x, AttentionMask{KeyPadding: mask}).Data()
		for i := range want {
			assert.InDelta(t, want[i], float64(got[i]), 1e-5, "element %d (composed=%v)", i, composed)
		}
	}
}

func TestAttnIdenticalKeysAverageValues(t *testing.T) {
	rng := autograd.NewRNG(6)
	q := rng.Normal(0, 1, 2, 3, 4, 8)
	k := rng.Normal(0, 1, 2, 3, 1, 8).Expand(2, 3, 7, 8) // one key repeated 7 times
	v := rng.Normal(0, 1, 2, 3, 7, 5)
	mean := v.MeanKeep(2).Expand(2, 3, 4, 5)
	for _, composed := range []bool{false, true} {
		y := ScaledDotProductAttention(q, k, v, AttentionOptions{Composed: composed})
		attnClose(t, "output is the mean of the values", mean, y, 1e-6)
	}
}

func TestAttnTokenPermutationEquivariance(t *testing.T) {
	rng := autograd.NewRNG(7)
	perm := []int{3, 0, 5, 1, 4, 2}
	x := rng.Normal(0, 1, 2, 6, 16)
	layers := map[string]nn.Layer{
		"attention": NewAttention(rng, 16, AttentionConfig{NumHeads: 4, QKVBias: true}),
		"block":     NewBlock(rng, 16, BlockConfig{NumHeads: 4, InitValues: 0.5}),
	}
	for name, l := range layers {
		nn.Eval(l)
		y := l.Forward(x)
		yp := l.Forward(x.IndexSelect(1, perm))
		attnClose(t, name+": f(Px) = P f(x)", y.IndexSelect(1, perm), yp, 1e-5)
	}
}

// attnTwin builds two copies of a model from equal seeds and checks
// that their parameters match.
func attnTwin(t *testing.T, build func(rng *autograd.RNG) any) (any, any) {
	a, b := build(autograd.NewRNG(8)), build(autograd.NewRNG(8))
	pa, pb := nn.NamedParameters(a), nn.NamedParameters(b)
	require.Equal(t, len(pa), len(pb))
	for i := range pa {
		require.Equal(t, pa[i].Param.Data(), pb[i].Param.Data())
	}
	return a, b
}

// attnGrads returns the gradients of the model's parameters by name.
func attnGrads(model any) map[string]*autograd.Tensor {
	out := map[string]*autograd.Tensor{}
	for _, np := range nn.NamedParameters(model) {
		out[np.Name] = np.Param.Grad
	}
	return out
}

func TestAttnFusedMatchesComposed(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(9)
		x := rng.Normal(0, 1, 3, 7, 16).To(dev)
		ctx := rng.Normal(0, 1, 3, 5, 12).To(dev)
		up := rng.Normal(0, 1, 3, 7, 16).To(dev)
		self := AttentionMask{KeyPadding: attnPadMask(3, 7, 0, 3, 6).To(dev), Causal: true}
		cross := AttentionMask{KeyPadding: attnPadMask(3, 5, 1, 0, 4).To(dev)}
		cases := []struct {
			name    string
			build   func(rng *autograd.RNG) any
			forward func(m any, x *autograd.Tensor) *autograd.Tensor
		}{
			{"attention", func(r *autograd.RNG) any {
				return NewAttention(r, 16, AttentionConfig{NumHeads: 4, QKVBias: true, AttnDrop: 0.2, ProjDrop: 0.1})
			}, func(m any, x *autograd.Tensor) *autograd.Tensor { return m.(*Attention).ForwardMask(x, self) }},
			{"cross_kv", func(r *autograd.RNG) any {
				return NewCrossAttention(r, 16, CrossAttentionConfig{NumHeads: 2, KVDim: 12, QKVBias: true, AttnDrop: 0.3})
			}, func(m any, x *autograd.Tensor) *autograd.Tensor {
				return m.(*CrossAttention).ForwardMask(x, ctx, cross)
			}},
			{"cross_separate", func(r *autograd.RNG) any {
				return NewCrossAttention(r, 16, CrossAttentionConfig{NumHeads: 4, KVDim: 12, SeparateKV: true})
			}, func(m any, x *autograd.Tensor) *autograd.Tensor {
				return m.(*CrossAttention).ForwardMask(x, ctx, cross)
			}},
			{"block", func(r *autograd.RNG) any {
				return NewBlock(r, 16, BlockConfig{NumHeads: 4, QKVBias: true, InitValues: 0.3, Drop: 0.1, AttnDrop: 0.1, DropPath: 0.2})
			}, func(m any, x *autograd.Tensor) *autograd.Tensor { return m.(*Block).ForwardMask(x, self) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				fused, composed := attnTwin(t, c.build)
				attnToDevice(fused, dev)
				attnToDevice(composed, dev)
				attnSetComposed(composed, true)
				xf := x.Detach().SetRequiresGrad(true)
				xc := x.Detach().SetRequiresGrad(true)
				yf, yc := c.forward(fused, xf), c.forward(composed, xc)
				attnClose(t, "output", yc, yf, 1e-5)
				yf.Mul(up).Sum().Backward()
				yc.Mul(up).Sum().Backward()
				attnClose(t, "grad of x", xc.Grad, xf.Grad, 1e-5)
				gf, gc := attnGrads(fused), attnGrads(composed)
				for name, g := range gc {
					require.NotNil(t, g, name)
					attnClose(t, "grad of "+name, g, gf[name], 1e-5)
				}
			})
		}
		t.Run("core_with_bias", func(t *testing.T) {
			r := autograd.NewRNG(10)
			mk := func(shape ...int) *autograd.Tensor { return r.Normal(0, 1, shape...).To(dev) }
			q, k, v, bias := mk(2, 3, 5, 4), mk(2, 3, 6, 4), mk(2, 3, 6, 7), mk(1, 3, 5, 6)
			m := AttentionMask{KeyPadding: attnPadMask(2, 6, 2, 0).To(dev), Causal: true}
			var outs [2]*autograd.Tensor
			var grads [2][]*autograd.Tensor
			for i, composed := range []bool{false, true} {
				in := []*autograd.Tensor{q.Detach().SetRequiresGrad(true), k.Detach().SetRequiresGrad(true),
					v.Detach().SetRequiresGrad(true), bias.Detach().SetRequiresGrad(true)}
				mi := m
				mi.Bias = in[3]
				outs[i] = ScaledDotProductAttention(in[0], in[1], in[2], AttentionOptions{Scale: 0.7, Mask: mi, Composed: composed})
				outs[i].Square().Sum().Backward()
				for _, x := range in {
					grads[i] = append(grads[i], x.Grad)
				}
			}
			attnClose(t, "output", outs[1], outs[0], 1e-5)
			for j, name := range []string{"q", "k", "v", "bias"} {
				attnClose(t, "grad of "+name, grads[1][j], grads[0][j], 1e-5)
			}
		})
	})
}

func TestAttnBlockedInference(t *testing.T) {
	defer func(n int) { attnBlockElems = n }(attnBlockElems)
	rng := autograd.NewRNG(11)
	q, k, v := rng.Normal(0, 1, 2, 3, 13, 4), rng.Normal(0, 1, 2, 3, 11, 4), rng.Normal(0, 1, 2, 3, 11, 5)
	bias := rng.Normal(0, 1, 3, 13, 11)
	m := AttentionMask{KeyPadding: attnPadMask(2, 11, 3, 0), Causal: true, Bias: bias}
	want := ScaledDotProductAttention(q, k, v, AttentionOptions{Mask: m, Composed: true})
	attnBlockElems = 2 * 3 * 11 * 4 // blocks of 4 query rows
	autograd.NoGrad(func() {
		got := ScaledDotProductAttention(q, k, v, AttentionOptions{Mask: m})
		attnClose(t, "blocked fused output", want, got, 1e-6)
		a := NewAttention(rng, 8, AttentionConfig{NumHeads: 2})
		x := rng.Normal(0, 1, 2, 13, 8)
		a.Composed = true
		ref := a.Forward(x)
		a.Composed = false
		attnClose(t, "blocked attention layer", ref, a.Forward(x), 1e-6)
	})
}

// attnFiniteDiff checks the gradient of f with respect to a few elements
// of x against central differences.
func attnFiniteDiff(t *testing.T, name string, x *autograd.Tensor, f func() *autograd.Tensor) {
	t.Helper()
	x.ZeroGrad()
	f().Backward()
	grad := x.Grad.Data()
	data, err := x.HostData()
	require.NoError(t, err)
	const eps = 1e-2
	for i := 0; i < len(data); i += max(1, len(data)/7) {
		orig := data[i]
		var lo, hi float32
		autograd.NoGrad(func() {
			data[i] = orig + eps
			hi = f().Item()
			data[i] = orig - eps
			lo = f().Item()
		})
		data[i] = orig
		num := float64(hi-lo) / (2 * eps)
		assert.InDelta(t, num, float64(grad[i]), 2e-3*math.Max(1, math.Abs(num)), "%s[%d]", name, i)
	}
}

func TestAttnFiniteDifferences(t *testing.T) {
	rng := autograd.NewRNG(12)
	q := rng.Normal(0, 1, 1, 2, 4, 3).SetRequiresGrad(true)
	k := rng.Normal(0, 1, 1, 2, 5, 3).SetRequiresGrad(true)
	v := rng.Normal(0, 1, 1, 2, 5, 3).SetRequiresGrad(true)
	bias := rng.Normal(0, 1, 2, 4, 5).SetRequiresGrad(true)
	up := rng.Normal(0, 1, 1, 2, 4, 3)
	for _, composed := range []bool{false, true} {
		f := func() *autograd.Tensor {
			m := AttentionMask{KeyPadding: attnPadMask(1, 5, 1), Causal: true, Bias: bias}
			return ScaledDotProductAttention(q, k, v, AttentionOptions{Mask: m, Composed: composed}).Mul(up).Sum()
		}
		for name, x := range map[string]*autograd.Tensor{"q": q, "k": k, "v": v, "bias": bias} {
			attnFiniteDiff(t, name, x, f)
		}
	}
	a := NewAttention(rng, 6, AttentionConfig{NumHeads: 2, QKVBias: true})
	nn.Normal(a.QKV.Weight.Tensor, 0, 0.5, rng)
	x := rng.Normal(0, 1, 2, 4, 6)
	upx := rng.Normal(0, 1, 2, 4, 6)
	f := func() *autograd.Tensor { return a.Forward(x).Mul(upx).Sum() }
	for _, np := range nn.NamedParameters(a) {
		attnFiniteDiff(t, np.Name, np.Param.Tensor, f)
	}
}

func TestAttnDropout(t *testing.T) {
	rng := autograd.NewRNG(13)
	x := rng.Normal(0, 1, 2, 5, 8)
	a := NewAttention(rng, 8, AttentionConfig{NumHeads: 2, QKVBias: true, AttnDrop: 1})
	nn.Normal(a.Proj.Bias.Tensor, 0, 1, rng)
	for _, composed := range []bool{false, true} {
		a.Composed = composed
		// Every weight dropped: the output is the projection's bias.
		attnClose(t, "attn_drop=1", a.Proj.Bias.Reshape(1, 1, 8).Expand(2, 5, 8), a.Forward(x), 1e-6)
		nn.Eval(a)
		ref := NewAttention(autograd.NewRNG(0), 8, AttentionConfig{NumHeads: 2, QKVBias: true})
		_, err := nn.LoadStateDict(ref, nn.StateDict(a), true)
		require.NoError(t, err)
		attnClose(t, "eval mode ignores dropout", ref.Forward(x), a.Forward(x), 1e-6)
		nn.Train(a)
	}
	a.AttnDrop.P, a.ProjDrop = 0, nn.NewDropout(1, rng)
	attnClose(t, "proj_drop=1", autograd.Zeros(2, 5, 8), a.Forward(x), 0)
}

func TestAttnStateDictNames(t *testing.T) {
	rng := autograd.NewRNG(14)
	names := func(m any) []string {
		var out []string
		for _, nt := range nn.NamedStateDict(m) {
			out = append(out, nt.Name+attnShapeSuffix(nt.Tensor))
		}
		return out
	}
	assert.Equal(t, []string{"qkv.weight[18 6]", "qkv.bias[18]", "proj.weight[6 6]", "proj.bias[6]"},
		names(NewAttention(rng, 6, AttentionConfig{NumHeads: 2, QKVBias: true})))
	assert.Equal(t, []string{"qkv.weight[12 6]", "proj.weight[4 4]", "proj.bias[4]"},
		names(NewAttention(rng, 6, AttentionConfig{NumHeads: 1, InnerDim: 4})))
	assert.Equal(t, []string{"q.weight[8 8]", "q.bias[8]", "kv.weight[16 5]", "kv.bias[16]", "proj.weight[8 8]", "proj.bias[8]"},
		names(NewCrossAttention(rng, 8, CrossAttentionConfig{NumHeads: 2, KVDim: 5, QKVBias: true})))
	assert.Equal(t, []string{"q.weight[8 8]", "k.weight[8 5]", "v.weight[8 5]", "proj.weight[8 8]", "proj.bias[8]"},
		names(NewCrossAttention(rng, 8, CrossAttentionConfig{NumHeads: 2, KVDim: 5, SeparateKV: true})))
}

func attnShapeSuffix(t *autograd.Tensor) string { return fmt.Sprint(t.Shape()) }

// attnRetained returns the heap bytes still held after f returns, with
// its result (and so the graph behind it) kept alive.
func attnRetained(f func() *autograd.Tensor) (int64, *autograd.Tensor) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	y := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), y
}

// The fused path keeps no [B, h, N, N] tensor beyond what backward needs:
// only the softmax output (the graph drops the logits and masked logits,
// which no backward rule reads). The composed path also keeps the masking
// mask for its Where.
func TestAttnFusedRetainsLess(t *testing.T) {
	rng := autograd.NewRNG(15)
	b, h, n, d := 2, 2, 256, 8
	q := rng.Normal(0, 1, b, h, n, d).SetRequiresGrad(true)
	k := rng.Normal(0, 1, b, h, n, d).SetRequiresGrad(true)
	v := rng.Normal(0, 1, b, h, n, d).SetRequiresGrad(true)
	square := int64(b * h * n * n * 4)
	held := map[bool]int64{false: math.MaxInt64, true: math.MaxInt64}
	for _, composed := range []bool{false, true, false, true, false, true} {
		bytes, y := attnRetained(func() *autograd.Tensor {
			return ScaledDotProductAttention(q, k, v, AttentionOptions{Mask: AttentionMask{Causal: true}, Composed: composed})
		})
		held[composed] = min(held[composed], bytes) // the least of three: one-time scratch (GEMM packing) is not the graph's
		y.Sum().Backward()                          // the graph was alive until here
	}
	t.Logf("retained for backward: fused %.2f, composed %.2f [B,h,N,N] tensors", float64(held[false])/float64(square), float64(held[true])/float64(square))
	assert.Less(t, held[false], square+square/2, "fused keeps only the softmax output")
	assert.Less(t, held[false]+3*square/4, held[true], "fused keeps one N² tensor less than composed")
}
