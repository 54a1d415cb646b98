package stgnn

import (
	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// STCNBlock is tsl's SpatioTemporalConvNet with gated temporal
// convolutions: two causal gated convolutions of kernel 2 with dilations
// 1 and 2, each followed by dropout, beside a Linear skip, then a
// diffusion convolution with ReLU and a residual:
//
//	h = Linear(x) + Dropout(TCN_2(Dropout(TCN_1(x))))
//	y = h + Dropout(ReLU(DiffConv(h)))
type STCNBlock struct {
	TConvs   []*layers.GatedTemporalConv
	SkipConn *nn.Linear
	SConv    *layers.DiffConv
	Drop     *nn.Dropout
}

// Forward applies the block to x ([B, T, N, C]), keeping its shape.
func (s *STCNBlock) Forward(x *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	h := x
	for _, tc := range s.TConvs {
		h = s.Drop.Forward(tc.Forward(h))
	}
	h = s.SkipConn.Forward(x).Add(h)
	return h.Add(s.Drop.Forward(s.SConv.Forward(h, g).Relu()))
}

// STCN is tsl's STCNModel: a Linear encoder, Layers STCNBlocks each added
// to its input (x = x + block(x)), and an MLP decoder from the last step.
// Its state_dict names are "input_encoder.*", "convs.i.*" and
// "readout.*".
type STCN struct {
	InputEncoder *nn.Linear
	Convs        []*STCNBlock
	Readout      *MLPDecoder
	Cfg          Config `nn:"-"`
}

// NewSTCN returns the model for cfg (see STCNConfig).
func NewSTCN(rng *autograd.RNG, cfg Config) *STCN {
	cfg.check("NewSTCN")
	h := cfg.Hidden
	m := &STCN{InputEncoder: nn.NewLinear(rng, cfg.InputSize+cfg.ExogSize, h, true), Cfg: cfg}
	for range cfg.Layers {
		b := &STCNBlock{Drop: nn.NewDropout(cfg.Dropout, autograd.NewRNG(rng.Uint64()))}
		for j := range 2 {
			b.TConvs = append(b.TConvs, layers.NewGatedTemporalConv(rng, h, h, 2,
				layers.GatedTemporalConvConfig{Dilation: 1 << j, ChannelLast: true}))
		}
		b.SkipConn = nn.NewLinear(rng, h, h, true)
		b.SConv = layers.NewDiffConv(rng, h, h, max(cfg.K, 1), layers.DiffConvConfig{})
		m.Convs = append(m.Convs, b)
	}
	m.Readout = NewMLPDecoder(rng, h, cfg.FF, cfg.InputSize, cfg.Horizon, cfg.Dropout)
	return m
}

// Forward forecasts [B, H, N, F] from x ([B, W, N, F]) and u.
func (m *STCN) Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	x = checkInput("STCN", m.Cfg, x, u, g)
	x = m.InputEncoder.Forward(x)
	for _, b := range m.Convs {
		x = x.Add(b.Forward(x, g))
	}
	t := x.Size(1)
	return m.Readout.Forward(x.Narrow(1, t-1, 1).Reshape(x.Size(0), x.Size(2), m.Cfg.Hidden))
}
