package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refConvTap returns the input value tap (kh, kw) of output (oh, ow) reads
// from plane p (0 in the padding).
func refConvTap(g ConvGeom, p []float32, oh, ow, kh, kw int) float32 {
	ih := oh*g.SH - g.PH + kh*g.DH
	iw := ow*g.SW - g.PW + kw*g.DW
	if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
		return 0
	}
	return p[ih*g.W+iw]
}

var convGeoms = []ConvGeom{
	{N: 2, C: 3, H: 7, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1},
	{N: 3, C: 2, H: 9, W: 8, KH: 3, KW: 2, SH: 2, SW: 3, PH: 2, PW: 0, DH: 2, DW: 1},
	{N: 1, C: 4, H: 5, W: 11, KH: 1, KW: 5, SH: 1, SW: 2, PH: 0, PW: 3, DH: 1, DW: 2},
	{N: 2, C: 2, H: 13, W: 13, KH: 7, KW: 7, SH: 1, SW: 1, PH: 9, PW: 9, DH: 3, DW: 3},
	{N: 2, C: 3, H: 4, W: 4, KH: 5, KW: 5, SH: 1, SW: 1, PH: 2, PW: 2, DH: 1, DW: 1},
	// Padding wider than the kernel's reach.
	{N: 1, C: 2, H: 5, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, PH: 3, PW: 1, DH: 1, DW: 1},
}

func withOut(g ConvGeom, padBottom, padRight int) ConvGeom {
	g.OH = (g.H+g.PH+padBottom-g.DH*(g.KH-1)-1)/g.SH + 1
	g.OW = (g.W+g.PW+padRight-g.DW*(g.KW-1)-1)/g.SW + 1
	return g
}

func TestIm2colCol2im(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i, g0 := range convGeoms {
		g := withOut(g0, g0.PH+1, g0.PW)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			hw, l, rows := g.H*g.W, g.OH*g.OW, g.C*g.KH*g.KW
			x := randSlice(r, g.N*g.C*hw)
			// Conv layout over images 1..N-1: [rows, count·L].
			first, count := min(1, g.N-1), g.N-min(1, g.N-1)
			col := randSlice(r, rows*count*l)
			Im2col(g, col, x, first, count, count*l, l)
			for row := 0; row < rows; row++ {
				c, kh, kw := row/(g.KH*g.KW), (row/g.KW)%g.KH, row%g.KW
				for j := 0; j < count; j++ {
					p := x[((first+j)*g.C+c)*hw:][:hw]
					for oh := 0; oh < g.OH; oh++ {
						for ow := 0; ow < g.OW; ow++ {
							want := refConvTap(g, p, oh, ow, kh, kw)
							if got := col[row*count*l+j*l+oh*g.OW+ow]; got != want {
								t.Fatalf("col[%d, %d, %d] = %v, want %v", row, j, oh*g.OW+ow, got, want)
							}
						}
					}
				}
			}
			// Adjoint: <Col2im(c), x> == <c, Im2col(x)>.
			c := randSlice(r, len(col))
			dx := make([]float32, len(x))
			Col2im(g, dx, c, first, count, count*l, l)
			var lhs, rhs float64
			for k := range dx {
				lhs += float64(dx[k]) * float64(x[k])
			}
			for k := range c {
				rhs += float64(c[k]) * float64(col[k])
			}
			if math.Abs(lhs-rhs) > 1e-3*math.Max(1, math.Abs(rhs)) {
				t.Fatalf("col2im is not im2col's adjoint: %v vs %v", lhs, rhs)
			}
		})
	}
}

