package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// WeatherFields is a sequence of atmospheric states on a regular
// latitude × longitude grid: the synthetic atmosphere of GenerateWeather or
// the variables of a NetCDF file read by LoadWeatherNetCDF. It is what
// models/puyun trains on and is scored against.
type WeatherFields struct {
	// Vars names the variables ("z500", "t850", ...), in channel order.
	Vars []string
	// Units are the variables' units ("m**2 s**-2", "K", ...).
	Units []string
	// Lat holds the latitudes of the rows in degrees, north to south as
	// ERA5 stores them; Lon the longitudes of the columns in degrees east.
	Lat, Lon []float64
	// Times holds the valid time (UTC) of each state.
	Times []time.Time
	// Data holds the states, Data[((t·V + v)·H + i)·W + j] for time t,
	// variable v, latitude row i and longitude column j, in physical units.
	Data []float32
	// Mean and Std are the per-variable normalisation statistics: the
	// mean and the standard deviation over every time and grid point (of
	// the training span, for the synthetic set; of the file, for NetCDF).
	Mean, Std []float64
	// Climatology holds ClimSlots mean states, [ClimSlots, V, H, W]: the
	// expected state at each time of day (slot s covers the hours from
	// 24·s/ClimSlots). The anomaly correlation (ACC) is taken against it.
	Climatology []float32
	// ClimSlots is the number of times of day in Climatology (4 for 6-hourly
	// data, 1 when the climatology ignores the time of day).
	ClimSlots int
}

// NumTimes returns the number of states.
func (f *WeatherFields) NumTimes() int { return len(f.Times) }

// FieldSize returns V·H·W, the number of values in one state.
func (f *WeatherFields) FieldSize() int { return len(f.Vars) * len(f.Lat) * len(f.Lon) }

// State returns state t ([V, H, W], row-major), sharing Data's storage.
func (f *WeatherFields) State(t int) []float32 {
	n := f.FieldSize()
	if t < 0 || t >= len(f.Times) {
		panic(fmt.Sprintf("data: WeatherFields.State: time %d out of range [0, %d)", t, len(f.Times)))
	}
	return f.Data[t*n : (t+1)*n : (t+1)*n]
}

// ClimatologyAt returns the climatological state ([V, H, W]) for the valid
// time of state t, sharing Climatology's storage.
func (f *WeatherFields) ClimatologyAt(t int) []float32 {
	if t < 0 || t >= len(f.Times) {
		panic(fmt.Sprintf("data: WeatherFields.ClimatologyAt: time %d out of range [0, %d)", t, len(f.Times)))
	}
	return f.ClimatologyFor(f.Times[t])
}

// ClimatologyFor returns the climatological state ([V, H, W]) for valid
// time tm, sharing Climatology's storage.
func (f *WeatherFields) ClimatologyFor(tm time.Time) []float32 {
	n := f.FieldSize()
	s := climSlot(tm, f.ClimSlots)
	return f.Climatology[s*n : (s+1)*n : (s+1)*n]
}

func climSlot(tm time.Time, slots int) int {
	if slots <= 1 {
		return 0
	}
	tm = tm.UTC()
	sec := tm.Hour()*3600 + tm.Minute()*60 + tm.Second()
	return sec * slots / 86400
}

// Normalized returns Data normalised per variable, (x − Mean)/Std, as a new
// slice of Data's layout.
func (f *WeatherFields) Normalized() []float32 {
	out := make([]float32, len(f.Data))
	hw := len(f.Lat) * len(f.Lon)
	v := len(f.Vars)
	for i := range f.Data {
		c := (i / hw) % v
		out[i] = float32((float64(f.Data[i]) - f.Mean[c]) / f.Std[c])
	}
	return out
}

// Slice returns the states [from, to) as new fields sharing Data's storage,
// with the same statistics and climatology.
func (f *WeatherFields) Slice(from, to int) *WeatherFields {
	if from < 0 || to > len(f.Times) || from > to {
		panic(fmt.Sprintf("data: WeatherFields.Slice: [%d, %d) out of range [0, %d]", from, to, len(f.Times)))
	}
	g := *f
	n := f.FieldSize()
	g.Times = f.Times[from:to:to]
	g.Data = f.Data[from*n : to*n : to*n]
	return &g
}

