package ssvep

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
)

// Biquad is one second-order section of an IIR filter,
//
//	H(z) = (B0 + B1·z⁻¹ + B2·z⁻²) / (1 + A1·z⁻¹ + A2·z⁻²),
//
// as a row [b0 b1 b2 1 a1 a2] of MATLAB's and SciPy's sos matrices.
type Biquad struct {
	B0, B1, B2 float64
	A1, A2     float64
}

// Response returns the section's complex frequency response at f Hz for
// sampling rate fs.
func (q Biquad) Response(f, fs float64) complex128 {
	z1 := cmplx.Exp(complex(0, -2*math.Pi*f/fs)) // z⁻¹
	z2 := z1 * z1
	num := complex(q.B0, 0) + complex(q.B1, 0)*z1 + complex(q.B2, 0)*z2
	den := 1 + complex(q.A1, 0)*z1 + complex(q.A2, 0)*z2
	return num / den
}

// Filter is an IIR filter as a cascade of second-order sections (the
// numerically safe form of a high-order filter).
type Filter struct {
	Sections []Biquad
}

// Order returns the filter's order: two per section.
func (f *Filter) Order() int { return 2 * len(f.Sections) }

// Response returns the filter's complex frequency response at freq Hz for
// sampling rate fs.
func (f *Filter) Response(freq, fs float64) complex128 {
	h := complex(1, 0)
	for _, q := range f.Sections {
		h *= q.Response(freq, fs)
	}
	return h
}

// ZeroPhaseGainDB returns the gain in dB at freq Hz of the filter applied
// forward and backward (FiltFilt): twice the single-pass gain in dB,
// 20·log10|H|².
func (f *Filter) ZeroPhaseGainDB(freq, fs float64) float64 {
	return 40 * math.Log10(cmplx.Abs(f.Response(freq, fs)))
}

// ChebyshevBandpass designs a Chebyshev type I band-pass filter as MATLAB's
// designfilt('bandpassiir', 'DesignMethod', 'cheby1') and SciPy's
// cheby1(order, ripple, [lo, hi], 'bandpass', fs=fs) do: an analog
// low-pass prototype of the given order with rippleDB of pass-band ripple
// (the response is −rippleDB at the edges lo and hi Hz), the low-pass to
// band-pass transform at the prewarped edges 2·fs·tan(π·f/fs), and the
// bilinear transform. The band-pass filter has twice the prototype's
// order, so it is returned as order sections; MATLAB's 'FilterOrder', 2 is
// order 1 here (one section).
//
// For order 1 the design is, with g = 1/ε, ε = √(10^(rippleDB/10) − 1),
// and BW and w1·w2 from the prewarped edges,
//
//	H(s) = g·BW·s / (s² + g·BW·s + w1·w2).
//
// It panics unless 0 < lo < hi < fs/2, order ≥ 1 and rippleDB > 0.
func ChebyshevBandpass(order int, rippleDB, lo, hi, fs float64) *Filter {
	if order < 1 || rippleDB <= 0 || !(lo > 0 && lo < hi && hi < fs/2) {
		panic(fmt.Sprintf("ssvep: ChebyshevBandpass: order %d, ripple %v dB, band [%v, %v] Hz at fs %v: need order ≥ 1, ripple > 0 and 0 < lo < hi < fs/2",
			order, rippleDB, lo, hi, fs))
	}
	// Analog prototype (SciPy's cheb1ap).
	eps := math.Sqrt(math.Pow(10, rippleDB/10) - 1)
	mu := math.Asinh(1/eps) / float64(order)
	proto := make([]complex128, order)
	gain := complex(1, 0)
	for k := 1; k <= order; k++ {
		theta := math.Pi * float64(2*k-1) / float64(2*order)
		p := complex(-math.Sinh(mu)*math.Sin(theta), math.Cosh(mu)*math.Cos(theta))
		proto[k-1] = p
		gain *= -p
	}
	k := real(gain)
	if order%2 == 0 {
		k /= math.Sqrt(1 + eps*eps)
	}
	// Low-pass to band-pass at the prewarped edges.
	K := 2 * fs
	w1 := K * math.Tan(math.Pi*lo/fs)
	w2 := K * math.Tan(math.Pi*hi/fs)
	bw, w0sq := w2-w1, w1*w2
	analog := make([]complex128, 0, 2*order)
	for _, p := range proto {
		a := p * complex(bw/2, 0)
		d := cmplx.Sqrt(a*a - complex(w0sq, 0))
		analog = append(analog, a+d, a-d)
	}
	k *= math.Pow(bw, float64(order))
	// Bilinear transform: order zeros at s=0 go to z=1, order zeros at
	// infinity to z=−1.
	den := complex(1, 0)
	poles := make([]complex128, len(analog))
	for i, s := range analog {
		poles[i] = (complex(K, 0) + s) / (complex(K, 0) - s)
		den *= complex(K, 0) - s
	}
	kd := k * math.Pow(K, float64(order)) / real(den)
	return &Filter{Sections: pairSections(poles, kd)}
}

