package layers_test

import (
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// Self-attention over a batch of token sequences, with the last two tokens
// of the second sequence masked out as padding.
func ExampleAttention() {
	rng := autograd.NewRNG(1)
	attn := layers.NewAttention(rng, 16, layers.AttentionConfig{NumHeads: 4, QKVBias: true})
	x := rng.Normal(0, 1, 2, 5, 16) // [batch, tokens, features]
	pad := autograd.New([]float32{
		0, 0, 0, 0, 0,
		0, 0, 0, 1, 1, // 1 = padding: ignored as a key
	}, 2, 5)
	y := attn.ForwardMask(x, layers.AttentionMask{KeyPadding: pad})
	fmt.Println("output:", y.Shape())
	for _, np := range nn.NamedParameters(attn) {
		fmt.Println(np.Name, np.Param.Shape())
	}
	// Output:
	// output: [2 5 16]
	// qkv.weight [48 16]
	// qkv.bias [48]
	// proj.weight [16 16]
	// proj.bias [16]
}

// The attention weights of the core function: each row is a distribution
// over the keys, and a causal mask zeroes the future.
func ExampleAttentionWeights() {
	rng := autograd.NewRNG(2)
	q, k := rng.Normal(0, 1, 1, 1, 3, 4), rng.Normal(0, 1, 1, 1, 3, 4) // [B, heads, tokens, d]
	w := layers.AttentionWeights(q, k, layers.AttentionOptions{Mask: layers.AttentionMask{Causal: true}})
	fmt.Println("row sums:", w.Sum(-1).Reshape(3).Data())
	fmt.Println("first row:", w.At(0, 0, 0, 0), w.At(0, 0, 0, 1), w.At(0, 0, 0, 2))
	// Output:
	// row sums: [1 1 1]
	// first row: 1 0 0
}

// A ViT-Ti block (timm's names), trained for one step on a toy loss.
func ExampleBlock() {
	rng := autograd.NewRNG(3)
	block := layers.NewBlock(rng, 192, layers.BlockConfig{NumHeads: 3, QKVBias: true, DropPath: 0.1})
	trainable, _ := nn.NumParams(block)
	fmt.Println("parameters:", trainable)

	x := rng.Normal(0, 1, 2, 197, 192) // [batch, cls + 196 patches, D]
	y := block.Forward(x)
	fmt.Println("output:", y.Shape())
	y.Square().Mean().Backward()
	fmt.Println("gradient of attn.qkv.weight:", block.Attn.QKV.Weight.Grad.Shape())

	nn.Eval(block) // no drop path at inference
	fmt.Println("names:", nn.NamedParameters(block)[2].Name, nn.NamedParameters(block)[8].Name)
	// Output:
	// parameters: 444864
	// output: [2 197 192]
	// gradient of attn.qkv.weight: [576 192]
	// names: attn.qkv.weight mlp.fc1.weight
}
