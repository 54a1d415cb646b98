package layers

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

func TestAttnBlockStateDictNames(t *testing.T) {
	var got []string
	for _, nt := range nn.NamedStateDict(NewBlock(autograd.NewRNG(1), 8, BlockConfig{NumHeads: 2, QKVBias: true, InitValues: 1e-5})) {
		got = append(got, nt.Name+attnShapeSuffix(nt.Tensor))
	}
	assert.Equal(t, []string{
		"norm1.weight[8]", "norm1.bias[8]",
		"attn.qkv.weight[24 8]", "attn.qkv.bias[24]", "attn.proj.weight[8 8]", "attn.proj.bias[8]",
		"ls1.gamma[8]",
		"norm2.weight[8]", "norm2.bias[8]",
		"mlp.fc1.weight[32 8]", "mlp.fc1.bias[32]", "mlp.fc2.weight[8 32]", "mlp.fc2.bias[8]",
		"ls2.gamma[8]",
	}, got)
}

func TestAttnBlockDefaultsAndInit(t *testing.T) {
	b := NewBlock(autograd.NewRNG(2), 64, BlockConfig{})
	assert.Equal(t, 8, b.Attn.NumHeads)
	assert.Equal(t, 1e-6, b.Norm1.Eps)
	assert.Equal(t, []int{256, 64}, b.MLP.FC1.Weight.Shape())
	assert.Nil(t, b.Attn.QKV.Bias)
	assert.Nil(t, b.LS1)
	// trunc_normal(std 0.02) weights, zero biases.
	w := b.MLP.FC1.Weight.Data()
	var sum, sq float64
	for _, v := range w {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(w))
	assert.InDelta(t, 0, sum/n, 0.002)
	assert.InDelta(t, 0.02, math.Sqrt(sq/n-(sum/n)*(sum/n)), 0.002)
	assert.Equal(t, float32(0), b.MLP.FC1.Bias.Abs().Max().Item())
}

func TestAttnBlockEvalIsDeterministic(t *testing.T) {
	rng := autograd.NewRNG(3)
	b := NewBlock(rng, 16, BlockConfig{NumHeads: 4, Drop: 0.3, AttnDrop: 0.3, DropPath: 0.5})
	x := rng.Normal(0, 1, 4, 5, 16)
	nn.Eval(b)
	y1, y2 := b.Forward(x), b.Forward(x)
	attnClose(t, "eval", y1, y2, 0)
	nn.Train(b)
	y3 := b.Forward(x)
	assert.Greater(t, attnMaxErr(t, "train differs", y1, y3), 1e-3, "dropout and drop path act in training mode")
	// Without any dropout the block is the same in both modes.
	c := NewBlock(rng, 16, BlockConfig{NumHeads: 4})
	z := c.Forward(x)
	nn.Eval(c)
	attnClose(t, "no dropout", z, c.Forward(x), 0)
}

// The parameter counts of the spec (models.md §2, §3) for the block stacks
// of the full models, with the parts outside this package (patch and
// position embeddings, cls token, final norm, head) added by hand. One
// block is built and multiplied by the depth, to keep the test fast.
func TestAttnParamCounts(t *testing.T) {
	rng := autograd.NewRNG(4)
	blockParams := func(dim int, cfg BlockConfig) int {
		tr, total := nn.NumParams(NewBlock(rng, dim, cfg))
		assert.Equal(t, tr, total)
		return tr
	}
	head := func(d int) int { return d*1000 + 1000 }

	// ViT-Ti/16: D=192, h=3, depth 12, r=4, qkv bias.
	ti := blockParams(192, BlockConfig{NumHeads: 3, QKVBias: true})
	assert.Equal(t, 444864, ti)
	assert.Equal(t, 5338368, 12*ti)
	patch, cls, pos, norm := 3*16*16*192+192, 192, 197*192, 2*192
	assert.Equal(t, 5717416, patch+cls+pos+12*ti+norm+head(192), "ViT-Ti/16")

	// T2T-ViT-7 and -14: performer T2T module, blocks without qkv bias.
	for _, c := range []struct {
		name                  string
		dim, depth, heads     int
		ratio                 float64
		wantBlock, wantModule int
		want                  int
	}{
		{"T2T-ViT-7", 256, 7, 4, 2, 526336, 313574, 4255694},
		{"T2T-ViT-14", 384, 14, 6, 3, 1478016, 387430, 21465806},
	} {
		m := NewT2TModule(rng, T2TConfig{EmbedDim: c.dim})
		tr, total := nn.NumParams(m)
		assert.Equal(t, c.wantModule, tr, c.name+" T2T module")
		assert.Equal(t, 2*32*64, total-tr, c.name+": the performers' fixed W are parameters but not trainable")
		blk := blockParams(c.dim, BlockConfig{NumHeads: c.heads, MLPRatio: c.ratio, Eps: 1e-5})
		assert.Equal(t, c.wantBlock, blk, c.name+" block")
		assert.Equal(t, c.want, tr+c.depth*blk+c.dim+2*c.dim+head(c.dim), c.name+" trainable (cls, norm, head added)")
	}
}

func TestAttnMLPAndLayerScale(t *testing.T) {
	rng := autograd.NewRNG(5)
	m := NewMLP(rng, 4, 6, 3, 0)
	x := rng.Normal(0, 1, 2, 4)
	want := m.FC2.Forward(m.FC1.Forward(x).Gelu())
	attnClose(t, "mlp", want, m.Forward(x), 1e-6)
	ls := NewLayerScale(4, 0.25)
	attnClose(t, "layer scale", x.MulScalar(0.25), ls.Forward(x), 0)
	assert.Panics(t, func() { ls.Forward(rng.Normal(0, 1, 2, 3)) })
}
