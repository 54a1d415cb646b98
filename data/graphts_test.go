package data_test

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/data"
)

var speeds = []float32{
	60.0, 0.0, 55.5,
	61.0, 40.0, 0.0,
	0.0, 41.5, 54.0,
	62.5, 42.0, 53.0,
	63.0, 0.0, 52.5,
	64.0, 44.0, 51.0,
}

func graphtsFile(name string) string { return filepath.Join("testdata", "graphts", name) }

func TestTriCommunityGraph(t *testing.T) {
	n, edges := data.TriCommunityGraph(5)
	assert.Equal(t, 30, n)
	assert.Len(t, edges, 2*(9*5+4))
	set := map[[2]int]bool{}
	for _, e := range edges {
		set[e] = true
		assert.NotEqual(t, e[0], e[1], "no self-loops in the edge list")
	}
	for _, e := range edges {
		assert.True(t, set[[2]int{e[1], e[0]}], "edge %v has no reverse", e)
	}
	assert.True(t, set[[2]int{5, 6}], "communities are chained 5 → 6")
	assert.True(t, set[[2]int{23, 24}])
	assert.False(t, set[[2]int{5, 12}])
}

// gcnDense is D^−½(A+I)D^−½ for the tri-community graph, computed here
// independently of the generator.
func gcnDense(n int, edges [][2]int) [][]float64 {
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
		a[i][i] = 1
	}
	for _, e := range edges {
		a[e[1]][e[0]] = 1
	}
	deg := make([]float64, n)
	for i := range n {
		for j := range n {
			deg[i] += a[i][j]
		}
	}
	for i := range n {
		for j := range n {
			a[i][j] /= math.Sqrt(deg[i] * deg[j])
		}
	}
	return a
}

func TestGPVAR(t *testing.T) {
	cfg := data.DefaultGPVARConfig()
	assert.Equal(t, 30000, cfg.Steps)
	assert.Equal(t, [][]float64{{5, 2}, {-4, 6}, {-1, 0}}, cfg.Theta)
	cfg.Steps = 20000
	s, err := data.GenerateGPVAR(cfg)
	require.NoError(t, err)
	require.Equal(t, 30, s.Nodes)
	require.Len(t, s.Values, 20000*30)
	require.Nil(t, s.Mask)
	// The noiseless prediction from the two previous steps, recomputed:
	// tanh(Σ_l S^l (Θ[l][0] x_{t−2} + Θ[l][1] x_{t−1})).
	S := gcnDense(s.Nodes, s.Edges)
	n := s.Nodes
	for _, tt := range []int{2, 3, 100, 19999} {
		h := make([][]float64, 3)
		for l := range 3 {
			h[l] = make([]float64, n)
			for i := range n {
				h[l][i] = cfg.Theta[l][0]*float64(s.Values[(tt-2)*n+i]) + cfg.Theta[l][1]*float64(s.Values[(tt-1)*n+i])
			}
		}
		mul := func(v []float64) []float64 {
			out := make([]float64, n)
			for i := range n {
				for j := range n {
					out[i] += S[i][j] * v[j]
				}
			}
			return out
		}
		s1, s2 := mul(h[1]), mul(mul(h[2]))
		for i := range n {
			want := math.Tanh(h[0][i] + s1[i] + s2[i])
			assert.InDelta(t, want, s.Optimal[tt*n+i], 1e-5, "step %d node %d", tt, i)
		}
	}
	// The noise is N(0, 0.4²): E|x − optimal| = 0.4·√(2/π) = 0.3192.
	var abs, sq float64
	k := 0
	for i := 2 * n; i < len(s.Values); i++ {
		e := float64(s.Values[i] - s.Optimal[i])
		abs += math.Abs(e)
		sq += e * e
		k++
	}
	assert.InDelta(t, 0.3192, abs/float64(k), 0.002)
	assert.InDelta(t, 0.4, math.Sqrt(sq/float64(k)), 0.002)
	assert.InDelta(t, 0.31915, data.GPVARNoiseFloor(0.4), 1e-5)
	// Seeded: the same config gives the same series.
	s2, err := data.GenerateGPVAR(cfg)
	require.NoError(t, err)
	assert.Equal(t, s.Values[:100], s2.Values[:100])
	// The spec's variant: the raw adjacency with self-loops as the shift.
	raw := data.DefaultGPVARConfig()
	raw.Steps, raw.RawAdjacency = 200, true
	r, err := data.GenerateGPVAR(raw)
	require.NoError(t, err)
	assert.NotEqual(t, s.Optimal[5*n:6*n], r.Optimal[5*n:6*n])
	for _, v := range r.Optimal {
		assert.LessOrEqual(t, math.Abs(float64(v)), 1.0)
	}
	cfg.Theta = [][]float64{{1}, {1, 2}}
	_, err = data.GenerateGPVAR(cfg)
	assert.Error(t, err)
}

