package ssvep_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/models/ssvep"
)

// randDense returns an n×p matrix of standard normal values.
func randDense(rng *autograd.RNG, n, p int) *mat.Dense {
	m := mat.NewDense(n, p, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < p; j++ {
			m.Set(i, j, float64(rng.NormFloat32()))
		}
	}
	return m
}

// referenceCCA is the textbook canonical correlation: centre, then the
// largest singular value of Sxx^(-1/2)·Sxy·Syy^(-1/2), computed with
// gonum's Cholesky factors and SVD.
func referenceCCA(t *testing.T, x, y *mat.Dense) float64 {
	centre := func(a *mat.Dense) *mat.Dense {
		n, p := a.Dims()
		c := mat.DenseCopyOf(a)
		for j := 0; j < p; j++ {
			mean := mat.Sum(c.ColView(j)) / float64(n)
			for i := 0; i < n; i++ {
				c.Set(i, j, c.At(i, j)-mean)
			}
		}
		return c
	}
	xc, yc := centre(x), centre(y)
	var sxx, syy, sxy mat.Dense
	sxx.Mul(xc.T(), xc)
	syy.Mul(yc.T(), yc)
	sxy.Mul(xc.T(), yc)
	invSqrt := func(s *mat.Dense) *mat.Dense {
		var es mat.EigenSym
		require.True(t, es.Factorize(mat.NewSymDense(s.RawMatrix().Rows, s.RawMatrix().Data), true))
		vals := es.Values(nil)
		var vecs mat.Dense
		es.VectorsTo(&vecs)
		d := mat.NewDiagDense(len(vals), nil)
		for i, v := range vals {
			d.SetDiag(i, 1/math.Sqrt(v))
		}
		var out, tmp mat.Dense
		tmp.Mul(&vecs, d)
		out.Mul(&tmp, vecs.T())
		return &out
	}
	var m, tmp mat.Dense
	tmp.Mul(invSqrt(&sxx), &sxy)
	m.Mul(&tmp, invSqrt(&syy))
	var svd mat.SVD
	require.True(t, svd.Factorize(&m, mat.SVDNone))
	return svd.Values(nil)[0]
}

func TestCanonicalCorrelation(t *testing.T) {
	rng := autograd.NewRNG(1)
	for _, dims := range [][3]int{{100, 9, 10}, {50, 3, 2}, {250, 9, 10}, {40, 1, 4}, {60, 5, 5}} {
		n, p, q := dims[0], dims[1], dims[2]
		x, y := randDense(rng, n, p), randDense(rng, n, q)
		// Make them correlated: x's first column borrows from y.
		for i := 0; i < n; i++ {
			x.Set(i, 0, x.At(i, 0)+0.5*y.At(i, q-1))
		}
		want := referenceCCA(t, x, y)
		got := ssvep.CanonicalCorrelation(x, y)
		assert.InDelta(t, want, got, 1e-9, "n=%d p=%d q=%d", n, p, q)
		// Symmetric in x and y.
		assert.InDelta(t, got, ssvep.CanonicalCorrelation(y, x), 1e-9)
		// Invariant to mixing the channels and to offsets.
		a := randDense(rng, p, p)
		var xa mat.Dense
		xa.Mul(x, a)
		for i := 0; i < n; i++ {
			xa.Set(i, 0, xa.At(i, 0)+7)
		}
		assert.InDelta(t, got, ssvep.CanonicalCorrelation(&xa, y), 1e-7)
	}
	// A shared column gives 1; constant columns give 0.
	x, y := randDense(rng, 80, 4), randDense(rng, 80, 3)
	for i := 0; i < 80; i++ {
		x.Set(i, 2, 3*y.At(i, 1)-1)
	}
	assert.InDelta(t, 1, ssvep.CanonicalCorrelation(x, y), 1e-12)
	assert.Equal(t, 0.0, ssvep.CanonicalCorrelation(mat.NewDense(80, 2, nil), y))
}

func TestFBCCAWeights(t *testing.T) {
	f := ssvep.NewFBCCA([]float64{8, 9}, 250, 100, ssvep.DefaultFBCCAConfig())
	w := f.Weights()
	require.Len(t, w, 5)
	for m, v := range w {
		assert.InDelta(t, math.Pow(float64(m+1), -1.25)+0.25, v, 1e-15)
	}
	assert.Equal(t, 1.25, w[0])
	assert.InDelta(t, 0.67045, w[1], 1e-5)
}

// Clean SSVEP-like windows (each channel a mix of the target's harmonics
// with its own phases, plus a little noise) are classified correctly at
// 1 s, among targets 0.2 Hz apart.
func TestFBCCAClassifiesClean(t *testing.T) {
	var freqs []float64
	for k := 0; k < 40; k++ {
		freqs = append(freqs, 8+0.2*float64(k))
	}
	const n, ch, fs = 250, 9, 250.0
	f := ssvep.NewFBCCA(freqs, fs, n, ssvep.DefaultFBCCAConfig())
	rng := autograd.NewRNG(2)
	for k, fk := range freqs {
		x := make([]float64, ch*n)
		for c := 0; c < ch; c++ {
			ph := float64(rng.Float32()) * 2 * math.Pi
			for tt := 0; tt < n; tt++ {
				s := float64(tt) / fs
				x[c*n+tt] = math.Sin(2*math.Pi*fk*s+ph) + 0.4*math.Sin(2*math.Pi*2*fk*s+2*ph) + 0.3*float64(rng.NormFloat32())
			}
		}
		scores := f.Scores(x, ch)
		require.Len(t, scores, 40)
		assert.Equal(t, k, f.Classify(x, ch), "target %d (%v Hz)", k, fk)
		for _, v := range scores {
			assert.True(t, v >= 0 && v <= 1.25+0.67+0.55+0.45+0.4, "score %v", v)
		}
	}
	assert.Panics(t, func() { f.Scores(make([]float64, 10), ch) })
	assert.Panics(t, func() { ssvep.NewFBCCA(freqs, fs, 8, ssvep.DefaultFBCCAConfig()) })
}
