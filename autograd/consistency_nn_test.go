package autograd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

// requireClose compares two tensors elementwise with |a − b| ≤
// tol·max(1, |b|).
func requireClose(t *testing.T, what string, got, want *ag.Tensor, tol float64) {
	t.Helper()
	require.Equalf(t, want.Shape(), got.Shape(), "%s: shape", what)
	g, w := got.Data(), want.Data()
	for i := range w {
		if d := math.Abs(float64(g[i]) - float64(w[i])); !(d <= tol*math.Max(1, math.Abs(float64(w[i])))) {
			require.Failf(t, what+" differs", "at %d: got %v, want %v", i, g[i], w[i])
		}
	}
}

// gradsOf runs f on fresh copies of the inputs (on dev), backpropagates
// Σ f·seed, and returns the output and each input's gradient (on the host).
func gradsOf(dev ag.Device, f func(xs []*ag.Tensor) *ag.Tensor, seed uint64, inputs ...*ag.Tensor) (*ag.Tensor, []*ag.Tensor) {
	xs := make([]*ag.Tensor, len(inputs))
	for i, in := range inputs {
		xs[i] = ag.New(in.Data(), in.Shape()...).To(dev).SetRequiresGrad(true)
	}
	out := f(xs)
	w := ag.NewRNG(seed).Normal(0, 1, out.Shape()...).To(dev)
	out.Mul(w).Sum().Backward()
	grads := make([]*ag.Tensor, len(xs))
	for i, x := range xs {
		grads[i] = x.Grad.To(ag.CPU)
	}
	return out.To(ag.CPU).Detach(), grads
}

// requireSameFunction checks that f and g give the same values and the same
// gradients for every input.
func requireSameFunction(t *testing.T, dev ag.Device, f, g func(xs []*ag.Tensor) *ag.Tensor, tol float64, inputs ...*ag.Tensor) {
	t.Helper()
	of, gf := gradsOf(dev, f, 7, inputs...)
	og, gg := gradsOf(dev, g, 7, inputs...)
	requireClose(t, "output", of, og, tol)
	for i := range gf {
		requireClose(t, fmt.Sprintf("gradient of input %d", i), gf[i], gg[i], tol)
	}
}

// perImage runs conv on each image of x separately and concatenates.
func perImage(conv func(x, w, b *ag.Tensor) *ag.Tensor) func(xs []*ag.Tensor) *ag.Tensor {
	return func(xs []*ag.Tensor) *ag.Tensor {
		n := xs[0].Size(0)
		outs := make([]*ag.Tensor, n)
		for i := range outs {
			outs[i] = conv(xs[0].Narrow(0, i, 1), xs[1], xs[2])
		}
		return ag.Concat(outs, 0)
	}
}

// The im2col path works on chunks of images; with several chunks, a last
// partial chunk and one image per chunk it must match convolving each
// image alone.
func TestConv2dChunksMatchPerImage(t *testing.T) {
	cases := []struct {
		name   string
		xs, ws []int
		o      ag.Conv2dOptions
	}{
		{"chunks_3_2", []int{5, 2, 20, 20}, []int{3, 2, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"chunks_groups", []int{4, 4, 18, 16}, []int{6, 2, 3, 3}, ag.Conv2dOptions{Groups: 2, Stride: [2]int{1, 1}}},
		{"one_image_per_chunk", []int{2, 2, 32, 33}, []int{2, 2, 3, 3}, ag.Conv2dOptions{Padding: ag.SymmetricPadding(1, 1)}},
		{"pointwise_large", []int{2, 3, 32, 36}, []int{4, 3, 1, 1}, ag.Conv2dOptions{}},
		{"depthwise", []int{3, 3, 9, 9}, []int{3, 1, 5, 5}, ag.Conv2dOptions{Groups: 3, Same: true}},
	}
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				conv := func(x, w, b *ag.Tensor) *ag.Tensor { return ag.Conv2d(x, w, b, c.o) }
				whole := func(xs []*ag.Tensor) *ag.Tensor { return conv(xs[0], xs[1], xs[2]) }
				// The weight gradient sums thousands of float32 products,
				// in a different order on each side.
				requireSameFunction(t, dev, whole, perImage(conv), 1e-4, rn(1, c.xs...), rn(2, c.ws...), rn(3, c.ws[0]))
			})
		}
	})
}

