package ssvep

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// TrainConfig holds the two-stage training procedure of Guney et al.
// (main.m). PaperTrainConfig gives their values for the Benchmark.
type TrainConfig struct {
	// Stage1Epochs and Stage2Epochs are the passes over the training
	// trials of the global model (all subjects) and of each subject's
	// fine-tuned model: 1000 and 1000 in the paper (800 for BETA's first
	// stage).
	Stage1Epochs, Stage2Epochs int
	// Stage1Batch is the first stage's batch size: 100. The second stage
	// takes a subject's whole training set, 40·(blocks−1) trials, as one
	// batch, as the paper does.
	Stage1Batch int
	// LR is Adam's learning rate in both stages: 1e-4 (β 0.9, 0.999, ε
	// 1e-8).
	LR float64
	// L2 is the L2 regularisation of the weights (not the biases), added
	// to the loss as MATLAB's L2Regularization: 0.001.
	L2 float64
	// Stage1Dropout and Stage2Dropout are the three dropout rates of each
	// stage: 0.1, 0.1, 0.95 and 0.6, 0.6, 0.95 (BETA: 0.7, 0.7, 0.95).
	Stage1Dropout, Stage2Dropout [3]float64
	// Seed seeds the weights, the shuffles and the dropout masks.
	Seed uint64
	// TestBlocks are the blocks held out in turn (0-based); nil means
	// every block, the paper's leave-one-block-out.
	TestBlocks []int
	// Log receives a line per stage and fold (nil: none).
	Log io.Writer
}

// PaperTrainConfig returns the procedure of Guney et al. for the
// Benchmark: 1000 + 1000 epochs, batch 100, Adam 1e-4, L2 0.001, dropout
// 0.1/0.1/0.95 then 0.6/0.6/0.95. On a CPU this takes days; scale the
// epochs down (examples/ssvep does, and says so).
func PaperTrainConfig() TrainConfig {
	return TrainConfig{
		Stage1Epochs: 1000, Stage2Epochs: 1000, Stage1Batch: 100, LR: 1e-4, L2: 1e-3,
		Stage1Dropout: [3]float64{0.1, 0.1, 0.95}, Stage2Dropout: [3]float64{0.6, 0.6, 0.95}, Seed: 1,
	}
}

// Result holds the accuracies of leave-one-block-out evaluation:
// Stage1[s][j] and Stage2[s][j] are the accuracies on subject s's block
// TestBlocks[j] of the global model trained without that block and of the
// model fine-tuned on the subject's other blocks.
type Result struct {
	Window         float64
	TestBlocks     []int
	Stage1, Stage2 [][]float64
	// Seconds is the wall time of the training and evaluation.
	Seconds float64
}

