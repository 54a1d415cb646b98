package train_test

import (
	"context"
	"fmt"
	"os"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/deepgo/deepgo/train"
)

// Classifier is a two-layer perceptron.
type Classifier struct {
	Hidden, Out *nn.Linear
}

// Forward maps [batch, 2] points to [batch, 2] class scores.
func (c *Classifier) Forward(x *autograd.Tensor) *autograd.Tensor {
	return c.Out.Forward(c.Hidden.Forward(x).Tanh())
}

// points returns n points labelled by the sign of x·y (an XOR pattern).
func points(n int, seed uint64) data.Dataset {
	rng := autograd.NewRNG(seed)
	x := make([]float32, 2*n)
	labels := make([]int, n)
	for i := range labels {
		a, b := 2*rng.Float32()-1, 2*rng.Float32()-1
		x[2*i], x[2*i+1] = a, b
		if a*b > 0 {
			labels[i] = 1
		}
	}
	ds, _ := data.NewInMemory(x, []int{2}, labels)
	return ds
}

// Train a small classifier with AdamW and a one-cycle schedule, evaluate
// it every epoch, keep checkpoints in a folder, and resume from the last
// one.
func ExampleTrainer() {
	dir, _ := os.MkdirTemp("", "deepgo-train")
	defer os.RemoveAll(dir)

	newTrainer := func() (*train.Trainer, error) {
		rng := autograd.NewRNG(1)
		model := &Classifier{Hidden: nn.NewLinear(rng, 2, 32, true), Out: nn.NewLinear(rng, 32, 2, true)}
		trainSet, err := data.NewLoader(points(512, 1), data.LoaderConfig{BatchSize: 32, Shuffle: true, Seed: 1, Prefetch: 2})
		if err != nil {
			return nil, err
		}
		valSet, err := data.NewLoader(points(256, 2), data.LoaderConfig{BatchSize: 128})
		if err != nil {
			return nil, err
		}
		opt := optim.NewAdamW(nn.Parameters(model), optim.DefaultAdamWConfig())
		const epochs = 15
		return &train.Trainer{
			Model: model,
			Step: func(b *data.Batch) train.Output {
				logits := model.Forward(b.X)
				return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
			},
			Optimizer: opt,
			Scheduler: optim.NewOneCycle(opt, optim.DefaultOneCycleConfig(0.05, epochs*trainSet.Len())),
			Train:     trainSet,
			Val:       valSet,
			Epochs:    epochs,
			Dir:       dir, // checkpoints, metrics.csv, curves.png
			Progress:  train.ProgressOff,
		}, nil
	}

	tr, err := newTrainer()
	if err != nil {
		fmt.Println(err)
		return
	}
	tr.MaxSteps = 100 // stop early, as if the run were killed
	if _, err := tr.Fit(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	// A new process: the same set-up, resumed from the last checkpoint.
	tr, err = newTrainer()
	if err != nil {
		fmt.Println(err)
		return
	}
	last, err := train.LatestCheckpoint(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := tr.Resume(last); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("resumed at step", tr.StepCount())
	history, err := tr.Fit(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, _ := history.Last("val_accuracy")
	fmt.Println("steps:", tr.StepCount(), "evaluations:", len(history.Records))
	fmt.Println("val_accuracy above 0.9:", acc > 0.9)
	// Output:
	// resumed at step 100
	// steps: 240 evaluations: 16
	// val_accuracy above 0.9: true
}