// The direct depthwise kernel must agree with the im2col path (one
// ordinary convolution per channel).
func TestDepthwiseMatchesIm2col(t *testing.T) {
	cases := []struct {
		name   string
		xs, ws []int
		o      ag.Conv2dOptions
	}{
		{"lka_5x5", []int{2, 4, 11, 10}, []int{4, 1, 5, 5}, ag.Conv2dOptions{Groups: 4, Padding: ag.SymmetricPadding(2, 2)}},
		{"lka_7x7_dil3", []int{1, 3, 15, 14}, []int{3, 1, 7, 7}, ag.Conv2dOptions{Groups: 3, Dilation: [2]int{3, 3}, Padding: ag.SymmetricPadding(9, 9)}},
		{"stride2_asym", []int{2, 2, 9, 8}, []int{2, 1, 3, 4}, ag.Conv2dOptions{Groups: 2, Stride: [2]int{2, 3}, Padding: [4]int{2, 0, 1, 1}}},
	}
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				direct := func(xs []*ag.Tensor) *ag.Tensor { return ag.Conv2d(xs[0], xs[1], xs[2], c.o) }
				split := func(xs []*ag.Tensor) *ag.Tensor {
					o := c.o
					o.Groups = 1
					ch := xs[0].Size(1)
					outs := make([]*ag.Tensor, ch)
					for i := range outs {
						outs[i] = ag.Conv2d(xs[0].Narrow(1, i, 1), xs[1].Narrow(0, i, 1), xs[2].Narrow(0, i, 1), o)
					}
					return ag.Concat(outs, 1)
				}
				requireSameFunction(t, dev, direct, split, 1e-5, rn(4, c.xs...), rn(5, c.ws...), rn(6, c.ws[0]))
			})
		}
	})
}

// layerNormComposed is layer norm from primitive ops.
func layerNormComposed(x *ag.Tensor, k int, w, b *ag.Tensor, eps float32) *ag.Tensor {
	axes := make([]int, k)
	for i := range axes {
		axes[i] = x.Dim() - k + i
	}
	y := x.Sub(x.MeanKeep(axes...)).Mul(x.VarCorrection(0, true, axes...).AddScalar(eps).Rsqrt())
	if w != nil {
		y = y.Mul(w)
	}
	if b != nil {
		y = y.Add(b)
	}
	return y
}

// The fused norm kernels must agree with the same norms composed from
// primitive ops, forward and backward.
func TestFusedNormsMatchComposed(t *testing.T) {
	x := rn(7, 4, 6, 5).MulScalar(2).AddScalar(0.5)
	w, b := rn(8, 6, 5), rn(9, 6, 5)
	wc, bc := rn(10, 6), rn(11, 6)
	chan3 := func(p *ag.Tensor) *ag.Tensor { return p.Reshape(1, -1, 1) }
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		t.Run("LayerNorm", func(t *testing.T) {
			requireSameFunction(t, dev,
				func(xs []*ag.Tensor) *ag.Tensor { return ag.LayerNorm(xs[0], []int{6, 5}, xs[1], xs[2], 1e-5) },
				func(xs []*ag.Tensor) *ag.Tensor { return layerNormComposed(xs[0], 2, xs[1], xs[2], 1e-5) },
				1e-5, x, w, b)
		})
		t.Run("GroupNorm", func(t *testing.T) {
			requireSameFunction(t, dev,
				func(xs []*ag.Tensor) *ag.Tensor { return ag.GroupNorm(xs[0], 3, xs[1], xs[2], 1e-5) },
				func(xs []*ag.Tensor) *ag.Tensor {
					g := layerNormComposed(xs[0].Reshape(4, 3, 10), 1, nil, nil, 1e-5).Reshape(4, 6, 5)
					return g.Mul(chan3(xs[1])).Add(chan3(xs[2]))
				},
				1e-5, x, wc, bc)
		})
		t.Run("BatchNormTrain", func(t *testing.T) {
			requireSameFunction(t, dev,
				func(xs []*ag.Tensor) *ag.Tensor { return ag.BatchNorm(xs[0], nil, nil, xs[1], xs[2], true, 0.1, 1e-5) },
				func(xs []*ag.Tensor) *ag.Tensor {
					x := xs[0]
					y := x.Sub(x.MeanKeep(0, 2)).Mul(x.VarCorrection(0, true, 0, 2).AddScalar(1e-5).Rsqrt())
					return y.Mul(chan3(xs[1])).Add(chan3(xs[2]))
				},
				1e-5, x, wc, bc)
		})
	})
}