// pairSections groups the 2n poles of a band-pass design with n zeros at
// z=1 and n at z=−1 into n sections: conjugate pairs together, real poles
// two by two; each section gets the zeros (1 − z⁻²) and the n-th root of
// the gain.
func pairSections(poles []complex128, gain float64) []Biquad {
	const tol = 1e-10
	var cplx []complex128
	var reals []float64
	for _, p := range poles {
		switch {
		case imag(p) > tol:
			cplx = append(cplx, p)
		case math.Abs(imag(p)) <= tol:
			reals = append(reals, real(p))
		}
	}
	sort.Float64s(reals)
	n := len(poles) / 2
	g := math.Pow(math.Abs(gain), 1/float64(n))
	sign := 1.0
	if gain < 0 {
		sign = -1
	}
	var out []Biquad
	for _, p := range cplx {
		out = append(out, Biquad{A1: -2 * real(p), A2: real(p)*real(p) + imag(p)*imag(p)})
	}
	for i := 0; i+1 < len(reals); i += 2 {
		out = append(out, Biquad{A1: -(reals[i] + reals[i+1]), A2: reals[i] * reals[i+1]})
	}
	if len(out) != n {
		panic(fmt.Sprintf("ssvep: ChebyshevBandpass: %d poles did not pair into %d sections", len(poles), n))
	}
	for i := range out {
		out[i].B0, out[i].B2 = g, -g
	}
	out[0].B0, out[0].B2 = sign*out[0].B0, sign*out[0].B2
	return out
}

// Apply filters x causally (direct form II transposed per section, as
// MATLAB's filter and SciPy's sosfilt) from zero initial state, writing
// the result to y (which may be x). len(y) must be len(x).
func (f *Filter) Apply(y, x []float64) {
	if len(y) != len(x) {
		panic(fmt.Sprintf("ssvep: Filter.Apply: output of length %d for input of length %d", len(y), len(x)))
	}
	copy(y, x)
	for _, q := range f.Sections {
		q.run(y, 0, 0)
	}
}

// run filters v in place through the section from state (z1, z2).
func (q Biquad) run(v []float64, z1, z2 float64) {
	for i, x := range v {
		y := q.B0*x + z1
		z1 = q.B1*x - q.A1*y + z2
		z2 = q.B2*x - q.A2*y
		v[i] = y
	}
}

// steadyState returns the section's state after a long constant input of
// 1 (MATLAB's filtfilt initial conditions, SciPy's lfilter_zi) and its DC
// gain.
func (q Biquad) steadyState() (z1, z2, dc float64) {
	// (I − A)·zi = b[1:] − b0·a[1:] with A = [[−a1, 1], [−a2, 0]].
	r1 := q.B1 - q.B0*q.A1
	r2 := q.B2 - q.B0*q.A2
	// [[1+a1, −1], [a2, 1]]·zi = r.
	det := (1 + q.A1) + q.A2
	z1 = (r1 + r2) / det
	z2 = r2 - q.A2*z1
	dc = (q.B0 + q.B1 + q.B2) / (1 + q.A1 + q.A2)
	return z1, z2, dc
}

// PadLength returns the number of samples FiltFilt reflects at each end:
// three times the filter order (6 for one section, MATLAB's filtfilt).
func (f *Filter) PadLength() int { return 3 * f.Order() }

