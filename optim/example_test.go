package optim_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// A training loop: fit y = 3x − 1 with a Linear layer, AdamW, gradient
// clipping and a cosine schedule with linear warmup.
func Example() {
	rng := autograd.NewRNG(1)
	model := nn.NewLinear(rng, 1, 1, true)
	x := rng.Uniform(-1, 1, 64, 1)
	y := x.MulScalar(3).SubScalar(1)

	cfg := optim.DefaultAdamWConfig()
	cfg.LR, cfg.WeightDecay = 0.1, 0
	opt := optim.NewAdamW(nn.Parameters(model), cfg)
	sched := optim.NewWarmupCosine(opt, optim.WarmupCosineConfig{WarmupSteps: 20, TotalSteps: 400})

	var loss *autograd.Tensor
	for step := 0; step < 400; step++ {
		opt.ZeroGrad()
		loss = model.Forward(x).Sub(y).Square().Mean()
		loss.Backward()
		optim.ClipGradNorm(nn.Parameters(model), 1, 2)
		opt.Step()
		sched.Step()
		if step == 9 || step == 19 || step == 399 {
			fmt.Printf("after step %d: lr=%.3g\n", step+1, sched.LastLR()[0])
		}
	}
	fmt.Printf("w=%.2f b=%.2f loss<1e-4: %v\n", model.Weight.Item(), model.Bias.Item(), loss.Item() < 1e-4)
	// Output:
	// after step 10: lr=0.05
	// after step 20: lr=0.1
	// after step 400: lr=0
	// w=3.00 b=-1.00 loss<1e-4: true
}

// Save a checkpoint mid-training and resume from it in fresh objects.
func ExampleSaveCheckpoint() {
	build := func(seed uint64) (*nn.Sequential, *optim.Adam, *optim.StepLR) {
		model := nn.NewMLP(autograd.NewRNG(seed), 2, []int{8}, 1, nn.Tanh{})
		opt := optim.NewAdam(nn.Parameters(model), optim.DefaultAdamConfig())
		return model, opt, optim.NewStepLR(opt, 5, 0.5)
	}
	model, opt, sched := build(1)
	x := autograd.NewRNG(2).Normal(0, 1, 16, 2)
	for step := 0; step < 12; step++ {
		opt.ZeroGrad()
		model.Forward(x).Square().Mean().Backward()
		opt.Step()
		sched.Step()
	}
	dir, _ := os.MkdirTemp("", "optim-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ckpt.safetensors")
	err := optim.SaveCheckpoint(path, optim.Checkpoint{Model: model, Optimizer: opt, Scheduler: sched,
		Metadata: map[string]string{"epoch": "12"}})
	fmt.Println("saved:", err == nil)

	model2, opt2, sched2 := build(7)
	meta := map[string]string{}
	err = optim.LoadCheckpoint(path, optim.Checkpoint{Model: model2, Optimizer: opt2, Scheduler: sched2, Metadata: meta})
	fmt.Println("loaded:", err == nil, "epoch", meta["epoch"], "lr", sched2.LastLR()[0])
	// Output:
	// saved: true
	// loaded: true epoch 12 lr 0.00025
}
