package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refConvAll returns y, dx and dw of a stride-1 convolution in float64
// from their definitions: y[n, o, oh, ow] = b[o] + sum of w·tap, and the
// gradients of sum(y·gy).
func refConvAll(g ConvGeom, o int, x, w, b, gy []float32) (y, dx, dw []float64) {
	hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
	y = make([]float64, g.N*o*l)
	dx = make([]float64, g.N*g.C*hw)
	dw = make([]float64, o*g.C*kk)
	for n := 0; n < g.N; n++ {
		for oc := 0; oc < o; oc++ {
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					yi := (n*o+oc)*l + oh*g.OW + ow
					s := float64(b[oc])
					for c := 0; c < g.C; c++ {
						for kh := 0; kh < g.KH; kh++ {
							for kw := 0; kw < g.KW; kw++ {
								ih, iw := oh-g.PH+kh*g.DH, ow-g.PW+kw*g.DW
								if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
									continue
								}
								xi := (n*g.C+c)*hw + ih*g.W + iw
								wi := (oc*g.C+c)*kk + kh*g.KW + kw
								s += float64(w[wi]) * float64(x[xi])
								dx[xi] += float64(w[wi]) * float64(gy[yi])
								dw[wi] += float64(x[xi]) * float64(gy[yi])
							}
						}
					}
					y[yi] = s
				}
			}
		}
	}
	return y, dx, dw
}

// TestDirectConv checks the direct forward, input-gradient and
// weight-gradient kernels against the definitions, over channel counts
// that fill, split and underfill the 8- and 12-row tiles, output rows of
// one, several and partial 32-column segments (and partial 16-column
// chunks), dilation, and padding both narrower and wider than the kernel.
func TestDirectConv(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512: the direct kernels are not used on this CPU")
	}
	r := rand.New(rand.NewPCG(3, 4))
	geoms := []struct {
		g    ConvGeom
		o    int
		padB int // extra padding at the bottom and right
	}{
		{ConvGeom{N: 2, C: 3, H: 7, W: 6, KH: 3, KW: 3, PH: 1, PW: 1}, 5, 0},
		{ConvGeom{N: 2, C: 5, H: 6, W: 32, KH: 3, KW: 3, PH: 1, PW: 1}, 8, 0},
		{ConvGeom{N: 1, C: 13, H: 4, W: 33, KH: 3, KW: 3, PH: 1, PW: 1}, 12, 0},
		{ConvGeom{N: 3, C: 8, H: 5, W: 40, KH: 5, KW: 5, PH: 2, PW: 2}, 13, 1},
		{ConvGeom{N: 2, C: 4, H: 12, W: 28, KH: 7, KW: 7, PH: 9, PW: 9, DH: 3, DW: 3}, 20, 0},
		{ConvGeom{N: 1, C: 2, H: 5, W: 17, KH: 3, KW: 2, PH: 0, PW: 0, DH: 2, DW: 1}, 1, 0},
		{ConvGeom{N: 2, C: 7, H: 3, W: 19, KH: 1, KW: 1, PH: 1, PW: 2}, 24, 0},
		{ConvGeom{N: 1, C: 2, H: 5, W: 6, KH: 3, KW: 3, PH: 3, PW: 1}, 3, 2},
		{ConvGeom{N: 4, C: 64, H: 8, W: 32, KH: 3, KW: 3, PH: 1, PW: 1}, 64, 0},
		// Planes large enough that the weight gradient takes the images
		// one block at a time.
		{ConvGeom{N: 3, C: 64, H: 40, W: 64, KH: 3, KW: 3, PH: 1, PW: 1}, 8, 0},
	}
	for i, tc := range geoms {
		g := tc.g
		g.SH, g.SW = 1, 1
		g.DH, g.DW = max(g.DH, 1), max(g.DW, 1)
		g = withOut(g, g.PH+tc.padB, g.PW+tc.padB)
		o := tc.o
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			kk := g.KH * g.KW
			x := randSlice(r, g.N*g.C*g.H*g.W)
			w := randSlice(r, o*g.C*kk)
			b := randSlice(r, o)
			gy := randSlice(r, g.N*o*g.OH*g.OW)
			wantY, wantDx, wantDw := refConvAll(g, o, x, w, b, gy)
			check := func(name string, got []float32, want []float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
				}
				for k := range want {
					if math.Abs(float64(got[k])-want[k]) > 1e-4*math.Max(1, math.Abs(want[k])) {
						t.Fatalf("%s[%d] = %v, want %v", name, k, got[k], want[k])
					}
				}
			}
			// Outputs start as NaN: every element must be written.
			nan := func(n int) []float32 {
				s := make([]float32, n)
				for k := range s {
					s[k] = float32(math.NaN())
				}
				return s
			}
			y := nan(len(wantY))
			Conv2dDirectForward(g, o, y, x, w, b)
			check("y", y, wantY)
			yNoBias := nan(len(wantY))
			Conv2dDirectForward(g, o, yNoBias, x, w, nil)
			for k := range yNoBias {
				yNoBias[k] += b[(k/(g.OH*g.OW))%o]
			}
			check("y without bias", yNoBias, wantY)
			dx := nan(len(wantDx))
			Conv2dDirectInputGrad(g, o, dx, gy, w)
			check("dx", dx, wantDx)
			dw := nan(len(wantDw))
			Conv2dDirectWeightGrad(g, o, dw, gy, x)
			check("dw", dw, wantDw)
			// The same with the batch padded a few images at a time.
			defer func(b int) { directPadBudget = b }(directPadBudget)
			directPadBudget = 1
			dw = nan(len(wantDw))
			Conv2dDirectWeightGrad(g, o, dw, gy, x)
			check("dw in image groups", dw, wantDw)
		})
	}
}