// FiltFilt filters x forward and backward for zero phase, as MATLAB's
// filtfilt: the signal is extended at each end by PadLength samples of odd
// reflection (2·x[0] − x[k]), each section starts from its steady state
// for the extension's first value (scaled through the sections before it,
// as SciPy's sosfilt_zi), the result is filtered, reversed, filtered again
// and reversed, and the extension is dropped. For one section this is
// exactly MATLAB's filtfilt(b, a, x) and SciPy's filtfilt(b, a, x,
// padtype='odd', padlen=6). y receives the result and may be x; x needs
// more than PadLength samples.
func (f *Filter) FiltFilt(y, x []float64) {
	f.FiltFiltBuf(y, x, nil)
}

// FiltFiltBuf is FiltFilt with a scratch buffer, reused when it holds at
// least len(x)+2·PadLength values, to filter many signals without
// allocating; it returns the buffer it used.
func (f *Filter) FiltFiltBuf(y, x, buf []float64) []float64 {
	n, pad := len(x), f.PadLength()
	if len(y) != n {
		panic(fmt.Sprintf("ssvep: Filter.FiltFilt: output of length %d for input of length %d", len(y), n))
	}
	if n <= pad {
		panic(fmt.Sprintf("ssvep: Filter.FiltFilt: input of length %d must be longer than the padding %d (3 × filter order %d)", n, pad, f.Order()))
	}
	m := n + 2*pad
	if cap(buf) < m {
		buf = make([]float64, m)
	}
	v := buf[:m]
	for i := 0; i < pad; i++ {
		v[i] = 2*x[0] - x[pad-i]
		v[pad+n+i] = 2*x[n-1] - x[n-2-i]
	}
	copy(v[pad:], x)
	f.zeroPhasePass(v)
	reverse(v)
	f.zeroPhasePass(v)
	reverse(v)
	copy(y, v[pad:pad+n])
	return buf
}

// zeroPhasePass filters v in place, each section starting from its steady
// state for the constant input v[0].
func (f *Filter) zeroPhasePass(v []float64) {
	level := v[0]
	for _, q := range f.Sections {
		z1, z2, dc := q.steadyState()
		q.run(v, z1*level, z2*level)
		level *= dc
	}
}

func reverse(v []float64) {
	for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
		v[i], v[j] = v[j], v[i]
	}
}

// FilterBank is the DNN's pre-processing: NumSubBands Chebyshev type I
// band-pass filters, sub-band m (1-based) passing [8m, 90] Hz, each one
// section (MATLAB's FilterOrder 2) with 1 dB ripple, applied with zero
// phase (FiltFilt) to each channel of the window.
type FilterBank struct {
	// Filters are the sub-band filters, lowest band first.
	Filters []*Filter
	// SampleRate is the sampling rate in Hz the filters were designed for.
	SampleRate float64
}

// NewFilterBank returns the filter bank of Guney et al.: subBands
// Chebyshev type I band-pass filters of one section each (prototype order
// 1), 1 dB ripple, sub-band m passing [8m, 90] Hz, at sampling rate fs.
func NewFilterBank(subBands int, fs float64) *FilterBank {
	return NewFilterBankDesign(subBands, 1, 1, 90, fs)
}

// NewFilterBankDesign returns a filter bank of subBands Chebyshev type I
// band-pass filters of the given prototype order and ripple, sub-band m
// (1-based) passing [8m, hi] Hz, at sampling rate fs.
func NewFilterBankDesign(subBands, order int, rippleDB, hi, fs float64) *FilterBank {
	if subBands < 1 {
		panic(fmt.Sprintf("ssvep: NewFilterBank: %d sub-bands; need at least 1", subBands))
	}
	fb := &FilterBank{SampleRate: fs}
	for m := 1; m <= subBands; m++ {
		fb.Filters = append(fb.Filters, ChebyshevBandpass(order, rippleDB, 8*float64(m), hi, fs))
	}
	return fb
}

// SubBands returns the number of sub-bands.
func (fb *FilterBank) SubBands() int { return len(fb.Filters) }