// ComputeStats sets Mean and Std from every value of Data, per variable.
func (f *WeatherFields) ComputeStats() {
	v, hw := len(f.Vars), len(f.Lat)*len(f.Lon)
	sum, sq := make([]float64, v), make([]float64, v)
	for i, x := range f.Data {
		c := (i / hw) % v
		sum[c] += float64(x)
	}
	cnt := float64(len(f.Times) * hw)
	f.Mean, f.Std = make([]float64, v), make([]float64, v)
	for c := range sum {
		f.Mean[c] = sum[c] / cnt
	}
	for i, x := range f.Data {
		c := (i / hw) % v
		d := float64(x) - f.Mean[c]
		sq[c] += d * d
	}
	for c := range sq {
		f.Std[c] = math.Sqrt(sq[c] / cnt)
		if f.Std[c] == 0 || math.IsNaN(f.Std[c]) {
			f.Std[c] = 1
		}
	}
}

// ComputeClimatology sets Climatology to the mean state of each of slots
// times of day over every state of Data (slots = 1: the overall mean
// state), as WeatherBench computes its climatology from the training
// years. A slot that no state falls in gets the overall mean.
func (f *WeatherFields) ComputeClimatology(slots int) {
	if slots < 1 {
		slots = 1
	}
	n := f.FieldSize()
	acc := make([]float64, slots*n)
	all := make([]float64, n)
	cnt := make([]int, slots)
	for t := range f.Times {
		s := climSlot(f.Times[t], slots)
		cnt[s]++
		st := f.State(t)
		for i, x := range st {
			acc[s*n+i] += float64(x)
			all[i] += float64(x)
		}
	}
	f.ClimSlots = slots
	f.Climatology = make([]float32, slots*n)
	for s := 0; s < slots; s++ {
		for i := 0; i < n; i++ {
			if cnt[s] > 0 {
				f.Climatology[s*n+i] = float32(acc[s*n+i] / float64(cnt[s]))
			} else if len(f.Times) > 0 {
				f.Climatology[s*n+i] = float32(all[i] / float64(len(f.Times)))
			}
		}
	}
}

// WeatherConfig sets up GenerateWeather's synthetic atmosphere.
type WeatherConfig struct {
	// Lat and Lon are the grid's rows and columns (32 × 64 by default:
	// 5.625° cells, latitudes at the cell centres from 87.1875°N to
	// 87.1875°S, longitudes from 0°E).
	Lat, Lon int
	// Steps is the number of 6-hourly states returned.
	Steps int
	// SpinUp is the number of steps run and dropped first so that the
	// states are drawn from the (nearly) stationary regime (1000 in
	// DefaultWeatherConfig; the anomalies decorrelate over about 400 steps).
	SpinUp int
	// Start is the valid time of the first returned state (default
	// 2020-01-01 00:00 UTC).
	Start time.Time
	// Noise scales the random forcing (the unpredictable part); 1 by
	// default, 0 for a deterministic run (the climatology).
	Noise float64
	// NoNoise, when set, turns the random forcing off whatever Noise says.
	NoNoise bool
	// Seed seeds the random forcing.
	Seed uint64
}

// DefaultWeatherConfig returns a 32 × 64 grid, 2000 states (500 days) after
// 1000 spin-up steps, seed 1.
func DefaultWeatherConfig() WeatherConfig {
	return WeatherConfig{Lat: 32, Lon: 64, Steps: 2000, SpinUp: 1000, Noise: 1,
		Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Seed: 1}
}

// WeatherVars are the variables of GenerateWeather, in channel order:
// a 500 hPa geopotential, an 850 hPa temperature and 500 hPa zonal and
// meridional winds.
var WeatherVars = []string{"z500", "t850", "u500", "v500"}

// Constants of the synthetic atmosphere (per 6-hour step).
const (
	weatherStepHours = 6
	weatherZScale    = 1000.0 // m²/s² per unit of the Z anomaly
	weatherEarth     = 6.371e6
	weatherStepSec   = 6 * 3600.0
	weatherGeoK      = 1e4 // 1/f0 s: anomaly winds from the Z anomaly
)

