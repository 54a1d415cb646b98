package ssvep

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// FBCCAConfig configures FBCCA. DefaultFBCCAConfig gives Chen et al.'s
// standard settings.
type FBCCAConfig struct {
	// SubBands is the number of sub-bands, band m passing [8m, High] Hz: 5.
	SubBands int
	// Harmonics is the number of harmonics in the sine/cosine references: 5.
	Harmonics int
	// A and B are the sub-band weights w(m) = m^−A + B: 1.25 and 0.25.
	A, B float64
	// Order and Ripple are the Chebyshev type I prototype order and
	// pass-band ripple (dB) of each sub-band filter, and High its upper
	// edge in Hz.
	Order  int
	Ripple float64
	High   float64
}

// DefaultFBCCAConfig returns the FBCCA of Chen et al. (2015), as used as
// the baseline on the Benchmark: 5 sub-bands [8m, 88] Hz, 5 harmonics,
// w(m) = m^−1.25 + 0.25, each sub-band a Chebyshev type I band-pass of
// prototype order 2 (two sections) with 0.5 dB ripple, applied with zero
// phase to the window. (Sharper filters ring for longer than a 0.2–0.4 s
// window; on the synthetic benchmark order 2 scores a little above order 1
// and no lower than order 4.)
func DefaultFBCCAConfig() FBCCAConfig {
	return FBCCAConfig{SubBands: 5, Harmonics: 5, A: 1.25, B: 0.25, Order: 2, Ripple: 0.5, High: 88}
}

// FBCCA is filter-bank canonical correlation analysis (Chen, Wang,
// Nakanishi, Gao, Jung and Gao, J. Neural Eng. 2015), the standard
// training-free SSVEP classifier: each channels × samples window is split
// into sub-bands by a filter bank, and for every target k and sub-band m
// the largest canonical correlation ρ_{k,m} between the sub-band's
// channels and the references sin/cos(2π·h·f_k·t), h = 1..Harmonics, is
// computed; the target with the largest Σ_m w(m)·ρ²_{k,m} wins.
//
// An FBCCA is built for one window length. Its methods may be called from
// several goroutines at once.
type FBCCA struct {
	cfg     FBCCAConfig
	bank    *FilterBank
	weights []float64
	samples int
	// refs holds orthonormal bases of the targets' centred references side
	// by side: columns [k·width, (k+1)·width) for target k.
	refs  *mat.Dense
	width int
	nref  int
}

// NewFBCCA returns FBCCA for the targets' frequencies (Hz) and windows of
// samples samples at sampling rate fs.
func NewFBCCA(freqs []float64, fs float64, samples int, cfg FBCCAConfig) *FBCCA {
	if len(freqs) < 2 || cfg.SubBands < 1 || cfg.Harmonics < 1 || samples <= 2*cfg.Harmonics {
		panic(fmtPanic("NewFBCCA", "%d targets, %d sub-bands, %d harmonics, %d samples: need 2 targets, 1 sub-band and more samples than 2·harmonics", len(freqs), cfg.SubBands, cfg.Harmonics, samples))
	}
	f := &FBCCA{cfg: cfg, bank: NewFilterBankDesign(cfg.SubBands, cfg.Order, cfg.Ripple, cfg.High, fs), samples: samples}
	if samples <= f.bank.Filters[0].PadLength() {
		panic(fmtPanic("NewFBCCA", "%d samples is too short for filters of order %d", samples, f.bank.Filters[0].Order()))
	}
	for m := 1; m <= cfg.SubBands; m++ {
		f.weights = append(f.weights, math.Pow(float64(m), -cfg.A)+cfg.B)
	}
	f.width, f.nref = 2*cfg.Harmonics, len(freqs)
	f.refs = mat.NewDense(samples, f.width*len(freqs), nil)
	for k, fk := range freqs {
		y := mat.NewDense(samples, 2*cfg.Harmonics, nil)
		for t := 0; t < samples; t++ {
			tt := float64(t) / fs
			for h := 1; h <= cfg.Harmonics; h++ {
				y.Set(t, 2*h-2, math.Sin(2*math.Pi*float64(h)*fk*tt))
				y.Set(t, 2*h-1, math.Cos(2*math.Pi*float64(h)*fk*tt))
			}
		}
		q := orthonormalBasis(y)
		if q == nil || q.RawMatrix().Cols != f.width {
			panic(fmtPanic("NewFBCCA", "the references of %v Hz are degenerate at %d samples and %v Hz sampling (a harmonic at the Nyquist frequency?)", fk, samples, fs))
		}
		f.refs.Slice(0, samples, k*f.width, (k+1)*f.width).(*mat.Dense).Copy(q)
	}
	return f
}

// Weights returns the sub-band weights w(m) = m^−A + B.
func (f *FBCCA) Weights() []float64 { return append([]float64(nil), f.weights...) }

// Scores returns Σ_m w(m)·ρ²_{k,m} for every target k of a window x of
// channels × samples values (row-major, channel by channel).
func (f *FBCCA) Scores(x []float64, channels int) []float64 {
	if channels < 1 || len(x) != channels*f.samples {
		panic(fmtPanic("FBCCA.Scores", "window of %d values for %d channels of %d samples", len(x), channels, f.samples))
	}
	scores := make([]float64, f.nref)
	xs := mat.NewDense(f.samples, channels, nil)
	row := make([]float64, f.samples)
	var buf []float64
	var g mat.Dense
	for m, filt := range f.bank.Filters {
		for c := 0; c < channels; c++ {
			buf = filt.FiltFiltBuf(row, x[c*f.samples:(c+1)*f.samples], buf)
			for t, v := range row {
				xs.Set(t, c, v)
			}
		}
		qx := orthonormalBasis(xs)
		if qx == nil {
			continue
		}
		// G = Qxᵀ·[Qy_1 … Qy_K]; ρ_k is the largest singular value of
		// its k-th block.
		g.Reset()
		g.Mul(qx.T(), f.refs)
		for k := 0; k < f.nref; k++ {
			rho := topSingularValue(g.Slice(0, qx.RawMatrix().Cols, k*f.width, (k+1)*f.width).(*mat.Dense))
			scores[k] += f.weights[m] * rho * rho
		}
	}
	return scores
}

