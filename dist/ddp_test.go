package dist

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testNet is a small CNN for 1×8×8 images, with a frozen parameter and one
// that the forward pass never uses (it never has a gradient). No BatchNorm
// or Dropout: with them a batch split over ranks is not the same batch.
type testNet struct {
	Conv   *nn.Conv2d
	Pool   nn.MaxPool2d
	FC     *nn.Linear
	Frozen *nn.Parameter
	Unused *nn.Parameter
}

func newTestNet(seed uint64, channels int) *testNet {
	rng := autograd.NewRNG(seed)
	m := &testNet{
		Conv:   nn.NewConv2d(rng, 1, channels, 3, 3, nn.Conv2dConfig{Padding: [2]int{1, 1}}),
		Pool:   nn.MaxPool2d{Kernel: [2]int{2, 2}},
		FC:     nn.NewLinear(rng, channels*4*4, 3, true),
		Frozen: nn.NewParameter(rng.Uniform(-0.1, 0.1, 3)),
		Unused: nn.NewParameter(rng.Uniform(-1, 1, 5)),
	}
	m.Frozen.SetRequiresGrad(false)
	return m
}

func (m *testNet) Forward(x *autograd.Tensor) *autograd.Tensor {
	h := m.Pool.Forward(m.Conv.Forward(x).Relu())
	return m.FC.Forward(h.Flatten(1, -1)).Add(m.Frozen.Tensor)
}

// testImages returns n seeded 8×8 images whose class is the brightest of
// three bands.
func testImages(t testing.TB, n int, seed uint64) data.Dataset {
	rng := autograd.NewRNG(seed)
	x := make([]float32, n*64)
	labels := make([]int, n)
	for i := range n {
		img := x[i*64 : (i+1)*64]
		var band [3]float32
		for j := range img {
			img[j] = rng.Float32()
			band[min(j/22, 2)] += img[j]
		}
		for c := range band {
			if band[c] > band[labels[i]] {
				labels[i] = c
			}
		}
	}
	ds, err := data.NewInMemory(x, []int{1, 8, 8}, labels)
	require.NoError(t, err)
	return ds
}

