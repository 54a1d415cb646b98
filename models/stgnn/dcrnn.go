package stgnn

import (
	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// DCRNNCell is the diffusion-convolutional GRU cell of DCRNN (Li et al.,
// ICLR 2018), as tsl's DCRNNCell: with DC a diffusion convolution
// (layers.DiffConv, K steps each way, root weight),
//
//	[r, u] = σ(DC([x, h]))
//	c      = tanh(DC([x, r⊙h]))
//	h'     = u⊙h + (1−u)⊙c
//
// Its state_dict names are "forget_gate.filters.*" and
// "update_gate.filters.*" (the candidate).
type DCRNNCell struct {
	ForgetGate *layers.DiffConv
	UpdateGate *layers.DiffConv
}

// NewDCRNNCell returns a cell from in features to hidden state features
// over k diffusion steps.
func NewDCRNNCell(rng *autograd.RNG, in, hidden, k int) *DCRNNCell {
	return &DCRNNCell{
		ForgetGate: layers.NewDiffConv(rng, in+hidden, 2*hidden, k, layers.DiffConvConfig{}),
		UpdateGate: layers.NewDiffConv(rng, in+hidden, hidden, k, layers.DiffConvConfig{}),
	}
}

// Forward returns the next state for x ([B, N, in]) and h ([B, N, hidden]).
func (c *DCRNNCell) Forward(x, h *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	hid := h.Size(-1)
	ru := c.ForgetGate.Forward(autograd.Concat([]*autograd.Tensor{x, h}, -1), g).Sigmoid()
	r, u := ru.Narrow(-1, 0, hid), ru.Narrow(-1, hid, hid)
	cand := c.UpdateGate.Forward(autograd.Concat([]*autograd.Tensor{x, r.Mul(h)}, -1), g).Tanh()
	// u⊙h + (1−u)⊙c = c + u⊙(h − c)
	return cand.Add(u.Mul(h.Sub(cand)))
}

// DCRNN is tsl's DCRNNModel: a Linear encoder of each step's input, the
// DCRNN cell run over the window (its last state) and an MLP decoder to
// the horizon:
//
//	h_t = DCRNNCell(Linear([x_t, u_t]), h_{t−1}),   y = MLPDecoder(h_W)
//
// Its state_dict names are "input_encoder.*", "cell.*" and "readout.*".
type DCRNN struct {
	InputEncoder *nn.Linear
	Cell         *DCRNNCell
	Readout      *MLPDecoder
	Cfg          Config `nn:"-"`
}

// NewDCRNN returns the model for cfg (see DCRNNConfig).
func NewDCRNN(rng *autograd.RNG, cfg Config) *DCRNN {
	cfg.check("NewDCRNN")
	return &DCRNN{
		InputEncoder: nn.NewLinear(rng, cfg.InputSize+cfg.ExogSize, cfg.Hidden, true),
		Cell:         NewDCRNNCell(rng, cfg.Hidden, cfg.Hidden, max(cfg.K, 1)),
		Readout:      NewMLPDecoder(rng, cfg.Hidden, cfg.FF, cfg.InputSize, cfg.Horizon, cfg.Dropout),
		Cfg:          cfg,
	}
}

// Forward forecasts [B, H, N, F] from x ([B, W, N, F]) and u.
func (m *DCRNN) Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	x = checkInput("DCRNN", m.Cfg, x, u, g)
	e := m.InputEncoder.Forward(x)
	b, w, n := e.Size(0), e.Size(1), e.Size(2)
	h := autograd.ZerosOn(e.Device(), b, n, m.Cfg.Hidden)
	for t := range w {
		h = m.Cell.Forward(e.Narrow(1, t, 1).Reshape(b, n, m.Cfg.Hidden), h, g)
	}
	return m.Readout.Forward(h)
}
