package stgnn

import (
	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// TimeThenSpace is the time-then-space model of tsl's tutorial
// (TimeThenSpaceModel):
//
//	h = GRU(Linear(x) + E)   (1 layer, last state, per node) → [B, N, hidden]
//	z = DiffConv_K(h)        (forward and backward diffusion, K = 2)
//	y = Linear(z)            → [B, N, H·F] → [B, H, N, F]
//
// with E a learned embedding per node ([N, hidden]). Its state_dict names
// are "encoder.*", "node_embeddings.emb", "time_nn.*", "space_nn.filters.*"
// and "decoder.*". For METR-LA (207 nodes, F = 1, H = 12) it has 18,572
// parameters, as in the tutorial.
type TimeThenSpace struct {
	Encoder        *nn.Linear
	NodeEmbeddings *layers.NodeEmbedding
	TimeNN         *nn.GRU
	SpaceNN        *layers.DiffConv
	Decoder        *nn.Linear
	Cfg            Config `nn:"-"`
}

// NewTimeThenSpace returns the model for cfg (see TimeThenSpaceConfig).
func NewTimeThenSpace(rng *autograd.RNG, cfg Config) *TimeThenSpace {
	cfg.check("NewTimeThenSpace")
	h := cfg.Hidden
	return &TimeThenSpace{
		Encoder:        nn.NewLinear(rng, cfg.InputSize+cfg.ExogSize, h, true),
		NodeEmbeddings: layers.NewNodeEmbedding(rng, cfg.Nodes, h),
		TimeNN:         nn.NewGRU(rng, h, h, nn.RNNConfig{}),
		SpaceNN:        layers.NewDiffConv(rng, h, h, max(cfg.K, 1), layers.DiffConvConfig{}),
		Decoder:        nn.NewLinear(rng, h, cfg.InputSize*cfg.Horizon, true),
		Cfg:            cfg,
	}
}

// Forward forecasts [B, H, N, F] from x ([B, W, N, F]) and u.
func (m *TimeThenSpace) Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	x = checkInput("TimeThenSpace", m.Cfg, x, u, g)
	h := runGRU(m.TimeNN, m.Encoder.Forward(x).Add(m.NodeEmbeddings.Forward()))
	z := m.SpaceNN.Forward(h, g)
	return unflattenHorizon(m.Decoder.Forward(z), m.Cfg.Horizon)
}
