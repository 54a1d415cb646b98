package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

func TestRNNNamesShapesAndInit(t *testing.T) {
	rng := autograd.NewRNG(1)
	l := NewLSTM(rng, 5, 16, RNNConfig{NumLayers: 2, Bidirectional: true})
	want := []string{
		"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
		"weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
		"weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
		"weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
	}
	assert.Equal(t, want, names(l))
	sd := StateDict(l)
	assert.Equal(t, []int{64, 5}, sd["weight_ih_l0"].Shape())
	assert.Equal(t, []int{64, 16}, sd["weight_hh_l0_reverse"].Shape())
	assert.Equal(t, []int{64, 32}, sd["weight_ih_l1"].Shape(), "later layers read both directions")
	assert.Equal(t, []int{64}, sd["bias_hh_l1_reverse"].Shape())
	// torch.nn.LSTM(5, 16, 2, bidirectional=True) has 2·(64·5 + 64·16 + 128) + 2·(64·32 + 64·16 + 128) parameters.
	_, total := NumParams(l)
	assert.Equal(t, 2*(64*5+64*16+128)+2*(64*32+64*16+128), total)
	// Every parameter from U(±1/√hidden).
	var all []float32
	for _, p := range Parameters(l) {
		all = append(all, p.Data()...)
	}
	checkUniform(t, all, -0.25, 0.25)

	g := NewGRU(rng, 3, 4, RNNConfig{NoBias: true})
	assert.Equal(t, []string{"weight_ih_l0", "weight_hh_l0"}, names(g))
	assert.Equal(t, []int{12, 3}, g.Cell(0, false).WeightIH.Shape())
	assert.Nil(t, g.Cell(0, false).BiasIH)
	assert.Equal(t, 1, g.Config.NumLayers)

	gc := NewGRUCell(rng, 3, 4, true)
	assert.Equal(t, []string{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}, names(gc))
	assert.Equal(t, []int{12, 4}, gc.WeightHH.Shape())
	lc := NewLSTMCell(rng, 3, 4, false)
	assert.Equal(t, []string{"weight_ih", "weight_hh"}, names(lc))
	assert.Equal(t, []int{16, 3}, lc.WeightIH.Shape())

	// Cell shares the layer's parameters.
	assert.Same(t, NamedParameters(l)[5].Param, l.Cell(0, true).WeightHH)
	assert.Same(t, NamedParameters(l)[8].Param, l.Cell(1, false).WeightIH)
	assert.PanicsWithValue(t, "nn: LSTM: no layer 2 direction 0 (the layer has 2 layers, 2 directions)", func() { l.Cell(2, false) })
}

// The state_dict names of []NamedParameter fields are their entries' names.
func TestNamedParameterSlices(t *testing.T) {
	m := &struct {
		Enc struct {
			Ps []NamedParameter `nn:",inline"`
		}
		Bufs [1]NamedBuffer
	}{}
	p, q := NewParameter(autograd.Ones(1)), NewParameter(autograd.Ones(2))
	m.Enc.Ps = []NamedParameter{{"zeta", p}, {"alpha", q}}
	m.Bufs[0] = NamedBuffer{"count", NewBuffer(autograd.Zeros())}
	assert.Equal(t, []string{"enc.zeta", "enc.alpha", "bufs.count"}, stateNames(m))
	assert.Same(t, q, NamedParameters(m)[1].Param)
}