func TestDepthwiseConv2d(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var geoms []ConvGeom
	for _, g0 := range convGeoms {
		// Extra padding on the right, and less (or none) at the bottom
		// and right than at the top and left.
		geoms = append(geoms, withOut(g0, g0.PH, g0.PW+1), withOut(g0, 0, max(g0.PW-1, 0)))
	}
	asm := hasVecAVX2
	defer func() { hasVecAVX2 = asm }()
	for i, g := range geoms {
		hasVecAVX2 = asm && i%2 == 0 // the portable loops too
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
			x, w, b := randSlice(r, g.N*g.C*hw), randSlice(r, g.C*kk), randSlice(r, g.C)
			y := make([]float32, g.N*g.C*l)
			DepthwiseConv2d(g, y, x, w, b)
			gy := randSlice(r, len(y))
			dx, dw := make([]float32, len(x)), make([]float32, len(w))
			DepthwiseConv2dGrad(g, dx, dw, gy, x, w)
			wantDx, wantDw := make([]float64, len(x)), make([]float64, len(w))
			for n := 0; n < g.N; n++ {
				for c := 0; c < g.C; c++ {
					p := x[(n*g.C+c)*hw:][:hw]
					for oh := 0; oh < g.OH; oh++ {
						for ow := 0; ow < g.OW; ow++ {
							o := (n*g.C+c)*l + oh*g.OW + ow
							s := float64(b[c])
							for kh := 0; kh < g.KH; kh++ {
								for kw := 0; kw < g.KW; kw++ {
									v := refConvTap(g, p, oh, ow, kh, kw)
									s += float64(w[c*kk+kh*g.KW+kw]) * float64(v)
									wantDw[c*kk+kh*g.KW+kw] += float64(gy[o]) * float64(v)
									ih, iw := oh*g.SH-g.PH+kh*g.DH, ow*g.SW-g.PW+kw*g.DW
									if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
										wantDx[(n*g.C+c)*hw+ih*g.W+iw] += float64(gy[o]) * float64(w[c*kk+kh*g.KW+kw])
									}
								}
							}
							if math.Abs(float64(y[o])-s) > 1e-4*math.Max(1, math.Abs(s)) {
								t.Fatalf("y[%d] = %v, want %v", o, y[o], s)
							}
						}
					}
				}
			}
			for k, v := range wantDx {
				if math.Abs(float64(dx[k])-v) > 1e-4*math.Max(1, math.Abs(v)) {
					t.Fatalf("dx[%d] = %v, want %v", k, dx[k], v)
				}
			}
			for k, v := range wantDw {
				if math.Abs(float64(dw[k])-v) > 1e-4*math.Max(1, math.Abs(v)) {
					t.Fatalf("dw[%d] = %v, want %v", k, dw[k], v)
				}
			}
		})
	}
}

func TestFFTRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 4, 8, 64, 1024} {
		a := make([]complex128, n)
		for i := range a {
			a[i] = complex(r.NormFloat64(), r.NormFloat64())
		}
		orig := append([]complex128(nil), a...)
		FFT(a, false)
		// Check against the O(n²) DFT.
		for f := 0; f < min(n, 16); f++ {
			var s complex128
			for k, v := range orig {
				sn, cs := math.Sincos(-2 * math.Pi * float64(f*k%n) / float64(n))
				s += v * complex(cs, sn)
			}
			if d := s - a[f]; math.Hypot(real(d), imag(d)) > 1e-9*float64(n) {
				t.Fatalf("n=%d: F[%d] = %v, want %v", n, f, a[f], s)
			}
		}
		FFT(a, true)
		for i := range a {
			if d := a[i] - orig[i]; math.Hypot(real(d), imag(d)) > 1e-12*float64(n) {
				t.Fatalf("n=%d: round trip a[%d] = %v, want %v", n, i, a[i], orig[i])
			}
		}
	}
}

func TestCausalConvFFTMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		b, h, l  int
		kBatched bool
	}{{1, 1, 1, false}, {1, 3, 5, true}, {2, 3, 17, false}, {3, 1, 64, true}, {2, 2, 300, false}, {1, 3, 1000, true}, {2, 1, 129, false}, {3, 2, 200, true}} {
		t.Run(fmt.Sprintf("%dx%dx%d_%v", c.b, c.h, c.l, c.kBatched), func(t *testing.T) {
			u := randSlice(r, c.b*c.h*c.l)
			kr := c.h
			if c.kBatched {
				kr = c.b * c.h
			}
			k := randSlice(r, kr*c.l)
			y1, y2 := make([]float32, len(u)), make([]float32, len(u))
			CausalConvDirect(y1, u, k, c.b, c.h, c.l, c.kBatched)
			CausalConvFFT(y2, u, k, c.b, c.h, c.l, c.kBatched)
			for i := range y1 {
				if math.Abs(float64(y1[i]-y2[i])) > 1e-5*math.Max(1, math.Abs(float64(y1[i]))) {
					t.Fatalf("y[%d]: direct %v, fft %v", i, y1[i], y2[i])
				}
			}
			// Spot-check the direct sum itself.
			row := len(u)/c.l - 1
			kk := k[kRow(row, c.h, c.kBatched)*c.l:]
			var s float64
			tt := c.l - 1
			for j := 0; j <= tt; j++ {
				s += float64(kk[j]) * float64(u[row*c.l+tt-j])
			}
			if math.Abs(float64(y1[row*c.l+tt])-s) > 1e-5*math.Max(1, math.Abs(s)) {
				t.Fatalf("direct y = %v, want %v", y1[row*c.l+tt], s)
			}
		})
	}
}