// BenchmarkDirectConv times the three direct kernels on the bench/
// table's convolution ([16, 64, 32, 32], 3×3, 64 → 64, padding 1) and
// reports GFLOP/s (2·N·O·OH·OW·C·KH·KW each).
func BenchmarkDirectConv(b *testing.B) {
	if !haveAVX512 {
		b.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(1, 2))
	g := ConvGeom{N: 16, C: 64, H: 32, W: 32, KH: 3, KW: 3, OH: 32, OW: 32, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	o := 64
	x, w, bias := randSlice(r, g.N*g.C*g.H*g.W), randSlice(r, o*g.C*9), randSlice(r, o)
	gy := randSlice(r, g.N*o*g.OH*g.OW)
	y, dx, dw := make([]float32, len(gy)), make([]float32, len(x)), make([]float32, len(w))
	flops := 2 * float64(g.N*o*g.OH*g.OW*g.C*9)
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				f()
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	run("forward", func() { Conv2dDirectForward(g, o, y, x, w, bias) })
	run("inputgrad", func() { Conv2dDirectInputGrad(g, o, dx, gy, w) })
	run("weightgrad", func() { Conv2dDirectWeightGrad(g, o, dw, gy, x) })
}

// TestDwPlane5x5 checks the AVX-512 5×5 depthwise plane kernel against
// the definition for every row count across its 6- and 2-row tiles and
// column counts across its 16-column chunks, and that it writes nothing
// outside the rows × n output (out has a wider stride and sentinels).
func TestDwPlane5x5(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(5, 6))
	w := randSlice(r, 25)
	for rows := 1; rows <= 14; rows++ {
		for _, n := range []int{1, 5, 15, 16, 17, 32, 37} {
			srcStride, outStride := n+4+r.IntN(3), n+3
			src := randSlice(r, (rows+5)*srcStride+n+32)
			out := make([]float32, rows*outStride+8)
			for i := range out {
				out[i] = -99
			}
			if !dwPlane512(out, outStride, rows, n, src, srcStride, w, 5, 5, 1, 1, 0.5) {
				t.Fatalf("rows %d n %d: kernel did not run", rows, n)
			}
			for y := 0; y < rows; y++ {
				for i := 0; i < outStride; i++ {
					got := out[y*outStride+i]
					if i >= n {
						if got != -99 {
							t.Fatalf("rows %d n %d: wrote out[%d, %d]", rows, n, y, i)
						}
						continue
					}
					want := 0.5
					for a := 0; a < 5; a++ {
						for b := 0; b < 5; b++ {
							want += float64(w[5*a+b]) * float64(src[(y+a)*srcStride+i+b])
						}
					}
					if math.Abs(float64(got)-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Fatalf("rows %d n %d: out[%d, %d] = %v, want %v", rows, n, y, i, got, want)
					}
				}
			}
			for _, v := range out[rows*outStride:] {
				if v != -99 {
					t.Fatalf("rows %d n %d: wrote past the last row", rows, n)
				}
			}
		}
	}
}

// The direct kernels address taps through int32 byte offsets: geometries
// whose padded planes would overflow them take the im2col path instead.
func TestDirectConvOffsetLimit(t *testing.T) {
	if !DirectConv {
		t.Skip("the direct kernels are off on this CPU")
	}
	small := ConvGeom{N: 2, C: 64, H: 32, W: 32, KH: 3, KW: 3, OH: 32, OW: 32, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	if !ConvDirectForward(small, 1) || !ConvDirectInputGrad(small, 1, 64) || !ConvDirectWeightGrad(small, 1) {
		t.Fatal("a 64-channel 32×32 convolution should run on the direct kernels")
	}
	// 512 channels of 1026×1026 padded floats are 2.16 GB: past int32.
	huge := ConvGeom{N: 1, C: 512, H: 1024, W: 1024, KH: 3, KW: 3, OH: 1024, OW: 1024, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1}
	if ConvDirectForward(huge, 1) || ConvDirectInputGrad(huge, 1, 512) || ConvDirectWeightGrad(huge, 1) {
		t.Fatal("a convolution whose padded input passes 2 GiB must not use the direct kernels")
	}
	if !ConvDirectInputGrad(huge, 1, 64) {
		t.Fatal("the input gradient's limit depends on the output channels it reads: 64 of them fit")
	}
}
