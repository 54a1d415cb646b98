// Command tour is the README's short tour of deepgo, runnable: tensors and
// autograd, a model struct with PyTorch names, a training loop, and saving
// to safetensors.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// Net is a model: a plain struct. Its parameters are found by walking it and
// named as PyTorch names them: conv.weight, norm.running_mean, head.bias, ...
type Net struct {
	Conv *nn.Conv2d
	Norm *nn.BatchNorm2d
	Head *nn.Linear
}

// NewNet builds a Net with weights drawn from rng.
func NewNet(rng *autograd.RNG) *Net {
	return &Net{
		Conv: nn.NewConv2d(rng, 1, 8, 3, 3, nn.Conv2dConfig{Padding: [2]int{1, 1}}),
		Norm: nn.NewBatchNorm2d(8, nn.BatchNormConfig{}),
		Head: nn.NewLinear(rng, 8, 2, true),
	}
}

// Forward maps images [N, 1, H, W] to class logits [N, 2].
func (m *Net) Forward(x *autograd.Tensor) *autograd.Tensor {
	h := m.Norm.Forward(m.Conv.Forward(x)).Relu()
	return m.Head.Forward(h.Mean(2, 3)) // global average pool, then classify
}

func main() {
	// Tensors and autograd.
	x := autograd.New([]float32{1, 2, 3, 4}, 2, 2).SetRequiresGrad(true)
	y := x.MatMul(x).Sum()
	y.Backward()
	fmt.Println(y, x.Grad)

	// A model struct and its PyTorch state_dict names.
	rng := autograd.NewRNG(0)
	net := NewNet(rng)
	for _, p := range nn.NamedParameters(net) {
		fmt.Println(p.Name, p.Param.Shape())
	}

	// A training loop: bright images are class 1, dark ones class 0.
	images := rng.Uniform(0, 1, 64, 1, 8, 8)
	labels := make([]int, 64)
	for i := range labels {
		labels[i] = i % 2
	}
	images = images.Add(autograd.New(bright(labels), 64, 1, 1, 1))
	cfg := optim.DefaultAdamWConfig()
	cfg.LR = 0.01
	opt := optim.NewAdamW(nn.Parameters(net), cfg)
	var loss *autograd.Tensor
	for step := 0; step < 50; step++ {
		opt.ZeroGrad()
		loss = autograd.CrossEntropy(net.Forward(images), labels, autograd.CrossEntropyOptions{})
		loss.Backward()
		opt.Step()
		if step%10 == 9 {
			fmt.Printf("step %d loss %.4f\n", step+1, loss.Item())
		}
	}

	// Save to safetensors (PyTorch's load_state_dict reads it) and load back.
	path := filepath.Join(os.TempDir(), "tour.safetensors")
	if err := nn.Save(path, net, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	again := NewNet(autograd.NewRNG(1))
	if _, err := nn.Load(path, again, true); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	nn.Eval(net)
	nn.Eval(again)
	same := net.Forward(images).Sub(again.Forward(images)).Abs().Max().Item() == 0
	fmt.Printf("final_loss=%.4f reloaded_identical=%v\n", loss.Item(), same)
}

func bright(labels []int) []float32 {
	out := make([]float32, len(labels))
	for i, l := range labels {
		out[i] = float32(l)
	}
	return out
}
