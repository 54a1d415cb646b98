package nn

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

func names(model any) []string {
	var out []string
	for _, np := range NamedParameters(model) {
		out = append(out, np.Name)
	}
	return out
}

func stateNames(model any) []string {
	var out []string
	for _, nt := range NamedStateDict(model) {
		out = append(out, nt.Name)
	}
	return out
}

func TestSnakeCase(t *testing.T) {
	cases := map[string]string{
		"QKV": "qkv", "OutProj": "out_proj", "Norm1": "norm1", "FC1": "fc1", "PosEmbed": "pos_embed",
		"HTTPServer": "http_server", "Conv2D": "conv2d", "Conv2Down": "conv2_down", "fc1": "fc1",
		"outProj": "out_proj", "ToQKV": "to_qkv", "Weight": "weight", "W": "w", "MLP": "mlp",
		"LayerNorm1": "layer_norm1", "already_snake": "already_snake", "": "",
	}
	for in, want := range cases {
		assert.Equal(t, want, SnakeCase(in), "SnakeCase(%q)", in)
	}
}

type attention struct {
	QKV     *Linear
	OutProj *Linear
	Scale   *Parameter
}

type block struct {
	Norm1 *Parameter
	Attn  attention // by value
	Mlp   *Sequential
}

type vit struct {
	PosEmbed *Parameter
	Blocks   []*block
	Heads    map[string]*Linear
	Head     *Linear `nn:"fc"`
	Skipped  *Linear `nn:"-"`
	cache    []float32
	noise    *autograd.Tensor // a plain tensor: not a parameter
	rng      *autograd.RNG
}

func newViT(rng *autograd.RNG) *vit {
	b := func() *block {
		return &block{
			Norm1: NewParameter(autograd.Ones(4)),
			Attn:  attention{QKV: NewLinear(rng, 4, 12, true), OutProj: NewLinear(rng, 4, 4, false), Scale: NewParameter(autograd.Scalar(1))},
			Mlp:   NewMLP(rng, 4, []int{8}, 4, GELU{}),
		}
	}
	return &vit{
		PosEmbed: NewParameter(autograd.Zeros(1, 3, 4)),
		Blocks:   []*block{b(), b()},
		Heads:    map[string]*Linear{"z": NewLinear(rng, 4, 1, true), "a": NewLinear(rng, 4, 2, true)},
		Head:     NewLinear(rng, 4, 10, true),
		Skipped:  NewLinear(rng, 4, 10, true),
		noise:    autograd.Ones(3),
		rng:      rng,
	}
}

func TestNamesFollowPyTorch(t *testing.T) {
	m := newViT(autograd.NewRNG(1))
	blk := func(i string) []string {
		p := "blocks." + i + "."
		return []string{p + "norm1", p + "attn.qkv.weight", p + "attn.qkv.bias", p + "attn.out_proj.weight", p + "attn.scale",
			p + "mlp.0.weight", p + "mlp.0.bias", p + "mlp.2.weight", p + "mlp.2.bias"}
	}
	want := []string{"pos_embed"}
	want = append(want, blk("0")...)
	want = append(want, blk("1")...)
	want = append(want, "heads.a.weight", "heads.a.bias", "heads.z.weight", "heads.z.bias", "fc.weight", "fc.bias")
	assert.Equal(t, want, names(m))
	assert.Equal(t, want, stateNames(m))
	assert.Len(t, Parameters(m), len(want))
	sd := StateDict(m)
	assert.Len(t, sd, len(want))
	assert.Same(t, m.Blocks[1].Attn.QKV.Weight.Tensor, sd["blocks.1.attn.qkv.weight"])
	assert.Equal(t, []int{12, 4}, sd["blocks.0.attn.qkv.weight"].Shape())

	// Walking a sub-tree names relative to it.
	assert.Equal(t, []string{"weight", "bias"}, names(m.Head))
	assert.Equal(t, []string{"0.weight", "0.bias", "2.weight", "2.bias"}, names(m.Blocks[0].Mlp))
}

func TestNumParams(t *testing.T) {
	m := newViT(autograd.NewRNG(1))
	perBlock := 4 + (12*4 + 12) + 16 + 1 + (8*4 + 8) + (4*8 + 4)
	total := 12 + 2*perBlock + (4 + 1) + (8 + 2) + (40 + 10)
	tr, all := NumParams(m)
	assert.Equal(t, total, all)
	assert.Equal(t, total, tr)
	Freeze(m.Blocks)
	tr, all = NumParams(m)
	assert.Equal(t, total, all)
	assert.Equal(t, total-2*perBlock, tr)
	assert.False(t, m.Blocks[1].Attn.Scale.RequiresGrad())
	assert.True(t, m.Head.Weight.RequiresGrad())
	Unfreeze(m)
	tr, _ = NumParams(m)
	assert.Equal(t, total, tr)
}

