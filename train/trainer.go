package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// Output is what a StepFunc returns for one batch.
type Output struct {
	// Loss is the scalar loss of the batch, a mean over its examples.
	Loss *autograd.Tensor
	// Logits, when set, are the class scores [batch, classes]; with the
	// batch's labels they give the accuracy.
	Logits *autograd.Tensor
}

// StepFunc runs the model on a batch and returns its loss (and, for
// classifiers, its logits). The Trainer calls it in training mode with
// gradients recorded, and for evaluation in evaluation mode under
// autograd.NoGrad.
type StepFunc func(b *data.Batch) Output

// MetricFunc computes a metric of one batch from the StepFunc's output.
// The Trainer averages it over the batches of an evaluation window,
// weighted by batch size.
type MetricFunc func(b *data.Batch, out Output) float64

// Metric is a user metric, recorded as Name on the training batches and as
// "val_"+Name on the validation set.
type Metric struct {
	// Name is the metric's name in the history and the CSV header.
	Name string
	// Func computes it for a batch.
	Func MetricFunc
	// HigherIsBetter says which way improves it, for Trainer.Monitor.
	HigherIsBetter bool
}

// Parallel connects a Trainer to the other processes of a data-parallel
// run, each of which trains a replica of the model on its own shard of the
// data (see data.LoaderConfig.Shards). Package dist's DataParallel
// implements it over MPI.
//
// Both methods are collective: every process must call them the same
// number of times in the same order, which a Trainer does when every
// process runs it with the same settings (the same steps, EvalEvery and
// Val, set on every process or on none).
type Parallel interface {
	// AllReduceGradients replaces the gradient of every parameter in
	// params by its mean over the processes. The Trainer calls it in every
	// step after the backward pass, before clipping and the optimizer step.
	AllReduceGradients(params []*nn.Parameter) error
	// AllReduceSums replaces every value in sums by its sum over the
	// processes, the same on every process. The Trainer calls it with its
	// metric sums (loss, example counts, ...) before it turns them into
	// means, so that every process records the same metrics, averaged over
	// the examples of all processes.
	AllReduceSums(sums []float64) error
}