// LeaveOneBlockOut runs the two-stage procedure on the features of one
// window length: for each test block, a global model is trained on every
// subject's other blocks (stage 1), then, for each subject, a copy of it
// is fine-tuned on that subject's other blocks (stage 2); both are scored
// on the subject's test block. ctx stops it between epochs.
func LeaveOneBlockOut(ctx context.Context, f *Features, cfg TrainConfig) (*Result, error) {
	if cfg.Stage1Epochs < 0 || cfg.Stage2Epochs < 0 || cfg.Stage1Batch <= 0 || cfg.LR <= 0 {
		return nil, fmt.Errorf("ssvep: LeaveOneBlockOut: %d and %d epochs, batch %d, learning rate %v: need non-negative epochs, a positive batch and rate",
			cfg.Stage1Epochs, cfg.Stage2Epochs, cfg.Stage1Batch, cfg.LR)
	}
	if f.Blocks < 2 {
		return nil, fmt.Errorf("ssvep: LeaveOneBlockOut: %d block; leave-one-block-out needs at least 2", f.Blocks)
	}
	blocks := cfg.TestBlocks
	if blocks == nil {
		for b := 0; b < f.Blocks; b++ {
			blocks = append(blocks, b)
		}
	}
	for _, b := range blocks {
		if b < 0 || b >= f.Blocks {
			return nil, fmt.Errorf("ssvep: LeaveOneBlockOut: test block %d out of range [0, %d)", b, f.Blocks)
		}
	}
	start := time.Now()
	res := &Result{Window: f.Window, TestBlocks: append([]int(nil), blocks...),
		Stage1: make([][]float64, f.Subjects), Stage2: make([][]float64, f.Subjects)}
	for s := range res.Stage1 {
		res.Stage1[s] = make([]float64, len(blocks))
		res.Stage2[s] = make([]float64, len(blocks))
	}
	netCfg := Config{SubBands: f.SubBands, Channels: f.Channels, Samples: f.Samples, Classes: f.Targets, Filters: 120, Kernel: 10}
	for j, test := range blocks {
		seed := cfg.Seed*1000003 + uint64(test)
		rng := autograd.NewRNG(seed)
		global := NewNet(rng, netCfg)
		global.SetDropout(cfg.Stage1Dropout[0], cfg.Stage1Dropout[1], cfg.Stage1Dropout[2])
		var trainIdx []int
		for s := 0; s < f.Subjects; s++ {
			trainIdx = append(trainIdx, subjectTrials(f, s, test)...)
		}
		t0 := time.Now()
		loss, err := trainStage(ctx, global, f, trainIdx, cfg.Stage1Epochs, cfg.Stage1Batch, cfg, rng)
		if err != nil {
			return nil, err
		}
		var acc1, acc2 float64
		for s := 0; s < f.Subjects; s++ {
			res.Stage1[s][j] = Accuracy(global, f, testTrials(f, s, test))
			acc1 += res.Stage1[s][j]
		}
		logf(cfg.Log, "window %.2f s, test block %d: stage 1 (%d trials, %d epochs) loss %.4f, accuracy %.4f, %.0f s",
			f.Window, test+1, len(trainIdx), cfg.Stage1Epochs, loss, acc1/float64(f.Subjects), time.Since(t0).Seconds())
		t0 = time.Now()
		for s := 0; s < f.Subjects; s++ {
			local := NewNet(rng, netCfg)
			copyWeights(local, global)
			local.SetDropout(cfg.Stage2Dropout[0], cfg.Stage2Dropout[1], cfg.Stage2Dropout[2])
			idx := subjectTrials(f, s, test)
			if _, err := trainStage(ctx, local, f, idx, cfg.Stage2Epochs, len(idx), cfg, rng); err != nil {
				return nil, err
			}
			res.Stage2[s][j] = Accuracy(local, f, testTrials(f, s, test))
			acc2 += res.Stage2[s][j]
		}
		logf(cfg.Log, "window %.2f s, test block %d: stage 2 (%d subjects, %d epochs) accuracy %.4f, %.0f s",
			f.Window, test+1, f.Subjects, cfg.Stage2Epochs, acc2/float64(f.Subjects), time.Since(t0).Seconds())
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// subjectTrials returns the indices of subject s's trials outside block
// test.
func subjectTrials(f *Features, s, test int) []int {
	var idx []int
	for b := 0; b < f.Blocks; b++ {
		if b == test {
			continue
		}
		for k := 0; k < f.Targets; k++ {
			idx = append(idx, f.Trial(s, b, k))
		}
	}
	return idx
}

// testTrials returns the indices of subject s's trials in block b.
func testTrials(f *Features, s, b int) []int {
	idx := make([]int, f.Targets)
	for k := range idx {
		idx[k] = f.Trial(s, b, k)
	}
	return idx
}

// trainStage trains m on the trials idx for the given epochs with Adam
// and the L2 penalty on the weights, shuffling every epoch and, as MATLAB's
// trainNetwork, dropping an epoch's last partial batch. It returns the
// mean loss of the last epoch.
func trainStage(ctx context.Context, m *Net, f *Features, idx []int, epochs, batch int, cfg TrainConfig, rng *autograd.RNG) (float64, error) {
	if batch > len(idx) {
		batch = len(idx)
	}
	nn.Train(m)
	opt := optim.NewAdamGroups(m.ParamGroups(cfg.LR, cfg.L2), optim.AdamConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	var last float64
	for e := 0; e < epochs; e++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		perm := rng.Perm(len(idx))
		var sum float64
		steps := len(idx) / batch
		for k := 0; k < steps; k++ {
			sel := make([]int, batch)
			for j := range sel {
				sel[j] = idx[perm[k*batch+j]]
			}
			x, labels := f.Batch(sel)
			opt.ZeroGrad()
			loss := autograd.CrossEntropy(m.Forward(x), labels, autograd.CrossEntropyOptions{})
			loss.Backward()
			opt.Step()
			sum += float64(loss.Item())
		}
		last = sum / float64(steps)
	}
	return last, nil
}

// Accuracy returns the fraction of the trials idx that m (in evaluation
// mode, without gradients) classifies correctly. It leaves m in
// evaluation mode.
func Accuracy(m *Net, f *Features, idx []int) float64 {
	if len(idx) == 0 {
		return 0
	}
	nn.Eval(m)
	hits := 0
	autograd.NoGrad(func() {
		for start := 0; start < len(idx); start += 200 {
			x, labels := f.Batch(idx[start:min(start+200, len(idx))])
			pred := m.Forward(x).ArgMax(1).Data()
			for i, p := range pred {
				if int(p) == labels[i] {
					hits++
				}
			}
		}
	})
	return float64(hits) / float64(len(idx))
}

// copyWeights copies src's parameters into dst (same configuration).
func copyWeights(dst, src *Net) {
	d, s := nn.NamedParameters(dst), nn.NamedParameters(src)
	autograd.NoGrad(func() {
		for i := range d {
			d[i].Param.CopyFrom(s[i].Param.Tensor)
		}
	})
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// MeanAccuracy returns the mean of the accuracy cells.
func MeanAccuracy(cells [][]float64) float64 {
	var s float64
	n := 0
	for _, row := range cells {
		for _, v := range row {
			s += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// MeanITR returns the mean over the cells of the ITR of each cell's
// accuracy for windows of the given length (plus GazeShift), as Guney et
// al. average their itr_matrix.
func MeanITR(cells [][]float64, classes int, window float64) float64 {
	var s float64
	n := 0
	for _, row := range cells {
		for _, v := range row {
			s += WindowITR(v, classes, window)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// SubjectMeans returns each subject's mean accuracy over its cells.
func SubjectMeans(cells [][]float64) []float64 {
	out := make([]float64, len(cells))
	for s, row := range cells {
		for _, v := range row {
			out[s] += v
		}
		if len(row) > 0 {
			out[s] /= float64(len(row))
		}
	}
	return out
}
