package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

func TestLayerNormLayer(t *testing.T) {
	l := NewLayerNorm([]int{3, 4}, LayerNormConfig{})
	assert.Equal(t, []string{"weight", "bias"}, names(l))
	assert.Equal(t, make([]float32, 12), l.Bias.Data())
	assert.Equal(t, autograd.Ones(12).Data(), l.Weight.Data())
	assert.Equal(t, 1e-5, l.Eps)
	assert.Empty(t, names(NewLayerNorm([]int{4}, LayerNormConfig{NoAffine: true})))
	assert.Equal(t, []string{"weight"}, names(NewLayerNorm([]int{4}, LayerNormConfig{NoBias: true})))

	// Each row of the output has mean 0 and biased variance 1.
	x := autograd.NewRNG(1).Normal(2, 3, 5, 3, 4)
	y := l.Forward(x).Reshape(5, 12).Data()
	for r := 0; r < 5; r++ {
		m, s := meanStd(y[r*12 : (r+1)*12])
		assert.InDelta(t, 0, m, 1e-6)
		assert.InDelta(t, 1, s, 1e-4)
	}
	assert.PanicsWithValue(t, "nn: LayerNorm: input of shape [5 4 3] does not end in the normalized shape [3 4]", func() {
		l.Forward(autograd.Zeros(5, 4, 3))
	})
	assert.PanicsWithValue(t, "nn: NewLayerNorm: normalized shape [] must be non-empty and positive", func() {
		NewLayerNorm(nil, LayerNormConfig{})
	})
	assert.PanicsWithValue(t, "nn: NewLayerNorm: negative eps -1", func() {
		NewLayerNorm([]int{2}, LayerNormConfig{Eps: -1})
	})
}

func TestBatchNormTrainAndEval(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(2)
		b := NewBatchNorm2d(3, BatchNormConfig{Momentum: 0.25})
		assert.Equal(t, []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}, stateNames(b))
		assert.Equal(t, []int{}, b.NumBatchesTracked.Shape())
		Uniform(b.Weight.Tensor, 0.5, 1.5, rng)
		Normal(b.Bias.Tensor, 0, 1, rng)
		To(b, dev)
		x := rng.Normal(1, 2, 4, 3, 5, 5)
		xs := x.Data()

		// Per-channel batch statistics, in float64.
		mean, biased := make([]float64, 3), make([]float64, 3)
		const m = 4 * 25
		for i, v := range xs {
			mean[i/25%3] += float64(v) / m
		}
		for i, v := range xs {
			d := float64(v) - mean[i/25%3]
			biased[i/25%3] += d * d / m
		}
		w, bias := b.Weight.Data(), b.Bias.Data()

		y := b.Forward(x.To(dev)).Data()
		for i, v := range xs {
			c := i / 25 % 3
			want := (float64(v)-mean[c])/math.Sqrt(biased[c]+1e-5)*float64(w[c]) + float64(bias[c])
			require.InDelta(t, want, y[i], 1e-4)
		}
		rm, rv := b.RunningMean.Data(), b.RunningVar.Data()
		for c := 0; c < 3; c++ {
			assert.InDelta(t, 0.25*mean[c], rm[c], 1e-5)
			assert.InDelta(t, 0.75+0.25*biased[c]*m/(m-1), rv[c], 1e-5)
		}
		assert.Equal(t, float32(1), b.NumBatchesTracked.Item())

		// Evaluation normalises with the running statistics and leaves them.
		Eval(b)
		y = b.Forward(x.To(dev)).Data()
		for i, v := range xs {
			c := i / 25 % 3
			want := (float64(v)-float64(rm[c]))/math.Sqrt(float64(rv[c])+1e-5)*float64(w[c]) + float64(bias[c])
			require.InDelta(t, want, y[i], 1e-4)
		}
		assert.Equal(t, rm, b.RunningMean.Data())
		assert.Equal(t, float32(1), b.NumBatchesTracked.Item())
	})
}

