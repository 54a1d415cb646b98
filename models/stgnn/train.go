package stgnn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// TaskConfig is the forecasting protocol: tsl's traffic defaults are
// window 12, horizon 12, stride 1 and a temporal 70/10/20 split.
type TaskConfig struct {
	// Window, Horizon and Stride cut the sliding windows.
	Window, Horizon, Stride int
	// Val and Test are the fractions of the steps held out, at the end.
	Val, Test float64
	// Exog adds the time of day as exogenous input when the series has a
	// clock.
	Exog bool
}

// DefaultTaskConfig returns tsl's protocol: window 12, horizon 12,
// stride 1, 70/10/20 split, time of day as exogenous input.
func DefaultTaskConfig() TaskConfig {
	return TaskConfig{Window: 12, Horizon: 12, Stride: 1, Val: 0.1, Test: 0.2, Exog: true}
}

// Task is a series prepared for forecasting: its readings forward-filled
// and scaled with a StandardScaler fit on the training part, the graph,
// and the windows of the three parts. Validation and test windows read
// their inputs from up to Window steps before their part starts (as tsl's
// splits of sample indices do); their targets lie inside the part.
type Task struct {
	// Series holds the prepared inputs (filled, scaled) and the mask.
	Series *data.GraphSeries
	// Targets holds the raw readings, the values to predict.
	Targets []float32
	// Graph is the series' graph.
	Graph *layers.Graph
	// Scaler maps readings to the models' scale.
	Scaler data.Scaler
	// Train, Val and Test are the windows of the three parts.
	Train, Val, Test *data.GraphWindows
	// ValStart and TestStart are the first steps of the held-out parts.
	ValStart, TestStart int
	// Config is the protocol.
	Config TaskConfig
}

// GraphOf returns the layers.Graph of a series' edges and weights.
func GraphOf(s *data.GraphSeries) *layers.Graph {
	var w *autograd.Tensor
	if s.Weights != nil {
		w = autograd.New(append([]float32(nil), s.Weights...), len(s.Weights))
	}
	return layers.NewGraph(s.Nodes, s.Edges, w)
}