func TestTraffic(t *testing.T) {
	cfg := data.DefaultTrafficConfig()
	cfg.Days = 8
	s, err := data.GenerateTraffic(cfg)
	require.NoError(t, err)
	assert.Equal(t, 8*288, s.Steps)
	assert.Equal(t, 40, s.Nodes)
	assert.Equal(t, 288, s.StepsPerDay)
	require.NotEmpty(t, s.Edges)
	for e, ed := range s.Edges {
		assert.NotEqual(t, ed[0], ed[1])
		assert.GreaterOrEqual(t, s.Weights[e], float32(0.1))
		assert.LessOrEqual(t, s.Weights[e], float32(1))
	}
	missing := 0
	for i, v := range s.Values {
		if s.Mask[i] == 0 {
			missing++
			assert.Equal(t, float32(0), v)
		} else {
			assert.Greater(t, v, float32(0))
		}
	}
	rate := float64(missing) / float64(len(s.Values))
	assert.InDelta(t, 0.06, rate, 0.02, "5%% random plus outages")
	// Daily cycle: weekday rush hour (8:00) is slower than 3:00.
	mean := func(hour float64) float64 {
		sum, cnt := 0.0, 0.0
		for d := range 5 {
			st := d*288 + int(hour*12)
			for i := range s.Nodes {
				if s.Mask[st*s.Nodes+i] != 0 {
					sum += float64(s.Values[st*s.Nodes+i])
					cnt++
				}
			}
		}
		return sum / cnt
	}
	assert.Less(t, mean(8), mean(3)-5)
	_, err = data.GenerateTraffic(data.TrafficConfig{Nodes: 1, Days: 1, Radius: 0.3})
	assert.Error(t, err)
}

func TestGaussianKernelAdjacency(t *testing.T) {
	inf := math.Inf(1)
	dist := []float64{
		inf, 1000, inf,
		1200, inf, 3000,
		inf, 500, 0,
	}
	adj, err := data.GaussianKernelAdjacency(dist, 3, 0, 0.1)
	require.NoError(t, err)
	// σ = std of [1000, 1200, 3000, 500, 0].
	sigma := math.Sqrt(1038400)
	w := func(d float64) float64 { return math.Exp(-(d / sigma) * (d / sigma)) }
	want := []float64{0, w(1000), 0, w(1200), 0, 0, 0, w(500), 0} // w(3000) < 0.1, no self-loops
	for i := range want {
		assert.InDelta(t, want[i], adj[i], 1e-12, "entry %d", i)
	}
	assert.InDelta(t, 0.3817, adj[1], 1e-4)
	edges, wts := data.EdgesFromAdjacency(adj, 3)
	assert.Equal(t, [][2]int{{0, 1}, {1, 0}, {2, 1}}, edges)
	assert.InDelta(t, w(500), wts[2], 1e-6)
	_, err = data.GaussianKernelAdjacency([]float64{inf, inf, inf, inf}, 2, 0, 0.1)
	assert.Error(t, err)
}

