package nn

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
)

// The recurrent layers follow torch.nn.GRU, LSTM, GRUCell and LSTMCell:
// the same gate order, formulas, parameter names and shapes, and the same
// initialisation (every parameter from U(−1/√hidden, 1/√hidden)), so that
// a state_dict saved by PyTorch loads and gives the same outputs.

// rnnUniform fills every parameter from U(−1/√hidden, 1/√hidden), as
// torch's RNNBase and RNNCellBase reset_parameters, in the given order.
func rnnUniform(rng *autograd.RNG, hidden int, ps ...*Parameter) {
	bound := 1 / math.Sqrt(float64(hidden))
	for _, p := range ps {
		if p != nil {
			Uniform(p.Tensor, -bound, bound, rng)
		}
	}
}

// newRNNWeights returns weight_ih [gates·hidden, in], weight_hh
// [gates·hidden, hidden] and, with bias, bias_ih and bias_hh
// [gates·hidden], all zero.
func newRNNWeights(gates, in, hidden int, bias bool) (wih, whh, bih, bhh *Parameter) {
	wih = NewParameter(autograd.Zeros(gates*hidden, in))
	whh = NewParameter(autograd.Zeros(gates*hidden, hidden))
	if bias {
		bih = NewParameter(autograd.Zeros(gates * hidden))
		bhh = NewParameter(autograd.Zeros(gates * hidden))
	}
	return
}

// affine is x·Wᵀ (+ b).
func affine(x *autograd.Tensor, w, b *Parameter) *autograd.Tensor {
	y := autograd.MatMulT(x, w.Tensor, false, true)
	if b != nil {
		y = y.Add(b.Tensor)
	}
	return y
}

// gruStep is one GRU update from the input projection gi = x·W_ihᵀ + b_ih
// ([B, 3H]) and the previous state h ([B, H]), with torch's formula:
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr)
//	z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//	h' = (1 − z) ⊙ n + z ⊙ h
func gruStep(gi, h *autograd.Tensor, whh, bhh *Parameter) *autograd.Tensor {
	hs := h.Size(-1)
	gh := affine(h, whh, bhh)
	rz := gi.Narrow(-1, 0, 2*hs).Add(gh.Narrow(-1, 0, 2*hs)).Sigmoid()
	r, z := rz.Narrow(-1, 0, hs), rz.Narrow(-1, hs, hs)
	n := gi.Narrow(-1, 2*hs, hs).Add(r.Mul(gh.Narrow(-1, 2*hs, hs))).Tanh()
	return n.Add(z.Mul(h.Sub(n)))
}

// lstmStep is one LSTM update from gi = x·W_ihᵀ + b_ih ([B, 4H]) and the
// previous state, with torch's gate order i, f, g, o:
//
//	i = σ(·), f = σ(·), g = tanh(·), o = σ(·)   (W_i* x + b_i* + W_h* h + b_h*)
//	c' = f ⊙ c + i ⊙ g
//	h' = o ⊙ tanh(c')
func lstmStep(gi, h, c *autograd.Tensor, whh, bhh *Parameter) (*autograd.Tensor, *autograd.Tensor) {
	hs := h.Size(-1)
	gates := gi.Add(affine(h, whh, bhh))
	iff := gates.Narrow(-1, 0, 2*hs).Sigmoid()
	i, f := iff.Narrow(-1, 0, hs), iff.Narrow(-1, hs, hs)
	g := gates.Narrow(-1, 2*hs, hs).Tanh()
	o := gates.Narrow(-1, 3*hs, hs).Sigmoid()
	c2 := f.Mul(c).Add(i.Mul(g))
	return o.Mul(c2.Tanh()), c2
}

// GRUCell is torch.nn.GRUCell: one step of a gated recurrent unit, with
// WeightIH [3·hidden, input], WeightHH [3·hidden, hidden] and biases
// [3·hidden] holding the reset, update and new gates in torch's order
// (r, z, n). Its state_dict names are "weight_ih", "weight_hh", "bias_ih"
// and "bias_hh".
type GRUCell struct {
	WeightIH *Parameter
	WeightHH *Parameter
	BiasIH   *Parameter
	BiasHH   *Parameter
}