// Trainer runs a training loop. Set its fields, then call Fit (after
// Resume, to continue a run). Model, Step, Optimizer, Train and either
// Epochs or MaxSteps are required; everything else is optional.
type Trainer struct {
	// Model is the model being trained, as the nn package walks it (a
	// pointer to a struct of layers): Fit switches it between training and
	// evaluation mode, and checkpoints save it.
	Model any
	// Step runs the model on a batch.
	Step StepFunc
	// Optimizer updates the model's parameters after each batch.
	Optimizer optim.Optimizer
	// Scheduler, when set, is stepped after every optimizer step.
	Scheduler optim.Scheduler
	// EMA, when set, is updated after every optimizer step and saved in
	// checkpoints.
	EMA *optim.EMA
	// ClipGradNorm, when positive, clips the global L2 norm of the
	// gradients to it before each optimizer step.
	ClipGradNorm float64
	// KeepStepTensors turns off the per-step memory scopes. By default
	// each training step runs inside an autograd.Scope, so the storage of
	// the step's graph (activations and the gradients between them) is
	// reused by the next step instead of allocated afresh, and each
	// evaluation batch inside Scope.Run, which does the same for
	// everything the forward pass allocates. Set it when a StepFunc keeps
	// tensors past its step without marking them with autograd.Keep (a
	// recurrent state carried between steps, for example); reading such a
	// tensor in a later step panics with a message that says so.
	KeepStepTensors bool

	// Train yields the training batches. Its Len is the number of steps
	// per epoch.
	Train *data.Loader
	// Val, when set, is evaluated every EvalEvery steps.
	Val *data.Loader
	// Epochs is the number of passes over Train.
	Epochs int
	// MaxSteps, when positive, is the number of optimizer steps to run
	// instead of Epochs·Train.Len() (the last epoch may be partial).
	MaxSteps int
	// EvalEvery is the number of steps between evaluations; 0 evaluates
	// at the end of every epoch. The last step is always evaluated.
	EvalEvery int
	// Metrics are user metrics computed on every batch.
	Metrics []Metric

	// Monitor names the metric that decides the best checkpoint and early
	// stopping: "val_loss" (the default with Val; "loss" without),
	// "val_accuracy", or a metric's name. Names ending in "loss" improve
	// downwards, "accuracy" upwards, user metrics as they say.
	Monitor string
	// Patience, when positive, stops training after that many
	// evaluations in a row without an improvement of the monitored metric
	// by more than MinDelta.
	Patience int
	// MinDelta is the smallest change that counts as an improvement.
	MinDelta float64

	// Dir, when set, receives the checkpoints (CheckpointName and
	// BestCheckpointName), metrics.csv and curves.png. It is created if
	// needed; Fit removes the temporary files that a crash in the middle
	// of writing one of them may have left. A new run (not resumed) refuses
	// a Dir that holds checkpoints of another. One Trainer at a time per
	// Dir.
	Dir string
	// CheckpointEvery is the number of steps between checkpoints; 0 saves
	// one only at the end of training (and the best one when Val is set).
	CheckpointEvery int
	// KeepLast is the number of periodic checkpoints kept; older ones are
	// deleted. 0 keeps 3.
	KeepLast int

	// Seed seeds the generators in RNGs.
	Seed uint64
	// RNGs are the generators the model draws from while training (those
	// given to Dropout layers, for example). Before every step, RNGs[i] is
	// reseeded from (Seed, step, i), so a resumed run draws the same
	// numbers as an uninterrupted one.
	RNGs []*autograd.RNG

	// Out receives progress and evaluation lines; nil means os.Stdout.
	Out io.Writer
	// Progress chooses a progress bar or log lines (see ProgressMode).
	Progress ProgressMode
	// LogEvery is the number of steps between log lines in ProgressLog
	// mode; 0 prints about twenty (at most one every 10 steps).
	LogEvery int

	// History is the metrics history, one record per evaluation (Resume
	// restores it).
	History History

	// Parallel, when set, makes the Trainer one of several processes
	// training the model data-parallel (see Parallel and package dist):
	// gradients are averaged over the processes before every optimizer
	// step, and the recorded metrics, Evaluate's included, over all their
	// examples, so that every process records the same history and takes
	// the same early-stopping decision. Evaluate is then collective: call
	// it on every process. Set Dir, Out and Progress so that one process
	// writes files and prints (dist.DataParallel.Setup does).
	Parallel Parallel

	step     int
	elapsed  float64
	best     float64
	hasBest  bool
	bestStep int
	badEvals int
	win      window
	resumed  bool
	stopped  string
}

// window accumulates the training metrics since the last evaluation.
type window struct {
	lossSum    float64
	examples   float64
	correct    float64
	labelled   float64
	metricSums map[string]float64
	steps      int
	mem        memSample // at the window's start
}

func (w *window) reset() { *w = window{metricSums: map[string]float64{}, mem: readMem()} }

// memSample is the process's cumulative heap allocation and garbage
// collector CPU time, from runtime/metrics.
type memSample struct{ allocBytes, gcSeconds float64 }

var memSamples = []metrics.Sample{
	{Name: "/gc/heap/allocs:bytes"},
	{Name: "/cpu/classes/gc/total:cpu-seconds"},
}

func readMem() memSample {
	s := append([]metrics.Sample(nil), memSamples...)
	metrics.Read(s)
	var m memSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		m.allocBytes = float64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		m.gcSeconds = s[1].Value.Float64()
	}
	return m
}

// machineKeys are the history columns that measure the machine rather
// than the model: left out of plots, of the evaluation line's metrics and
// of comparisons between runs.
var machineKeys = map[string]bool{"seconds": true, "alloc_mb_per_step": true, "gc_ms_per_step": true}