func TestLoadSensorCSV(t *testing.T) {
	s, ids, err := data.LoadGraphSeriesCSV(graphtsFile("readings.csv"))
	require.NoError(t, err)
	assert.Equal(t, []string{"773869", "767541", "767542"}, ids)
	assert.Equal(t, 6, s.Steps)
	assert.Equal(t, 3, s.Nodes)
	assert.Equal(t, speeds, s.Values)

	dist, err := data.LoadDistancesCSV(graphtsFile("distances.csv"), ids)
	require.NoError(t, err)
	assert.Equal(t, 0.0, dist[0])
	assert.Equal(t, 1000.0, dist[1])
	assert.Equal(t, 500.0, dist[7])
	assert.True(t, math.IsInf(dist[2], 1))

	full, err := data.LoadSensorData(data.SensorConfig{Readings: graphtsFile("readings.csv"), Distances: graphtsFile("distances.csv"), StepsPerDay: 288})
	require.NoError(t, err)
	// Zeros are missing.
	assert.Equal(t, []float32{1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1}, full.Mask)
	// σ = std of [0, 1000, 1200, 3000, 500] = √1038400; 3000 drops below 0.1.
	assert.Equal(t, [][2]int{{0, 1}, {1, 0}, {2, 1}}, full.Edges)
	sigma := math.Sqrt(1038400)
	assert.InDelta(t, math.Exp(-math.Pow(1200/sigma, 2)), full.Weights[1], 1e-6)

	// Forward fill: the mask stays, the inputs take the last reading.
	full.ForwardFill()
	assert.Equal(t, []float32{60, 40, 55.5}, full.Values[0:3], "first readings back-filled from the first observation")
	assert.Equal(t, []float32{61, 40, 55.5}, full.Values[3:6])
	assert.Equal(t, []float32{61, 41.5, 54}, full.Values[6:9])
	assert.Equal(t, float32(42), full.Values[13])
	assert.Equal(t, float32(0), full.Mask[13])

	_, err = data.LoadSensorData(data.SensorConfig{Readings: graphtsFile("readings.csv")})
	assert.ErrorContains(t, err, "no Distances or Adjacency")
	_, _, err = data.LoadGraphSeriesCSV(graphtsFile("missing.csv"))
	assert.Error(t, err)
}

func TestLoadSensorNPZ(t *testing.T) {
	arrs, err := data.ReadNPZ(graphtsFile("readings.npz"))
	require.NoError(t, err)
	assert.Equal(t, []int{6, 3, 1}, arrs["data"].Shape)
	assert.Equal(t, "<f4", arrs["data"].Dtype)
	assert.Equal(t, speeds, arrs["data"].Float32())
	assert.Equal(t, speeds, arrs["speeds64"].Float32())
	assert.Equal(t, []float64{773869, 767541, 767542}, arrs["ids"].Data)
	assert.Equal(t, []float64{-1, 2, -3, 4}, arrs["small"].Data)
	assert.Equal(t, []int{2, 2}, arrs["small"].Shape)
	assert.Equal(t, []float64{0, 128, 255}, arrs["bytes"].Data)

	s, err := data.LoadSensorData(data.SensorConfig{Readings: graphtsFile("readings.npz"), Adjacency: graphtsFile("adjacency.csv")})
	require.NoError(t, err)
	assert.Equal(t, 3, s.Nodes)
	assert.Equal(t, 1, s.Features)
	assert.Equal(t, [][2]int{{0, 1}, {1, 0}, {1, 2}, {2, 1}}, s.Edges)
	assert.Equal(t, []float32{1, 0.5, 0.25, 1}, s.Weights)
	assert.Equal(t, float32(0), s.Mask[1])

	_, err = data.LoadGraphSeriesNPZ(graphtsFile("readings.npz"), "nope")
	assert.ErrorContains(t, err, "no array \"nope\"")
	_, err = data.LoadGraphSeriesNPZ(graphtsFile("readings.npz"), "ids")
	assert.ErrorContains(t, err, "not [T, N]")
	_, err = data.ReadNPZ(graphtsFile("bad.npz"))
	assert.ErrorContains(t, err, "Fortran order")
	_, err = data.ReadNPZ(graphtsFile("readings.csv"))
	assert.Error(t, err)
}

