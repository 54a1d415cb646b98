package stgnn

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// MAPEEpsilon is the ε of tsl's MAPE denominator |y + ε|.
const MAPEEpsilon = 5e-8

// Metrics accumulates tsl's masked forecasting metrics over a test set,
// overall and per horizon step:
//
//	MAE  = Σ m·|ŷ − y| / Σ m
//	RMSE = √(Σ m·(ŷ − y)² / Σ m)        (over the whole set, not per batch)
//	MAPE = Σ m'·|ŷ − y| / |y + ε| / Σ m'  (ε = 5e-8)
//
// where m is the mask and m' the mask without the entries where y = 0,
// whose error tsl's MaskedMAPE drops as infinite. Sums are kept in
// float64. The zero value is not usable; create one with NewMetrics.
type Metrics struct {
	// Horizon is the number of steps per forecast.
	Horizon                 int
	abs, sq, pct, cnt, pcnt []float64 // per step
}

// NewMetrics returns empty metrics for forecasts of horizon steps.
func NewMetrics(horizon int) *Metrics {
	if horizon < 1 {
		panic(fmt.Sprintf("stgnn: NewMetrics: horizon %d", horizon))
	}
	return &Metrics{Horizon: horizon, abs: make([]float64, horizon), sq: make([]float64, horizon),
		pct: make([]float64, horizon), cnt: make([]float64, horizon), pcnt: make([]float64, horizon)}
}

// AddBatch accumulates b forecasts laid out as [b, Horizon, rest...].
func (m *Metrics) AddBatch(pred, target, mask []float32, b int) {
	if b < 1 || len(pred)%(b*m.Horizon) != 0 || len(pred) != len(target) || (mask != nil && len(mask) != len(pred)) {
		panic(fmt.Sprintf("stgnn: Metrics.AddBatch: %d predictions, %d targets, %d mask values for %d forecasts of horizon %d", len(pred), len(target), len(mask), b, m.Horizon))
	}
	rest := len(pred) / (b * m.Horizon)
	for i := range pred {
		if mask != nil && mask[i] == 0 {
			continue
		}
		y := float64(target[i])
		if math.IsNaN(y) {
			continue
		}
		h := (i / rest) % m.Horizon
		e := math.Abs(float64(pred[i]) - y)
		m.abs[h] += e
		m.sq[h] += e * e
		m.cnt[h]++
		if y != 0 {
			if p := e / math.Abs(y+MAPEEpsilon); !math.IsInf(p, 0) && !math.IsNaN(p) {
				m.pct[h] += p
				m.pcnt[h]++
			}
		}
	}
}

// sum returns Σ of v over step (1-based), or over all steps for step 0.
func sumStep(v []float64, step int) float64 {
	if step > 0 {
		return v[step-1]
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func (m *Metrics) checkStep(fn string, step int) {
	if step < 0 || step > m.Horizon {
		panic(fmt.Sprintf("stgnn: Metrics.%s: step %d outside 0..%d", fn, step, m.Horizon))
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// MAE returns the masked mean absolute error at step (1-based: 3 is the
// third step ahead) or, for step 0, over every step. It is NaN when no
// value was observed.
func (m *Metrics) MAE(step int) float64 {
	m.checkStep("MAE", step)
	return ratio(sumStep(m.abs, step), sumStep(m.cnt, step))
}

// RMSE returns the root of the masked mean squared error at step, or over
// every step for step 0.
func (m *Metrics) RMSE(step int) float64 {
	m.checkStep("RMSE", step)
	return math.Sqrt(ratio(sumStep(m.sq, step), sumStep(m.cnt, step)))
}

// MAPE returns the masked mean absolute percentage error (a fraction:
// 0.07 is 7%) at step, or over every step for step 0.
func (m *Metrics) MAPE(step int) float64 {
	m.checkStep("MAPE", step)
	return ratio(sumStep(m.pct, step), sumStep(m.pcnt, step))
}

// Count returns the number of observed values at step (all steps for 0).
func (m *Metrics) Count(step int) int {
	m.checkStep("Count", step)
	return int(sumStep(m.cnt, step))
}

// MaskedMAELoss is the training loss of tsl's forecasters, the masked MAE
// Σ m·|ŷ − y| / Σ m (0 when nothing is observed), differentiable in pred.
func MaskedMAELoss(pred, target, mask *autograd.Tensor) *autograd.Tensor {
	return autograd.MaskedMAE(pred, target, mask)
}
