package ssvep_test

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/models/ssvep"
)

// filterGolden is testdata/filter.json, written by testdata/gen_filter.py.
type filterGolden struct {
	FS      float64   `json:"fs"`
	X       []float64 `json:"x"`
	Designs []struct {
		Order    int       `json:"order"`
		Ripple   float64   `json:"ripple"`
		Lo       float64   `json:"lo"`
		Hi       float64   `json:"hi"`
		B        []float64 `json:"b"`
		A        []float64 `json:"a"`
		Freqs    []float64 `json:"freqs"`
		GainsDB  []float64 `json:"gains_db"`
		FiltFilt []float64 `json:"filtfilt"`
	} `json:"designs"`
}

func loadFilterGolden(t *testing.T) filterGolden {
	t.Helper()
	raw, err := os.ReadFile("testdata/filter.json")
	require.NoError(t, err)
	var g filterGolden
	require.NoError(t, json.Unmarshal(raw, &g))
	require.NotEmpty(t, g.Designs)
	return g
}

// The spec's zero-phase gains of the DNN's filter bank (tolerance 0.3 dB;
// the design matches them to 0.01 dB).
func TestFilterBankSpecGains(t *testing.T) {
	fb := ssvep.NewFilterBank(3, 250)
	require.Equal(t, 3, fb.SubBands())
	cases := []struct {
		band int
		f    float64
		db   float64
	}{
		{0, 8, -2.00}, {0, 12, -0.83}, {0, 24, -0.08},
		{2, 8, -12.62}, {2, 12, -7.56}, {2, 15.8, -4.85}, {2, 24, -2.00},
	}
	for _, c := range cases {
		got := fb.Filters[c.band].ZeroPhaseGainDB(c.f, 250)
		assert.InDelta(t, c.db, got, 0.01, "band %d at %v Hz", c.band+1, c.f)
	}
	// Every band: −2 dB (twice the 1 dB ripple) at both edges, one section.
	for m, f := range fb.Filters {
		require.Len(t, f.Sections, 1)
		assert.InDelta(t, -2, f.ZeroPhaseGainDB(8*float64(m+1), 250), 1e-9, "band %d low edge", m+1)
		assert.InDelta(t, -2, f.ZeroPhaseGainDB(90, 250), 1e-9, "band %d high edge", m+1)
		assert.Less(t, f.ZeroPhaseGainDB(0.5, 250), -30.0, "band %d blocks near-DC", m+1)
	}
}

// The order-1 design in closed form, H(s) = g·BW·s/(s² + g·BW·s + w1·w2)
// with g = 1.96523, through the bilinear transform.
func TestChebyshevClosedForm(t *testing.T) {
	eps := math.Sqrt(math.Pow(10, 0.1) - 1)
	g := math.Sinh(math.Asinh(1 / eps))
	assert.InDelta(t, 1.96523, g, 1e-5)
	fs := 250.0
	K := 2 * fs
	w1, w2 := K*math.Tan(math.Pi*8/fs), K*math.Tan(math.Pi*90/fs)
	bw := w2 - w1
	a0 := K*K + g*bw*K + w1*w2
	q := ssvep.ChebyshevBandpass(1, 1, 8, 90, fs).Sections[0]
	assert.InDelta(t, g*bw*K/a0, q.B0, 1e-12)
	assert.InDelta(t, 0, q.B1, 1e-12)
	assert.InDelta(t, -g*bw*K/a0, q.B2, 1e-12)
	assert.InDelta(t, (2*w1*w2-2*K*K)/a0, q.A1, 1e-12)
	assert.InDelta(t, (K*K-g*bw*K+w1*w2)/a0, q.A2, 1e-12)
}

// Designs, gains and zero-phase filtering against SciPy (cheby1, freqz,
// filtfilt/sosfiltfilt with MATLAB's padding).
func TestFilterGolden(t *testing.T) {
	g := loadFilterGolden(t)
	for _, d := range g.Designs {
		f := ssvep.ChebyshevBandpass(d.Order, d.Ripple, d.Lo, d.Hi, g.FS)
		require.Equal(t, 2*d.Order, f.Order())
		for i, freq := range d.Freqs {
			// The response against SciPy's transfer function.
			want := tfResponse(d.B, d.A, freq, g.FS)
			got := f.Response(freq, g.FS)
			assert.InDelta(t, 0, cmplxAbs(got-want), 1e-9*math.Max(1, cmplxAbs(want)), "order %d [%v, %v] at %v Hz", d.Order, d.Lo, d.Hi, freq)
			if d.GainsDB[i] > -60 {
				assert.InDelta(t, d.GainsDB[i], f.ZeroPhaseGainDB(freq, g.FS), 1e-6, "gain at %v Hz", freq)
			}
		}
		if d.Order == 1 {
			q := f.Sections[0]
			for i, v := range []float64{q.B0, q.B1, q.B2} {
				assert.InDelta(t, d.B[i], v, 1e-12, "b[%d]", i)
			}
			assert.InDelta(t, d.A[1], q.A1, 1e-12)
			assert.InDelta(t, d.A[2], q.A2, 1e-12)
		}
		y := make([]float64, len(g.X))
		f.FiltFilt(y, g.X)
		for i := range y {
			require.InDelta(t, d.FiltFilt[i], y[i], 1e-9, "order %d [%v, %v]: filtfilt sample %d", d.Order, d.Lo, d.Hi, i)
		}
		// In place, and with a reused buffer, gives the same.
		z := append([]float64(nil), g.X...)
		buf := f.FiltFiltBuf(z, z, nil)
		f.FiltFiltBuf(z, append([]float64(nil), g.X...), buf)
		assert.Equal(t, y, z)
	}
}

// A causal pass from zero state is the difference equation.
func TestFilterApply(t *testing.T) {
	f := ssvep.ChebyshevBandpass(1, 1, 8, 90, 250)
	q := f.Sections[0]
	x := []float64{1, 0, 0, 2, -1, 0.5}
	y := make([]float64, len(x))
	f.Apply(y, x)
	xm := func(i int) float64 {
		if i < 0 {
			return 0
		}
		return x[i]
	}
	ym := func(i int) float64 {
		if i < 0 {
			return 0
		}
		return y[i]
	}
	for i := range x {
		want := q.B0*xm(i) + q.B1*xm(i-1) + q.B2*xm(i-2) - q.A1*ym(i-1) - q.A2*ym(i-2)
		assert.InDelta(t, want, y[i], 1e-12, "sample %d", i)
	}
}

func TestFilterPanics(t *testing.T) {
	assert.PanicsWithValue(t, "ssvep: ChebyshevBandpass: order 1, ripple 1 dB, band [8, 130] Hz at fs 250: need order ≥ 1, ripple > 0 and 0 < lo < hi < fs/2", func() {
		ssvep.ChebyshevBandpass(1, 1, 8, 130, 250)
	})
	f := ssvep.ChebyshevBandpass(1, 1, 8, 90, 250)
	assert.Panics(t, func() { f.FiltFilt(make([]float64, 6), make([]float64, 6)) })
	assert.Panics(t, func() { f.FiltFilt(make([]float64, 9), make([]float64, 10)) })
}

func tfResponse(b, a []float64, f, fs float64) complex128 {
	var num, den complex128
	for k := range b {
		w := complex(math.Cos(2*math.Pi*f/fs*float64(k)), -math.Sin(2*math.Pi*f/fs*float64(k)))
		num += complex(b[k], 0) * w
		den += complex(a[k], 0) * w
	}
	return num / den
}

func cmplxAbs(z complex128) float64 { return math.Hypot(real(z), imag(z)) }