// NewGRUCell returns a GRUCell from inputSize to hiddenSize features, with
// or without biases, every parameter drawn from U(−1/√hidden, 1/√hidden)
// with rng as torch does.
func NewGRUCell(rng *autograd.RNG, inputSize, hiddenSize int, bias bool) *GRUCell {
	checkRNNSizes("NewGRUCell", inputSize, hiddenSize)
	c := &GRUCell{}
	c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH = newRNNWeights(3, inputSize, hiddenSize, bias)
	rnnUniform(rng, hiddenSize, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	return c
}

func checkRNNSizes(fn string, in, hidden int) {
	if in <= 0 || hidden <= 0 {
		panic(fmt.Sprintf("nn: %s: input size %d and hidden size %d must be positive", fn, in, hidden))
	}
}

// cellInput checks a cell's input ([B, in] or [in]) and state ([B, hidden],
// [hidden] or nil for zeros) and returns both batched, and whether the
// input was unbatched.
func cellInput(op string, x, h *autograd.Tensor, in, hidden int) (*autograd.Tensor, *autograd.Tensor, bool) {
	if (x.Dim() != 1 && x.Dim() != 2) || x.Size(-1) != in {
		panic(fmt.Sprintf("nn: %s: input of shape %v is not [B, %d] or [%d]", op, x.Shape(), in, in))
	}
	unbatched := x.Dim() == 1
	if unbatched {
		x = x.Unsqueeze(0)
	}
	b := x.Size(0)
	if h == nil {
		return x, autograd.ZerosOn(x.Device(), b, hidden), unbatched
	}
	if unbatched {
		if h.Dim() != 1 || h.Size(0) != hidden {
			panic(fmt.Sprintf("nn: %s: unbatched input %v needs a state of shape [%d], got %v", op, x.Shape()[1:], hidden, h.Shape()))
		}
		return x, h.Unsqueeze(0), true
	}
	if h.Dim() != 2 || h.Size(0) != b || h.Size(1) != hidden {
		panic(fmt.Sprintf("nn: %s: input %v needs a state of shape [%d %d], got %v", op, x.Shape(), b, hidden, h.Shape()))
	}
	return x, h, false
}

// Forward returns the next hidden state for input x ([B, input] or
// [input]) and state h ([B, hidden] or [hidden]; nil means zeros).
func (c *GRUCell) Forward(x, h *autograd.Tensor) *autograd.Tensor {
	hidden := c.WeightHH.Size(1)
	x, h, unbatched := cellInput("GRUCell", x, h, c.WeightIH.Size(1), hidden)
	h = gruStep(affine(x, c.WeightIH, c.BiasIH), h, c.WeightHH, c.BiasHH)
	if unbatched {
		h = h.Squeeze(0)
	}
	return h
}

// LSTMState is the state of an LSTM: the hidden state H and the cell state
// C. For LSTMCell both are [B, hidden] (or [hidden]); for LSTM both are
// [layers·directions, B, hidden]. Nil tensors (the zero LSTMState) stand
// for zeros.
type LSTMState struct {
	H, C *autograd.Tensor
}

// LSTMCell is torch.nn.LSTMCell: one step of a long short-term memory,
// with WeightIH [4·hidden, input], WeightHH [4·hidden, hidden] and biases
// [4·hidden] holding the input, forget, cell and output gates in torch's
// order (i, f, g, o). Its state_dict names are "weight_ih", "weight_hh",
// "bias_ih" and "bias_hh".
type LSTMCell struct {
	WeightIH *Parameter
	WeightHH *Parameter
	BiasIH   *Parameter
	BiasHH   *Parameter
}

// NewLSTMCell returns an LSTMCell from inputSize to hiddenSize features,
// with or without biases, every parameter drawn from
// U(−1/√hidden, 1/√hidden) with rng as torch does.
func NewLSTMCell(rng *autograd.RNG, inputSize, hiddenSize int, bias bool) *LSTMCell {
	checkRNNSizes("NewLSTMCell", inputSize, hiddenSize)
	c := &LSTMCell{}
	c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH = newRNNWeights(4, inputSize, hiddenSize, bias)
	rnnUniform(rng, hiddenSize, c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH)
	return c
}

// Forward returns the next state for input x ([B, input] or [input]) and
// the previous state (nil tensors mean zeros).
func (c *LSTMCell) Forward(x *autograd.Tensor, state LSTMState) LSTMState {
	hidden := c.WeightHH.Size(1)
	in := c.WeightIH.Size(1)
	xb, h, unbatched := cellInput("LSTMCell", x, state.H, in, hidden)
	_, cs, _ := cellInput("LSTMCell", x, state.C, in, hidden)
	h, cs = lstmStep(affine(xb, c.WeightIH, c.BiasIH), h, cs, c.WeightHH, c.BiasHH)
	if unbatched {
		h, cs = h.Squeeze(0), cs.Squeeze(0)
	}
	return LSTMState{H: h, C: cs}
}

// RNNConfig holds the optional arguments of torch.nn.GRU and LSTM; the
// zero value is torch's default: one layer, with biases, time-major input,
// no dropout, one direction.
type RNNConfig struct {
	// NumLayers stacks recurrent layers, each reading the previous one's
	// output sequence; zero means 1.
	NumLayers int
	// NoBias leaves out the biases (bias=False).
	NoBias bool
	// BatchFirst takes and returns [batch, seq, feature] sequences
	// instead of [seq, batch, feature]. The states stay
	// [layers·directions, batch, hidden].
	BatchFirst bool
	// Dropout is applied to the output of every layer but the last, in
	// training mode.
	Dropout float64
	// Bidirectional adds a layer running backwards in time beside each
	// layer; their outputs are concatenated (forward first).
	Bidirectional bool
}

// rnn is the machinery GRU and LSTM share.
type rnn struct {
	op            string
	gates         int
	input, hidden int
	cfg           RNNConfig
}

func (r rnn) dirs() int {
	if r.cfg.Bidirectional {
		return 2
	}
	return 1
}

// newParams builds the parameters in torch's order and under its names:
// for each layer, for each direction, weight_ih_l{k}, weight_hh_l{k},
// bias_ih_l{k}, bias_hh_l{k} (with the suffix "_reverse" backwards).
func (r *rnn) newParams(fn string, rng *autograd.RNG) []NamedParameter {
	checkRNNSizes(fn, r.input, r.hidden)
	if r.cfg.NumLayers < 0 || r.cfg.Dropout < 0 || r.cfg.Dropout > 1 {
		panic(fmt.Sprintf("nn: %s: invalid number of layers %d or dropout %v", fn, r.cfg.NumLayers, r.cfg.Dropout))
	}
	r.cfg.NumLayers = max(r.cfg.NumLayers, 1)
	var out []NamedParameter
	for l := 0; l < r.cfg.NumLayers; l++ {
		in := r.input
		if l > 0 {
			in = r.hidden * r.dirs()
		}
		for d := 0; d < r.dirs(); d++ {
			sfx := fmt.Sprintf("_l%d", l)
			if d == 1 {
				sfx += "_reverse"
			}
			wih, whh, bih, bhh := newRNNWeights(r.gates, in, r.hidden, !r.cfg.NoBias)
			out = append(out, NamedParameter{"weight_ih" + sfx, wih}, NamedParameter{"weight_hh" + sfx, whh})
			if bih != nil {
				out = append(out, NamedParameter{"bias_ih" + sfx, bih}, NamedParameter{"bias_hh" + sfx, bhh})
			}
		}
	}
	ps := make([]*Parameter, len(out))
	for i, np := range out {
		ps[i] = np.Param
	}
	rnnUniform(rng, r.hidden, ps...)
	return out
}

// weights returns the parameters of one layer and direction.
func (r rnn) weights(params []NamedParameter, layer, dir int) (wih, whh, bih, bhh *Parameter) {
	if layer < 0 || layer >= r.cfg.NumLayers || dir < 0 || dir >= r.dirs() {
		panic(fmt.Sprintf("nn: %s: no layer %d direction %d (the layer has %d layers, %d directions)", r.op, layer, dir, r.cfg.NumLayers, r.dirs()))
	}
	per := 4
	if r.cfg.NoBias {
		per = 2
	}
	k := (layer*r.dirs() + dir) * per
	if k+per > len(params) {
		panic(fmt.Sprintf("nn: %s: has %d parameters, not the %d its configuration needs; build it with its constructor", r.op, len(params), r.cfg.NumLayers*r.dirs()*per))
	}
	wih, whh = params[k].Param, params[k+1].Param
	if per == 4 {
		bih, bhh = params[k+2].Param, params[k+3].Param
	}
	return
}

// checkState checks a state tensor ([layers·dirs, B, H], or
// [layers·dirs, H] unbatched) and returns it batched, or zeros for nil.
func (r rnn) checkState(what string, s *autograd.Tensor, dev autograd.Device, b int, unbatched bool) *autograd.Tensor {
	n := r.cfg.NumLayers * r.dirs()
	if s == nil {
		return autograd.ZerosOn(dev, n, b, r.hidden)
	}
	if unbatched {
		if s.Dim() != 2 || s.Size(0) != n || s.Size(1) != r.hidden {
			panic(fmt.Sprintf("nn: %s: unbatched input needs %s of shape [%d %d], got %v", r.op, what, n, r.hidden, s.Shape()))
		}
		return s.Unsqueeze(1)
	}
	if s.Dim() != 3 || s.Size(0) != n || s.Size(1) != b || s.Size(2) != r.hidden {
		panic(fmt.Sprintf("nn: %s: input with batch %d needs %s of shape [%d %d %d], got %v", r.op, b, what, n, b, r.hidden, s.Shape()))
	}
	return s
}

// run applies the stacked layers to x. For an LSTM c0 is the initial cell
// state (possibly nil) and cn the final one; for a GRU both are unused.
func (r rnn) run(params []NamedParameter, x, h0, c0 *autograd.Tensor, training bool, rng *autograd.RNG) (out, hn, cn *autograd.Tensor) {
	lstm := r.gates == 4
	if r.cfg.NumLayers < 1 {
		panic(fmt.Sprintf("nn: %s: no layers; build it with New%s", r.op, r.op))
	}
	if (x.Dim() != 2 && x.Dim() != 3) || x.Size(-1) != r.input {
		panic(fmt.Sprintf("nn: %s: input of shape %v is not [seq, batch, %d] (or [batch, seq, %d] batch-first, or [seq, %d] unbatched)", r.op, x.Shape(), r.input, r.input, r.input))
	}
	unbatched := x.Dim() == 2
	switch {
	case unbatched:
		x = x.Unsqueeze(1)
	case r.cfg.BatchFirst:
		x = x.Transpose(0, 1)
	}
	seq, b := x.Size(0), x.Size(1)
	if seq == 0 {
		panic(fmt.Sprintf("nn: %s: empty sequence %v", r.op, x.Shape()))
	}
	h0 = r.checkState("h0", h0, x.Device(), b, unbatched)
	if lstm {
		c0 = r.checkState("c0", c0, x.Device(), b, unbatched)
	}
	var hs, cs []*autograd.Tensor
	inp := x
	for l := 0; l < r.cfg.NumLayers; l++ {
		var dirOut []*autograd.Tensor
		for d := 0; d < r.dirs(); d++ {
			wih, whh, bih, bhh := r.weights(params, l, d)
			k := l*r.dirs() + d
			// The input projection of every step at once: [seq, B, G·H].
			gi := affine(inp, wih, bih)
			steps := gi.Split(1, 0)
			h := h0.Narrow(0, k, 1).Squeeze(0)
			var c *autograd.Tensor
			if lstm {
				c = c0.Narrow(0, k, 1).Squeeze(0)
			}
			ys := make([]*autograd.Tensor, seq)
			for s := 0; s < seq; s++ {
				t := s
				if d == 1 {
					t = seq - 1 - s
				}
				g := steps[t].Squeeze(0)
				if lstm {
					h, c = lstmStep(g, h, c, whh, bhh)
				} else {
					h = gruStep(g, h, whh, bhh)
				}
				ys[t] = h
			}
			hs = append(hs, h)
			if lstm {
				cs = append(cs, c)
			}
			dirOut = append(dirOut, autograd.Stack(ys, 0))
		}
		if len(dirOut) == 1 {
			inp = dirOut[0]
		} else {
			inp = autograd.Concat(dirOut, 2)
		}
		if training && r.cfg.Dropout > 0 && l < r.cfg.NumLayers-1 {
			if rng == nil {
				panic(fmt.Sprintf("nn: %s: dropout without an RNG; build the layer with its constructor", r.op))
			}
			inp = autograd.Dropout(inp, float32(r.cfg.Dropout), rng)
		}
	}
	out, hn = inp, autograd.Stack(hs, 0)
	if lstm {
		cn = autograd.Stack(cs, 0)
	}
	switch {
	case unbatched:
		out, hn = out.Squeeze(1), hn.Squeeze(1)
		if lstm {
			cn = cn.Squeeze(1)
		}
	case r.cfg.BatchFirst:
		out = out.Transpose(0, 1)
	}
	return out, hn, cn
}

// GRU is torch.nn.GRU: a stack of gated recurrent layers run over a
// sequence (see GRUCell for the update). Its parameters carry torch's
// names — weight_ih_l0 [3·hidden, input], weight_hh_l0 [3·hidden, hidden],
// bias_ih_l0, bias_hh_l0 [3·hidden], then weight_ih_l0_reverse, ... for
// the backward direction and _l1, ... for later layers, whose input is
// hidden·directions wide — so a torch state_dict loads into it. Hold it by
// pointer so that Train and Eval reach its Mode (it matters only for
// dropout between layers).
type GRU struct {
	Mode
	// InputSize and HiddenSize are the feature sizes of the input and of
	// the state.
	InputSize, HiddenSize int
	// Config is the configuration the layer was built with; do not change
	// NumLayers, NoBias or Bidirectional afterwards.
	Config RNNConfig
	params []NamedParameter `nn:",inline"`
	rng    *autograd.RNG
}

// NewGRU returns a GRU from inputSize to hiddenSize features, every
// parameter drawn from U(−1/√hidden, 1/√hidden) with rng (which also
// draws the dropout masks) as torch does.
func NewGRU(rng *autograd.RNG, inputSize, hiddenSize int, cfg RNNConfig) *GRU {
	r := rnn{op: "NewGRU", gates: 3, input: inputSize, hidden: hiddenSize, cfg: cfg}
	params := r.newParams("NewGRU", rng)
	return &GRU{InputSize: inputSize, HiddenSize: hiddenSize, Config: r.cfg, params: params, rng: rng}
}

func (g *GRU) base() rnn {
	return rnn{op: "GRU", gates: 3, input: g.InputSize, hidden: g.HiddenSize, cfg: g.Config}
}

// Forward runs the GRU over x, [seq, batch, input] ([batch, seq, input]
// with BatchFirst, or [seq, input] unbatched), from the initial state h0,
// [layers·directions, batch, hidden] ([layers·directions, hidden]
// unbatched; nil means zeros). It returns the last layer's output at every
// step, [seq, batch, directions·hidden] (batch first with BatchFirst), and
// the final state of every layer and direction, shaped as h0.
func (g *GRU) Forward(x, h0 *autograd.Tensor) (output, hn *autograd.Tensor) {
	output, hn, _ = g.base().run(g.params, x, h0, nil, g.Training(), g.rng)
	return output, hn
}

// Cell returns a GRUCell sharing the parameters of one layer and direction
// (reverse for the backward one), to read or initialise them.
func (g *GRU) Cell(layer int, reverse bool) *GRUCell {
	d := 0
	if reverse {
		d = 1
	}
	c := &GRUCell{}
	c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH = g.base().weights(g.params, layer, d)
	return c
}

// LSTM is torch.nn.LSTM: a stack of long short-term memory layers run over
// a sequence (see LSTMCell for the update), with torch's parameter names
// and shapes as GRU (4·hidden rows instead of 3·hidden). Hold it by pointer
// so that Train and Eval reach its Mode.
type LSTM struct {
	Mode
	// InputSize and HiddenSize are the feature sizes of the input and of
	// the state.
	InputSize, HiddenSize int
	// Config is the configuration the layer was built with; do not change
	// NumLayers, NoBias or Bidirectional afterwards.
	Config RNNConfig
	params []NamedParameter `nn:",inline"`
	rng    *autograd.RNG
}

// NewLSTM returns an LSTM from inputSize to hiddenSize features, every
// parameter drawn from U(−1/√hidden, 1/√hidden) with rng (which also
// draws the dropout masks) as torch does.
func NewLSTM(rng *autograd.RNG, inputSize, hiddenSize int, cfg RNNConfig) *LSTM {
	r := rnn{op: "NewLSTM", gates: 4, input: inputSize, hidden: hiddenSize, cfg: cfg}
	params := r.newParams("NewLSTM", rng)
	return &LSTM{InputSize: inputSize, HiddenSize: hiddenSize, Config: r.cfg, params: params, rng: rng}
}

func (m *LSTM) base() rnn {
	return rnn{op: "LSTM", gates: 4, input: m.InputSize, hidden: m.HiddenSize, cfg: m.Config}
}

// Forward runs the LSTM over x, shaped as for GRU.Forward, from the
// initial state (nil tensors mean zeros; each is
// [layers·directions, batch, hidden]). It returns the last layer's output
// at every step, [seq, batch, directions·hidden] (batch first with
// BatchFirst), and the final hidden and cell states of every layer and
// direction.
func (m *LSTM) Forward(x *autograd.Tensor, state LSTMState) (output *autograd.Tensor, final LSTMState) {
	output, hn, cn := m.base().run(m.params, x, state.H, state.C, m.Training(), m.rng)
	return output, LSTMState{H: hn, C: cn}
}

// Cell returns an LSTMCell sharing the parameters of one layer and
// direction (reverse for the backward one).
func (m *LSTM) Cell(layer int, reverse bool) *LSTMCell {
	d := 0
	if reverse {
		d = 1
	}
	c := &LSTMCell{}
	c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH = m.base().weights(m.params, layer, d)
	return c
}