// StepCount returns the number of optimizer steps done.
func (t *Trainer) StepCount() int { return t.step }

// StopReason says why the last Fit stopped before its planned end ("" when
// it ran to the end): early stopping or a cancelled context.
func (t *Trainer) StopReason() string { return t.stopped }

// BestStep returns the step of the best evaluation so far and its score of
// the monitored metric; ok is false before the first evaluation.
func (t *Trainer) BestStep() (step int, score float64, ok bool) {
	return t.bestStep, t.best, t.hasBest
}

// totalSteps returns the number of steps of the whole run.
func (t *Trainer) totalSteps() int {
	if t.MaxSteps > 0 {
		return t.MaxSteps
	}
	return t.Epochs * t.Train.Len()
}

func (t *Trainer) check() error {
	switch {
	case t.Model == nil:
		return errors.New("train: Trainer.Model is nil; set it to the model (a pointer to its struct)")
	case t.Step == nil:
		return errors.New("train: Trainer.Step is nil; set it to a function returning the batch's loss")
	case t.Optimizer == nil:
		return errors.New("train: Trainer.Optimizer is nil")
	case t.Train == nil:
		return errors.New("train: Trainer.Train is nil; set it to the training data.Loader")
	case t.Epochs <= 0 && t.MaxSteps <= 0:
		return errors.New("train: set Trainer.Epochs or Trainer.MaxSteps to a positive number")
	case t.EvalEvery < 0 || t.CheckpointEvery < 0 || t.KeepLast < 0 || t.Patience < 0:
		return errors.New("train: EvalEvery, CheckpointEvery, KeepLast and Patience must not be negative")
	}
	for _, m := range t.Metrics {
		if m.Name == "" || m.Func == nil || strings.ContainsAny(m.Name, ",\n\"") {
			return fmt.Errorf("train: metric %q needs a plain name and a Func", m.Name)
		}
	}
	mon := t.monitor()
	if !strings.HasSuffix(mon, "loss") && !strings.HasSuffix(mon, "accuracy") {
		if _, ok := t.metric(strings.TrimPrefix(mon, "val_")); !ok {
			return fmt.Errorf("train: Monitor %q is not loss, accuracy or one of the Metrics (with val_ for the validation set)", mon)
		}
	}
	return nil
}

func (t *Trainer) monitor() string {
	if t.Monitor != "" {
		return t.Monitor
	}
	if t.Val != nil {
		return "val_loss"
	}
	return "loss"
}