type unexportedModel struct {
	fc1, fc2 *Linear
	outProj  *Parameter
}

func TestUnexportedFieldsAreWalked(t *testing.T) {
	rng := autograd.NewRNG(2)
	m := &unexportedModel{fc1: NewLinear(rng, 2, 3, true), fc2: NewLinear(rng, 3, 1, false), outProj: NewParameter(autograd.Ones(1))}
	assert.Equal(t, []string{"fc1.weight", "fc1.bias", "fc2.weight", "out_proj"}, names(m))
	// Passing by value works for reading: the parameters are pointers.
	assert.Equal(t, names(m), names(*m))
}

type myLinear struct {
	Linear        // embedded: inlined, like a Python subclass
	Extra  *Param `nn:"gamma"`
}

// Param is a local alias to check that embedded non-layer types are named.
type Param = Parameter

type wrapper struct {
	*Parameter             // embedded parameter: named by its type, "parameter"
	Inner      *myLinear   `nn:",inline"`
	Vals       []Parameter // held by value
	Buf        *Buffer
	BufVal     Buffer
	Ptrs       [2]*Parameter
	ByIndex    map[int]*Linear
}

func TestEmbeddingInlineAndValues(t *testing.T) {
	rng := autograd.NewRNG(3)
	m := &wrapper{
		Parameter: NewParameter(autograd.Ones(2)),
		Inner:     &myLinear{Linear: *NewLinear(rng, 2, 2, true), Extra: NewParameter(autograd.Ones(2))},
		Vals:      []Parameter{*NewParameter(autograd.Ones(1)), *NewParameter(autograd.Ones(1))},
		Buf:       NewBuffer(autograd.Zeros(3)),
		BufVal:    *NewBuffer(autograd.Zeros(1)),
		Ptrs:      [2]*Parameter{NewParameter(autograd.Ones(1)), nil},
		ByIndex:   map[int]*Linear{10: NewLinear(rng, 1, 1, false), 2: NewLinear(rng, 1, 1, false)},
	}
	assert.Equal(t, []string{"parameter", "weight", "bias", "gamma", "vals.0", "vals.1", "ptrs.0", "by_index.2.weight", "by_index.10.weight"}, names(m))
	var bufs []string
	for _, nb := range NamedBuffers(m) {
		bufs = append(bufs, nb.Name)
	}
	assert.Equal(t, []string{"buf", "buf_val"}, bufs)
	assert.Equal(t, []string{"parameter", "weight", "bias", "gamma", "vals.0", "vals.1", "buf", "buf_val", "ptrs.0", "by_index.2.weight", "by_index.10.weight"}, stateNames(m))
	// Values held in a slice are addressed in place.
	assert.Same(t, &m.Vals[1], NamedParameters(m)[5].Param)
	assert.False(t, m.Buf.RequiresGrad())
}

type shared struct {
	Enc  *Linear
	Dec  *Linear // the same layer as Enc: tied weights
	Self *shared // a cycle
	Any  any
}

func TestSharedAndCycles(t *testing.T) {
	rng := autograd.NewRNG(4)
	l := NewLinear(rng, 2, 2, false)
	m := &shared{Enc: l, Dec: l}
	m.Self = m
	m.Any = m
	// Each parameter once in NamedParameters, under its first name; every
	// name in the state_dict, as torch.
	assert.Equal(t, []string{"enc.weight"}, names(m))
	assert.Equal(t, []string{"enc.weight", "dec.weight"}, stateNames(m))
}

type moded struct {
	Drop  *Dropout
	Seq   *Sequential
	Inner struct {
		Mode
		custom *customMode
	}
}

type customMode struct{ calls []bool }

func (c *customMode) SetTraining(on bool) { c.calls = append(c.calls, on) }

