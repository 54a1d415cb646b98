package train

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mlp is a small classifier with dropout, so that resuming must restore
// the generator's stream too.
type mlp struct {
	FC1  *nn.Linear
	Drop *nn.Dropout
	FC2  *nn.Linear
}

func newMLP(seed uint64) (*mlp, *autograd.RNG) {
	rng := autograd.NewRNG(seed)
	drop := autograd.NewRNG(seed + 100)
	return &mlp{FC1: nn.NewLinear(rng, 2, 16, true), Drop: nn.NewDropout(0.2, drop), FC2: nn.NewLinear(rng, 16, 2, true)}, drop
}

func (m *mlp) Forward(x *autograd.Tensor) *autograd.Tensor {
	return m.FC2.Forward(m.Drop.Forward(m.FC1.Forward(x).Relu()))
}

func classify(m *mlp) StepFunc {
	return func(b *data.Batch) Output {
		logits := m.Forward(b.X)
		return Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
	}
}

// blobs returns n points in two Gaussian blobs around (±1, ±1), labelled by
// the blob (label noise flips a fraction of them).
func blobs(t testing.TB, n int, seed uint64, flip float32) data.Dataset {
	rng := autograd.NewRNG(seed)
	x := make([]float32, 2*n)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		c := i % 2
		s := float32(2*c - 1)
		x[2*i] = s + 0.5*rng.NormFloat32()
		x[2*i+1] = s + 0.5*rng.NormFloat32()
		labels[i] = c
		if rng.Float32() < flip {
			labels[i] = 1 - c
		}
	}
	ds, err := data.NewInMemory(x, []int{2}, labels)
	require.NoError(t, err)
	return ds
}

func loader(t testing.TB, ds data.Dataset, bs int, shuffle bool, prefetch int, tf ...data.Transform) *data.Loader {
	l, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: bs, Shuffle: shuffle, Seed: 11, Prefetch: prefetch, Transforms: tf})
	require.NoError(t, err)
	return l
}

// jitter is a seeded augmentation.
func jitter(ex data.Example, rng *autograd.RNG) (data.Example, error) {
	for i := range ex.Data {
		ex.Data[i] += 0.05 * rng.NormFloat32()
	}
	return ex, nil
}

// setup builds a trainer over fresh objects from fixed seeds: AdamW with a
// one-cycle schedule, an EMA, a shuffled and augmented prefetching loader.
func setup(t testing.TB, dir string, steps int) (*Trainer, *mlp) {
	m, drop := newMLP(1)
	opt := optim.NewAdamW(nn.Parameters(m), optim.AdamWConfig{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	sched := optim.NewOneCycle(opt, optim.DefaultOneCycleConfig(0.02, steps))
	tr := &Trainer{
		Model:        m,
		Step:         classify(m),
		Optimizer:    opt,
		Scheduler:    sched,
		EMA:          optim.NewEMA(m, 0.9),
		ClipGradNorm: 5,
		Train:        loader(t, blobs(t, 90, 1, 0.05), 8, true, 2, jitter),
		Val:          loader(t, blobs(t, 40, 2, 0), 16, false, 0),
		MaxSteps:     steps,
		EvalEvery:    7,
		Metrics:      []Metric{{Name: "margin", Func: margin, HigherIsBetter: true}},
		Dir:          dir,
		Seed:         5,
		RNGs:         []*autograd.RNG{drop},
		Progress:     ProgressOff,
	}
	return tr, m
}

// margin is a user metric: the mean difference of the two logits.
func margin(b *data.Batch, out Output) float64 {
	v := out.Logits.Data()
	s := 0.0
	for i := 0; i < b.Size(); i++ {
		s += float64(v[2*i+1] - v[2*i])
	}
	return s / float64(b.Size())
}

func weights(m any) map[string][]float32 {
	out := map[string][]float32{}
	for name, t := range nn.StateDict(m) {
		out[name] = t.Data()
	}
	return out
}

func bitsEqual(t *testing.T, want, got map[string][]float32) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		g := got[name]
		require.Len(t, g, len(w), name)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				t.Fatalf("%s[%d]: %v (%08x) after resuming, %v (%08x) uninterrupted", name, i, g[i], math.Float32bits(g[i]), w[i], math.Float32bits(w[i]))
			}
		}
	}
}

