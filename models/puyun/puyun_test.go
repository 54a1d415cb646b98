package puyun_test

import (
	"math"
	"testing"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/models/puyun"
	"github.com/deepgo/deepgo/nn"
)

// tinyConfig is a fast model: 3 variables on 16 × 36 with patches of 2
// (8 × 18 tokens), width 8, two blocks.
func tinyConfig() puyun.Config {
	return puyun.Config{Vars: 3, Lat: 16, Lon: 36, PatchSize: 2, Width: 8, Depth: 2, MLPRatio: 2, LatitudeInput: true}
}

func timesOf(n int) []time.Time {
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = time.Date(2021, 3, 1+i, 6*i%24, 0, 0, 0, time.UTC)
	}
	return ts
}

func TestModelShapesAndParams(t *testing.T) {
	cfg := tinyConfig()
	rng := autograd.NewRNG(1)
	m := puyun.New(rng, cfg)
	x0, x1 := rng.Normal(0, 1, 2, 3, 16, 36), rng.Normal(0, 1, 2, 3, 16, 36)
	y := m.Forward(x0, x1, puyun.TimeFeatureTensor(timesOf(2)))
	if got := y.Shape(); len(got) != 4 || got[0] != 2 || got[1] != 3 || got[2] != 16 || got[3] != 36 {
		t.Fatalf("output shape %v", got)
	}
	_, total := nn.NumParams(m)
	_, block := nn.NumParams(layers.NewVANBlock(rng, 8, layers.VANBlockConfig{MLPRatio: 2}))
	c, v, p := 8, 3, 2
	want := (2*v+2)*c*p*p + c + // patch embedding
		12*c + c + // time embedding
		2*block +
		c*v*p*p + v*p*p // head
	if total != want {
		t.Errorf("%d parameters, want %d", total, want)
	}
	sd := nn.StateDict(m)
	for _, name := range []string{"patch_embed.weight", "time_embed.weight", "blocks.1.attn.spatial_gating_unit.conv_spatial.weight", "blocks.0.norm1.running_mean", "head.bias"} {
		if _, ok := sd[name]; !ok {
			t.Errorf("no %q in the state dict", name)
		}
	}
	// Without the latitude input there are two input channels fewer.
	cfg.LatitudeInput = false
	if got := cfg.InChannels(); got != 6 {
		t.Errorf("InChannels without latitude = %d", got)
	}
}

func TestModelConfigPanics(t *testing.T) {
	for name, cfg := range map[string]puyun.Config{
		"patch does not divide": {Vars: 3, Lat: 15, Lon: 36, PatchSize: 2, Width: 8, Depth: 1},
		"too few longitudes":    {Vars: 3, Lat: 16, Lon: 16, PatchSize: 2, Width: 8, Depth: 1},
		"zero width":            {Vars: 3, Lat: 16, Lon: 36, PatchSize: 2, Depth: 1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			puyun.New(autograd.NewRNG(1), cfg)
		}()
	}
	m := puyun.New(autograd.NewRNG(1), tinyConfig())
	defer func() {
		if r := recover(); r == nil {
			t.Error("wrong state shape: no panic")
		}
	}()
	x := autograd.Zeros(1, 2, 16, 36)
	m.Forward(x, x, puyun.TimeFeatureTensor(timesOf(1)))
}

// Zeroing the last layer leaves Δ = 0: the forecast is x_t itself.
func TestResidualPrediction(t *testing.T) {
	rng := autograd.NewRNG(2)
	m := puyun.New(rng, tinyConfig())
	nn.Zeros(m.Head.Weight.Tensor)
	nn.Zeros(m.Head.Bias.Tensor)
	x0, x1 := rng.Normal(0, 1, 2, 3, 16, 36), rng.Normal(0, 1, 2, 3, 16, 36)
	y := m.Forward(x0, x1, puyun.TimeFeatureTensor(timesOf(2)))
	for i, v := range y.Data() {
		if v != x1.Data()[i] {
			t.Fatalf("value %d: %v, want x_t = %v", i, v, x1.Data()[i])
		}
	}
}

