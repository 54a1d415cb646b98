package cpu

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkLayerNormKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	rows, n := 8192, 384
	x, g := randSlice(r, rows*n), randSlice(r, rows*n)
	w, bias := randSlice(r, n), randSlice(r, n)
	y, mean, rstd := make([]float32, rows*n), make([]float32, rows), make([]float32, rows)
	dx, dw, db := make([]float32, rows*n), make([]float32, n), make([]float32, n)
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			LayerNorm(y, mean, rstd, x, w, bias, rows, n, 1e-5)
		}
	})
	b.Run("dx", func(b *testing.B) {
		for b.Loop() {
			LayerNormGrad(dx, nil, nil, g, x, mean, rstd, w, rows, n)
		}
	})
	b.Run("dwdb", func(b *testing.B) {
		for b.Loop() {
			LayerNormGrad(nil, dw, db, g, x, mean, rstd, w, rows, n)
		}
	})
}

func BenchmarkMaxPoolKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	g := ConvGeom{N: 16, C: 64, H: 56, W: 56, KH: 3, KW: 3, OH: 28, OW: 28, SH: 2, SW: 2, PH: 1, PW: 1, DH: 1, DW: 1}
	x := randSlice(r, g.N*g.C*g.H*g.W)
	y := make([]float32, g.N*g.C*g.OH*g.OW)
	dx := make([]float32, len(x))
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			MaxPool2d(g, y, x)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			MaxPool2dGrad(g, dx, y, x, y)
		}
	})
}

func BenchmarkCausalConvFFTKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	bb, h, l := 8, 64, 1024
	u, k := randSlice(r, bb*h*l), randSlice(r, h*l)
	y := make([]float32, len(u))
	for b.Loop() {
		CausalConvFFT(y, u, k, bb, h, l, false)
	}
}
