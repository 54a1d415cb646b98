package nn_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// Classifier is a small model: a plain struct whose layers are fields.
type Classifier struct {
	Encoder *nn.Sequential
	Drop    *nn.Dropout
	Head    *nn.Linear
}

func NewClassifier(rng *autograd.RNG) *Classifier {
	return &Classifier{
		Encoder: nn.NewMLP(rng, 4, []int{16}, 8, nn.GELU{}),
		Drop:    nn.NewDropout(0.1, rng),
		Head:    nn.NewLinear(rng, 8, 3, true),
	}
}

func (c *Classifier) Forward(x *autograd.Tensor) *autograd.Tensor {
	return c.Head.Forward(c.Drop.Forward(c.Encoder.Forward(x).Relu()))
}

// Build a model, list its parameters under their PyTorch names, and save it
// to a safetensors file that loads into a second instance.
func Example() {
	rng := autograd.NewRNG(1)
	model := NewClassifier(rng)
	for _, p := range nn.NamedParameters(model) {
		fmt.Println(p.Name, p.Param.Shape())
	}
	trainable, total := nn.NumParams(model)
	fmt.Println("params:", trainable, total)

	dir, _ := os.MkdirTemp("", "nn-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "classifier.safetensors")
	if err := nn.Save(path, model, map[string]string{"format": "pt"}); err != nil {
		fmt.Println(err)
		return
	}

	restored := NewClassifier(autograd.NewRNG(2)) // different weights
	if _, err := nn.Load(path, restored, true); err != nil {
		fmt.Println(err)
		return
	}
	nn.Eval(model) // no dropout: deterministic outputs
	nn.Eval(restored)
	x := rng.Normal(0, 1, 2, 4)
	a, b := model.Forward(x).Data(), restored.Forward(x).Data()
	fmt.Println("same outputs:", fmt.Sprint(a) == fmt.Sprint(b))
	// Output:
	// encoder.0.weight [16 4]
	// encoder.0.bias [16]
	// encoder.2.weight [8 16]
	// encoder.2.bias [8]
	// head.weight [3 8]
	// head.bias [3]
	// params: 243 243
	// same outputs: true
}

// A strict load reports every name and shape that does not fit.
func ExampleLoadStateDict() {
	model := nn.NewMLP(autograd.NewRNG(1), 2, []int{3}, 1, nil)
	sd := map[string]*autograd.Tensor{
		"0.weight": autograd.Zeros(3, 2),
		"0.bias":   autograd.Zeros(4),
		"3.weight": autograd.Zeros(1, 3),
	}
	_, err := nn.LoadStateDict(model, sd, true)
	fmt.Println(err)
	// Output:
	// nn: loading state_dict into the model failed; 2 missing (in the model, not in the source): 2.weight, 2.bias; 1 unexpected (in the source, not in the model): 3.weight; 1 mismatched: 0.bias: shape [4] in the source, [3] in the model
}

// Struct tags rename or skip fields; unexported fields are found too.
func ExampleNamedParameters() {
	rng := autograd.NewRNG(1)
	type block struct {
		QKV     *nn.Linear
		OutProj *nn.Linear `nn:"proj"`
		scratch *nn.Linear `nn:"-"`
	}
	model := &struct {
		Blocks []block
		norm   *nn.Parameter
	}{
		Blocks: []block{{QKV: nn.NewLinear(rng, 4, 12, false), OutProj: nn.NewLinear(rng, 4, 4, true), scratch: nn.NewLinear(rng, 1, 1, true)}},
		norm:   nn.NewParameter(autograd.Ones(4)),
	}
	for _, p := range nn.NamedParameters(model) {
		fmt.Println(p.Name)
	}
	// Output:
	// blocks.0.qkv.weight
	// blocks.0.proj.weight
	// blocks.0.proj.bias
	// norm
}

func ExampleOrthogonal() {
	w := nn.Orthogonal(autograd.Zeros(2, 3), 1, autograd.NewRNG(1))
	// The rows are orthonormal: W·Wᵀ = I.
	dev := w.MatMul(w.T()).Sub(autograd.Eye(2)).Abs().Max().Item()
	fmt.Println(w.Shape(), dev < 1e-6)
	// Output:
	// [2 3] true
}