// Prepare applies the protocol to s (which it does not change): forward
// fill, scaler fit on the training part's observed readings, windows.
func Prepare(s *data.GraphSeries, cfg TaskConfig) (*Task, error) {
	if len(s.Edges) == 0 {
		return nil, fmt.Errorf("stgnn: Prepare: series %q has no edges", s.Name)
	}
	valStart, testStart := data.TemporalSplit(s.Steps, cfg.Val, cfg.Test)
	if valStart < cfg.Window+cfg.Horizon || testStart-valStart < cfg.Horizon || s.Steps-testStart < cfg.Horizon {
		return nil, fmt.Errorf("stgnn: Prepare: %d steps split at %d and %d leave a part without a window of %d + %d", s.Steps, valStart, testStart, cfg.Window, cfg.Horizon)
	}
	p := s.Slice(0, s.Steps)
	p.ForwardFill()
	sc := data.FitScaler(p, 0, valStart)
	sc.Transform(p.Values)
	t := &Task{Series: p, Targets: append([]float32(nil), s.Values...), Graph: GraphOf(s), Scaler: sc,
		ValStart: valStart, TestStart: testStart, Config: cfg}
	var err error
	mk := func(from, to int) *data.GraphWindows {
		if err != nil {
			return nil
		}
		var w *data.GraphWindows
		w, err = data.NewGraphWindows(p, t.Targets, cfg.Window, cfg.Horizon, max(cfg.Stride, 1), from, to)
		if w != nil {
			w.Exog = cfg.Exog
		}
		return w
	}
	t.Train = mk(0, valStart)
	t.Val = mk(max(valStart-cfg.Window, 0), testStart)
	t.Test = mk(max(testStart-cfg.Window, 0), s.Steps)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ExogSize returns the exogenous features per node and step the task's
// windows carry.
func (t *Task) ExogSize() int { return t.Train.ExogSize() }

// TrainConfig is the optimisation: Adam with L2 weight decay, an optional
// MultiStepLR schedule, gradient clipping, the masked MAE on the data's
// scale, early stopping on the validation MAE (the best weights are
// restored).
type TrainConfig struct {
	// Epochs is the most epochs; BatchSize the windows per step.
	Epochs, BatchSize int
	// LR and WeightDecay configure Adam.
	LR, WeightDecay float64
	// Milestones and Gamma give the MultiStepLR schedule (none when
	// Milestones is empty).
	Milestones []int
	Gamma      float64
	// ClipNorm clips the gradients' 2-norm (0: no clipping).
	ClipNorm float64
	// Patience stops after this many epochs without a better validation
	// MAE (0: never).
	Patience int
	// BatchesPerEpoch, when positive, draws only that many random
	// batches per epoch (a shorter epoch).
	BatchesPerEpoch int
	// ValWindows, when positive, validates on that many evenly spaced
	// validation windows instead of all.
	ValWindows int
	// MaxTime, when positive, stops training after the epoch in which it
	// runs out.
	MaxTime time.Duration
	// Seed draws the batches.
	Seed uint64
	// Log, when non-nil, gets one line per epoch.
	Log io.Writer
}

// DefaultTrainConfig returns tsl's optimisation for the named model:
// batch 64, 300 epochs, patience 50, clipping at 5, and Adam at 0.01
// (DCRNN: MultiStepLR γ 0.1 at 20, 30, 40), 1e-3 with weight decay 1e-4
// (Graph WaveNet, STCN), 3e-3 with MultiStepLR γ 0.25 at 25, 50, 100 and
// batch 256 (GRU-GCN), 3e-3 for the time-then-space model (the tutorial
// uses 1e-3 over more epochs).
func DefaultTrainConfig(name string) TrainConfig {
	c := TrainConfig{Epochs: 300, BatchSize: 64, LR: 0.01, Gamma: 0.1, ClipNorm: 5, Patience: 50, Seed: 1}
	switch name {
	case "tts":
		c.LR = 3e-3
	case "dcrnn":
		c.Milestones = []int{20, 30, 40}
	case "gwnet", "stcn":
		c.LR, c.WeightDecay = 1e-3, 1e-4
	case "grugcn":
		c.LR, c.BatchSize, c.Milestones, c.Gamma = 3e-3, 256, []int{25, 50, 100}, 0.25
	}
	return c
}

// FitResult reports a training run.
type FitResult struct {
	// Epochs is the number of epochs run; BestEpoch the one whose
	// weights were kept (1-based).
	Epochs, BestEpoch int
	// BestVal is the best validation MAE.
	BestVal float64
	// TrainLoss and ValMAE hold one value per epoch.
	TrainLoss, ValMAE []float64
	// Seconds is the wall time.
	Seconds float64
}

// tensors turns a batch into tensors.
func batchTensors(w *data.GraphWindows, b data.GraphBatch) (x, u, y, m *autograd.Tensor) {
	s := w.Series
	x = autograd.New(b.X, b.B, w.Window, s.Nodes, s.Features)
	if b.U != nil {
		u = autograd.New(b.U, b.B, w.Window, s.Nodes, w.ExogSize())
	}
	y = autograd.New(b.Y, b.B, w.Horizon, s.Nodes, s.Features)
	m = autograd.New(b.Mask, b.B, w.Horizon, s.Nodes, s.Features)
	return
}

// unscale maps the model's output back to the data's units.
func unscale(pred *autograd.Tensor, sc data.Scaler) *autograd.Tensor {
	f := len(sc.Mean)
	return pred.Mul(autograd.New(append([]float32(nil), sc.Std...), f)).Add(autograd.New(append([]float32(nil), sc.Mean...), f))
}

// Fit trains m on the task's training windows and keeps the weights of
// the epoch with the best validation MAE. The context stops it between
// batches (the best weights so far are kept).
func Fit(ctx context.Context, m Model, t *Task, cfg TrainConfig) (FitResult, error) {
	if cfg.Epochs < 1 || cfg.BatchSize < 1 || cfg.LR <= 0 {
		return FitResult{}, fmt.Errorf("stgnn: Fit: config needs epochs, a batch size and a learning rate: %+v", cfg)
	}
	start := time.Now()
	params := nn.Parameters(m)
	opt := optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay})
	var sched optim.Scheduler
	if len(cfg.Milestones) > 0 {
		sched = optim.NewMultiStepLR(opt, cfg.Milestones, cfg.Gamma)
	}
	rng := autograd.NewRNG(cfg.Seed)
	var res FitResult
	res.BestVal = math.Inf(1)
	var best []*autograd.Tensor
	state := nn.NamedStateDict(m)
	n := t.Train.Len()
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		nn.Train(m)
		perm := rng.Perm(n)
		nb := (n + cfg.BatchSize - 1) / cfg.BatchSize
		if cfg.BatchesPerEpoch > 0 && cfg.BatchesPerEpoch < nb {
			nb = cfg.BatchesPerEpoch
		}
		var lossSum float64
		for k := range nb {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			idx := perm[k*cfg.BatchSize : min((k+1)*cfg.BatchSize, n)]
			x, u, y, mask := batchTensors(t.Train, t.Train.Batch(idx))
			pred := unscale(m.Forward(x, u, t.Graph), t.Scaler)
			loss := MaskedMAELoss(pred, y, mask)
			opt.ZeroGrad()
			loss.Backward()
			if cfg.ClipNorm > 0 {
				optim.ClipGradNorm(params, cfg.ClipNorm, 2)
			}
			opt.Step()
			l := float64(loss.Item())
			if math.IsNaN(l) {
				return res, errors.New("stgnn: Fit: the loss is NaN; lower the learning rate")
			}
			lossSum += l
		}
		if sched != nil {
			sched.Step()
		}
		val := Evaluate(m, t, t.Val, 256, cfg.ValWindows).MAE(0)
		res.Epochs = epoch
		res.TrainLoss = append(res.TrainLoss, lossSum/float64(nb))
		res.ValMAE = append(res.ValMAE, val)
		if val < res.BestVal {
			res.BestVal, res.BestEpoch = val, epoch
			autograd.NoGrad(func() {
				if best == nil {
					best = make([]*autograd.Tensor, len(state))
				}
				for i, s := range state {
					best[i] = s.Tensor.Detach().Clone()
				}
			})
		}
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "epoch %3d  train MAE %.4f  val MAE %.4f  %.0fs\n", epoch, lossSum/float64(nb), val, time.Since(start).Seconds())
		}
		if cfg.Patience > 0 && epoch-res.BestEpoch >= cfg.Patience {
			break
		}
		if cfg.MaxTime > 0 && time.Since(start) > cfg.MaxTime {
			break
		}
	}
	if best != nil {
		autograd.NoGrad(func() {
			for i, s := range state {
				s.Tensor.CopyFrom(best[i])
			}
		})
	}
	nn.Eval(m)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// windowSample returns all window indices of w, or limit evenly spaced
