package stgnn_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/models/stgnn"
	"github.com/deepgo/deepgo/nn"
)

// testGraph is a small directed graph where every node has incoming and
// outgoing edges, with unequal weights.
func testGraph(n int) ([][2]int, []float32) {
	var edges [][2]int
	var w []float32
	for i := range n {
		edges = append(edges, [2]int{i, (i + 1) % n}, [2]int{(i + 2) % n, i})
		w = append(w, float32(1+i%3), float32(0.5+0.25*float64(i%2)))
	}
	return edges, w
}

func graphOf(n int, edges [][2]int, w []float32) *layers.Graph {
	return layers.NewGraph(n, edges, autograd.New(append([]float32(nil), w...), len(w)))
}

func smallConfig(name string, n, f, u, h int) stgnn.Config {
	c, err := stgnn.DefaultConfig(name, n, f, u, h)
	if err != nil {
		panic(err)
	}
	// Smaller widths keep the test fast; the structure is the same.
	c.Hidden, c.FF = 8, 16
	return c
}

func TestShapes(t *testing.T) {
	const b, w, n, f, u, h = 2, 12, 6, 2, 2, 3
	edges, wt := testGraph(n)
	g := graphOf(n, edges, wt)
	rng := autograd.NewRNG(1)
	x := rng.Normal(0, 1, b, w, n, f)
	ux := rng.Normal(0, 1, b, w, n, u)
	for _, name := range stgnn.Names() {
		for _, exog := range []int{0, u} {
			m, err := stgnn.New(name, autograd.NewRNG(2), smallConfig(name, n, f, exog, h))
			require.NoError(t, err)
			var uu *autograd.Tensor
			if exog > 0 {
				uu = ux
			}
			nn.Eval(m)
			y := m.Forward(x, uu, g)
			assert.Equal(t, []int{b, h, n, f}, y.Shape(), "%s exog %d", name, exog)
			for _, v := range y.Data() {
				require.False(t, math.IsNaN(float64(v)), name)
			}
			// Gradients reach every parameter in training mode.
			nn.Train(m)
			m.Forward(x, uu, g).Square().Mean().Backward()
			for _, p := range nn.NamedParameters(m) {
				if name == "gwnet" && unusedGWN(p.Name) {
					continue
				}
				assert.NotNil(t, p.Param.Grad, "%s: %s has no gradient", name, p.Name)
			}
		}
	}
	// Shorter windows than Graph WaveNet's receptive field are padded.
	m := stgnn.NewGraphWaveNet(autograd.NewRNG(3), smallConfig("gwnet", n, f, 0, h))
	assert.Equal(t, 13, m.ReceptiveField())
	nn.Eval(m)
	assert.Equal(t, []int{b, h, n, f}, m.Forward(x.Narrow(1, 0, 5), nil, g).Shape())
}