func TestBatchNormVariants(t *testing.T) {
	rng := autograd.NewRNG(3)
	// momentum=None: the running mean is the plain average of the batches.
	b := NewBatchNorm1d(2, BatchNormConfig{CumulativeAverage: true})
	x1, x2 := rng.Normal(3, 1, 6, 2), rng.Normal(-1, 1, 6, 2)
	b.Forward(x1)
	b.Forward(x2)
	want := x1.Mean(0).Add(x2.Mean(0)).MulScalar(0.5).Data()
	assertClose(t, want, b.RunningMean.Data(), 1e-5)
	assert.Equal(t, float32(2), b.NumBatchesTracked.Item())

	// Without running statistics, evaluation uses the batch's.
	n := NewBatchNorm1d(2, BatchNormConfig{NoRunningStats: true, NoAffine: true})
	assert.Empty(t, stateNames(n))
	Eval(n)
	y := n.Forward(x1)
	assertClose(t, []float32{0, 0}, y.Mean(0).Data(), 1e-5)

	// BatchNorm1d takes [N, C] and [N, C, L]; BatchNorm2d [N, C, H, W].
	assert.Equal(t, []int{3, 2, 4}, NewBatchNorm1d(2, BatchNormConfig{}).Forward(rng.Normal(0, 1, 3, 2, 4)).Shape())
	assert.PanicsWithValue(t, "nn: BatchNorm1d: expected 2D or 3D input, got shape [2 2 3 3]", func() {
		NewBatchNorm1d(2, BatchNormConfig{}).Forward(autograd.Zeros(2, 2, 3, 3))
	})
	assert.PanicsWithValue(t, "nn: BatchNorm2d: expected 4D input, got shape [2 2 3]", func() {
		NewBatchNorm2d(2, BatchNormConfig{}).Forward(autograd.Zeros(2, 2, 3))
	})
	assert.PanicsWithValue(t, "nn: BatchNorm: input of shape [2 3 3] is not [N, 2, ...]", func() {
		NewBatchNorm(2, BatchNormConfig{}).Forward(autograd.Zeros(2, 3, 3))
	})
	assert.PanicsWithValue(t, "nn: BatchNorm1d: input of shape [1 2]: training needs more than one value per channel", func() {
		NewBatchNorm1d(2, BatchNormConfig{}).Forward(autograd.Zeros(1, 2))
	})
	assert.PanicsWithValue(t, "nn: NewBatchNorm2d: momentum 2 is outside [0, 1]", func() {
		NewBatchNorm2d(2, BatchNormConfig{Momentum: 2})
	})
	// One sample is fine in evaluation mode.
	e := NewBatchNorm1d(2, BatchNormConfig{})
	Eval(e)
	assert.Equal(t, []int{1, 2}, e.Forward(autograd.Zeros(1, 2)).Shape())
	assert.Equal(t, 1e-5, e.Eps)
	assert.Equal(t, 0.1, e.Momentum)
}

func TestGroupNormLayer(t *testing.T) {
	g := NewGroupNorm(2, 6, GroupNormConfig{})
	assert.Equal(t, []string{"weight", "bias"}, names(g))
	x := autograd.NewRNG(4).Normal(3, 2, 2, 6, 5)
	y := g.Forward(x).Reshape(4, 15).Data() // [sample, group] rows
	for r := 0; r < 4; r++ {
		m, s := meanStd(y[r*15 : (r+1)*15])
		assert.InDelta(t, 0, m, 1e-5)
		assert.InDelta(t, 1, s, 1e-3)
	}
	assert.Empty(t, names(NewGroupNorm(3, 6, GroupNormConfig{NoAffine: true})))
	assert.PanicsWithValue(t, "nn: NewGroupNorm: 6 channels are not divisible into 4 groups", func() {
		NewGroupNorm(4, 6, GroupNormConfig{})
	})
	assert.PanicsWithValue(t, "nn: GroupNorm: input of shape [2 4 5] is not [N, 6, ...]", func() {
		g.Forward(autograd.Zeros(2, 4, 5))
	})
}