func TestFitLearnsAndWritesFiles(t *testing.T) {
	dir := t.TempDir()
	m, _ := newMLP(3)
	opt := optim.NewAdam(nn.Parameters(m), optim.AdamConfig{LR: 0.02, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	var out bytes.Buffer
	tr := &Trainer{
		Model: m, Step: classify(m), Optimizer: opt,
		Train:  loader(t, blobs(t, 200, 1, 0), 16, true, 2),
		Val:    loader(t, blobs(t, 100, 2, 0), 50, false, 0),
		Epochs: 3, Dir: dir, Out: &out, CheckpointEvery: 10,
	}
	h, err := tr.Fit(context.Background())
	require.NoError(t, err)
	require.Len(t, h.Records, 3, "one evaluation per epoch")
	assert.Equal(t, 13, h.Records[0].Step)
	assert.Equal(t, 39, tr.StepCount())
	assert.InDelta(t, 3.0, h.Records[2].Epoch, 1e-12)
	acc, ok := h.Last("val_accuracy")
	require.True(t, ok)
	assert.Greater(t, acc, 0.9)
	for _, c := range []string{"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} {
		assert.Contains(t, h.Columns, c)
	}
	_, losses := h.Column("loss")
	assert.Less(t, losses[2], losses[0], "the training loss goes down")

	// Not a terminal: plain lines, no bar.
	text := out.String()
	assert.Contains(t, text, "step 39/39 epoch 3/3")
	assert.Contains(t, text, "val_accuracy=")
	assert.NotContains(t, text, "\r")

	csvFile, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	require.NoError(t, err)
	back, err := ReadHistoryCSV(bytes.NewReader(csvFile))
	require.NoError(t, err)
	assert.Equal(t, h.Records, back.Records)
	f, err := os.Open(filepath.Join(dir, "curves.png"))
	require.NoError(t, err)
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, 1000, img.Bounds().Dx())

	cks, err := Checkpoints(dir)
	require.NoError(t, err)
	var steps []int
	for _, c := range cks {
		steps = append(steps, c.Step)
	}
	assert.Equal(t, []int{20, 30, 39}, steps, "every 10 steps and at the end, keeping the last 3")
	assert.FileExists(t, filepath.Join(dir, BestCheckpointName))

	// The best checkpoint loads into a bare model.
	m2, _ := newMLP(9)
	_, err = nn.Load(filepath.Join(dir, BestCheckpointName), m2, false)
	require.NoError(t, err)

	res, err := tr.Evaluate(tr.Val)
	require.NoError(t, err)
	assert.InDelta(t, acc, res["accuracy"], 0.05)
}

// TestResumeIsBitExact trains N steps with checkpoints every few steps,
// then resumes fresh objects from the checkpoint at about N/2 (in the
// middle of an epoch and of an evaluation window) and finishes: the final
// weights, EMA and history equal those of the uninterrupted run bit for bit.
func TestResumeIsBitExact(t *testing.T) {
	const steps = 40 // 12 batches per epoch: the run spans 4 epochs
	full := t.TempDir()
	tr, m := setup(t, full, steps)
	tr.CheckpointEvery = 5
	tr.KeepLast = 10
	h, err := tr.Fit(context.Background())
	require.NoError(t, err)
	want := weights(m)
	wantEMA := tr.EMA.StateDict()

	ck := filepath.Join(full, CheckpointName(20))
	require.FileExists(t, ck)

	tr2, m2 := setup(t, t.TempDir(), steps)
	require.NoError(t, tr2.Resume(ck))
	assert.Equal(t, 20, tr2.StepCount())
	assert.Len(t, tr2.History.Records, 2, "evaluations at steps 7 and 14")
	h2, err := tr2.Fit(context.Background())
	require.NoError(t, err)
	bitsEqual(t, want, weights(m2))
	gotEMA := tr2.EMA.StateDict()
	for i := range wantEMA {
		assert.Equal(t, wantEMA[i].Tensor.Data(), gotEMA[i].Tensor.Data(), wantEMA[i].Name)
	}
	require.Equal(t, len(h.Records), len(h2.Records))
	for i := range h.Records {
		a, b := h.Records[i], h2.Records[i]
		for k := range machineKeys {
			delete(a.Values, k)
			delete(b.Values, k)
		}
		assert.Equal(t, a, b, "record %d", i)
	}
}

func TestCancelSavesACheckpointThatResumes(t *testing.T) {
	const steps = 30
	tr, m := setup(t, t.TempDir(), steps)
	_, err := tr.Fit(context.Background())
	require.NoError(t, err)
	want := weights(m)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	tr2, _ := setup(t, dir, steps)
	tr2.Metrics = append(tr2.Metrics, Metric{Name: "stopper", Func: func(b *data.Batch, out Output) float64 {
		if tr2.StepCount() == 16 {
			cancel()
		}
		return 0
	}})
	_, err = tr2.Fit(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 17, tr2.StepCount())
	assert.Contains(t, tr2.StopReason(), "cancelled")
	latest, err := LatestCheckpoint(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, CheckpointName(17)), latest)

	tr3, m3 := setup(t, dir, steps)
	tr3.Metrics = append(tr3.Metrics, Metric{Name: "stopper", Func: func(*data.Batch, Output) float64 { return 0 }})
	require.NoError(t, tr3.Resume(latest))
	_, err = tr3.Fit(context.Background())
	require.NoError(t, err)
	bitsEqual(t, want, weights(m3))
}

