package stgnn

import (
	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// GraphWaveNet is Graph WaveNet (Wu et al., IJCAI 2019) as tsl's
// GraphWaveNetModel. The input is encoded by a Linear to Hidden channels
// and zero-padded in front to the receptive field (13 steps for 8 layers
// of kernel 2 with dilations 1, 2, 1, 2, …). Each layer i then computes
//
//	z    = tanh(conv_d(x)) ⊙ σ(conv'_d(x))            (gated TCN, no padding)
//	skip = skip + Linear_i(z)                          (at the last step)
//	x    = BN(Dropout(DiffConv(z) + DenseGraphConv(z, Ã)) + x)
//
// with DiffConv over P_f and P_b (K steps, root weight), Ã = softmax(ReLU(
// E_s·E_tᵀ)) the adaptive adjacency (embeddings of EmbSize) and BN a batch
// normalisation over the channels. The readout is ReLU(skip) → MLP(FF →
// 2·FF → H·F). Its state_dict names are "input_encoder.*",
// "tconvs.i.conv.*", "sconvs.i.filters.*", "dense_sconvs.i.mlp.*",
// "skip_connections.i.*", "norms.i.*", "adj.source_embeddings.emb",
// "adj.target_embeddings.emb" and "readout.*". As in tsl, the last
// layer's spatial convolutions and norm feed nothing (only its skip
// connection reaches the readout); Forward skips them and they get no
// gradient.
type GraphWaveNet struct {
	InputEncoder    *nn.Linear
	TConvs          []*layers.GatedTemporalConv `nn:"tconvs"`
	SConvs          []*layers.DiffConv          `nn:"sconvs"`
	DenseSConvs     []*layers.DenseGraphConv    `nn:"dense_sconvs"`
	SkipConnections []*nn.Linear
	Norms           []*nn.BatchNorm
	Adj             *layers.AdaptiveAdjacency
	Readout         *MLPDecoder
	Drop            *nn.Dropout
	Cfg             Config `nn:"-"`
	receptive       int
}

// NewGraphWaveNet returns the model for cfg (see GraphWaveNetConfig).
func NewGraphWaveNet(rng *autograd.RNG, cfg Config) *GraphWaveNet {
	cfg.check("NewGraphWaveNet")
	h := cfg.Hidden
	m := &GraphWaveNet{InputEncoder: nn.NewLinear(rng, cfg.InputSize+cfg.ExogSize, h, true), Cfg: cfg, receptive: 1}
	for i := range cfg.Layers {
		d := 1 << (i % 2)
		m.receptive += d
		m.TConvs = append(m.TConvs, layers.NewGatedTemporalConv(rng, h, h, 2,
			layers.GatedTemporalConvConfig{Dilation: d, NoCausalPad: true, ChannelLast: true}))
		m.SConvs = append(m.SConvs, layers.NewDiffConv(rng, h, h, max(cfg.K, 1), layers.DiffConvConfig{}))
		m.DenseSConvs = append(m.DenseSConvs, layers.NewDenseGraphConv(rng, h, h,
			layers.DenseGraphConvConfig{Order: max(cfg.K, 1), Supports: 1, ChannelLast: true}))
		m.SkipConnections = append(m.SkipConnections, nn.NewLinear(rng, h, cfg.FF, true))
		m.Norms = append(m.Norms, nn.NewBatchNorm(h, nn.BatchNormConfig{}))
	}
	m.Adj = layers.NewAdaptiveAdjacency(rng, cfg.Nodes, cfg.EmbSize)
	m.Readout = NewMLPDecoder(rng, cfg.FF, 2*cfg.FF, cfg.InputSize, cfg.Horizon, 0)
	m.Drop = nn.NewDropout(cfg.Dropout, autograd.NewRNG(rng.Uint64()))
	return m
}

// ReceptiveField returns the number of input steps the output sees.
func (m *GraphWaveNet) ReceptiveField() int { return m.receptive }

// Forward forecasts [B, H, N, F] from x ([B, W, N, F]) and u.
func (m *GraphWaveNet) Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	x = checkInput("GraphWaveNet", m.Cfg, x, u, g)
	x = m.InputEncoder.Forward(x)
	b, t, n, c := x.Size(0), x.Size(1), x.Size(2), x.Size(3)
	if t < m.receptive {
		pad := autograd.ZerosOn(x.Device(), b, m.receptive-t, n, c)
		x = autograd.Concat([]*autograd.Tensor{pad, x}, 1)
	}
	adj := m.Adj.Forward()
	var skip *autograd.Tensor
	for i := range m.TConvs {
		res := x
		z := m.TConvs[i].Forward(x)
		tz := z.Size(1)
		s := m.SkipConnections[i].Forward(z.Narrow(1, tz-1, 1))
		if skip == nil {
			skip = s
		} else {
			skip = skip.Add(s)
		}
		if i == len(m.TConvs)-1 {
			break // the last layer's spatial part reaches no output
		}
		y := m.SConvs[i].Forward(z, g).Add(m.DenseSConvs[i].Forward(z, adj))
		y = m.Drop.Forward(y).Add(res.Narrow(1, res.Size(1)-tz, tz))
		// BatchNorm over the channels: [B, T, N, C] → [B, C, N, T] and back.
		x = m.Norms[i].Forward(y.Permute(0, 3, 2, 1)).Permute(0, 3, 2, 1)
	}
	return m.Readout.Forward(skip.Relu().Reshape(b, n, m.Cfg.FF))
}
