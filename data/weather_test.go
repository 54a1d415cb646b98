package data

import (
	"math"
	"testing"
	"time"
)

func smallWeather(t *testing.T, seed uint64, steps int) *WeatherFields {
	t.Helper()
	cfg := DefaultWeatherConfig()
	cfg.Steps, cfg.SpinUp, cfg.Seed = steps, 300, seed
	f, err := GenerateWeather(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGenerateWeatherShapesAndMagnitudes(t *testing.T) {
	f := smallWeather(t, 1, 200)
	if len(f.Vars) != 4 || len(f.Lat) != 32 || len(f.Lon) != 64 || f.NumTimes() != 200 || len(f.Data) != 200*4*32*64 {
		t.Fatalf("vars %v, grid %d×%d, %d times, %d values", f.Vars, len(f.Lat), len(f.Lon), f.NumTimes(), len(f.Data))
	}
	if f.Lat[0] <= f.Lat[31] || math.Abs(f.Lat[0]-87.1875) > 1e-9 || f.Lon[1] != 5.625 {
		t.Errorf("latitudes %v ... %v, longitude step %v", f.Lat[0], f.Lat[31], f.Lon[1])
	}
	if !f.Times[1].Equal(f.Times[0].Add(6 * time.Hour)) {
		t.Errorf("times %v %v", f.Times[0], f.Times[1])
	}
	// z500: mean ≈ 5.4e4 m²/s², anomalies of order 1e3.
	if m := f.Mean[0]; m < 5.2e4 || m > 5.6e4 {
		t.Errorf("z500 mean %v", m)
	}
	if s := f.Std[0]; s < 500 || s > 4000 {
		t.Errorf("z500 std %v", s)
	}
	if m := f.Mean[1]; m < 260 || m > 290 {
		t.Errorf("t850 mean %v", m)
	}
	for _, x := range f.Data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			t.Fatal("non-finite value")
		}
	}
	// Normalised data have zero mean and unit variance per variable.
	n := f.Normalized()
	hw := 32 * 64
	for v := 0; v < 4; v++ {
		var s, s2 float64
		for tt := 0; tt < f.NumTimes(); tt++ {
			for _, x := range n[(tt*4+v)*hw : (tt*4+v+1)*hw] {
				s += float64(x)
				s2 += float64(x) * float64(x)
			}
		}
		cnt := float64(f.NumTimes() * hw)
		if math.Abs(s/cnt) > 1e-3 || math.Abs(s2/cnt-1) > 1e-3 {
			t.Errorf("variable %d normalised: mean %v, variance %v", v, s/cnt, s2/cnt)
		}
	}
}

func TestGenerateWeatherSeeded(t *testing.T) {
	a, b, c := smallWeather(t, 3, 20), smallWeather(t, 3, 20), smallWeather(t, 4, 20)
	same, diff := true, false
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			same = false
		}
		if a.Data[i] != c.Data[i] {
			diff = true
		}
	}
	if !same || !diff {
		t.Errorf("same seed equal: %v, other seed different: %v", same, diff)
	}
}

// Without the random forcing the run is deterministic and, once started
// from rest, follows the climatology exactly (the dynamics are linear).
func TestGenerateWeatherClimatologyIsNoiseFree(t *testing.T) {
	cfg := DefaultWeatherConfig()
	cfg.Steps, cfg.SpinUp, cfg.NoNoise = 8, 400, true
	f, err := GenerateWeather(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.ClimSlots != 4 || len(f.Climatology) != 4*f.FieldSize() {
		t.Fatalf("climatology: %d slots, %d values", f.ClimSlots, len(f.Climatology))
	}
	for tt := 0; tt < f.NumTimes(); tt++ {
		st, c := f.State(tt), f.ClimatologyAt(tt)
		for i := range st {
			if d := math.Abs(float64(st[i] - c[i])); d > 1e-3*math.Max(1, math.Abs(float64(c[i]))) {
				t.Fatalf("state %d value %d: %v, climatology %v", tt, i, st[i], c[i])
			}
		}
	}
	// The diurnal forcing makes the slots differ in t850.
	hw := 32 * 64
	var d float64
	for i := hw; i < 2*hw; i++ {
		d = math.Max(d, math.Abs(float64(f.Climatology[i]-f.Climatology[f.FieldSize()*2+i])))
	}
	if d < 0.3 {
		t.Errorf("t850 climatology at 00 and 12 UTC differs by at most %v K", d)
	}
}

// The weather moves: persistence degrades with lead time to worse than
// climatology, and the anomalies stay correlated with the past (a good
// model can forecast them).
func TestGenerateWeatherPersistenceDegrades(t *testing.T) {
	f := smallWeather(t, 2, 120)
	rmse := func(lead int) (pers, clim float64) {
		var sp, sc float64
		var n int
		hw := 32 * 64
		for t0 := 0; t0+lead < f.NumTimes(); t0 += 5 {
			a, b, c := f.State(t0)[:hw], f.State(t0 + lead)[:hw], f.ClimatologyAt(t0 + lead)[:hw]
			for i := range a {
				sp += sq(float64(a[i] - b[i]))
				sc += sq(float64(c[i] - b[i]))
			}
			n += hw
		}
		return math.Sqrt(sp / float64(n)), math.Sqrt(sc / float64(n))
	}
	p1, c1 := rmse(1)
	p20, c20 := rmse(20)
	if !(p1 < 0.5*c1) || !(p20 > c20) || !(p20 > 2*p1) {
		t.Errorf("z500 persistence RMSE %v at 6 h, %v at 5 days; climatology %v, %v", p1, p20, c1, c20)
	}
}

func TestWeatherFieldsHelpers(t *testing.T) {
	f := smallWeather(t, 1, 10)
	s := f.Slice(2, 5)
	if s.NumTimes() != 3 || &s.State(0)[0] != &f.State(2)[0] || !s.Times[0].Equal(f.Times[2]) {
		t.Error("Slice does not share the states")
	}
	g := *f
	g.ComputeClimatology(1)
	if g.ClimSlots != 1 || len(g.Climatology) != g.FieldSize() {
		t.Fatalf("one-slot climatology: %d slots, %d values", g.ClimSlots, len(g.Climatology))
	}
	var mean float64
	for tt := 0; tt < g.NumTimes(); tt++ {
		mean += float64(g.State(tt)[7])
	}
	mean /= float64(g.NumTimes())
	if math.Abs(float64(g.ClimatologyFor(time.Now())[7])-mean) > 1e-2 {
		t.Errorf("climatology %v, mean %v", g.Climatology[7], mean)
	}
	if _, err := GenerateWeather(WeatherConfig{Lat: 2, Lon: 4, Steps: 1}); err == nil {
		t.Error("accepted a 2×4 grid")
	}
	if _, err := GenerateWeather(WeatherConfig{Lat: 8, Lon: 16, Steps: 1, Noise: -1}); err == nil {
		t.Error("accepted a negative noise scale")
	}
}