func TestEarlyStopping(t *testing.T) {
	m, _ := newMLP(1)
	opt := optim.NewSGD(nn.Parameters(m), optim.SGDConfig{LR: 0})
	tr := &Trainer{
		Model: m, Step: classify(m), Optimizer: opt,
		Train: loader(t, blobs(t, 40, 1, 0), 10, false, 0),
		Val:   loader(t, blobs(t, 20, 2, 0), 10, false, 0),
		// With a zero learning rate nothing improves after the first
		// evaluation.
		Epochs: 50, EvalEvery: 2, Patience: 3, Monitor: "val_accuracy", Progress: ProgressOff,
	}
	h, err := tr.Fit(context.Background())
	require.NoError(t, err)
	assert.Len(t, h.Records, 4)
	assert.Equal(t, 8, tr.StepCount())
	assert.Contains(t, tr.StopReason(), "early stopping")
	step, _, ok := tr.BestStep()
	assert.True(t, ok)
	assert.Equal(t, 2, step)
}

func TestTrainerChecks(t *testing.T) {
	m, _ := newMLP(1)
	opt := optim.NewSGD(nn.Parameters(m), optim.DefaultSGDConfig())
	l := loader(t, blobs(t, 10, 1, 0), 5, false, 0)
	cases := []struct {
		tr   *Trainer
		want string
	}{
		{&Trainer{Step: classify(m), Optimizer: opt, Train: l, Epochs: 1}, "Model is nil"},
		{&Trainer{Model: m, Optimizer: opt, Train: l, Epochs: 1}, "Step is nil"},
		{&Trainer{Model: m, Step: classify(m), Train: l, Epochs: 1}, "Optimizer is nil"},
		{&Trainer{Model: m, Step: classify(m), Optimizer: opt, Epochs: 1}, "Train is nil"},
		{&Trainer{Model: m, Step: classify(m), Optimizer: opt, Train: l}, "Epochs or Trainer.MaxSteps"},
		{&Trainer{Model: m, Step: classify(m), Optimizer: opt, Train: l, Epochs: 1, Monitor: "f1"}, "Monitor \"f1\""},
		{&Trainer{Model: m, Step: classify(m), Optimizer: opt, Train: l, Epochs: 1, Metrics: []Metric{{Name: "x"}}}, "needs a plain name and a Func"},
	}
	for _, c := range cases {
		_, err := c.tr.Fit(context.Background())
		assert.ErrorContains(t, err, c.want)
	}
}

func TestNonFiniteLossIsAnError(t *testing.T) {
	m, _ := newMLP(1)
	tr := &Trainer{
		Model: m, Optimizer: optim.NewSGD(nn.Parameters(m), optim.DefaultSGDConfig()),
		Step: func(b *data.Batch) Output {
			return Output{Loss: m.Forward(b.X).Sum().MulScalar(float32(math.Inf(1)))}
		},
		Train: loader(t, blobs(t, 10, 1, 0), 5, false, 1), Epochs: 1, Progress: ProgressOff,
	}
	_, err := tr.Fit(context.Background())
	assert.ErrorContains(t, err, "lower the learning rate")
}

func TestResumeChecksTheSetUp(t *testing.T) {
	dir := t.TempDir()
	tr, _ := setup(t, dir, 10)
	_, err := tr.Fit(context.Background())
	require.NoError(t, err)
	ck := filepath.Join(dir, CheckpointName(10))

	other, _ := setup(t, t.TempDir(), 10)
	other.Train = loader(t, blobs(t, 90, 1, 0), 9, true, 0)
	assert.ErrorContains(t, other.Resume(ck), "same data and batch size")

	other, _ = setup(t, t.TempDir(), 10)
	other.Seed = 6
	assert.ErrorContains(t, other.Resume(ck), "same seed")

	// A plain model file is not a Trainer checkpoint.
	m, _ := newMLP(1)
	plain := filepath.Join(dir, "model.safetensors")
	require.NoError(t, nn.Save(plain, m, nil))
	other, _ = setup(t, t.TempDir(), 10)
	assert.ErrorContains(t, other.Resume(plain), "train.Trainer")

	other, _ = setup(t, t.TempDir(), 10)
	assert.ErrorContains(t, other.Resume(filepath.Join(dir, "missing.safetensors")), "missing.safetensors")

	// Resuming a finished run does nothing more.
	other, _ = setup(t, t.TempDir(), 10)
	require.NoError(t, other.Resume(ck))
	h, err := other.Fit(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 10, other.StepCount())
	assert.Len(t, h.Records, 2)
}

