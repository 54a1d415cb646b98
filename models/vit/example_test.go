package vit_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/models/vit"
	"github.com/deepgo/deepgo/nn"
)

// A ViT for 28×28 grey images: class scores for a batch, the parameter
// count, timm's parameter names, and one training step's gradient.
func ExampleNew() {
	rng := autograd.NewRNG(1)
	model := vit.New(rng, vit.ViTMNIST())
	trainable, _ := nn.NumParams(model)
	fmt.Println("parameters:", trainable)

	x := rng.Normal(0, 1, 2, 1, 28, 28) // [batch, channels, height, width]
	logits := model.Forward(x)
	fmt.Println("logits:", logits.Shape())
	autograd.CrossEntropy(logits, []int{3, 7}, autograd.CrossEntropyOptions{LabelSmoothing: 0.1}).Backward()
	fmt.Println("gradient of blocks.0.attn.qkv.weight:", model.Blocks[0].Attn.QKV.Weight.Grad.Shape())

	for _, nt := range nn.NamedStateDict(model)[:6] {
		fmt.Println(nt.Name, nt.Tensor.Shape())
	}
	// Output:
	// parameters: 805130
	// logits: [2 10]
	// gradient of blocks.0.attn.qkv.weight: [384 128]
	// cls_token [1 1 128]
	// pos_embed [1 17 128]
	// patch_embed.proj.weight [128 1 7 7]
	// patch_embed.proj.bias [128]
	// blocks.0.norm1.weight [128]
	// blocks.0.norm1.bias [128]
}

// The reference configurations have the reference models' parameter
// counts; T2T-ViT's position encoding and performer features are fixed
// parameters, saved but not trained.
func ExampleNewT2T() {
	rng := autograd.NewRNG(1)
	for _, c := range []struct {
		name string
		cfg  vit.T2TConfig
	}{{"T2T-ViT-7", vit.T2TViT7()}, {"T2T-ViT-14", vit.T2TViT14()}} {
		model := vit.NewT2T(rng, c.cfg)
		trainable, total := nn.NumParams(model)
		fmt.Printf("%s: %d trainable, %d in all, %d tokens\n", c.name, trainable, total, model.NumTokens())
	}

	small := vit.NewT2T(rng, vit.T2TViTMNIST())
	nn.Eval(small)
	x := rng.Normal(0, 1, 3, 1, 32, 32) // MNIST padded to 32×32
	autograd.NoGrad(func() {
		fmt.Println("logits:", small.Forward(x).Shape(), "from", small.NumTokens(), "tokens and a class token")
	})
	// Output:
	// T2T-ViT-7: 4255694 trainable, 4310222 in all, 196 tokens
	// T2T-ViT-14: 21465806 trainable, 21545550 in all, 196 tokens
	// logits: [3 10] from 4 tokens and a class token
}

// Weights round-trip through safetensors under the reference names, so a
// checkpoint converted from timm (or written for it) loads by name.
func ExampleVisionTransformer_save() {
	dir, err := os.MkdirTemp("", "vit")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vit.safetensors")

	cfg := vit.ViTMNIST()
	if err := nn.Save(path, vit.New(autograd.NewRNG(1), cfg), nil); err != nil {
		fmt.Println(err)
		return
	}
	fresh := vit.New(autograd.NewRNG(2), cfg)
	res, err := nn.Load(path, fresh, true)
	fmt.Println("loaded:", err == nil, "missing:", len(res.Missing), "unexpected:", len(res.Unexpected))
	// Output:
	// loaded: true missing: 0 unexpected: 0
}