func TestTrainEval(t *testing.T) {
	rng := autograd.NewRNG(5)
	m := &moded{Drop: NewDropout(0.5, rng), Seq: NewSequential(NewLinear(rng, 2, 2, true), NewDropout(0.1, rng))}
	m.Inner.custom = &customMode{}
	d2 := m.Seq.Layers[1].(*Dropout)
	assert.True(t, m.Drop.Training())
	assert.True(t, d2.Training())
	assert.True(t, m.Inner.Training())
	Eval(m)
	assert.False(t, m.Drop.Training())
	assert.False(t, d2.Training())
	assert.False(t, m.Inner.Training())
	Train(m)
	assert.True(t, m.Drop.Training())
	assert.True(t, d2.Training())
	assert.True(t, m.Inner.Training())
	assert.Equal(t, []bool{false, true}, m.Inner.custom.calls)

	// A Mode held by value where it cannot be set is reported.
	assert.PanicsWithValue(t, `nn: Eval: the nn.Dropout at "drops.a" is held by value where it cannot be changed (in a map, an interface or a model passed by value); pass the model by pointer and hold layers by pointer`, func() {
		Eval(&struct{ Drops map[string]Dropout }{Drops: map[string]Dropout{"a": {}}})
	})
	assert.Panics(t, func() { Eval(Dropout{}) })
	assert.Panics(t, func() { NamedParameters(nil) })
}

func TestZeroGrad(t *testing.T) {
	rng := autograd.NewRNG(6)
	m := NewMLP(rng, 3, []int{4}, 2, nil)
	x := rng.Normal(0, 1, 5, 3)
	m.Forward(x).Sum().Backward()
	for _, p := range Parameters(m) {
		require.NotNil(t, p.Grad)
	}
	ZeroGrad(m)
	for _, p := range Parameters(m) {
		assert.Nil(t, p.Grad)
	}
}

func TestParameterConstructors(t *testing.T) {
	x := autograd.Ones(2).SetRequiresGrad(true)
	y := x.MulScalar(2)
	p := NewParameter(y) // not a leaf: detached
	assert.True(t, p.IsLeaf())
	assert.True(t, p.RequiresGrad())
	assert.Equal(t, []float32{2, 2}, p.Data())
	b := NewBuffer(x)
	assert.False(t, b.RequiresGrad())
	assert.True(t, x.RequiresGrad(), "the source keeps requiring grad")
	b.Set(y)
	assert.False(t, b.RequiresGrad())
	assert.Equal(t, "Parameter containing:\ntensor([2., 2.], requires_grad=True)", p.String())
	assert.Panics(t, func() { NewParameter(nil) })
}

type badTag struct {
	L *Linear `nn:"x,omitempty"`
}

func TestBadTagPanics(t *testing.T) {
	assert.Panics(t, func() { NamedParameters(&badTag{L: NewLinear(autograd.NewRNG(1), 1, 1, true)}) })
	assert.Panics(t, func() { NamedParameters(&struct{ M map[[2]int]*Linear }{M: map[[2]int]*Linear{{1, 2}: nil}}) })
}

// TestTo moves a model with a frozen parameter, a gradient and a buffer to
// every test device and checks that identities, values and requires-grad
// settings survive and gradients are dropped.
func TestTo(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(3)
		m := &struct {
			Lin  *Linear
			Norm *BatchNorm2d
		}{NewLinear(rng, 4, 3, true), NewBatchNorm2d(2, BatchNormConfig{})}
		m.Lin.Bias.SetRequiresGrad(false)
		m.Lin.Weight.Sum().Backward()
		require.NotNil(t, m.Lin.Weight.Grad)
		w, bias, mean := m.Lin.Weight, m.Lin.Bias, m.Norm.RunningMean
		before := map[string][]float32{}
		for _, nt := range NamedStateDict(m) {
			before[nt.Name] = nt.Tensor.Data()
		}
		To(m, dev)
		assert.Same(t, w, m.Lin.Weight, "parameters keep their identity")
		assert.Same(t, bias, m.Lin.Bias)
		assert.Same(t, mean, m.Norm.RunningMean, "buffers keep their identity")
		for _, nt := range NamedStateDict(m) {
			assert.Equal(t, dev, nt.Tensor.Device(), nt.Name)
			assert.Equal(t, before[nt.Name], nt.Tensor.Data(), nt.Name)
			assert.True(t, nt.Tensor.IsLeaf(), nt.Name)
		}
		assert.True(t, m.Lin.Weight.RequiresGrad())
		assert.False(t, m.Lin.Bias.RequiresGrad(), "a frozen parameter stays frozen")
		assert.False(t, m.Norm.RunningMean.RequiresGrad())
		if dev != autograd.CPU {
			assert.Nil(t, m.Lin.Weight.Grad, "the gradient is dropped on a move")
		}
		y := m.Lin.Forward(autograd.Ones(2, 4).To(dev)).Sum()
		y.Backward()
		assert.Equal(t, dev, m.Lin.Weight.Grad.Device())
		assert.Panics(t, func() { To(m, nil) })
	})
}