// trainNet trains a testNet for steps steps of batch examples per rank on
// the ranks of c, with a Trainer set up by DataParallel, or without dist at
// all when c is nil. Every rank but 0 starts from other weights, which
// NewDataParallel must replace with rank 0's.
func trainNet(c Comm, trainSet, valSet data.Dataset, batch, steps, bucketBytes int, dir string) (*testNet, *train.Trainer, *DataParallel, error) {
	rank := 0
	if c != nil {
		rank = c.Rank()
	}
	m := newTestNet(uint64(1+rank), 4)
	cfg := data.LoaderConfig{BatchSize: batch, Shuffle: true, Seed: 7}
	valCfg := data.LoaderConfig{BatchSize: 16}
	if c != nil {
		cfg, valCfg = Shard(cfg, c), Shard(valCfg, c)
	}
	trainLoader, err := data.NewLoader(trainSet, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	valLoader, err := data.NewLoader(valSet, valCfg)
	if err != nil {
		return nil, nil, nil, err
	}
	opt := optim.NewSGD(nn.Parameters(m), optim.SGDConfig{LR: 0.05, Momentum: 0.9, WeightDecay: 1e-3})
	tr := &train.Trainer{
		Model: m,
		Step: func(b *data.Batch) train.Output {
			logits := m.Forward(b.X)
			return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
		},
		Optimizer:       opt,
		ClipGradNorm:    1,
		Train:           trainLoader,
		Val:             valLoader,
		MaxSteps:        steps,
		EvalEvery:       10,
		Dir:             dir,
		CheckpointEvery: 10,
		Progress:        train.ProgressOff,
	}
	var dp *DataParallel
	if c != nil {
		if dp, err = NewDataParallel(c, m, DataParallelOptions{BucketBytes: bucketBytes}); err != nil {
			return nil, nil, nil, err
		}
		if err := dp.Setup(tr); err != nil {
			return nil, nil, nil, err
		}
	}
	if _, err := tr.Fit(context.Background()); err != nil {
		return nil, nil, nil, err
	}
	if dp != nil {
		if err := dp.CheckInSync(); err != nil {
			return nil, nil, nil, err
		}
	}
	return m, tr, dp, nil
}

// maxDiff returns the largest difference between the parameters of two
// models, and the name of the parameter where it is.
func maxDiff(a, b any) (float64, string) {
	pa, pb := nn.NamedParameters(a), nn.NamedParameters(b)
	worst, where := 0.0, ""
	for i := range pa {
		x, y := pa[i].Param.Data(), pb[i].Param.Data()
		for j := range x {
			if d := math.Abs(float64(x[j] - y[j])); d > worst || math.IsNaN(d) {
				worst, where = d, fmt.Sprintf("%s[%d]", pa[i].Name, j)
			}
		}
	}
	return worst, where
}

// checkMatchesBigBatch checks a data-parallel run of size ranks with batch
// B each against one process with batch size·B: parameters to 1e-5, and
// the metrics recorded at every evaluation.
func checkMatchesBigBatch(t *testing.T, ref *testNet, refTr *train.Trainer, m *testNet, tr *train.Trainer) {
	t.Helper()
	d, where := maxDiff(ref, m)
	t.Logf("largest parameter difference from one process with the whole batch: %.3g at %s", d, where)
	assert.LessOrEqual(t, d, 1e-5, "at %s", where)
	assert.NotEqual(t, nn.Parameters(ref)[0].Data(), nn.Parameters(newTestNet(1, 4))[0].Data(), "training changed the weights")
	assert.Equal(t, nn.Parameters(ref)[4].Data(), nn.Parameters(m)[4].Data(), "the unused parameter never changes")
	require.Equal(t, len(refTr.History.Records), len(tr.History.Records))
	for i, want := range refTr.History.Records {
		got := tr.History.Records[i]
		assert.Equal(t, want.Step, got.Step)
		for _, k := range []string{"loss", "accuracy", "val_loss", "val_accuracy"} {
			assert.InDelta(t, want.Values[k], got.Values[k], 1e-5, "%s at step %d", k, want.Step)
		}
	}
}

// TestGroupMatchesBigBatch is the in-process version of the MPI test:
// ranks on goroutines of one process.
func TestGroupMatchesBigBatch(t *testing.T) {
	const batch, steps = 8, 20
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n, " ranks"), func(t *testing.T) {
			trainSet, valSet := testImages(t, 96*n, 1), testImages(t, 48, 2)
			ref, refTr, _, err := trainNet(nil, trainSet, valSet, n*batch, steps, 0, "")
			require.NoError(t, err)
			models := make([]*testNet, n)
			trainers := make([]*train.Trainer, n)
			dps := make([]*DataParallel, n)
			dirs := make([]string, n)
			for r := range dirs {
				dirs[r] = filepath.Join(t.TempDir(), fmt.Sprint("rank", r))
			}
			errs := inGroup(n, func(c Comm) (err error) {
				r := c.Rank()
				// A small bucket size, so that the gradients take several
				// all-reduces.
				models[r], trainers[r], dps[r], err = trainNet(c, trainSet, valSet, batch, steps, 300, dirs[r])
				return err
			})
			for r, err := range errs {
				require.NoError(t, err, "rank %d", r)
			}
			for r := range n {
				checkMatchesBigBatch(t, ref, refTr, models[r], trainers[r])
				st := dps[r].Stats()
				assert.Equal(t, steps, st.Calls)
				assert.Equal(t, 4*9+4+4*16*3+3+5, st.Values, "the trainable parameters")
				assert.Equal(t, 3, st.Buckets, "of at most 75 values: unused and fc.bias (8), fc.weight (192), conv.bias and conv.weight (40)")
				cks, err := train.Checkpoints(dirs[r])
				require.NoError(t, err)
				if r == 0 {
					assert.Len(t, cks, 2, "rank 0 writes the checkpoints")
				} else {
					assert.Empty(t, cks, "rank %d writes none", r)
				}
			}
		})
	}
}

// TestSingleDataParallelIsPlainTraining: over Single, DataParallel changes
// nothing, bit for bit.
func TestSingleDataParallelIsPlainTraining(t *testing.T) {
	trainSet, valSet := testImages(t, 64, 1), testImages(t, 32, 2)
	ref, _, _, err := trainNet(nil, trainSet, valSet, 8, 12, 0, "")
	require.NoError(t, err)
	m, tr, dp, err := trainNet(Single{}, trainSet, valSet, 8, 12, 0, "")
	require.NoError(t, err)
	d, where := maxDiff(ref, m)
	assert.Zero(t, d, where)
	assert.Same(t, dp, tr.Parallel)
	assert.Equal(t, 12, dp.Stats().Calls)
	assert.Equal(t, 1, dp.Stats().Buckets)
	assert.Equal(t, 0, tr.Train.Config().Shards, "one rank does not shard")
}