func TestBatchNormRunningStats(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		x := rn(12, 8, 2, 3).To(dev)
		rm, rv := ag.Zeros(2).To(dev), ag.Ones(2).To(dev)
		ag.BatchNorm(x, rm, rv, nil, nil, true, 0.25, 1e-5)
		mean := x.Mean(0, 2).To(ag.CPU)
		v := x.Var(0, 2).To(ag.CPU)
		requireClose(t, "running mean", rm.To(ag.CPU), mean.MulScalar(0.25), 1e-6)
		requireClose(t, "running var", rv.To(ag.CPU), v.MulScalar(0.25).AddScalar(0.75), 1e-6)
		// Evaluation uses the running statistics and leaves them alone.
		y := ag.BatchNorm(x, rm, rv, nil, nil, false, 0.25, 0)
		want := x.Sub(rm.Reshape(1, 2, 1)).Div(rv.Reshape(1, 2, 1).Sqrt())
		requireClose(t, "eval output", y.To(ag.CPU), want.To(ag.CPU), 1e-5)
		requireClose(t, "running mean after eval", rm.To(ag.CPU), mean.MulScalar(0.25), 1e-6)
	})
}

func TestDropout(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		x := ag.Ones(200, 50).To(dev).SetRequiresGrad(true)
		require.Same(t, x, ag.Dropout(x, 0, nil), "p = 0 is the identity")
		y := ag.Dropout(x, 0.25, ag.NewRNG(1))
		d := y.Data()
		kept := 0
		for _, v := range d {
			switch v {
			case 0:
			case float32(1 / 0.75):
				kept++
			default:
				t.Fatalf("dropout value %v is neither 0 nor 1/(1−p)", v)
			}
		}
		frac := float64(kept) / float64(len(d))
		require.InDelta(t, 0.75, frac, 0.02, "fraction kept")
		// Same seed, same mask; the gradient is the mask.
		require.Equal(t, d, ag.Dropout(x, 0.25, ag.NewRNG(1)).Data())
		y.Sum().Backward()
		require.Equal(t, d, x.Grad.Data())
		require.Equal(t, make([]float32, 10), ag.Dropout(ag.Ones(10).To(dev), 1, ag.NewRNG(2)).Data(), "p = 1 drops everything")
	})
}

func TestCausalConvKernelShortVsLong(t *testing.T) {
	// The same kernel through the direct path (L ≤ 128) and the FFT path:
	// y[:L1] of a long input must equal the short convolution of its prefix.
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		u, k := rn(13, 2, 3, 300).To(dev), rn(14, 3, 300).MulScalar(0.2).To(dev)
		long := ag.CausalConv(u, k).Narrow(2, 0, 100)
		short := ag.CausalConv(u.Narrow(2, 0, 100), k.Narrow(1, 0, 100))
		requireClose(t, "prefix", long.To(ag.CPU), short.To(ag.CPU), 1e-5)
	})
}

func TestOneHot(t *testing.T) {
	y := ag.OneHot([]int{2, 0, 1}, []int{3}, 4)
	require.Equal(t, []int{3, 4}, y.Shape())
	require.Equal(t, []float32{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}, y.Data())
}

// ChannelAffine is x·scale + shift with the parameters reshaped to
// broadcast; the fused op must match that composition on every device,
// also for channels-last inputs with enough rows that the CPU splits them
// into several workers' blocks.
func TestChannelAffineMatchesComposed(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		axis  int
	}{
		{"last_many_rows", []int{3, 200, 96}, -1},
		{"channels_first", []int{4, 6, 7, 5}, 1},
		{"outermost", []int{5, 33}, 0},
	}
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := c.axis
				if a < 0 {
					a += len(c.shape)
				}
				ch := c.shape[a]
				bshape := make([]int, len(c.shape)-a)
				for i := range bshape {
					bshape[i] = 1
				}
				bshape[0] = ch
				fused := func(xs []*ag.Tensor) *ag.Tensor { return ag.ChannelAffine(xs[0], xs[1], xs[2], c.axis) }
				composed := func(xs []*ag.Tensor) *ag.Tensor {
					return xs[0].Mul(xs[1].Reshape(bshape...)).Add(xs[2].Reshape(bshape...))
				}
				requireSameFunction(t, dev, fused, composed, 1e-4, rn(1, c.shape...), rn(2, ch), rn(3, ch))
			})
		}
	})
}