func TestDropPath(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		d := NewDropPath(0.25, autograd.NewRNG(5))
		assert.True(t, d.ScaleByKeep)
		x := autograd.NewRNG(6).Normal(0, 1, 400, 3, 2).To(dev).SetRequiresGrad(true)
		y := d.Forward(x)
		xs, ys := x.Data(), y.Data()
		dropped := 0
		for b := 0; b < 400; b++ {
			// A whole sample is dropped, or kept and scaled by 1/keep.
			if ys[b*6] == 0 && xs[b*6] != 0 {
				dropped++
				for i := 0; i < 6; i++ {
					require.Zero(t, ys[b*6+i])
				}
				continue
			}
			for i := 0; i < 6; i++ {
				require.InDelta(t, xs[b*6+i]/0.75, ys[b*6+i], 1e-6)
			}
		}
		// 400 Bernoulli(0.25): σ ≈ 8.7.
		assert.InDelta(t, 100, dropped, 35)
		// The gradient is the per-sample mask.
		y.Sum().Backward()
		g := x.Grad.Data()
		for b := 0; b < 400; b++ {
			want := float32(1 / 0.75)
			if ys[b*6] == 0 && xs[b*6] != 0 {
				want = 0
			}
			require.InDelta(t, want, g[b*6+5], 1e-6)
		}
		// The same seed drops the same samples.
		assert.Equal(t, ys, NewDropPath(0.25, autograd.NewRNG(5)).Forward(x).Data())

		// Without scaling the kept samples are unchanged.
		ns := NewDropPath(0.5, autograd.NewRNG(7))
		ns.ScaleByKeep = false
		for i, v := range ns.Forward(x).Data() {
			if v != 0 {
				require.Equal(t, xs[i], v)
			}
		}
		// Identity in evaluation mode and for P = 0; zeros for P = 1.
		Eval(d)
		assert.Same(t, x, d.Forward(x))
		assert.Same(t, x, NewDropPath(0, nil).Forward(x))
		assert.Equal(t, make([]float32, 6), NewDropPath(1, autograd.NewRNG(1)).Forward(autograd.Ones(2, 3).To(dev)).Data())
	})
	assert.PanicsWithValue(t, "nn: NewDropPath: probability 1.5 is outside [0, 1]", func() { NewDropPath(1.5, nil) })
	assert.PanicsWithValue(t, "nn: DropPath: no RNG; create the layer with NewDropPath(p, rng)", func() {
		(&DropPath{P: 0.5}).Forward(autograd.Ones(2))
	})
}

func TestEmbeddingLayer(t *testing.T) {
	rng := autograd.NewRNG(8)
	e := NewEmbedding(rng, 500, 40)
	assert.Equal(t, []string{"weight"}, names(e))
	assert.Equal(t, -1, e.PaddingIdx)
	m, s := meanStd(e.Weight.Data())
	assert.InDelta(t, 0, m, 0.02) // N(0, 1) as torch
	assert.InDelta(t, 1, s, 0.02)

	p := NewEmbeddingPadded(rng, 6, 3, -2)
	assert.Equal(t, 4, p.PaddingIdx)
	assert.Equal(t, make([]float32, 3), p.Weight.Data()[12:15])
	y := p.Forward([]int{4, 1, 4, 0, 5, 1}, 2, 3)
	assert.Equal(t, []int{2, 3, 3}, y.Shape())
	assert.Equal(t, p.Weight.Data()[3:6], y.Data()[3:6])
	y.Sum().Backward()
	grad := p.Weight.Grad.Data()
	assert.Equal(t, []float32{1, 1, 1, 2, 2, 2}, grad[:6])
	assert.Equal(t, make([]float32, 3), grad[12:15], "the padding row gets no gradient")
	assert.Equal(t, []int{6, 3}, p.Forward([]int{0, 1, 2, 3, 4, 5}).Shape())
	assert.Equal(t, []int{3}, p.ForwardTensor(autograd.Scalar(2)).Shape())
	assert.Equal(t, p.Weight.Data()[6:9], p.ForwardTensor(autograd.Scalar(2)).Data())
	assert.PanicsWithValue(t, "nn: Embedding: index 1.5 at position 0 of input [1] is not an integer", func() {
		p.ForwardTensor(autograd.New([]float32{1.5}))
	})
	assert.PanicsWithValue(t, "nn: NewEmbeddingPadded: padding index must be within num_embeddings=6", func() {
		NewEmbeddingPadded(rng, 6, 3, 6)
	})
	assert.Panics(t, func() { p.Forward([]int{6}) }, "index out of range")
}
