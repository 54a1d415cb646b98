package stgnn

import (
	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// GRUGCN is tsl's GRUGCNModel: a GRU over each node's window (its last
// state h), Layers graph convolutions with mean aggregation, no root
// weight and softplus, a Linear skip from h, and an MLP decoder:
//
//	z = softplus(GCN_2(softplus(GCN_1(h)))) + Linear(h),   y = MLPDecoder(z)
//
// Its state_dict names are "encoder.*", "gcn_layers.i.*", "skip_con.*"
// and "decoder.*".
type GRUGCN struct {
	Encoder   *nn.GRU
	GCNLayers []*layers.GraphConv
	SkipCon   *nn.Linear
	Decoder   *MLPDecoder
	Cfg       Config `nn:"-"`
}

// NewGRUGCN returns the model for cfg (see GRUGCNConfig).
func NewGRUGCN(rng *autograd.RNG, cfg Config) *GRUGCN {
	cfg.check("NewGRUGCN")
	h := cfg.Hidden
	m := &GRUGCN{Encoder: nn.NewGRU(rng, cfg.InputSize+cfg.ExogSize, h, nn.RNNConfig{}), Cfg: cfg}
	for range max(cfg.Layers, 1) {
		m.GCNLayers = append(m.GCNLayers, layers.NewGraphConv(rng, h, h, layers.GraphConvConfig{Norm: layers.GraphNormMean, NoRootWeight: true}))
	}
	m.SkipCon = nn.NewLinear(rng, h, h, true)
	m.Decoder = NewMLPDecoder(rng, h, cfg.FF, cfg.InputSize, cfg.Horizon, 0)
	return m
}

// Forward forecasts [B, H, N, F] from x ([B, W, N, F]) and u.
func (m *GRUGCN) Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	x = checkInput("GRUGCN", m.Cfg, x, u, g)
	h := runGRU(m.Encoder, x)
	z := h
	for _, l := range m.GCNLayers {
		z = l.Forward(z, g).Softplus()
	}
	return m.Decoder.Forward(z.Add(m.SkipCon.Forward(h)))
}