func TestProgressBarMode(t *testing.T) {
	m, _ := newMLP(1)
	var out bytes.Buffer
	tr := &Trainer{
		Model: m, Step: classify(m), Optimizer: optim.NewSGD(nn.Parameters(m), optim.DefaultSGDConfig()),
		Train:  loader(t, blobs(t, 40, 1, 0), 4, false, 0),
		Epochs: 1, Out: &out, Progress: ProgressBar,
	}
	_, err := tr.Fit(context.Background())
	require.NoError(t, err)
	text := out.String()
	assert.Contains(t, text, "epoch 1/1 loss")
	assert.Contains(t, text, "10/10")
	assert.Contains(t, text, "\r", "a bar redraws its line")
	assert.Contains(t, text, "step 10 epoch 1.00:")
	assert.True(t, strings.HasSuffix(text, "\n"))

	out.Reset()
	tr2 := *tr
	tr2.Progress = ProgressOff
	tr2.History = History{}
	tr2.MaxSteps = 3
	_, err = tr2.Fit(context.Background())
	require.NoError(t, err)
	assert.Empty(t, out.String())
}

func TestHistoryCSV(t *testing.T) {
	var h History
	h.Add(Record{Step: 1, Epoch: 0.5, Values: map[string]float64{"loss": 0.1, "lr": 1e-3}})
	h.Add(Record{Step: 2, Epoch: 1, Values: map[string]float64{"loss": math.Inf(1), "val_loss": 1.0 / 3}})
	assert.Equal(t, []string{"loss", "lr", "val_loss"}, h.Columns)
	var b bytes.Buffer
	require.NoError(t, h.WriteCSV(&b))
	assert.Equal(t, "step,epoch,loss,lr,val_loss\n1,0.5,0.1,0.001,\n2,1,+Inf,,0.3333333333333333\n", b.String())
	back, err := ReadHistoryCSV(&b)
	require.NoError(t, err)
	assert.Equal(t, h, *back)
	v, ok := back.Last("lr")
	assert.True(t, ok)
	assert.Equal(t, 1e-3, v)
	_, err = ReadHistoryCSV(strings.NewReader("a,b\n"))
	assert.Error(t, err)
	_, err = ReadHistoryCSV(strings.NewReader("step,epoch,x\n1,1,abc\n"))
	assert.ErrorContains(t, err, "line 2")
}

// twin is a Parallel that stands for two processes training on the same
// data: the mean of two equal gradients is the gradient, the sum of two
// equal sums is twice it.
type twin struct {
	gradCalls, sumCalls int
	params              int
	failAt              int // fail the gradCalls-th call when positive
}

func (p *twin) AllReduceGradients(params []*nn.Parameter) error {
	p.gradCalls++
	p.params = len(params)
	for _, q := range params {
		if q.Grad == nil {
			return errors.New("twin: a parameter has no gradient")
		}
	}
	if p.gradCalls == p.failAt {
		return errors.New("twin: rank 1 is gone")
	}
	return nil
}

func (p *twin) AllReduceSums(sums []float64) error {
	p.sumCalls++
	for i := range sums {
		sums[i] *= 2
	}
	return nil
}

func TestParallelHooks(t *testing.T) {
	const steps = 20
	ref, mref := setup(t, "", steps)
	_, err := ref.Fit(context.Background())
	require.NoError(t, err)

	tr, m := setup(t, "", steps)
	p := &twin{}
	tr.Parallel = p
	_, err = tr.Fit(context.Background())
	require.NoError(t, err)
	bitsEqual(t, weights(mref), weights(m))
	assert.Equal(t, steps, p.gradCalls)
	assert.Equal(t, 4, p.params)
	evals := len(tr.History.Records)
	assert.Equal(t, 3, evals, "steps 7, 14 and 20")
	assert.Equal(t, 2*evals, p.sumCalls, "the training window and the validation set at every evaluation")
	require.Equal(t, len(ref.History.Records), evals)
	for i, r := range ref.History.Records {
		got := tr.History.Records[i].Values
		for k := range machineKeys {
			delete(got, k)
			delete(r.Values, k)
		}
		assert.Equal(t, r.Values, got, "record %d", i)
	}
	res, err := tr.Evaluate(tr.Val)
	require.NoError(t, err)
	want, err := ref.Evaluate(ref.Val)
	require.NoError(t, err)
	assert.Equal(t, want, res)
	assert.Equal(t, 2*evals+1, p.sumCalls)

	tr, _ = setup(t, "", steps)
	tr.Parallel = &twin{failAt: 3}
	_, err = tr.Fit(context.Background())
	assert.ErrorContains(t, err, "step 2: twin: rank 1 is gone")
}
