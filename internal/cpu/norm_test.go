package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= tol*math.Max(1, math.Abs(w))) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
		}
	}
}

// Sizes above the kernels' grains, so that the parallel paths (and the
// partial sums of the weight gradients) run.
func TestLayerNormParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	rows, n := 300, 200
	x, g := randSlice(r, rows*n), randSlice(r, rows*n)
	w, b := randSlice(r, n), randSlice(r, n)
	y, mean, rstd := make([]float32, rows*n), make([]float32, rows), make([]float32, rows)
	LayerNorm(y, mean, rstd, x, w, b, rows, n, 1e-5)
	dx, dw, db := make([]float32, rows*n), make([]float32, n), make([]float32, n)
	LayerNormGrad(dx, dw, db, g, x, mean, rstd, w, rows, n)
	wy, wdx := make([]float64, rows*n), make([]float64, rows*n)
	wdw, wdb := make([]float64, n), make([]float64, n)
	for r := 0; r < rows; r++ {
		var m, v float64
		for i := 0; i < n; i++ {
			m += float64(x[r*n+i])
		}
		m /= float64(n)
		for i := 0; i < n; i++ {
			d := float64(x[r*n+i]) - m
			v += d * d
		}
		rs := 1 / math.Sqrt(v/float64(n)+1e-5)
		var a, c float64
		for i := 0; i < n; i++ {
			xh := (float64(x[r*n+i]) - m) * rs
			wy[r*n+i] = xh*float64(w[i]) + float64(b[i])
			gw := float64(g[r*n+i]) * float64(w[i])
			a += gw
			c += gw * xh
			wdw[i] += float64(g[r*n+i]) * xh
			wdb[i] += float64(g[r*n+i])
		}
		for i := 0; i < n; i++ {
			xh := (float64(x[r*n+i]) - m) * rs
			wdx[r*n+i] = rs * (float64(g[r*n+i])*float64(w[i]) - a/float64(n) - xh*c/float64(n))
		}
	}
	near(t, "y", y, wy, 1e-5)
	near(t, "dx", dx, wdx, 1e-4)
	near(t, "dw", dw, wdw, 1e-4)
	near(t, "db", db, wdb, 1e-4)
}

func TestChannelNormParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	outer, c, inner := 6, 5, 1100
	x, g := randSlice(r, outer*c*inner), randSlice(r, outer*c*inner)
	w := randSlice(r, c)
	mean, variance := make([]float32, c), make([]float32, c)
	ChannelStats(mean, variance, x, outer, c, inner)
	rstd := make([]float32, c)
	for ch := range rstd {
		rstd[ch] = float32(1 / math.Sqrt(float64(variance[ch])+1e-5))
	}
	dx, dw, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
	ChannelNormGrad(dx, dw, db, g, x, mean, rstd, w, outer, c, inner, true)
	cnt := float64(outer * inner)
	for ch := 0; ch < c; ch++ {
		var m, v, sg, sgx float64
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				m += float64(x[(o*c+ch)*inner+i])
			}
		}
		m /= cnt
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				d := float64(x[(o*c+ch)*inner+i]) - m
				v += d * d
			}
		}
		v /= cnt
		near(t, "mean", mean[ch:ch+1], []float64{m}, 1e-6)
		near(t, "var", variance[ch:ch+1], []float64{v}, 1e-6)
		rs := float64(rstd[ch])
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				k := (o*c+ch)*inner + i
				sg += float64(g[k])
				sgx += float64(g[k]) * (float64(x[k]) - float64(mean[ch])) * rs
			}
		}
		near(t, "dw", dw[ch:ch+1], []float64{sgx}, 1e-4)
		near(t, "db", db[ch:ch+1], []float64{sg}, 1e-4)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i += 97 {
				k := (o*c+ch)*inner + i
				xh := (float64(x[k]) - float64(mean[ch])) * rs
				want := float64(w[ch]) * rs * (float64(g[k]) - sg/cnt - xh*sgx/cnt)
				near(t, "dx", dx[k:k+1], []float64{want}, 1e-4)
			}
		}
	}
}

func TestGatherScatterParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	outer, n, inner, k := 3, 7, 3000, 9
	src := randSlice(r, outer*n*inner)
	idx := make([]int, outer*k*inner)
	for i := range idx {
		idx[i] = r.IntN(n)
	}
	dst := make([]float32, outer*k*inner)
	GatherAxis(dst, src, outer, n, inner, k, idx)
	for t2 := 0; t2 < len(dst); t2 += 101 {
		o, i := t2/(k*inner), t2%inner
		if dst[t2] != src[(o*n+idx[t2])*inner+i] {
			t.Fatalf("gather[%d] = %v", t2, dst[t2])
		}
	}
	acc := make([]float32, outer*n*inner)
	ScatterAddAxis(acc, dst, outer, n, inner, k, idx)
	want := make([]float64, len(acc))
	for t2, v := range dst {
		o, i := t2/(k*inner), t2%inner
		want[(o*n+idx[t2])*inner+i] += float64(v)
	}
	near(t, "scatter", acc, want, 1e-5)
}
