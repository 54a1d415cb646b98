package cpu

import (
	"math"
	"math/bits"
	"sync"
)

// fftPlan holds the bit-reversal permutation and twiddle factors of a
// radix-2 FFT of one size.
type fftPlan struct {
	n   int
	rev []int32
	// tw holds each stage's twiddles contiguously: for the stage of
	// butterfly span s (s = 4, 8, ..., n) the s/2 factors e^(−2πik/s)
	// start at tw[s/2 − 2].
	tw []complex128
}

var fftPlans sync.Map // int → *fftPlan

func planFFT(n int) *fftPlan {
	if p, ok := fftPlans.Load(n); ok {
		return p.(*fftPlan)
	}
	p := &fftPlan{n: n, rev: make([]int32, n), tw: make([]complex128, max(n-2, 0))}
	shift := bits.UintSize - bits.Len(uint(n-1))
	for i := range p.rev {
		if n > 1 {
			p.rev[i] = int32(bits.Reverse(uint(i)) >> shift)
		}
	}
	for size := 4; size <= n; size <<= 1 {
		t := p.tw[size/2-2 : size-2]
		for k := range t {
			sn, cs := math.Sincos(-2 * math.Pi * float64(k) / float64(size))
			t[k] = complex(cs, sn)
		}
	}
	v, _ := fftPlans.LoadOrStore(n, p)
	return v.(*fftPlan)
}