// Rolling both input states in longitude by a multiple of the patch size
// rolls the forecast by the same amount.
func TestZonalRollEquivariance(t *testing.T) {
	rng := autograd.NewRNG(3)
	m := puyun.New(rng, tinyConfig())
	// Make the head and the layer scales large enough that the blocks
	// matter, then use the running statistics (evaluation mode).
	nn.Normal(m.Head.Weight.Tensor, 0, 0.3, rng)
	for _, b := range m.Blocks {
		nn.Constant(b.LayerScale1.Tensor, 0.5)
		nn.Constant(b.LayerScale2.Tensor, 0.5)
	}
	nn.Eval(m)
	x0, x1 := rng.Normal(0, 1, 2, 3, 16, 36), rng.Normal(0, 1, 2, 3, 16, 36)
	tf := puyun.TimeFeatureTensor(timesOf(2))
	var y, yr *autograd.Tensor
	autograd.NoGrad(func() {
		y = m.Forward(x0, x1, tf)
		for _, shift := range []int{2, 10, -6} {
			r := func(x *autograd.Tensor) *autograd.Tensor { return x.Roll([]int{shift}, []int{3}) }
			yr = m.Forward(r(x0), r(x1), tf)
			want := r(y)
			var maxDiff, maxAbs float64
			for i, v := range yr.Data() {
				maxDiff = math.Max(maxDiff, math.Abs(float64(v-want.Data()[i])))
				maxAbs = math.Max(maxAbs, math.Abs(float64(want.Data()[i]-r(x1).Data()[i])))
			}
			if maxDiff > 1e-4 || maxAbs < 1e-2 {
				t.Errorf("roll %d: output differs from the rolled output by %g (increments up to %g)", shift, maxDiff, maxAbs)
			}
		}
		// A roll in latitude is not a symmetry (zeros at the poles, the
		// latitude input).
		yl := m.Forward(x0.Roll([]int{2}, []int{2}), x1.Roll([]int{2}, []int{2}), tf)
		want := y.Roll([]int{2}, []int{2})
		var d float64
		for i, v := range yl.Data() {
			d = math.Max(d, math.Abs(float64(v-want.Data()[i])))
		}
		if d < 1e-3 {
			t.Errorf("latitude roll commutes with the model (difference %g)", d)
		}
	})
}

func TestGradientsReachEveryParameter(t *testing.T) {
	rng := autograd.NewRNG(4)
	m := puyun.New(rng, tinyConfig())
	x0, x1 := rng.Normal(0, 1, 2, 3, 16, 36), rng.Normal(0, 1, 2, 3, 16, 36)
	target := rng.Normal(0, 1, 2, 3, 16, 36)
	loss := m.Forward(x0, x1, puyun.TimeFeatureTensor(timesOf(2))).Sub(target).Square().Mean()
	loss.Backward()
	for _, p := range nn.NamedParameters(m) {
		if p.Param.Grad == nil {
			t.Errorf("%s has no gradient", p.Name)
		}
	}
}

