package ssvep

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/deepgo/deepgo/autograd"
)

// The power iteration agrees with gonum's SVD, also when the top two
// singular values are close.
func TestTopSingularValue(t *testing.T) {
	rng := autograd.NewRNG(3)
	for trial := 0; trial < 50; trial++ {
		r, c := 9, 10
		if trial%3 == 1 {
			r, c = 10, 4
		}
		m := mat.NewDense(r, c, nil)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				m.Set(i, j, 0.1*float64(rng.NormFloat32()))
			}
		}
		if trial%5 == 0 { // nearly equal top singular values
			m = mat.NewDense(r, c, nil)
			m.Set(0, 0, 0.5)
			m.Set(1, 1, 0.5*(1-1e-6))
			m.Set(2, 2, 0.2)
		}
		var svd mat.SVD
		require.True(t, svd.Factorize(m, mat.SVDNone))
		assert.InDelta(t, svd.Values(nil)[0], topSingularValue(m), 1e-8, "trial %d", trial)
	}
	assert.Equal(t, 0.0, topSingularValue(mat.NewDense(3, 3, nil)))
}