// A GRU of one layer is its cell applied step by step; an LSTM likewise.
func TestRNNLayerIsItsCellUnrolled(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		rng := autograd.NewRNG(2)
		x := rng.Normal(0, 1, 4, 2, 3).To(dev)
		h0 := rng.Normal(0, 1, 1, 2, 5).To(dev)
		c0 := rng.Normal(0, 1, 1, 2, 5).To(dev)

		g := NewGRU(rng, 3, 5, RNNConfig{})
		To(g, dev)
		out, hn := g.Forward(x, h0)
		cell := g.Cell(0, false)
		h := h0.Reshape(2, 5)
		for s := 0; s < 4; s++ {
			h = cell.Forward(x.Narrow(0, s, 1).Reshape(2, 3), h)
			assertClose(t, h.Data(), out.Narrow(0, s, 1).Data(), 1e-6, "GRU step %d", s)
		}
		assertClose(t, h.Data(), hn.Data(), 1e-6)

		l := NewLSTM(rng, 3, 5, RNNConfig{})
		To(l, dev)
		out, st := l.Forward(x, LSTMState{H: h0, C: c0})
		lc := l.Cell(0, false)
		s := LSTMState{H: h0.Reshape(2, 5), C: c0.Reshape(2, 5)}
		for i := 0; i < 4; i++ {
			s = lc.Forward(x.Narrow(0, i, 1).Reshape(2, 3), s)
			assertClose(t, s.H.Data(), out.Narrow(0, i, 1).Data(), 1e-6, "LSTM step %d", i)
		}
		assertClose(t, s.H.Data(), st.H.Data(), 1e-6)
		assertClose(t, s.C.Data(), st.C.Data(), 1e-6)
	})
}

func TestRNNLayouts(t *testing.T) {
	rng := autograd.NewRNG(3)
	x := rng.Normal(0, 1, 6, 2, 3) // [seq, batch, feature]

	// Batch-first is the time-major result transposed; the state is not.
	g := NewGRU(rng, 3, 4, RNNConfig{NumLayers: 2, Bidirectional: true})
	out, hn := g.Forward(x, nil)
	assert.Equal(t, []int{6, 2, 8}, out.Shape())
	assert.Equal(t, []int{4, 2, 4}, hn.Shape())
	bf := &GRU{InputSize: 3, HiddenSize: 4, Config: g.Config, params: g.params}
	bf.Config.BatchFirst = true
	outB, hnB := bf.Forward(x.Transpose(0, 1), nil)
	assert.Equal(t, []int{2, 6, 8}, outB.Shape())
	assertClose(t, out.Transpose(0, 1).Data(), outB.Data(), 1e-6)
	assertClose(t, hn.Data(), hnB.Data(), 1e-6)

	// An unbatched sequence is a batch of one.
	one := x.Narrow(1, 1, 1)
	o1, h1 := g.Forward(one, nil)
	ou, hu := g.Forward(one.Reshape(6, 3), nil)
	assert.Equal(t, []int{6, 8}, ou.Shape())
	assert.Equal(t, []int{4, 4}, hu.Shape())
	assertClose(t, o1.Data(), ou.Data(), 1e-6)
	assertClose(t, h1.Data(), hu.Data(), 1e-6)

	// The reverse direction reads the sequence backwards: it is a forward
	// layer with the reverse weights run on the flipped sequence.
	b := NewGRU(rng, 3, 4, RNNConfig{Bidirectional: true})
	ob, hb := b.Forward(x, nil)
	fw := NewGRU(rng, 3, 4, RNNConfig{})
	rc := b.Cell(0, true)
	fw.params = []NamedParameter{{"weight_ih_l0", rc.WeightIH}, {"weight_hh_l0", rc.WeightHH}, {"bias_ih_l0", rc.BiasIH}, {"bias_hh_l0", rc.BiasHH}}
	of, hf := fw.Forward(x.Flip(0), nil)
	assertClose(t, of.Flip(0).Data(), ob.Narrow(2, 4, 4).Data(), 1e-6)
	assertClose(t, hf.Data(), hb.Narrow(0, 1, 1).Data(), 1e-6)

	// Running a sequence in two halves, passing the state, is running it whole.
	l := NewLSTM(rng, 3, 4, RNNConfig{NumLayers: 2})
	whole, sw := l.Forward(x, LSTMState{})
	first, s1 := l.Forward(x.Narrow(0, 0, 3), LSTMState{})
	second, s2 := l.Forward(x.Narrow(0, 3, 3), s1)
	assertClose(t, whole.Data(), autograd.Concat([]*autograd.Tensor{first, second}, 0).Data(), 1e-6)
	assertClose(t, sw.H.Data(), s2.H.Data(), 1e-6)
	assertClose(t, sw.C.Data(), s2.C.Data(), 1e-6)
}