func TestReadNPYErrors(t *testing.T) {
	hdr := func(h string) []byte {
		b := []byte("\x93NUMPY\x01\x00")
		b = append(b, byte(len(h)), 0)
		return append(b, h...)
	}
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte("PK\x03\x04 not npy"), "not a .npy file"},
		{hdr("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "big-endian"},
		{hdr("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"), "not supported"},
		{hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), "structured"},
		{hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), "reading 8 bytes"},
		{[]byte("\x93NUMPY\x09\x00"), "version 9.0"},
	} {
		_, err := data.ReadNPY(bytes.NewReader(c.in))
		assert.ErrorContains(t, err, c.want)
	}
	// A scalar (shape ()) reads as one value.
	in := append(hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), 0, 0, 0, 0, 0, 0, 0xf0, 0x3f)
	a, err := data.ReadNPY(bytes.NewReader(in))
	require.NoError(t, err)
	assert.Empty(t, a.Shape)
	assert.Equal(t, []float64{1}, a.Data)
}

func TestScalerSplitWindows(t *testing.T) {
	s := &data.GraphSeries{Values: make([]float32, 100*2), Steps: 100, Nodes: 2, Features: 1,
		Edges: [][2]int{{0, 1}}, StepsPerDay: 10}
	for i := range s.Values {
		s.Values[i] = float32(i)
	}
	vs, ts := data.TemporalSplit(100, 0.1, 0.2)
	assert.Equal(t, 70, vs)
	assert.Equal(t, 80, ts)
	sc := data.FitScaler(s, 0, 70)
	// Values 0..139: mean 69.5, population std √((140²−1)/12).
	assert.InDelta(t, 69.5, sc.Mean[0], 1e-4)
	assert.InDelta(t, math.Sqrt((140*140-1)/12.0), sc.Std[0], 1e-3)
	v := []float32{69.5, 100}
	sc.Transform(v)
	assert.InDelta(t, 0, v[0], 1e-6)
	sc.Inverse(v)
	assert.InDelta(t, 100, v[1], 1e-4)

	w, err := data.NewGraphWindows(s, nil, 12, 3, 1, 0, 70)
	require.NoError(t, err)
	assert.Equal(t, 70-12-3+1, w.Len())
	w.Exog = true
	assert.Equal(t, 2, w.ExogSize())
	b := w.Batch([]int{0, 5})
	assert.Len(t, b.X, 2*12*2)
	assert.Len(t, b.U, 2*12*2*2)
	assert.Equal(t, float32(10), b.X[24], "window 5 starts at step 5")
	assert.Equal(t, float32(24), b.Y[0], "targets follow the window")
	assert.Equal(t, float32(1), b.Mask[0])
	// Time of day of step 0: sin 0, cos 1; of step 5 (half a day): cos −1.
	assert.InDelta(t, 0, b.U[0], 1e-6)
	assert.InDelta(t, 1, b.U[1], 1e-6)
	assert.InDelta(t, -1, b.U[12*2*2+1], 1e-6)
	w2, err := data.NewGraphWindows(s, nil, 12, 3, 4, 0, 70)
	require.NoError(t, err)
	assert.Equal(t, (70-15)/4+1, w2.Len())
	_, err = data.NewGraphWindows(s, nil, 12, 3, 1, 60, 70)
	assert.Error(t, err)
	sl := s.Slice(15, 20)
	assert.Equal(t, 5, sl.Steps)
	assert.Equal(t, 5, sl.FirstStep)
	assert.Equal(t, float32(30), sl.Values[0])
}