// GenerateWeather runs the seeded synthetic atmosphere of the puyun issue
// (after models.md §10) and returns Steps 6-hourly states of WeatherVars on
// a Lat × Lon grid with their normalisation statistics and their exact
// climatology.
//
// The state is two anomaly fields on the sphere, a geopotential anomaly Z'
// and a temperature anomaly T'. Each 6-hour step:
//
//   - both are advected eastward by a latitude-dependent zonal wind U(φ)
//     (westerly jets near ±40°, weak winds in the tropics: 9–35 m/s), exactly,
//     as a phase shift of each latitude row's Fourier series;
//   - both diffuse: zonal wavenumber m decays as exp(−ν m²/cos²φ), and a
//     three-point diffusion smooths across latitudes;
//   - Z' relaxes to zero with a 200-day time scale and is forced by random
//     zonal waves A cos φ sin(n(φ+90°)) cos(mλ + θ), m = 1..6, n = 1..4
//     (the unpredictable part);
//   - T' relaxes with a 3-day time scale and is coupled to Z': the
//     meridional wind of Z' (v' ∝ ∂Z'/∂λ) advects a pole-to-equator
//     temperature gradient (75·sin 2φ K per Earth radius, three times the
//     mean profile's, for a strong coupling), small random waves force
//     it, and a migrating diurnal heating wave cos φ cos(λ + 2π·hour/24)
//     heats it (so the time of day matters).
//
// The variables are z500 = 54000 + 3000(cos²φ − 2/3) + 1000·Z' (m²/s²),
// t850 = 275 + 25(cos²φ − 1/2) + T' (K), u500 = U(φ) − K ∂Z'/a∂φ and
// v500 = K ∂Z'/a∂λ (m/s, K = 10⁴ s, a the Earth's radius). The anomalies
// of z500 have a standard deviation of about 1200 m²/s² and travel up to
// 1.6 grid cells per step in the jets, so persistence is worse than
// climatology after two or three days. The random forcing is small against
// the anomalies it maintains (they decorrelate over about 100 days), so a
// model that learns the operator can forecast far beyond that: run
// without noise from the true state, the error at 10 days is about 0.4 of
// the climatology's.
//
// The dynamics are linear, so the expected state given the time of day is
// the noise-free solution: the climatology (4 slots, at 00, 06, 12 and 18
// UTC) is computed exactly that way. Mean and Std are those of the
// returned states.
func GenerateWeather(cfg WeatherConfig) (*WeatherFields, error) {
	if cfg.Lat < 4 || cfg.Lon < 8 || cfg.Steps < 1 || cfg.SpinUp < 0 {
		return nil, fmt.Errorf("data: GenerateWeather: need at least a 4 × 8 grid, one step and a non-negative spin-up; got %d × %d, %d steps, spin-up %d",
			cfg.Lat, cfg.Lon, cfg.Steps, cfg.SpinUp)
	}
	if cfg.Noise < 0 || math.IsNaN(cfg.Noise) {
		return nil, fmt.Errorf("data: GenerateWeather: noise scale %v must be non-negative", cfg.Noise)
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	noise := cfg.Noise
	if cfg.NoNoise {
		noise = 0
	}
	a := newWeatherSim(cfg.Lat, cfg.Lon, noise, cfg.Seed)
	start := cfg.Start.UTC()
	// Spin up so that the first state is stationary: the step counter k
	// runs so that state 0 is at time Start.
	t0 := start.Add(-time.Duration(cfg.SpinUp) * weatherStepHours * time.Hour)
	for k := 0; k < cfg.SpinUp; k++ {
		a.step(t0.Add(time.Duration(k) * weatherStepHours * time.Hour))
	}
	f := &WeatherFields{
		Vars:  append([]string(nil), WeatherVars...),
		Units: []string{"m**2 s**-2", "K", "m s**-1", "m s**-1"},
		Lat:   append([]float64(nil), a.latDeg...),
		Lon:   make([]float64, cfg.Lon),
		Times: make([]time.Time, cfg.Steps),
	}
	for j := range f.Lon {
		f.Lon[j] = 360 * float64(j) / float64(cfg.Lon)
	}
	n := f.FieldSize()
	f.Data = make([]float32, cfg.Steps*n)
	for k := 0; k < cfg.Steps; k++ {
		tm := start.Add(time.Duration(k) * weatherStepHours * time.Hour)
		f.Times[k] = tm
		a.fields(f.Data[k*n : (k+1)*n])
		if k+1 < cfg.Steps {
			a.step(tm)
		}
	}
	f.ComputeStats()
	// The exact climatology: the noise-free run, which is periodic with
	// the day once the initial state has decayed (T' relaxes in 3 days).
	c := newWeatherSim(cfg.Lat, cfg.Lon, 0, 0)
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	const warm = 400
	f.ClimSlots = 4
	f.Climatology = make([]float32, 4*n)
	for k := 0; k < warm+4; k++ {
		tm := ref.Add(time.Duration(k) * weatherStepHours * time.Hour)
		if k >= warm {
			s := climSlot(tm, 4)
			c.fields(f.Climatology[s*n : (s+1)*n])
		}
		c.step(tm)
	}
	return f, nil
}

// weatherSim is the state and operator of GenerateWeather's atmosphere.
type weatherSim struct {
	h, w           int
	latDeg, lat    []float64
	cosLat         []float64
	z, t           []float64 // anomalies, [h, w]
	shift          []float64 // zonal advection per step, radians, per row
	uBar           []float64 // m/s per row
	damp           [][]float64
	cosT, sinT     [][]float64 // [k][j] cos(kλ_j), sin(kλ_j)
	shapes         [][]float64 // meridional shapes of the forcing, [n][i]
	noise          float64
	rng            *rand.Rand
	zMean, tMean   []float64
	tGrad          []float64 // per-step coupling coefficient of v' per row
	re, im         []float64
	re2, im2       []float64
	rotC, rotS     [][]float64 // damp·cos(kΔλ_i), damp·sin(kΔλ_i)
	work, work2    []float64
	vAnom          []float64
	kMax           int
	zAmp, tAmp, hd float64
}

func newWeatherSim(h, w int, noise float64, seed uint64) *weatherSim {
	s := &weatherSim{h: h, w: w, noise: noise, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.kMax = w / 2
	s.latDeg = make([]float64, h)
	s.lat = make([]float64, h)
	s.cosLat = make([]float64, h)
	s.shift = make([]float64, h)
	s.uBar = make([]float64, h)
	s.zMean = make([]float64, h)
	s.tMean = make([]float64, h)
	s.tGrad = make([]float64, h)
	s.damp = make([][]float64, h)
	for i := 0; i < h; i++ {
		d := 90 - 180*(float64(i)+0.5)/float64(h)
		s.latDeg[i] = d
		phi := d * math.Pi / 180
		s.lat[i] = phi
		c := math.Cos(phi)
		s.cosLat[i] = c
		// Angular speed in grid cells of the 64-column grid per step:
		// 0.3 at the equator, 1.6 in the jets at ±40°.
		cells := 0.6 + 1.0*math.Exp(-sq((math.Abs(d)-40)/15)) - 0.3*math.Exp(-sq(d/10))
		s.shift[i] = cells * 2 * math.Pi / 64
		s.uBar[i] = s.shift[i] * weatherEarth * c / weatherStepSec
		s.zMean[i] = 54000 + 3000*(c*c-2.0/3)
		s.tMean[i] = 275 + 25*(c*c-0.5)
		// −v'·∂Tm/∂y·Δt with an effective gradient ∂Tm/∂y = −75·sin2φ/a
		// (three times the mean profile's, for a stronger coupling).
		s.tGrad[i] = 75 * math.Sin(2*phi) / weatherEarth * weatherStepSec
		s.damp[i] = make([]float64, s.kMax+1)
		for k := 0; k <= s.kMax; k++ {
			s.damp[i][k] = math.Exp(-3e-5 * float64(k*k) / math.Max(c*c, 1e-3))
		}
	}
	s.cosT = make([][]float64, s.kMax+1)
	s.sinT = make([][]float64, s.kMax+1)
	for k := 0; k <= s.kMax; k++ {
		s.cosT[k] = make([]float64, w)
		s.sinT[k] = make([]float64, w)
		for j := 0; j < w; j++ {
			ang := 2 * math.Pi * float64(k*j) / float64(w)
			s.cosT[k][j], s.sinT[k][j] = math.Cos(ang), math.Sin(ang)
		}
	}
	s.shapes = make([][]float64, 4)
	for n := range s.shapes {
		s.shapes[n] = make([]float64, h)
		for i := 0; i < h; i++ {
			s.shapes[n][i] = s.cosLat[i] * math.Sin(float64(n+1)*(s.lat[i]+math.Pi/2))
		}
	}
	s.z = make([]float64, h*w)
	s.t = make([]float64, h*w)
	s.re = make([]float64, s.kMax+1)
	s.im = make([]float64, s.kMax+1)
	s.re2 = make([]float64, s.kMax+1)
	s.im2 = make([]float64, s.kMax+1)
	s.rotC = make([][]float64, h)
	s.rotS = make([][]float64, h)
	for i := 0; i < h; i++ {
		s.rotC[i] = make([]float64, s.kMax+1)
		s.rotS[i] = make([]float64, s.kMax+1)
		for k := 0; k <= s.kMax; k++ {
			s.rotC[i][k] = s.damp[i][k] * math.Cos(float64(k)*s.shift[i])
			s.rotS[i][k] = s.damp[i][k] * math.Sin(float64(k)*s.shift[i])
		}
	}
	s.work = make([]float64, h*w)
	s.work2 = make([]float64, h*w)
	s.vAnom = make([]float64, h*w)
	s.zAmp, s.tAmp, s.hd = 0.06, 0.1, 2.0
	return s
}

func sq(x float64) float64 { return x * x }

// dft sets re, im to the real DFT of row x (k = 0..kMax).
func (s *weatherSim) dft(x []float64) {
	for k := 0; k <= s.kMax; k++ {
		var r, m float64
		ck, sk := s.cosT[k], s.sinT[k]
		for j, v := range x {
			r += v * ck[j]
			m -= v * sk[j]
		}
		s.re[k], s.im[k] = r, m
	}
}

// idft writes the inverse real DFT of (re, im) into x.
func (s *weatherSim) idft(x []float64) {
	w := float64(s.w)
	for j := range x {
		v := s.re[0] / w
		for k := 1; k <= s.kMax; k++ {
			f := 2.0
			if 2*k == s.w {
				f = 1
			}
			v += f / w * (s.re[k]*s.cosT[k][j] - s.im[k]*s.sinT[k][j])
		}
		x[j] = v
	}
}

// advect shifts every row of f eastward by shift[i] and damps its zonal
// wavenumbers; with dl non-nil it first writes ∂f/∂λ into dl.
func (s *weatherSim) advect(f, dl []float64) {
	for i := 0; i < s.h; i++ {
		row := f[i*s.w : (i+1)*s.w]
		s.dft(row)
		if dl != nil {
			copy(s.re2, s.re)
			copy(s.im2, s.im)
			s.derivSpectrum()
			s.idft(dl[i*s.w : (i+1)*s.w])
			copy(s.re, s.re2)
			copy(s.im, s.im2)
		}
		rc, rs := s.rotC[i], s.rotS[i]
		for k := 0; k <= s.kMax; k++ {
			r, m := s.re[k], s.im[k]
			// multiply by damp·exp(−i k Δλ): an eastward shift.
			s.re[k], s.im[k] = r*rc[k]+m*rs[k], m*rc[k]-r*rs[k]
		}
		s.idft(row)
	}
}

// dLon writes ∂f/∂λ (spectral, per row) into dl.
func (s *weatherSim) dLon(f, dl []float64) {
	for i := 0; i < s.h; i++ {
		s.dft(f[i*s.w : (i+1)*s.w])
		s.derivSpectrum()
		s.idft(dl[i*s.w : (i+1)*s.w])
	}
}

// derivSpectrum turns the row spectrum in re, im into that of its
// longitude derivative: each wavenumber k times ik, the Nyquist term
// (real-valued, its derivative undefined on the grid) zeroed.
func (s *weatherSim) derivSpectrum() {
	for k := 0; k <= s.kMax; k++ {
		r, m := s.re[k], s.im[k]
		s.re[k], s.im[k] = -float64(k)*m, float64(k)*r
		if 2*k == s.w {
			s.re[k], s.im[k] = 0, 0
		}
	}
}

// diffuseLat applies one explicit three-point diffusion across latitudes
// with zero-flux ends.
func (s *weatherSim) diffuseLat(f []float64, kappa float64) {
	copy(s.work2, f)
	for i := 0; i < s.h; i++ {
		up, dn := i-1, i+1
		if up < 0 {
			up = 0
		}
		if dn >= s.h {
			dn = s.h - 1
		}
		for j := 0; j < s.w; j++ {
			c := s.work2[i*s.w+j]
			f[i*s.w+j] = c + kappa*(s.work2[up*s.w+j]+s.work2[dn*s.w+j]-2*c)
		}
	}
}

// force adds random zonal waves of total scale amp to f.
func (s *weatherSim) force(f []float64, amp float64) {
	if s.noise == 0 {
		return
	}
	for m := 1; m <= 6; m++ {
		for n := 0; n < 4; n++ {
			a := amp * s.noise * s.rng.NormFloat64() / math.Sqrt(float64(m))
			th := 2 * math.Pi * s.rng.Float64()
			ca, sa := a*math.Cos(th), a*math.Sin(th)
			for i := 0; i < s.h; i++ {
				g := s.shapes[n][i]
				if g == 0 {
					continue
				}
				row := f[i*s.w : (i+1)*s.w]
				for j := range row {
					row[j] += g * (ca*s.cosT[m%(s.kMax+1)][j] - sa*s.sinT[m%(s.kMax+1)][j])
				}
			}
		}
	}
}

// step advances the state by 6 hours from valid time tm.
func (s *weatherSim) step(tm time.Time) {
	// v' from the Z anomaly (before advection), then advect both fields.
	s.advect(s.z, s.vAnom)
	s.advect(s.t, nil)
	hour := float64(tm.UTC().Hour()) + float64(tm.UTC().Minute())/60
	for i := 0; i < s.h; i++ {
		for j := 0; j < s.w; j++ {
			p := i*s.w + j
			v := weatherGeoK / weatherEarth * weatherZScale * s.vAnom[p]
			s.t[p] += v*s.tGrad[i] - s.t[p]/12
			lam := 2 * math.Pi * float64(j) / float64(s.w)
			s.t[p] += s.hd * s.cosLat[i] * math.Cos(lam+2*math.Pi*hour/24)
			s.z[p] -= s.z[p] / 800
		}
	}
	s.diffuseLat(s.z, 0.0005)
	s.diffuseLat(s.t, 0.02)
	s.force(s.z, s.zAmp)
	s.force(s.t, s.tAmp)
}

// fields writes the state's variables ([4, h, w]) into out.
func (s *weatherSim) fields(out []float32) {
	hw := s.h * s.w
	dl := s.work
	s.dLon(s.z, dl)
	dphi := math.Pi / float64(s.h)
	for i := 0; i < s.h; i++ {
		up, dn := i-1, i+1
		span := 2.0
		if up < 0 {
			up, span = i, 1
		}
		if dn >= s.h {
			dn, span = i, 1
		}
		for j := 0; j < s.w; j++ {
			p := i*s.w + j
			// rows run north to south: φ decreases with i.
			dz := (s.z[up*s.w+j] - s.z[dn*s.w+j]) / (span * dphi)
			out[p] = float32(s.zMean[i] + weatherZScale*s.z[p])
			out[hw+p] = float32(s.tMean[i] + s.t[p])
			out[2*hw+p] = float32(s.uBar[i] - weatherGeoK/weatherEarth*weatherZScale*dz)
			out[3*hw+p] = float32(weatherGeoK / weatherEarth * weatherZScale * dl[p])
		}
	}
}