// unusedGWN reports whether a Graph WaveNet parameter belongs to the last
// layer's spatial part, which feeds no output (layer 7 of 8).
func unusedGWN(name string) bool {
	for _, p := range []string{"sconvs.7.", "dense_sconvs.7.", "norms.7."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func TestDefaultConfigs(t *testing.T) {
	c := stgnn.GraphWaveNetConfig(207, 1, 12)
	assert.Equal(t, stgnn.Config{Nodes: 207, InputSize: 1, Horizon: 12, Hidden: 32, FF: 256, Layers: 8, K: 2, EmbSize: 10, Dropout: 0.3}, c)
	assert.Equal(t, 64, stgnn.DCRNNConfig(1, 12).Hidden)
	assert.Equal(t, 0.1, stgnn.STCNConfig(1, 12).Dropout)
	_, err := stgnn.New("lstm", autograd.NewRNG(1), c)
	assert.ErrorContains(t, err, "unknown model")
	assert.Panics(t, func() {
		m := stgnn.NewTimeThenSpace(autograd.NewRNG(1), stgnn.TimeThenSpaceConfig(5, 1, 2))
		m.Forward(autograd.Zeros(1, 4, 6, 1), nil, nil)
	})
}

// The time-then-space model of tsl's tutorial on METR-LA (207 nodes, one
// feature, horizon 12): encoder 64 + embeddings 6624 + GRU 6336 +
// DiffConv 5152 + decoder 396 = 18,572 parameters.
func TestTimeThenSpaceParams(t *testing.T) {
	m := stgnn.NewTimeThenSpace(autograd.NewRNG(1), stgnn.TimeThenSpaceConfig(207, 1, 12))
	tr, total := nn.NumParams(m)
	assert.Equal(t, 18572, tr)
	assert.Equal(t, 18572, total)
	names := map[string]bool{}
	for _, p := range nn.NamedParameters(m) {
		names[p.Name] = true
	}
	for _, want := range []string{"encoder.weight", "node_embeddings.emb", "time_nn.weight_ih_l0", "space_nn.filters.weight", "decoder.bias"} {
		assert.True(t, names[want], "missing %s in %v", want, names)
	}
	// DCRNN (hidden 64, K = 2): encoder 128, gates 5·128·128 + 128,
	// candidate 5·128·64 + 64, decoder 64·128 + 128 + 128·12 + 12.
	d := stgnn.NewDCRNN(autograd.NewRNG(1), stgnn.DCRNNConfig(1, 12))
	tr, _ = nn.NumParams(d)
	assert.Equal(t, 128+(5*128*128+128)+(5*128*64+64)+(64*128+128)+(128*12+12), tr)
}

// P_f's rows sum to 1, so the diffusion convolution maps a signal that is
// constant over the nodes to one that is constant too.
func TestDiffConvConstant(t *testing.T) {
	const n = 7
	edges, w := testGraph(n)
	g := graphOf(n, edges, w)
	p := g.Normalize(layers.GraphNormMean).Dense().Data()
	for i := range n {
		s := float32(0)
		for j := range n {
			s += p[i*n+j]
		}
		assert.InDelta(t, 1, s, 1e-6, "row %d of P_f", i)
	}
	dc := layers.NewDiffConv(autograd.NewRNG(1), 3, 4, 2, layers.DiffConvConfig{})
	x := autograd.New([]float32{0.5, -1, 2}, 1, 1, 3).Expand(2, n, 3)
	y := dc.Forward(x, g).Data()
	for b := range 2 {
		for i := 1; i < n; i++ {
			for k := range 4 {
				assert.InDelta(t, y[(b*n)*4+k], y[(b*n+i)*4+k], 1e-5)
			}
		}
	}
}

// Models without node embeddings are equivariant: permuting the nodes of
// the input and the graph together permutes the output.
func TestPermutationEquivariance(t *testing.T) {
	const b, w, n, f, h = 2, 12, 6, 1, 3
	edges, wt := testGraph(n)
	perm := []int{3, 0, 5, 1, 4, 2} // new node i is old node perm[i]
	inv := make([]int, n)
	for i, p := range perm {
		inv[p] = i
	}
	pedges := make([][2]int, len(edges))
	for e, ed := range edges {
		pedges[e] = [2]int{inv[ed[0]], inv[ed[1]]}
	}
	x := autograd.NewRNG(5).Normal(0, 1, b, w, n, f)
	px := x.Gather(2, permIndex(perm, b, w, n, f), []int{b, w, n, f})
	for _, name := range stgnn.Names() {
		if !stgnn.EquivariantModel(name) {
			continue
		}
		m, err := stgnn.New(name, autograd.NewRNG(4), smallConfig(name, n, f, 0, h))
		require.NoError(t, err)
		nn.Eval(m)
		y := m.Forward(x, nil, graphOf(n, edges, wt))
		py := m.Forward(px, nil, graphOf(n, pedges, wt))
		want := y.Gather(2, permIndex(perm, b, h, n, f), []int{b, h, n, f}).Data()
		got := py.Data()
		for i := range want {
			require.InDelta(t, want[i], got[i], 1e-4, "%s", name)
		}
	}
}

// permIndex is the Gather index that picks node perm[i] at position i of
// a [b, t, n, f] tensor.
func permIndex(perm []int, b, t, n, f int) []int {
	idx := make([]int, 0, b*t*n*f)
	for range b * t {
		for i := range n {
			for range f {
				idx = append(idx, perm[i])
			}
		}
	}
	return idx
}

func TestMetrics(t *testing.T) {
	// Two forecasts of horizon 2 on 2 nodes: [B, H, N].
	pred := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	y := []float32{2, 2, 1, 0, 5, 3, 9, 8}
	mask := []float32{1, 1, 1, 1, 0, 1, 1, 1}
	m := stgnn.NewMetrics(2)
	m.AddBatch(pred, y, mask, 2)
	// Errors of the observed entries: step 1: 1, 0, 3 (the 5 is masked);
	// step 2: 2, 4, 2, 0.
	assert.InDelta(t, 4.0/3, m.MAE(1), 1e-12)
	assert.InDelta(t, 8.0/4, m.MAE(2), 1e-12)
	assert.InDelta(t, 12.0/7, m.MAE(0), 1e-12)
	assert.InDelta(t, math.Sqrt((1+0+9+4+16+4+0)/7.0), m.RMSE(0), 1e-12)
	assert.InDelta(t, math.Sqrt((4+16+4+0)/4.0), m.RMSE(2), 1e-12)
	// MAPE: y = 0 (step 2, node 2) is left out of both sums.
	eps := stgnn.MAPEEpsilon
	wantMAPE := (1/(2+eps) + 0/(2+eps) + 3/(3+eps) + 2/(1+eps) + 2/(9+eps) + 0/(8+eps)) / 6
	assert.InDelta(t, wantMAPE, m.MAPE(0), 1e-9)
	assert.Equal(t, 7, m.Count(0))
	assert.GreaterOrEqual(t, m.RMSE(0), m.MAE(0))

	// Masked predictions change nothing.
	pred2 := append([]float32(nil), pred...)
	pred2[4] = 1e6
	m2 := stgnn.NewMetrics(2)
	m2.AddBatch(pred2, y, mask, 2)
	for st := range 3 {
		assert.Equal(t, m.MAE(st), m2.MAE(st))
		assert.Equal(t, m.RMSE(st), m2.RMSE(st))
		assert.Equal(t, m.MAPE(st), m2.MAPE(st))
	}
	// A prediction at y = 0 moves the MAE but not the MAPE.
	pred3 := append([]float32(nil), pred...)
	pred3[3] = 100
	m3 := stgnn.NewMetrics(2)
	m3.AddBatch(pred3, y, mask, 2)
	assert.Equal(t, m.MAPE(0), m3.MAPE(0))
	assert.NotEqual(t, m.MAE(0), m3.MAE(0))

	// The training loss is the same masked MAE, and ignores masked entries.
	loss := stgnn.MaskedMAELoss(autograd.New(pred, 2, 2, 2), autograd.New(y, 2, 2, 2), autograd.New(mask, 2, 2, 2))
	assert.InDelta(t, m.MAE(0), float64(loss.Item()), 1e-6)
	loss2 := stgnn.MaskedMAELoss(autograd.New(pred2, 2, 2, 2), autograd.New(y, 2, 2, 2), autograd.New(mask, 2, 2, 2))
	assert.Equal(t, loss.Item(), loss2.Item())
	assert.Panics(t, func() { m.MAE(3) })
}

// RMSE ≥ MAE holds for any data (Jensen), at every step.
func TestRMSEAtLeastMAE(t *testing.T) {
	rng := autograd.NewRNG(9)
	p, y := rng.Normal(0, 2, 5, 4, 3).Data(), rng.Normal(1, 1, 5, 4, 3).Data()
	m := stgnn.NewMetrics(4)
	m.AddBatch(p, y, nil, 5)
	for st := range 5 {
		assert.GreaterOrEqual(t, m.RMSE(st), m.MAE(st))
	}
}

// The noiseless GPVAR prediction scores the noise floor σ·√(2/π) = 0.3192
// on a large sample, through the task's windows and the metrics.
func TestGPVARNoiseFloor(t *testing.T) {
	c := data.DefaultGPVARConfig()
	c.Steps = 20000
	s, err := data.GenerateGPVAR(c)
	require.NoError(t, err)
	tc := stgnn.DefaultTaskConfig()
	tc.Horizon, tc.Test, tc.Val = 1, 0.9, 0.05
	task, err := stgnn.Prepare(s, tc)
	require.NoError(t, err)
	opt := stgnn.Optimal(task, task.Test)
	assert.InDelta(t, 0.3192, opt.MAE(0), 0.003, "over %d values", opt.Count(0))
	assert.InDelta(t, 0.3192, data.GPVARNoiseFloor(0.4), 5e-5)
	// Naive baselines are well above it.
	assert.Greater(t, stgnn.LastValue(task, task.Test).MAE(0), 0.4)
}

// A short training run lowers the validation error, keeps the best epoch
// and scores below the naive baselines on GPVAR.
func TestFitGPVAR(t *testing.T) {
	c := data.DefaultGPVARConfig()
	c.Steps, c.Communities = 1500, 2
	s, err := data.GenerateGPVAR(c)
	require.NoError(t, err)
	tc := stgnn.DefaultTaskConfig()
	tc.Horizon = 1
	task, err := stgnn.Prepare(s, tc)
	require.NoError(t, err)
	m := stgnn.NewTimeThenSpace(autograd.NewRNG(1), stgnn.TimeThenSpaceConfig(s.Nodes, 1, 1))
	before := stgnn.Evaluate(m, task, task.Val, 256, 0).MAE(0)
	cfg := stgnn.DefaultTrainConfig("tts")
	cfg.Epochs, cfg.BatchSize, cfg.LR = 6, 32, 0.01
	res, err := stgnn.Fit(context.Background(), m, task, cfg)
	require.NoError(t, err)
	assert.Len(t, res.ValMAE, res.Epochs)
	assert.Less(t, res.BestVal, before)
	assert.InDelta(t, res.BestVal, stgnn.Evaluate(m, task, task.Val, 256, 0).MAE(0), 1e-5, "best weights restored")
	test := stgnn.Evaluate(m, task, task.Test, 256, 0).MAE(0)
	assert.Less(t, test, stgnn.LastValue(task, task.Test).MAE(0))
	assert.Less(t, test, stgnn.HistoricalAverage(task, task.Test).MAE(0))
}

func TestBaselinesTraffic(t *testing.T) {
	c := data.DefaultTrafficConfig()
	c.Nodes, c.Days = 10, 8
	s, err := data.GenerateTraffic(c)
	require.NoError(t, err)
	task, err := stgnn.Prepare(s, stgnn.DefaultTaskConfig())
	require.NoError(t, err)
	assert.Equal(t, 2, task.ExogSize())
	lv := stgnn.LastValue(task, task.Test)
	ha := stgnn.HistoricalAverage(task, task.Test)
	// The last value degrades with the horizon; the historical average
	// does not depend on it much.
	assert.Less(t, lv.MAE(1), lv.MAE(12))
	assert.InDelta(t, ha.MAE(1), ha.MAE(12), 0.5)
	// Missing targets are not counted.
	assert.Less(t, lv.Count(0), task.Test.Len()*12*s.Nodes)
	assert.Nil(t, stgnn.Optimal(task, task.Test))
}