func TestSegmentSum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, sorted := range []bool{true, false} {
		ids := make([]int, 57)
		for i := range ids {
			ids[i] = r.IntN(9)
		}
		if sorted {
			for i := 1; i < len(ids); i++ {
				for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
					ids[j], ids[j-1] = ids[j-1], ids[j]
				}
			}
		}
		inner := 5
		src := randSlice(r, len(ids)*inner)
		dst := randSlice(r, 10*inner) // segment 9 is empty and must be zeroed
		SegmentSum(dst, src, ids, 10, inner)
		want := make([]float64, 10*inner)
		for i, s := range ids {
			for k := 0; k < inner; k++ {
				want[s*inner+k] += float64(src[i*inner+k])
			}
		}
		for i, v := range want {
			if math.Abs(float64(dst[i])-v) > 1e-5 {
				t.Fatalf("sorted=%v: dst[%d] = %v, want %v", sorted, i, dst[i], v)
			}
		}
	}
}

// TestIm2colGemm checks the implicit-im2col product against Im2col
// followed by a plain GEMM, for one and two groups and several images per
// product.
func TestIm2colGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i, g0 := range convGeoms {
		for _, groups := range []int{1, 2} {
			g := withOut(g0, g0.PH, g0.PW+1)
			g.C *= groups
			g.N = 3
			t.Run(fmt.Sprint(i, "/", groups), func(t *testing.T) {
				hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
				cg := g.C / groups
				kg, og := cg*kk, 5
				first, count := 1, 2
				x := randSlice(r, g.N*g.C*hw)
				w := randSlice(r, groups*og*kg)
				width := count * l
				col := make([]float32, g.C*kk*width)
				Im2col(g, col, x, first, count, width, l)
				gm := Gemm{M: og, N: width, K: kg, Alpha: 1, Batch: groups,
					LDA: kg, StrideA: og * kg, LDB: width, StrideB: kg * width, LDC: width, StrideC: og * width}
				want := make([]float32, groups*og*width)
				gm.Run(w, col, want)
				got := make([]float32, len(want))
				Im2colGemm(g, gm, cg, w, x, got, first, count)
				for k := range want {
					if math.Abs(float64(got[k]-want[k])) > 1e-4*math.Max(1, math.Abs(float64(want[k]))) {
						t.Fatalf("Im2colGemm [%d] = %v, want %v", k, got[k], want[k])
					}
				}
			})
		}
	}
}

// TestConv2dKernels checks the image-parallel convolution against im2col
// and GEMM, for one and two groups and one or several images.
func TestConv2dKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i, g0 := range convGeoms {
		for _, groups := range []int{1, 2} {
			for _, n := range []int{1, 3} {
				g := withOut(g0, g0.PH, g0.PW+1)
				g.C *= groups
				g.N = n
				t.Run(fmt.Sprint(i, "/", groups, "/", n), func(t *testing.T) {
					hw, l, kk := g.H*g.W, g.OH*g.OW, g.KH*g.KW
					cg, og := g.C/groups, 3
					o, kg := groups*og, cg*kk
					x := randSlice(r, g.N*g.C*hw)
					w := randSlice(r, o*kg)
					b := randSlice(r, o)
					// Reference: per image, col = im2col(x_n); y_n = W·col + b.
					wantY := make([]float32, g.N*o*l)
					col := make([]float32, g.C*kk*l)
					for im := 0; im < g.N; im++ {
						Im2col(g, col, x, im, 1, l, l)
						yn := wantY[im*o*l : (im+1)*o*l]
						for oc := 0; oc < o; oc++ {
							for j := 0; j < l; j++ {
								yn[oc*l+j] = b[oc]
							}
						}
						Gemm{M: og, N: l, K: kg, Alpha: 1, Beta: 1, Batch: groups,
							LDA: kg, StrideA: og * kg, LDB: l, StrideB: kg * l, LDC: l, StrideC: og * l}.Run(w, col, yn)
					}
					check := func(name string, got, want []float32) {
						t.Helper()
						for k := range want {
							if math.Abs(float64(got[k]-want[k])) > 1e-4*math.Max(1, math.Abs(float64(want[k]))) {
								t.Fatalf("%s[%d] = %v, want %v", name, k, got[k], want[k])
							}
						}
					}
					y := make([]float32, len(wantY))
					Conv2dForward(g, groups, o, y, x, w, b)
					check("y", y, wantY)
				})
			}
		}
	}
}