func (t *Trainer) metric(name string) (Metric, bool) {
	for _, m := range t.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// higherIsBetter says which way the monitored metric improves.
func (t *Trainer) higherIsBetter() bool {
	mon := t.monitor()
	switch {
	case strings.HasSuffix(mon, "loss"):
		return false
	case strings.HasSuffix(mon, "accuracy"):
		return true
	}
	m, _ := t.metric(strings.TrimPrefix(mon, "val_"))
	return m.HigherIsBetter
}

func (t *Trainer) out() io.Writer {
	if t.Out == nil {
		return os.Stdout
	}
	return t.Out
}

// Fit trains until the planned number of steps is done, early stopping
// triggers, or ctx is cancelled, and returns the metrics history. Started
// after Resume, it continues the resumed run. When it stops early for
// cancellation it saves a checkpoint first (if Dir is set) and returns
// ctx's error. Errors from the data, a non-finite loss and failures to
// write files end it with an error.
func (t *Trainer) Fit(ctx context.Context) (*History, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if t.Dir != "" {
		if err := os.MkdirAll(t.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("train: creating the output folder: %w", err)
		}
		removeTemporaries(t.Dir)
		if !t.resumed && t.step == 0 {
			cks, err := Checkpoints(t.Dir)
			if err != nil {
				return nil, err
			}
			if len(cks) > 0 {
				return nil, fmt.Errorf("train: %s already holds checkpoints of another run (up to step %d); continue that run with Resume(LatestCheckpoint(dir)), or delete them or choose another Dir to start afresh", t.Dir, cks[len(cks)-1].Step)
			}
		}
	}
	if !t.resumed {
		t.win.reset()
	}
	if t.win.metricSums == nil {
		t.win.metricSums = map[string]float64{}
	}
	// Memory figures count this process's steps only.
	t.win.steps, t.win.mem = 0, readMem()
	t.stopped = ""
	total, perEpoch := t.totalSteps(), t.Train.Len()
	params := nn.Parameters(t.Model)
	prog := newProgress(t.out(), t.Progress, t.LogEvery, t.step, total)
	defer prog.finish()
	if t.resumed {
		prog.line(fmt.Sprintf("resuming at step %d/%d (epoch %d, batch %d)", t.step, total, t.step/perEpoch+1, t.step%perEpoch))
		t.resumed = false
	}
	nn.Train(t.Model)
	start := time.Now()
	base := t.elapsed
	seconds := func() float64 { return base + time.Since(start).Seconds() }

	for t.step < total && t.stopped == "" {
		epoch, k := t.step/perEpoch, t.step%perEpoch
		it := t.Train.Iter(epoch, k)
		for t.step < total && it.Next() {
			b := it.Batch()
			if err := t.trainStep(b, params); err != nil {
				it.Close()
				return &t.History, err
			}
			t.step++
			prog.step(t.step, t.status(epoch, perEpoch))
			endOfEpoch := t.step%perEpoch == 0
			if (t.EvalEvery > 0 && t.step%t.EvalEvery == 0) || (t.EvalEvery == 0 && endOfEpoch) || t.step == total {
				t.elapsed = seconds()
				if err := t.evaluate(prog); err != nil {
					it.Close()
					return &t.History, err
				}
				if t.Patience > 0 && t.badEvals >= t.Patience {
					t.stopped = fmt.Sprintf("early stopping: %s has not improved for %d evaluations (best %.6g at step %d)", t.monitor(), t.badEvals, t.best, t.bestStep)
				}
			}
			if t.Dir != "" && ((t.CheckpointEvery > 0 && t.step%t.CheckpointEvery == 0) || t.step == total || t.stopped != "") {
				t.elapsed = seconds()
				if err := t.saveCheckpoint(); err != nil {
					it.Close()
					return &t.History, err
				}
			}
			if t.stopped != "" {
				break
			}
			if err := ctx.Err(); err != nil {
				t.stopped = "cancelled: " + err.Error()
				t.elapsed = seconds()
				it.Close()
				if t.Dir != "" {
					if err := t.saveCheckpoint(); err != nil {
						return &t.History, err
					}
					prog.line(fmt.Sprintf("stopped at step %d; checkpoint saved in %s", t.step, t.Dir))
				}
				return &t.History, err
			}
		}
		it.Close()
		if err := it.Err(); err != nil {
			return &t.History, fmt.Errorf("train: %w", err)
		}
	}
	t.elapsed = seconds()
	if t.stopped != "" {
		prog.line(t.stopped)
	}
	return &t.History, nil
}

// trainStep runs one optimizer step on b and adds its metrics to the
// window.
func (t *Trainer) trainStep(b *data.Batch, params []*nn.Parameter) error {
	for i, r := range t.RNGs {
		*r = *autograd.NewRNG(mix(t.Seed, uint64(t.step), uint64(i)))
	}
	t.Optimizer.ZeroGrad()
	var scope *autograd.Scope
	if !t.KeepStepTensors {
		scope = autograd.OpenScope()
		defer scope.Close()
	}
	out := t.Step(b)
	if out.Loss == nil {
		return fmt.Errorf("train: step %d: the StepFunc returned no Loss", t.step)
	}
	loss := float64(out.Loss.Item())
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("train: step %d (epoch %d, batch %d): the loss is %v; lower the learning rate, clip gradients (ClipGradNorm) or check the data", t.step, b.Epoch, b.Index, loss)
	}
	if scope != nil {
		scope.Backward(out.Loss)
	} else {
		out.Loss.Backward()
	}
	if t.Parallel != nil {
		if err := t.Parallel.AllReduceGradients(params); err != nil {
			return fmt.Errorf("train: step %d: %w", t.step, err)
		}
	}
	if t.ClipGradNorm > 0 {
		optim.ClipGradNorm(params, t.ClipGradNorm, 2)
	}
	t.Optimizer.Step()
	if t.Scheduler != nil {
		t.Scheduler.Step()
	}
	if t.EMA != nil {
		t.EMA.Update()
	}
	n := float64(b.Size())
	t.win.lossSum += loss * n
	t.win.examples += n
	if out.Logits != nil {
		c, l := countCorrect(out.Logits, b.Labels)
		t.win.correct += float64(c)
		t.win.labelled += float64(l)
	}
	for _, m := range t.Metrics {
		t.win.metricSums[m.Name] += m.Func(b, out) * n
	}
	t.win.steps++
	return nil
}

