package puyun

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepgo/deepgo/autograd"
)

// LatitudeWeights returns the weights of the latitude-weighted scores,
// L(φ_i) = cos φ_i / mean_j cos φ_j for the rows' latitudes lat (degrees),
// which average to 1 over the rows.
func LatitudeWeights(lat []float64) []float64 {
	w := make([]float64, len(lat))
	var sum float64
	for i, d := range lat {
		w[i] = math.Max(math.Cos(d*math.Pi/180), 0)
		sum += w[i]
	}
	if sum == 0 {
		panic(fmt.Sprintf("puyun: LatitudeWeights: latitudes %v have no positive cosine", lat))
	}
	for i := range w {
		w[i] *= float64(len(lat)) / sum
	}
	return w
}

// WeightedMSE returns mean_{i,j} L(φ_i)(pred − truth)² of one field of
// len(w) rows (pred and truth row-major, len(w)·W values).
func WeightedMSE(pred, truth []float32, w []float64) float64 {
	h := len(w)
	if len(pred) != len(truth) || h == 0 || len(pred)%h != 0 {
		panic(fmt.Sprintf("puyun: WeightedMSE: fields of %d and %d values over %d rows", len(pred), len(truth), h))
	}
	wd := len(pred) / h
	var s float64
	for i := 0; i < h; i++ {
		var r float64
		for j := 0; j < wd; j++ {
			d := float64(pred[i*wd+j]) - float64(truth[i*wd+j])
			r += d * d
		}
		s += w[i] * r
	}
	return s / float64(len(pred))
}

// RMSE returns the latitude-weighted root mean square error of one field,
// √(mean_{i,j} L(φ_i)(pred − truth)²).
func RMSE(pred, truth []float32, w []float64) float64 {
	return math.Sqrt(WeightedMSE(pred, truth, w))
}

// ACC returns the latitude-weighted anomaly correlation coefficient of one
// field against the climatology clim:
//
//	ACC = Σ L f′ o′ / √(Σ L f′² · Σ L o′²),  f′ = pred − clim,  o′ = truth − clim
//
// (WeatherBench's, without removing the anomalies' means). It is 1 for a
// perfect forecast and 0 when either anomaly is zero everywhere (the
// climatology itself).
func ACC(pred, truth, clim []float32, w []float64) float64 {
	h := len(w)
	if len(pred) != len(truth) || len(clim) != len(pred) || h == 0 || len(pred)%h != 0 {
		panic(fmt.Sprintf("puyun: ACC: fields of %d, %d and %d values over %d rows", len(pred), len(truth), len(clim), h))
	}
	wd := len(pred) / h
	var fo, ff, oo float64
	for i := 0; i < h; i++ {
		for j := 0; j < wd; j++ {
			k := i*wd + j
			f := float64(pred[k]) - float64(clim[k])
			o := float64(truth[k]) - float64(clim[k])
			fo += w[i] * f * o
			ff += w[i] * f * f
			oo += w[i] * o * o
		}
	}
	if ff == 0 || oo == 0 {
		return 0
	}
	return fo / math.Sqrt(ff*oo)
}

// Scores accumulates latitude-weighted RMSE and ACC per variable and lead
// time over many forecasts. RMSE(v, lead) is the square root of the mean
// weighted MSE over the forecasts (as WeatherBench 2); ACC(v, lead) the mean
// of the forecasts' ACCs.
type Scores struct {
	// Vars names the variables.
	Vars []string
	// Leads is the number of lead times (1 … Leads steps).
	Leads int

	w        []float64
	hw       int
	mse, acc [][]float64 // [v][lead-1]
	n        [][]int
}

// NewScores returns empty scores for the variables vars, leads lead times
// and a grid with rows at latitudes lat (degrees) and lon columns.
func NewScores(vars []string, leads int, lat []float64, lon int) *Scores {
	if len(vars) == 0 || leads < 1 || len(lat) == 0 || lon < 1 {
		panic(fmt.Sprintf("puyun: NewScores: %d variables, %d leads, %d × %d grid", len(vars), leads, len(lat), lon))
	}
	s := &Scores{Vars: append([]string(nil), vars...), Leads: leads, w: LatitudeWeights(lat), hw: len(lat) * lon}
	s.mse, s.acc, s.n = make([][]float64, len(vars)), make([][]float64, len(vars)), make([][]int, len(vars))
	for v := range vars {
		s.mse[v], s.acc[v], s.n[v] = make([]float64, leads), make([]float64, leads), make([]int, leads)
	}
	return s
}

// Add scores one forecast state pred ([V, H, W], physical units) at lead
// lead (1-based) against truth and the climatology clim of its valid time.
func (s *Scores) Add(lead int, pred, truth, clim []float32) {
	if lead < 1 || lead > s.Leads {
		panic(fmt.Sprintf("puyun: Scores.Add: lead %d outside 1..%d", lead, s.Leads))
	}
	n := len(s.Vars) * s.hw
	if len(pred) != n || len(truth) != n || len(clim) != n {
		panic(fmt.Sprintf("puyun: Scores.Add: states of %d, %d and %d values; need %d", len(pred), len(truth), len(clim), n))
	}
	for v := range s.Vars {
		a, b := v*s.hw, (v+1)*s.hw
		s.mse[v][lead-1] += WeightedMSE(pred[a:b], truth[a:b], s.w)
		s.acc[v][lead-1] += ACC(pred[a:b], truth[a:b], clim[a:b], s.w)
		s.n[v][lead-1]++
	}
}

// RMSE returns the latitude-weighted RMSE of variable v at lead (1-based),
// NaN when nothing was added there.
func (s *Scores) RMSE(v, lead int) float64 {
	if s.n[v][lead-1] == 0 {
		return math.NaN()
	}
	return math.Sqrt(s.mse[v][lead-1] / float64(s.n[v][lead-1]))
}

// ACC returns the mean latitude-weighted ACC of variable v at lead
// (1-based), NaN when nothing was added there.
func (s *Scores) ACC(v, lead int) float64 {
	if s.n[v][lead-1] == 0 {
		return math.NaN()
	}
	return s.acc[v][lead-1] / float64(s.n[v][lead-1])
}

// Count returns how many forecasts were scored for variable v at lead.
func (s *Scores) Count(v, lead int) int { return s.n[v][lead-1] }

// LatitudeWeightTensor returns LatitudeWeights(lat) as a [1, 1, H, 1]
// tensor that broadcasts over [B, V, H, W] states.
func LatitudeWeightTensor(lat []float64) *autograd.Tensor {
	w := LatitudeWeights(lat)
	d := make([]float32, len(w))
	for i, x := range w {
		d[i] = float32(x)
	}
	return autograd.New(d, 1, 1, len(w), 1)
}

// WeightedMSELoss returns the latitude-weighted mean squared error
// mean(L(φ)·(pred − target)²) of [B, V, H, W] states, with w from
// LatitudeWeightTensor: the training loss of examples/puyun (the spec
// leaves L1 or MSE open; MSE is our choice).
func WeightedMSELoss(pred, target, w *autograd.Tensor) *autograd.Tensor {
	if pred.Dim() != 4 || !slices.Equal(pred.Shape(), target.Shape()) || w.Dim() != 4 || w.Size(2) != pred.Size(2) {
		panic(fmt.Sprintf("puyun: WeightedMSELoss: prediction %v, target %v, weights %v; need equal [B, V, H, W] and [1, 1, H, 1]", pred.Shape(), target.Shape(), w.Shape()))
	}
	return pred.Sub(target).Square().Mul(w).Mean()
}