// ones when 0 < limit < w.Len().
func windowSample(w *data.GraphWindows, limit int) []int {
	n := w.Len()
	if limit <= 0 || limit >= n {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, limit)
	for i := range idx {
		idx[i] = i * n / limit
	}
	return idx
}

// Evaluate scores m on the windows w of task t (all of them, or limit
// evenly spaced ones when limit > 0) in evaluation mode, in the data's
// units, batch windows at a time.
func Evaluate(m Model, t *Task, w *data.GraphWindows, batch, limit int) *Metrics {
	nn.Eval(m)
	met := NewMetrics(w.Horizon)
	idx := windowSample(w, limit)
	autograd.NoGrad(func() {
		for k := 0; k < len(idx); k += batch {
			b := w.Batch(idx[k:min(k+batch, len(idx))])
			x, u, _, _ := batchTensors(w, b)
			pred := unscale(m.Forward(x, u, t.Graph), t.Scaler)
			met.AddBatch(pred.Data(), b.Y, b.Mask, b.B)
		}
	})
	return met
}

// LastValue scores the naive forecast that repeats the last input value
// (the forward-filled last reading) over the horizon.
func LastValue(t *Task, w *data.GraphWindows) *Metrics {
	met := NewMetrics(w.Horizon)
	s := t.Series
	row := s.Nodes * s.Features
	for i := range w.Len() {
		b := w.Batch([]int{i})
		last := append([]float32(nil), b.X[(w.Window-1)*row:]...)
		t.Scaler.Inverse(last)
		pred := make([]float32, 0, w.Horizon*row)
		for range w.Horizon {
			pred = append(pred, last...)
		}
		met.AddBatch(pred, b.Y, b.Mask, 1)
	}
	return met
}

// HistoricalAverage scores the naive forecast by the mean of the observed
// training readings of the same node and feature at the same time of day
// (over all training steps when the series has no clock).
func HistoricalAverage(t *Task, w *data.GraphWindows) *Metrics {
	s := t.Series
	row := s.Nodes * s.Features
	slots := max(s.StepsPerDay, 1)
	sum := make([]float64, slots*row)
	cnt := make([]float64, slots*row)
	for st := range t.ValStart {
		slot := 0
		if s.StepsPerDay > 0 {
			slot = (s.FirstStep + st) % s.StepsPerDay
		}
		for k := range row {
			i := st*row + k
			if s.Observed(i) {
				sum[slot*row+k] += float64(t.Targets[i])
				cnt[slot*row+k]++
			}
		}
	}
	avg := make([]float32, slots*row)
	for i := range avg {
		if cnt[i] > 0 {
			avg[i] = float32(sum[i] / cnt[i])
		}
	}
	met := NewMetrics(w.Horizon)
	for i := range w.Len() {
		b := w.Batch([]int{i})
		y0 := w.Start(i) + w.Window
		pred := make([]float32, 0, w.Horizon*row)
		for h := range w.Horizon {
			slot := 0
			if s.StepsPerDay > 0 {
				slot = (s.FirstStep + y0 + h) % s.StepsPerDay
			}
			pred = append(pred, avg[slot*row:(slot+1)*row]...)
		}
		met.AddBatch(pred, b.Y, b.Mask, 1)
	}
	return met
}

// Optimal scores the series' known noiseless one-step prediction
// (data.GraphSeries.Optimal, GPVAR's) as a forecast of every step of the
// horizon's first step and beyond: only meaningful for horizon 1, where it
// is the Bayes-optimal predictor. It returns nil when the series has none.
func Optimal(t *Task, w *data.GraphWindows) *Metrics {
	s := t.Series
	if s.Optimal == nil {
		return nil
	}
	row := s.Nodes * s.Features
	met := NewMetrics(w.Horizon)
	for i := range w.Len() {
		b := w.Batch([]int{i})
		y0 := w.Start(i) + w.Window
		met.AddBatch(s.Optimal[y0*row:(y0+w.Horizon)*row], b.Y, b.Mask, 1)
	}
	return met
}