func TestRNNDropoutBetweenLayers(t *testing.T) {
	rng := autograd.NewRNG(4)
	x := rng.Normal(0, 1, 5, 3, 2)
	g := NewGRU(rng, 2, 8, RNNConfig{NumLayers: 2, Dropout: 0.5})
	a, _ := g.Forward(x, nil)
	b, _ := g.Forward(x, nil)
	assert.NotEqual(t, a.Data(), b.Data(), "training draws new masks")
	Eval(g)
	a, _ = g.Forward(x, nil)
	b, _ = g.Forward(x, nil)
	assert.Equal(t, a.Data(), b.Data(), "evaluation has no dropout")
	// The same computation without dropout.
	nd := &GRU{InputSize: 2, HiddenSize: 8, Config: RNNConfig{NumLayers: 2}, params: g.params}
	c, _ := nd.Forward(x, nil)
	assert.Equal(t, a.Data(), c.Data())
}

func TestRNNGradientsFlowThroughTime(t *testing.T) {
	rng := autograd.NewRNG(5)
	l := NewLSTM(rng, 2, 3, RNNConfig{NumLayers: 2, BatchFirst: true})
	x := rng.Normal(0, 1, 2, 7, 2).SetRequiresGrad(true)
	out, _ := l.Forward(x, LSTMState{})
	// Only the last step's output: the first input still gets a gradient.
	out.Narrow(1, 6, 1).Sum().Backward()
	g := x.Grad.Narrow(1, 0, 1).Data()
	assert.NotZero(t, math.Abs(float64(g[0]))+math.Abs(float64(g[1])))
	for _, p := range Parameters(l) {
		require.NotNil(t, p.Grad)
	}
}

func TestRNNPanics(t *testing.T) {
	rng := autograd.NewRNG(6)
	g := NewGRU(rng, 3, 4, RNNConfig{NumLayers: 2})
	assert.PanicsWithValue(t, "nn: GRU: input of shape [5 2 4] is not [seq, batch, 3] (or [batch, seq, 3] batch-first, or [seq, 3] unbatched)", func() {
		g.Forward(autograd.Zeros(5, 2, 4), nil)
	})
	assert.PanicsWithValue(t, "nn: GRU: input with batch 2 needs h0 of shape [2 2 4], got [1 2 4]", func() {
		g.Forward(autograd.Zeros(5, 2, 3), autograd.Zeros(1, 2, 4))
	})
	assert.PanicsWithValue(t, "nn: LSTM: unbatched input needs c0 of shape [1 4], got [1 1 4]", func() {
		NewLSTM(rng, 3, 4, RNNConfig{}).Forward(autograd.Zeros(5, 3), LSTMState{C: autograd.Zeros(1, 1, 4)})
	})
	assert.PanicsWithValue(t, "nn: GRUCell: input of shape [2 4] is not [B, 3] or [3]", func() {
		NewGRUCell(rng, 3, 4, true).Forward(autograd.Zeros(2, 4), nil)
	})
	assert.PanicsWithValue(t, "nn: LSTMCell: input [2 3] needs a state of shape [2 4], got [3 4]", func() {
		NewLSTMCell(rng, 3, 4, true).Forward(autograd.Zeros(2, 3), LSTMState{H: autograd.Zeros(3, 4)})
	})
	assert.PanicsWithValue(t, "nn: NewLSTM: input size 0 and hidden size 4 must be positive", func() {
		NewLSTM(rng, 0, 4, RNNConfig{})
	})
	assert.PanicsWithValue(t, "nn: NewGRU: invalid number of layers -1 or dropout 0", func() {
		NewGRU(rng, 2, 4, RNNConfig{NumLayers: -1})
	})
	assert.PanicsWithValue(t, "nn: GRU: no layers; build it with NewGRU", func() { (&GRU{}).Forward(autograd.Zeros(2, 1, 1), nil) })
	// Unbatched cells.
	assert.Equal(t, []int{4}, NewGRUCell(rng, 3, 4, true).Forward(autograd.Zeros(3), nil).Shape())
	s := NewLSTMCell(rng, 3, 4, true).Forward(autograd.Zeros(3), LSTMState{})
	assert.Equal(t, []int{4}, s.C.Shape())
}