func TestTimeFeatures(t *testing.T) {
	// Step from 2020-01-01 06:00: times 00:00, 06:00 and 12:00 of day 1.
	f := puyun.TimeFeaturesAt(time.Date(2020, 1, 1, 6, 0, 0, 0, time.UTC))
	if len(f) != 12 {
		t.Fatalf("%d features", len(f))
	}
	d := 1.0 / 366
	want := []float64{
		math.Sin(d), math.Sin(0), math.Cos(d), math.Cos(0),
		math.Sin(d), math.Sin(0.25), math.Cos(d), math.Cos(0.25),
		math.Sin(d), math.Sin(0.5), math.Cos(d), math.Cos(0.5),
	}
	for i := range want {
		if math.Abs(float64(f[i])-want[i]) > 1e-6 {
			t.Errorf("feature %d = %v, want %v", i, f[i], want[i])
		}
	}
	// The day before midnight falls on the previous year's last day.
	g := puyun.TimeFeaturesAt(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	if math.Abs(float64(g[0])-math.Sin(366.0/366)) > 1e-6 || math.Abs(float64(g[1])-math.Sin(0.75)) > 1e-6 {
		t.Errorf("features at 2020-12-31 18:00: %v", g[:4])
	}
}

// stageModel returns a model whose increment is the constant c everywhere.
func stageModel(c float32) *puyun.Model {
	m := puyun.New(autograd.NewRNG(5), tinyConfig())
	nn.Zeros(m.Head.Weight.Tensor)
	nn.Constant(m.Head.Bias.Tensor, float64(c))
	nn.Eval(m)
	return m
}

func TestCascadeSwitchesAtSteps21And41(t *testing.T) {
	short, medium, long := stageModel(1), stageModel(100), stageModel(10000)
	c := &puyun.Cascade{Short: short, Medium: medium, Long: long}
	for step, want := range map[int]string{1: "short", 20: "short", 21: "medium", 40: "medium", 41: "long", 60: "long"} {
		if _, got := c.StageAt(step); got != want {
			t.Errorf("StageAt(%d) = %q, want %q", step, got, want)
		}
	}
	zero := autograd.Zeros(1, 3, 16, 36)
	var sum float64
	err := c.Forecast(zero, zero, timesOf(1), 45, func(step int, stage string, x *autograd.Tensor) error {
		var inc float64
		switch {
		case step <= 20:
			inc = 1
		case step <= 40:
			inc = 100
		default:
			inc = 10000
		}
		sum += inc
		if got := float64(x.At(0, 0, 0, 0)); math.Abs(got-sum) > 1e-3*sum {
			t.Errorf("step %d (%s): state %v, want %v", step, stage, got, sum)
		}
		wantStage := map[float64]string{1: "short", 100: "medium", 10000: "long"}[inc]
		if stage != wantStage {
			t.Errorf("step %d made by %q, want %q", step, stage, wantStage)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without Long, Medium goes on; with Short only, Short does every step.
	c2 := &puyun.Cascade{Short: short, Medium: medium}
	if _, s := c2.StageAt(41); s != "medium" {
		t.Errorf("no Long: step 41 by %q", s)
	}
	c3 := &puyun.Cascade{Short: short}
	if _, s := c3.StageAt(40); s != "short" {
		t.Errorf("Short only: step 40 by %q", s)
	}
	// Other stage lengths.
	c4 := &puyun.Cascade{Short: short, Medium: medium, Long: long, ShortSteps: 2, MediumSteps: 3}
	for step, want := range map[int]string{2: "short", 3: "medium", 5: "medium", 6: "long"} {
		if _, got := c4.StageAt(step); got != want {
			t.Errorf("2+3 cascade: StageAt(%d) = %q, want %q", step, got, want)
		}
	}
	// The streaming Rollout reports the same.
	r := c.Start(zero, zero, timesOf(1))
	for i := 0; i < 21; i++ {
		r.Next()
	}
	if r.Step() != 21 || r.Stage() != "medium" {
		t.Errorf("after 21 Next: step %d, stage %q", r.Step(), r.Stage())
	}
}

func TestLatitudeWeights(t *testing.T) {
	for _, lat := range [][]float64{puyun.GridLatitudes(32), era5Latitudes(721), {60, 0, -60}} {
		w := puyun.LatitudeWeights(lat)
		var s float64
		for _, x := range w {
			s += x
		}
		if math.Abs(s/float64(len(w))-1) > 1e-12 {
			t.Errorf("%d latitudes: weights average %v", len(lat), s/float64(len(w)))
		}
	}
	w := puyun.LatitudeWeights([]float64{60, 0, -60})
	if math.Abs(w[0]-0.75) > 1e-12 || math.Abs(w[1]-1.5) > 1e-12 {
		t.Errorf("weights %v, want [0.75 1.5 0.75]", w)
	}
}

func era5Latitudes(n int) []float64 {
	lat := make([]float64, n)
	for i := range lat {
		lat[i] = 90 - 180*float64(i)/float64(n-1)
	}
	return lat
}

// tinyFields returns one variable on the 3 × 2 grid at 60°N, 0°, 60°S with
// the states given.
func tinyFields(states ...[]float32) *data.WeatherFields {
	f := &data.WeatherFields{Vars: []string{"z"}, Lat: []float64{60, 0, -60}, Lon: []float64{0, 180}, ClimSlots: 1}
	for i, s := range states {
		f.Times = append(f.Times, time.Date(2020, 1, 1, 6*i, 0, 0, 0, time.UTC))
		f.Data = append(f.Data, s...)
	}
	f.Climatology = make([]float32, 6)
	f.ComputeStats()
	return f
}

func TestPersistenceRMSEByHand(t *testing.T) {
	f := tinyFields(
		[]float32{9, 9, 9, 9, 9, 9},
		[]float32{0, 0, 0, 0, 0, 0},
		[]float32{1, 1, 2, 0, 0, 0},
	)
	s := puyun.EvaluatePersistence(f, []int{1}, 1)
	// Weights 0.75, 1.5, 0.75: (0.75·(1+1) + 1.5·(4+0) + 0) / 6 = 1.25.
	if got, want := s.RMSE(0, 1), math.Sqrt(1.25); math.Abs(got-want) > 1e-12 {
		t.Errorf("persistence RMSE %v, want √1.25 = %v", got, want)
	}
	// Climatology zero: the same here, with ACC 0.
	c := puyun.EvaluateClimatology(f, []int{1}, 1)
	if math.Abs(c.RMSE(0, 1)-math.Sqrt(1.25)) > 1e-12 || c.ACC(0, 1) != 0 {
		t.Errorf("climatology RMSE %v, ACC %v", c.RMSE(0, 1), c.ACC(0, 1))
	}
}

func TestACC(t *testing.T) {
	w := puyun.LatitudeWeights([]float64{60, 0, -60})
	truth := []float32{1, 2, 3, 4, 5, 7}
	clim := []float32{0, 3, 1, 1, 6, 2}
	if got := puyun.ACC(truth, truth, clim, w); math.Abs(got-1) > 1e-12 {
		t.Errorf("ACC of the truth %v, want 1", got)
	}
	anti := make([]float32, 6)
	for i := range anti {
		anti[i] = 2*clim[i] - truth[i]
	}
	if got := puyun.ACC(anti, truth, clim, w); math.Abs(got+1) > 1e-12 {
		t.Errorf("ACC of the mirrored anomaly %v, want −1", got)
	}
	if got := puyun.ACC(clim, truth, clim, w); got != 0 {
		t.Errorf("ACC of the climatology %v, want 0", got)
	}
	s := puyun.NewScores([]string{"a", "b"}, 2, []float64{60, 0, -60}, 2)
	both := append(append([]float32(nil), truth...), truth...)
	cl := append(append([]float32(nil), clim...), clim...)
	s.Add(2, both, both, cl)
	if s.ACC(1, 2) != 1 || s.RMSE(0, 2) != 0 || s.Count(0, 2) != 1 || !math.IsNaN(s.RMSE(0, 1)) {
		t.Errorf("scores: ACC %v RMSE %v count %d", s.ACC(1, 2), s.RMSE(0, 2), s.Count(0, 2))
	}
}

// A cascade of models with zeroed heads forecasts x_t: persistence.
func TestEvaluateZeroModelIsPersistence(t *testing.T) {
	cfg := data.DefaultWeatherConfig()
	cfg.Lat, cfg.Lon, cfg.Steps, cfg.SpinUp = 16, 36, 12, 50
	f, err := data.GenerateWeather(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc := puyun.Config{Vars: 4, Lat: 16, Lon: 36, PatchSize: 2, Width: 8, Depth: 1, LatitudeInput: true, Latitudes: f.Lat}
	m := puyun.New(autograd.NewRNG(1), mc)
	nn.Zeros(m.Head.Weight.Tensor)
	nn.Zeros(m.Head.Bias.Tensor)
	nn.Eval(m)
	norm := puyun.Normalization{Mean: f.Mean, Std: f.Std}
	inits := []int{1, 3, 5}
	got := puyun.Evaluate(&puyun.Cascade{Short: m, Medium: m}, f, norm, inits, 6, 2)
	want := puyun.EvaluatePersistence(f, inits, 6)
	for v := range f.Vars {
		for l := 1; l <= 6; l++ {
			if math.Abs(got.RMSE(v, l)-want.RMSE(v, l)) > 1e-3*want.RMSE(v, l) || math.Abs(got.ACC(v, l)-want.ACC(v, l)) > 1e-3 {
				t.Errorf("%s lead %d: RMSE %v ACC %v; persistence %v %v", f.Vars[v], l, got.RMSE(v, l), got.ACC(v, l), want.RMSE(v, l), want.ACC(v, l))
			}
		}
	}
}

func TestCopyWeights(t *testing.T) {
	rng := autograd.NewRNG(6)
	a := puyun.New(rng, tinyConfig())
	b := puyun.New(autograd.NewRNG(7), tinyConfig())
	puyun.CopyWeights(b, a)
	nn.Eval(a)
	nn.Eval(b)
	x0, x1 := rng.Normal(0, 1, 1, 3, 16, 36), rng.Normal(0, 1, 1, 3, 16, 36)
	tf := puyun.TimeFeatureTensor(timesOf(1))
	ya, yb := a.Forward(x0, x1, tf), b.Forward(x0, x1, tf)
	for i, v := range ya.Data() {
		if v != yb.Data()[i] {
			t.Fatalf("copied model differs at %d: %v vs %v", i, v, yb.Data()[i])
		}
	}
	// The copy is independent.
	nn.Zeros(a.Head.Bias.Tensor)
	nn.Constant(b.Head.Bias.Tensor, 1)
	if a.Head.Bias.Data()[0] != 0 {
		t.Error("CopyWeights shares storage")
	}
}

func TestWeightedMSELoss(t *testing.T) {
	lat := []float64{60, 0, -60}
	w := puyun.LatitudeWeightTensor(lat)
	pred := autograd.New([]float32{1, 1, 2, 0, 0, 0}, 1, 1, 3, 2)
	zero := autograd.Zeros(1, 1, 3, 2)
	if got := puyun.WeightedMSELoss(pred, zero, w).Item(); math.Abs(float64(got)-1.25) > 1e-6 {
		t.Errorf("loss %v, want 1.25", got)
	}
	if got := puyun.WeightedMSE(pred.Data(), zero.Data(), puyun.LatitudeWeights(lat)); math.Abs(got-1.25) > 1e-12 {
		t.Errorf("WeightedMSE %v, want 1.25", got)
	}
}