// status is the progress line's summary of the current window.
func (t *Trainer) status(epoch, perEpoch int) string {
	epochs := t.Epochs
	if t.MaxSteps > 0 {
		epochs = (t.MaxSteps + perEpoch - 1) / perEpoch
	}
	s := fmt.Sprintf("epoch %d/%d loss %.4f", epoch+1, epochs, t.win.lossSum/max(t.win.examples, 1))
	if t.win.labelled > 0 {
		s += fmt.Sprintf(" acc %.4f", t.win.correct/t.win.labelled)
	}
	return s
}

// countCorrect returns how many rows of logits [n, classes] have their
// largest score at the label, and how many labels are not negative.
func countCorrect(logits *autograd.Tensor, labels []int) (correct, labelled int) {
	shape := logits.Shape()
	if len(shape) != 2 || shape[0] != len(labels) {
		panic(fmt.Sprintf("train: accuracy: logits of shape %v for %d labels; want [%d, classes]", shape, len(labels), len(labels)))
	}
	vals := logits.Data()
	c := shape[1]
	for i, lab := range labels {
		if lab < 0 {
			continue
		}
		labelled++
		row := vals[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == lab {
			correct++
		}
	}
	return correct, labelled
}

// Evaluate runs the model over every batch of l in evaluation mode under
// autograd.NoGrad and returns the mean loss ("loss"), the accuracy
// ("accuracy", when the StepFunc returns logits) and the user metrics by
// name, all weighted by batch size. It leaves the model in evaluation
// mode.
func (t *Trainer) Evaluate(l *data.Loader) (map[string]float64, error) {
	if t.Step == nil || t.Model == nil {
		return nil, errors.New("train: Evaluate needs Trainer.Model and Trainer.Step")
	}
	nn.Eval(t.Model)
	var lossSum, n, correct, labelled float64
	sums := map[string]float64{}
	it := l.Iter(0, 0)
	defer it.Close()
	var stepErr error
	for it.Next() {
		b := it.Batch()
		var scope *autograd.Scope
		if !t.KeepStepTensors {
			scope = autograd.OpenScope()
		}
		eval := func() {
			out := t.Step(b)
			if out.Loss == nil {
				stepErr = errors.New("train: Evaluate: the StepFunc returned no Loss")
				return
			}
			size := float64(b.Size())
			lossSum += float64(out.Loss.Item()) * size
			n += size
			if out.Logits != nil {
				c, lab := countCorrect(out.Logits, b.Labels)
				correct += float64(c)
				labelled += float64(lab)
			}
			for _, m := range t.Metrics {
				sums[m.Name] += m.Func(b, out) * size
			}
		}
		if scope != nil {
			scope.Run(func() { autograd.NoGrad(eval) })
			scope.Close()
		} else {
			autograd.NoGrad(eval)
		}
		if stepErr != nil {
			return nil, stepErr
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("train: Evaluate: %w", err)
	}
	if t.Parallel != nil {
		if err := t.allReduceSums(&lossSum, &n, &correct, &labelled, sums); err != nil {
			return nil, fmt.Errorf("train: Evaluate: %w", err)
		}
	}
	res := map[string]float64{"loss": lossSum / n}
	if labelled > 0 {
		res["accuracy"] = correct / labelled
	}
	for k, v := range sums {
		res[k] = v / n
	}
	return res, nil
}

// allReduceSums sums metric accumulators (the loss, example and label
// counts, and the user metrics by name) over the processes of a
// data-parallel run, in place.
func (t *Trainer) allReduceSums(loss, n, correct, labelled *float64, sums map[string]float64) error {
	vals := []float64{*loss, *n, *correct, *labelled}
	for _, m := range t.Metrics {
		vals = append(vals, sums[m.Name])
	}
	if err := t.Parallel.AllReduceSums(vals); err != nil {
		return err
	}
	*loss, *n, *correct, *labelled = vals[0], vals[1], vals[2], vals[3]
	for i, m := range t.Metrics {
		sums[m.Name] = vals[4+i]
	}
	return nil
}

// evaluate records the training window and the validation metrics in the
// history, tracks the best score, saves the best checkpoint and the
// history files.
func (t *Trainer) evaluate(prog *progress) error {
	if t.Parallel != nil {
		w := &t.win
		if err := t.allReduceSums(&w.lossSum, &w.examples, &w.correct, &w.labelled, w.metricSums); err != nil {
			return fmt.Errorf("train: step %d: %w", t.step, err)
		}
	}
	rec := Record{Step: t.step, Epoch: float64(t.step) / float64(t.Train.Len()), Values: map[string]float64{}}
	if t.win.examples > 0 {
		rec.Values["loss"] = t.win.lossSum / t.win.examples
		for k, v := range t.win.metricSums {
			rec.Values[k] = v / t.win.examples
		}
	}
	if t.win.labelled > 0 {
		rec.Values["accuracy"] = t.win.correct / t.win.labelled
	}
	if lrs := t.lr(); lrs >= 0 {
		rec.Values["lr"] = lrs
	}
	rec.Values["seconds"] = t.elapsed
	if w := &t.win; w.steps > 0 {
		// Memory per training step since the last evaluation: heap bytes
		// allocated and garbage collector CPU time (the storage pool's
		// effect shows here).
		now := readMem()
		rec.Values["alloc_mb_per_step"] = (now.allocBytes - w.mem.allocBytes) / float64(w.steps) / (1 << 20)
		rec.Values["gc_ms_per_step"] = (now.gcSeconds - w.mem.gcSeconds) * 1e3 / float64(w.steps)
	}
	if t.Val != nil {
		res, err := t.Evaluate(t.Val)
		nn.Train(t.Model)
		if err != nil {
			return err
		}
		for k, v := range res {
			rec.Values["val_"+k] = v
		}
	}
	t.win.reset()
	t.History.Add(rec)

	mon := t.monitor()
	score, ok := rec.Values[mon]
	improved := false
	if ok {
		switch {
		case !t.hasBest:
			improved = true
		case t.higherIsBetter():
			improved = score > t.best+t.MinDelta
		default:
			improved = score < t.best-t.MinDelta
		}
		if improved {
			t.best, t.hasBest, t.bestStep, t.badEvals = score, true, t.step, 0
		} else {
			t.badEvals++
		}
	}
	line := fmt.Sprintf("step %d epoch %.2f:", rec.Step, rec.Epoch)
	for _, k := range sortedKeys(rec.Values) {
		if machineKeys[k] {
			continue
		}
		line += fmt.Sprintf(" %s=%.4g", k, rec.Values[k])
	}
	line += fmt.Sprintf(" seconds=%.1f", t.elapsed)
	if improved && t.Val != nil {
		line += " (best)"
	}
	prog.line(line)
	if t.Dir != "" {
		if improved && t.Val != nil {
			if err := t.save(filepath.Join(t.Dir, BestCheckpointName)); err != nil {
				return err
			}
		}
		if err := t.History.SaveCSV(filepath.Join(t.Dir, "metrics.csv")); err != nil {
			return err
		}
		if err := t.History.SavePlot(filepath.Join(t.Dir, "curves.png"), 0, 0); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lr returns the first group's learning rate, or -1.
func (t *Trainer) lr() float64 {
	if g := t.Optimizer.ParamGroups(); len(g) > 0 {
		return g[0].LR
	}
	return -1
}

// saveCheckpoint writes the periodic checkpoint for the current step and
// prunes old ones.
func (t *Trainer) saveCheckpoint() error {
	if err := t.save(filepath.Join(t.Dir, CheckpointName(t.step))); err != nil {
		return err
	}
	keep := t.KeepLast
	if keep == 0 {
		keep = 3
	}
	return prune(t.Dir, keep)
}

// Metadata keys of the Trainer's state in a checkpoint.
const (
	metaStep      = "train.step"
	metaPerEpoch  = "train.batches_per_epoch"
	metaBatch     = "train.batch_size"
	metaSeed      = "train.seed"
	metaElapsed   = "train.seconds"
	metaBest      = "train.best"
	metaBestStep  = "train.best_step"
	metaBadEvals  = "train.bad_evals"
	metaMonitor   = "train.monitor"
	metaHistory   = "train.history"
	metaWindow    = "train.window."
	metaWinMetric = "train.window.metric."
)

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// save writes a checkpoint of the model, optimizer, schedule, EMA and the
// Trainer's state to path, atomically.
func (t *Trainer) save(path string) error {
	meta := map[string]string{
		metaStep:                strconv.Itoa(t.step),
		metaPerEpoch:            strconv.Itoa(t.Train.Len()),
		metaBatch:               strconv.Itoa(t.Train.Config().BatchSize),
		metaSeed:                strconv.FormatUint(t.Seed, 10),
		metaElapsed:             ftoa(t.elapsed),
		metaBadEvals:            strconv.Itoa(t.badEvals),
		metaMonitor:             t.monitor(),
		metaWindow + "loss_sum": ftoa(t.win.lossSum),
		metaWindow + "examples": ftoa(t.win.examples),
		metaWindow + "correct":  ftoa(t.win.correct),
		metaWindow + "labelled": ftoa(t.win.labelled),
	}
	if t.hasBest {
		meta[metaBest] = ftoa(t.best)
		meta[metaBestStep] = strconv.Itoa(t.bestStep)
	}
	for k, v := range t.win.metricSums {
		meta[metaWinMetric+k] = ftoa(v)
	}
	var hb bytes.Buffer
	if err := t.History.WriteCSV(&hb); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	meta[metaHistory] = hb.String()
	err := optim.SaveCheckpoint(path, optim.Checkpoint{
		Model: t.Model, Optimizer: t.Optimizer, Scheduler: t.Scheduler, EMA: t.EMA, Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

// Resume loads a checkpoint written by a Trainer (a periodic one, or the
// best one) into the model, optimizer, schedule and EMA, and restores the
// step, the best score, the history and the current window, so that Fit
// continues the run where the checkpoint was taken. The Trainer must be
// set up as the one that wrote it: the same model, optimizer and schedule
// types and shapes, and a training loader with the same number of batches
// per epoch and batch size (Resume checks these, and the seed).
func (t *Trainer) Resume(path string) error {
	if t.Model == nil || t.Optimizer == nil || t.Train == nil {
		return errors.New("train: Resume: set Model, Optimizer and Train first")
	}
	// Read the Trainer's state first, so that a file that does not fit
	// changes nothing.
	f, err := nn.LoadSafetensors(path)
	if err != nil {
		return fmt.Errorf("train: Resume: %w", err)
	}
	meta := f.Metadata
	if meta == nil || meta[metaStep] == "" {
		return fmt.Errorf("train: Resume %s: no training state in the file (no %s); it was not written by train.Trainer — load a plain model file with nn.Load instead", path, metaStep)
	}
	geti := func(k string) (int, error) {
		v, err := strconv.Atoi(meta[k])
		if err != nil {
			return 0, fmt.Errorf("train: Resume %s: metadata %s=%q missing or not an integer; was it written by train.Trainer?", path, k, meta[k])
		}
		return v, nil
	}
	getf := func(k string) (float64, error) {
		v, err := strconv.ParseFloat(meta[k], 64)
		if err != nil {
			return 0, fmt.Errorf("train: Resume %s: metadata %s=%q missing or not a number; was it written by train.Trainer?", path, k, meta[k])
		}
		return v, nil
	}
	step, err := geti(metaStep)
	if err != nil {
		return err
	}
	per, err := geti(metaPerEpoch)
	if err != nil {
		return err
	}
	bs, err := geti(metaBatch)
	if err != nil {
		return err
	}
	if per != t.Train.Len() || bs != t.Train.Config().BatchSize {
		return fmt.Errorf("train: Resume %s: the checkpoint was written with %d batches of %d per epoch, the training loader has %d of %d; resume with the same data and batch size", path, per, bs, t.Train.Len(), t.Train.Config().BatchSize)
	}
	if s := strconv.FormatUint(t.Seed, 10); meta[metaSeed] != s {
		return fmt.Errorf("train: Resume %s: the checkpoint was written with Seed %s, this Trainer has %s; use the same seed to continue the run", path, meta[metaSeed], s)
	}
	var st struct {
		elapsed, best, lossSum, examples, correct, labelled float64
		bad, bestStep                                       int
	}
	for _, f := range []struct {
		k string
		p *float64
	}{{metaElapsed, &st.elapsed}, {metaWindow + "loss_sum", &st.lossSum}, {metaWindow + "examples", &st.examples},
		{metaWindow + "correct", &st.correct}, {metaWindow + "labelled", &st.labelled}} {
		if *f.p, err = getf(f.k); err != nil {
			return err
		}
	}
	if st.bad, err = geti(metaBadEvals); err != nil {
		return err
	}
	_, hasBest := meta[metaBest]
	if hasBest {
		if st.best, err = getf(metaBest); err != nil {
			return err
		}
		if st.bestStep, err = geti(metaBestStep); err != nil {
			return err
		}
	}
	h, err := ReadHistoryCSV(strings.NewReader(meta[metaHistory]))
	if err != nil {
		return fmt.Errorf("train: Resume %s: %w", path, err)
	}
	sums := map[string]float64{}
	for k, v := range meta {
		if name, ok := strings.CutPrefix(k, metaWinMetric); ok {
			if sums[name], err = strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("train: Resume %s: metadata %s=%q is not a number", path, k, v)
			}
		}
	}
	// The optimizer and the others check their state before changing
	// anything; the model is loaded strictly (every tensor, every shape).
	err = optim.LoadCheckpoint(path, optim.Checkpoint{
		Model: t.Model, Optimizer: t.Optimizer, Scheduler: t.Scheduler, EMA: t.EMA,
	})
	if err != nil {
		return fmt.Errorf("train: Resume: %w (was it written for this model and optimizer?)", err)
	}
	t.win.reset()
	t.win.metricSums = sums
	t.step, t.elapsed = step, st.elapsed
	t.best, t.hasBest, t.bestStep, t.badEvals = st.best, hasBest, st.bestStep, st.bad
	t.win.lossSum, t.win.examples, t.win.correct, t.win.labelled = st.lossSum, st.examples, st.correct, st.labelled
	t.History = *h
	t.resumed = true
	return nil
}

// mix hashes seed and the values into one well-mixed 64-bit seed
// (SplitMix64 after each value).
func mix(seed uint64, vals ...uint64) uint64 {
	h := splitmix(seed ^ 0x7472616e5f726e67)
	for _, v := range vals {
		h = splitmix(h ^ v)
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