// Classify returns the target with the largest score for the window x
// (channels × samples, row-major).
func (f *FBCCA) Classify(x []float64, channels int) int {
	scores := f.Scores(x, channels)
	best := 0
	for k, s := range scores {
		if s > scores[best] {
			best = k
		}
	}
	return best
}

// CanonicalCorrelation returns the largest canonical correlation between
// the columns of x and of y (both n × p, with the same rows), after
// centring each column, as MATLAB's canoncorr.
func CanonicalCorrelation(x, y *mat.Dense) float64 {
	rx, _ := x.Dims()
	ry, _ := y.Dims()
	if rx != ry {
		panic(fmtPanic("CanonicalCorrelation", "%d and %d rows", rx, ry))
	}
	return topCanonicalCorrelation(orthonormalBasis(x), orthonormalBasis(y))
}

// topCanonicalCorrelation is the largest singular value of qxᵀ·qy, for
// orthonormal bases of two centred column spaces.
func topCanonicalCorrelation(qx, qy *mat.Dense) float64 {
	if qx == nil || qy == nil {
		return 0
	}
	var m mat.Dense
	m.Mul(qx.T(), qy)
	return topSingularValue(&m)
}

// topSingularValue returns the largest singular value of m (at most 1
// for products of orthonormal bases; clamped there): the square root of
// the largest eigenvalue of the smaller of m·mᵀ and mᵀ·m, by power
// iteration with the Rayleigh quotient.
func topSingularValue(m *mat.Dense) float64 {
	r, c := m.Dims()
	p := min(r, c)
	a := make([]float64, p*p)
	for i := 0; i < p; i++ {
		for j := 0; j <= i; j++ {
			var s float64
			if r <= c {
				for k := 0; k < c; k++ {
					s += m.At(i, k) * m.At(j, k)
				}
			} else {
				for k := 0; k < r; k++ {
					s += m.At(k, i) * m.At(k, j)
				}
			}
			a[i*p+j], a[j*p+i] = s, s
		}
	}
	return math.Min(math.Sqrt(math.Max(maxEigenvalue(a, p), 0)), 1)
}

// maxEigenvalue returns the largest eigenvalue of the symmetric positive
// semi-definite p×p matrix a (row-major) by power iteration: the Rayleigh
// quotient converges with the square of (λ2/λ1)ᵏ; it stops when it
// changes by less than 1e-13 of itself.
func maxEigenvalue(a []float64, p int) float64 {
	v := make([]float64, p)
	w := make([]float64, p)
	// Start from the column of largest norm, which is never orthogonal
	// to the top eigenvector of a PSD matrix unless a is 0.
	best, bestNorm := 0, -1.0
	for j := 0; j < p; j++ {
		var s float64
		for i := 0; i < p; i++ {
			s += a[i*p+j] * a[i*p+j]
		}
		if s > bestNorm {
			best, bestNorm = j, s
		}
	}
	if bestNorm <= 0 {
		return 0
	}
	for i := 0; i < p; i++ {
		v[i] = a[i*p+best] / math.Sqrt(bestNorm)
	}
	lambda := 0.0
	for iter := 0; iter < 10000; iter++ {
		var norm, rq float64
		for i := 0; i < p; i++ {
			var s float64
			row := a[i*p : (i+1)*p]
			for j, x := range row {
				s += x * v[j]
			}
			w[i] = s
			rq += s * v[i]
			norm += s * s
		}
		if norm == 0 {
			return 0
		}
		norm = math.Sqrt(norm)
		for i := range v {
			v[i] = w[i] / norm
		}
		if math.Abs(rq-lambda) <= 1e-13*rq {
			return rq
		}
		lambda = rq
	}
	return lambda
}

// orthonormalBasis centres the columns of a (n × p) and returns an
// orthonormal basis of their span (n × r, r ≤ p), by modified
// Gram-Schmidt applied twice; columns that add no new direction (relative
// norm below 1e-10) are dropped, and nil stands for an empty span.
func orthonormalBasis(a *mat.Dense) *mat.Dense {
	n, p := a.Dims()
	cols := make([][]float64, 0, p)
	for j := 0; j < p; j++ {
		v := make([]float64, n)
		var mean float64
		for i := 0; i < n; i++ {
			v[i] = a.At(i, j)
			mean += v[i]
		}
		mean /= float64(n)
		var norm0 float64
		for i := range v {
			v[i] -= mean
			norm0 += v[i] * v[i]
		}
		norm0 = math.Sqrt(norm0)
		for range 2 {
			for _, q := range cols {
				var d float64
				for i := range v {
					d += q[i] * v[i]
				}
				for i := range v {
					v[i] -= d * q[i]
				}
			}
		}
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm0 == 0 || norm <= 1e-10*norm0 {
			continue
		}
		for i := range v {
			v[i] /= norm
		}
		cols = append(cols, v)
	}
	if len(cols) == 0 {
		return nil // constant columns: no correlation with anything
	}
	q := mat.NewDense(n, len(cols), nil)
	for j, c := range cols {
		q.SetCol(j, c)
	}
	return q
}