func TestModelMismatchIsAnErrorOnEveryRank(t *testing.T) {
	errs := inGroup(3, func(c Comm) error {
		channels := 4
		if c.Rank() == 2 {
			channels = 5
		}
		_, err := NewDataParallel(c, newTestNet(1, channels), DataParallelOptions{})
		if err == nil {
			return nil
		}
		// The communicator still works after the error.
		if err := c.Barrier(); err != nil {
			return err
		}
		return err
	})
	for r, err := range errs {
		require.Error(t, err, "rank %d", r)
		assert.Contains(t, err.Error(), fmt.Sprintf("rank %d of 3", r))
	}
	assert.Contains(t, errs[0].Error(), "the model differs between ranks: rank 2 has 6 parameter tensors with 301 values, rank 0 has 6 with 243")
	assert.Contains(t, errs[1].Error(), "the model differs between ranks")
	assert.Contains(t, errs[2].Error(), `the model differs from rank 0's: this rank has "parameter conv.weight [5 1 3 3] trainable=true" where rank 0 has "parameter conv.weight [4 1 3 3] trainable=true"`)

	// A missing tensor.
	errs = inGroup(2, func(c Comm) error {
		var model any = newTestNet(1, 4)
		if c.Rank() == 1 {
			m := newTestNet(1, 4)
			model = &struct {
				Conv *nn.Conv2d
				FC   *nn.Linear
			}{m.Conv, m.FC}
		}
		_, err := NewDataParallel(c, model, DataParallelOptions{})
		return err
	})
	require.Error(t, errs[0])
	require.Error(t, errs[1])
	assert.Contains(t, errs[1].Error(), `rank 0 has "parameter frozen [3] trainable=false", this rank has nothing more`)
}