// FFT transforms a in place (len(a) must be a power of two): the forward
// DFT A[f] = Σ a[t]·e^(−2πift/n), or with inverse the inverse DFT including
// its 1/n (computed as the conjugate of the forward transform of the
// conjugate).
func FFT(a []complex128, inverse bool) {
	n := len(a)
	if n <= 1 {
		return
	}
	if n&(n-1) != 0 {
		panic("cpu.FFT: length is not a power of two")
	}
	if inverse {
		for i, v := range a {
			a[i] = complex(real(v), -imag(v))
		}
	}
	p := planFFT(n)
	for i, r := range p.rev {
		if j := int(r); i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	// Span 2: the twiddle is 1.
	for i := 0; i+1 < n; i += 2 {
		x, y := a[i], a[i+1]
		a[i], a[i+1] = x+y, x-y
	}
	for size := 4; size <= n; size <<= 1 {
		half := size >> 1
		tw := p.tw[half-2 : size-2]
		for start := 0; start < n; start += size {
			x, y := a[start:start+half:start+half], a[start+half:start+size:start+size]
			for k, w := range tw {
				t := w * y[k]
				x[k], y[k] = x[k]+t, x[k]-t
			}
		}
	}
	if inverse {
		s := 1 / float64(n)
		for i, v := range a {
			a[i] = complex(real(v)*s, -imag(v)*s)
		}
	}
}

// CausalConvDirectMax is the longest sequence CausalConv convolves directly;
// longer ones go through the FFT.
var CausalConvDirectMax = 128

// CausalConv sets y[r, t] = Σ_{s≤t} k[r', s]·u[r, t−s] for the rows·L
// sequences of u and y (rows = b·h), where k's row r' is r when kBatched
// and r mod h otherwise. Rows run in parallel; short sequences are summed
// directly and long ones through an FFT of size ≥ 2L.
func CausalConv(y, u, k []float32, b, h, l int, kBatched bool) {
	if l <= CausalConvDirectMax {
		CausalConvDirect(y, u, k, b, h, l, kBatched)
		return
	}
	CausalConvFFT(y, u, k, b, h, l, kBatched)
}

func kRow(r, h int, kBatched bool) int {
	if kBatched {
		return r
	}
	return r % h
}

// CausalConvDirect is CausalConv by the O(L²) sum, accumulated in float64.
func CausalConvDirect(y, u, k []float32, b, h, l int, kBatched bool) {
	rows := b * h
	ParallelFor(rows, max(1, convGrain/max(l*l/2, 1)), func(lo, hi int) {
		acc := make([]float64, l)
		for r := lo; r < hi; r++ {
			ur, yr := u[r*l:(r+1)*l], y[r*l:(r+1)*l]
			kr := k[kRow(r, h, kBatched)*l:][:l]
			clear(acc)
			for s, kv := range kr {
				if kv == 0 {
					continue
				}
				kd := float64(kv)
				a := acc[s:]
				for t, uv := range ur[:l-s] {
					a[t] += kd * float64(uv)
				}
			}
			for t, v := range acc {
				yr[t] = float32(v)
			}
		}
	})
}

// CausalConvFFT is CausalConv through complex128 FFTs of size
// n = nextpow2(2L): u and k of a row share one forward transform (as the
// real and imaginary parts), and two rows share one inverse transform.
func CausalConvFFT(y, u, k []float32, b, h, l int, kBatched bool) {
	rows := b * h
	n := 1
	for n < 2*l {
		n <<= 1
	}
	pairs := (rows + 1) / 2
	if !kBatched && b > 1 {
		causalConvFFTShared(y, u, k, rows, h, l, n)
		return
	}
	ParallelFor(pairs, 1, func(lo, hi int) {
		z := make([]complex128, n)
		prodSpec := make([]complex128, n)
		for p := lo; p < hi; p++ {
			r0 := 2 * p
			clear(prodSpec)
			for q := 0; q < 2 && r0+q < rows; q++ {
				r := r0 + q
				ur := u[r*l : (r+1)*l]
				kr := k[kRow(r, h, kBatched)*l:][:l]
				for t := 0; t < l; t++ {
					z[t] = complex(float64(ur[t]), float64(kr[t]))
				}
				clear(z[l:])
				FFT(z, false)
				// Split the packed spectrum: U = (Z[f] + conj Z[−f])/2,
				// K = (Z[f] − conj Z[−f])/2i, and accumulate U·K (times i
				// for the second row, so both share the inverse transform).
				for f := 0; f < n; f++ {
					zf, zm := z[f], z[(n-f)&(n-1)]
					zc := complex(real(zm), -imag(zm))
					uf := (zf + zc) * 0.5
					kf := (zf - zc) * complex(0, -0.5)
					v := uf * kf
					if q == 1 {
						v *= complex(0, 1)
					}
					prodSpec[f] += v
				}
			}
			FFT(prodSpec, true)
			for q := 0; q < 2 && r0+q < rows; q++ {
				yr := y[(r0+q)*l : (r0+q+1)*l]
				for t := range yr {
					if q == 0 {
						yr[t] = float32(real(prodSpec[t]))
					} else {
						yr[t] = float32(imag(prodSpec[t]))
					}
				}
			}
		}
	})
}

// splitSpectra separates the spectrum z of a + i·b (a, b real) into those of
// a and b at frequency f.
func splitSpectra(z []complex128, f, n int) (complex128, complex128) {
	zf, zm := z[f], z[(n-f)&(n-1)]
	zc := complex(real(zm), -imag(zm))
	return (zf + zc) * 0.5, (zf - zc) * complex(0, -0.5)
}

// causalConvFFTShared is CausalConvFFT for a kernel shared across the
// batch: the h kernel spectra are computed once (two per transform), then
// each pair of rows takes one forward transform (u₀ + i·u₁) and one inverse
// (Y₀ + i·Y₁).
func causalConvFFTShared(y, u, k []float32, rows, h, l, n int) {
	spec := make([]complex128, h*n)
	ParallelFor((h+1)/2, 1, func(lo, hi int) {
		z := make([]complex128, n)
		for p := lo; p < hi; p++ {
			h0 := 2 * p
			clear(z)
			for t := 0; t < l; t++ {
				var im float64
				if h0+1 < h {
					im = float64(k[(h0+1)*l+t])
				}
				z[t] = complex(float64(k[h0*l+t]), im)
			}
			FFT(z, false)
			for f := 0; f < n; f++ {
				a, b := splitSpectra(z, f, n)
				spec[h0*n+f] = a
				if h0+1 < h {
					spec[(h0+1)*n+f] = b
				}
			}
		}
	})
	ParallelFor((rows+1)/2, 1, func(lo, hi int) {
		z := make([]complex128, n)
		prodSpec := make([]complex128, n)
		for p := lo; p < hi; p++ {
			r0, r1 := 2*p, 2*p+1
			clear(z)
			for t := 0; t < l; t++ {
				var im float64
				if r1 < rows {
					im = float64(u[r1*l+t])
				}
				z[t] = complex(float64(u[r0*l+t]), im)
			}
			FFT(z, false)
			k0 := spec[(r0%h)*n : (r0%h+1)*n]
			k1 := spec[(r1%h)*n : (r1%h+1)*n]
			for f := 0; f < n; f++ {
				a, b := splitSpectra(z, f, n)
				prodSpec[f] = a*k0[f] + complex(0, 1)*(b*k1[f])
			}
			FFT(prodSpec, true)
			for t := 0; t < l; t++ {
				y[r0*l+t] = float32(real(prodSpec[t]))
				if r1 < rows {
					y[r1*l+t] = float32(imag(prodSpec[t]))
				}
			}
		}
	})
}