func TestBroadcastParameters(t *testing.T) {
	models := make([]*testNet, 3)
	errs := inGroup(3, func(c Comm) error {
		m := newTestNet(uint64(10+c.Rank()), 4)
		models[c.Rank()] = m
		_, err := NewDataParallel(c, m, DataParallelOptions{BucketBytes: 64})
		return err
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	want := newTestNet(10, 4)
	for r, m := range models {
		d, where := maxDiff(want, m)
		assert.Zero(t, d, "rank %d at %s", r, where)
	}
}

func TestAllReduceGradients(t *testing.T) {
	const n = 2
	models := make([]*testNet, n)
	errs := inGroup(n, func(c Comm) error {
		r := c.Rank()
		m := newTestNet(1, 2)
		models[r] = m
		dp, err := NewDataParallel(c, m, DataParallelOptions{BucketBytes: 40})
		if err != nil {
			return err
		}
		// Rank r's gradients are r+1 everywhere, except that rank 1 has
		// none for fc.bias, and neither has one for unused.
		for _, p := range nn.Parameters(m) {
			if p.RequiresGrad() && p != m.Unused {
				p.Grad = autograd.Full(float32(r+1), p.Shape()...)
			}
		}
		if r == 1 {
			m.FC.Bias.Grad = nil
		}
		if err := dp.AllReduceGradients(nn.Parameters(m)); err != nil {
			return err
		}
		if err := dp.AllReduceGradients(nn.Parameters(newTestNet(1, 2))); err == nil {
			return fmt.Errorf("another model's parameters were accepted")
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	for r, m := range models {
		assert.Equal(t, []float32{1.5, 1.5}, m.Conv.Bias.Grad.Data(), "rank %d: (1+2)/2", r)
		assert.Equal(t, []float32{0.5, 0.5, 0.5}, m.FC.Bias.Grad.Data(), "rank %d: (1+0)/2", r)
		assert.Nil(t, m.Unused.Grad, "rank %d: no rank had a gradient", r)
		assert.Nil(t, m.Frozen.Grad, "rank %d: frozen", r)
	}
}

func TestAllReduceSumsIsExact(t *testing.T) {
	pi, e := math.Pi, math.E // variables: constant arithmetic is exact
	vals := [][]float64{{1e-300, 3, pi, 1 << 60}, {1, -3, e, 1}}
	got := make([][]float64, 2)
	errs := inGroup(2, func(c Comm) error {
		dp, err := NewDataParallel(c, newTestNet(1, 2), DataParallelOptions{})
		if err != nil {
			return err
		}
		s := append([]float64(nil), vals[c.Rank()]...)
		got[c.Rank()] = s
		return dp.AllReduceSums(s)
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	want := []float64{1, 0, pi + e, 1<<60 + 1}
	assert.Equal(t, want, got[0])
	assert.Equal(t, want, got[1])
}

func TestCheckInSync(t *testing.T) {
	errs := inGroup(2, func(c Comm) error {
		m := newTestNet(1, 2)
		dp, err := NewDataParallel(c, m, DataParallelOptions{})
		if err != nil {
			return err
		}
		if err := dp.CheckInSync(); err != nil {
			return fmt.Errorf("in sync at first: %w", err)
		}
		if c.Rank() == 1 {
			h, _ := m.FC.Bias.HostData()
			h[0] += 1e-7
		}
		return dp.CheckInSync()
	})
	for r, err := range errs {
		assert.ErrorContains(t, err, fmt.Sprintf("dist: rank %d of 2: the parameters of ranks [1] differ from rank 0's", r))
	}
}

func TestSetup(t *testing.T) {
	ds := testImages(t, 32, 1)
	errs := inGroup(2, func(c Comm) error {
		m := newTestNet(1, 2)
		dp, err := NewDataParallel(c, m, DataParallelOptions{})
		if err != nil {
			return err
		}
		plain, err := data.NewLoader(ds, data.LoaderConfig{BatchSize: 4})
		if err != nil {
			return err
		}
		tr := &train.Trainer{Model: m, Train: plain, Dir: "out", Progress: train.ProgressLog}
		if err := dp.Setup(tr); err == nil || tr.Parallel != nil {
			return fmt.Errorf("an unsharded loader was accepted: %v", err)
		}
		tr.Model = newTestNet(1, 2)
		if tr.Train, err = data.NewLoader(ds, Shard(data.LoaderConfig{BatchSize: 4}, c)); err != nil {
			return err
		}
		if err := dp.Setup(tr); err == nil {
			return fmt.Errorf("another model was accepted")
		}
		tr.Model = m
		if err := dp.Setup(tr); err != nil {
			return err
		}
		lead := c.Rank() == 0
		if tr.Parallel != dp || (tr.Dir == "out") != lead || (tr.Progress == train.ProgressLog) != lead {
			return fmt.Errorf("rank %d: Parallel %v, Dir %q, Progress %v", c.Rank(), tr.Parallel, tr.Dir, tr.Progress)
		}
		return nil
	})
	for r, err := range errs {
		assert.NoError(t, err, "rank %d", r)
	}
}

func TestDecorrelateRNGs(t *testing.T) {
	draws := make([]uint64, 2)
	errs := inGroup(2, func(c Comm) error {
		dp, err := NewDataParallel(c, newTestNet(1, 2), DataParallelOptions{})
		if err != nil {
			return err
		}
		rng := autograd.NewRNG(5)
		step := dp.DecorrelateRNGs(func(*data.Batch) train.Output {
			draws[c.Rank()] = rng.Uint64()
			return train.Output{}
		}, rng)
		step(nil)
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, autograd.NewRNG(5).Uint64(), draws[0], "rank 0 draws as one process")
	assert.NotEqual(t, draws[0], draws[1])
}

func TestSingle(t *testing.T) {
	var c Comm = Single{}
	assert.Equal(t, 0, c.Rank())
	assert.Equal(t, 1, c.Size())
	buf := []float32{1, 2}
	for _, op := range []Op{Sum, Mean, Max} {
		require.NoError(t, c.AllReduce(buf, op))
		assert.Equal(t, []float32{1, 2}, buf)
	}
	require.NoError(t, c.Broadcast(buf, 0))
	recv := make([]float32, 2)
	require.NoError(t, c.AllGather(buf, recv))
	assert.Equal(t, buf, recv)
	require.NoError(t, c.Barrier())
	require.NoError(t, c.Close())
	assert.PanicsWithValue(t, "dist: Broadcast: root 1 out of range [0, 1)", func() { _ = c.Broadcast(buf, 1) })
	assert.Panics(t, func() { _ = c.AllGather(buf, recv[:1]) })
	assert.Panics(t, func() { _ = c.AllReduce(buf, Op(3)) })
	assert.Equal(t, "Mean", Mean.String())
	assert.Equal(t, "Op(9)", Op(9).String())
}

func TestErrorMessages(t *testing.T) {
	e := &Error{Rank: 1, Size: 4, Op: "AllReduce", Len: 10, After: 1500e6, Err: ErrTimeout}
	assert.ErrorIs(t, e, ErrTimeout)
	assert.Contains(t, e.Error(), "dist: rank 1 of 4: AllReduce of 10 values timed out after 1.5s: another rank has died")
	e.Err = fmt.Errorf("%w: %w", errCancelled, context.Canceled)
	assert.ErrorIs(t, e, context.Canceled)
	assert.Contains(t, e.Error(), "interrupted after 1.5s: the context is done: context canceled (mpirun sends SIGTERM")
}
