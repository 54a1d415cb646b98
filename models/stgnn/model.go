package stgnn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// Model is a forecaster over a graph: Forward maps the input window x
// ([B, W, N, F]) and the optional exogenous input u ([B, W, N, U], nil
// when the model was built with ExogSize 0) on the graph g of the N nodes
// to the forecast [B, H, N, F]. Models hold their layers by pointer, so
// nn.Train, nn.Eval and nn.Parameters reach them through the interface
// value.
type Model interface {
	Forward(x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor
}

// Config is the shape of a forecaster. The named functions
// (TimeThenSpaceConfig, DCRNNConfig, GraphWaveNetConfig, STCNConfig,
// GRUGCNConfig) give tsl's defaults; a field a model does not use is
// ignored.
type Config struct {
	// Nodes is N, needed by the models with node embeddings
	// (time-then-space, Graph WaveNet).
	Nodes int
	// InputSize is F, the features per node and step (in and out).
	InputSize int
	// ExogSize is U, the exogenous features per node and step (0: none).
	ExogSize int
	// Horizon is H, the steps forecast.
	Horizon int
	// Hidden is the width of the hidden representations.
	Hidden int
	// FF is the width of the readout MLP's hidden layer.
	FF int
	// Layers is the number of stacked blocks (Graph WaveNet, STCN).
	Layers int
	// K is the number of diffusion steps of the graph convolutions.
	K int
	// EmbSize is the size of the node embeddings of Graph WaveNet's
	// adaptive adjacency.
	EmbSize int
	// Dropout is the drop probability (Graph WaveNet, STCN).
	Dropout float64
}

func (c Config) check(fn string) {
	if c.InputSize < 1 || c.ExogSize < 0 || c.Horizon < 1 || c.Hidden < 1 {
		panic(fmt.Sprintf("stgnn: %s: config %+v needs positive InputSize, Horizon and Hidden", fn, c))
	}
}

// TimeThenSpaceConfig is the time-then-space model of tsl's tutorial:
// hidden 32, K = 2.
func TimeThenSpaceConfig(nodes, features, horizon int) Config {
	return Config{Nodes: nodes, InputSize: features, Horizon: horizon, Hidden: 32, K: 2}
}

// DCRNNConfig is tsl's DCRNN for traffic: hidden 64, ff 128, K = 2.
func DCRNNConfig(features, horizon int) Config {
	return Config{InputSize: features, Horizon: horizon, Hidden: 64, FF: 128, K: 2}
}

// GraphWaveNetConfig is tsl's Graph WaveNet: hidden 32, ff 256, 8 layers,
// K = 2, embeddings of 10, dropout 0.3.
func GraphWaveNetConfig(nodes, features, horizon int) Config {
	return Config{Nodes: nodes, InputSize: features, Horizon: horizon, Hidden: 32, FF: 256, Layers: 8, K: 2, EmbSize: 10, Dropout: 0.3}
}

// STCNConfig is tsl's STCN: hidden 32, ff 256, 4 layers, K = 2, dropout
// 0.1.
func STCNConfig(features, horizon int) Config {
	return Config{InputSize: features, Horizon: horizon, Hidden: 32, FF: 256, Layers: 4, K: 2, Dropout: 0.1}
}

// GRUGCNConfig is tsl's GRU-GCN: hidden 32, ff 64 (the decoder's hidden
// layer, twice the hidden size), 2 graph convolutions.
func GRUGCNConfig(features, horizon int) Config {
	return Config{InputSize: features, Horizon: horizon, Hidden: 32, FF: 64, Layers: 2}
}

// Names lists the models New builds, in the order of the papers' tables.
func Names() []string { return []string{"tts", "dcrnn", "gwnet", "stcn", "grugcn"} }

// DefaultConfig returns the named model's config (see Names) for nodes
// nodes, features features per node, exog exogenous features and the
// horizon.
func DefaultConfig(name string, nodes, features, exog, horizon int) (Config, error) {
	var c Config
	switch name {
	case "tts":
		c = TimeThenSpaceConfig(nodes, features, horizon)
	case "dcrnn":
		c = DCRNNConfig(features, horizon)
	case "gwnet":
		c = GraphWaveNetConfig(nodes, features, horizon)
	case "stcn":
		c = STCNConfig(features, horizon)
	case "grugcn":
		c = GRUGCNConfig(features, horizon)
	default:
		return c, fmt.Errorf("stgnn: unknown model %q; the models are %s", name, strings.Join(Names(), ", "))
	}
	c.Nodes, c.ExogSize = nodes, exog
	return c, nil
}

// New builds the named model (see Names) from cfg, its weights drawn
// from rng.
func New(name string, rng *autograd.RNG, cfg Config) (Model, error) {
	switch name {
	case "tts":
		return NewTimeThenSpace(rng, cfg), nil
	case "dcrnn":
		return NewDCRNN(rng, cfg), nil
	case "gwnet":
		return NewGraphWaveNet(rng, cfg), nil
	case "stcn":
		return NewSTCN(rng, cfg), nil
	case "grugcn":
		return NewGRUGCN(rng, cfg), nil
	}
	names := Names()
	sort.Strings(names)
	return nil, fmt.Errorf("stgnn: unknown model %q; the models are %s", name, strings.Join(names, ", "))
}

// checkInput checks x ([B, W, N, F]) and u against the config and returns
// x with u concatenated on the features.
func checkInput(op string, cfg Config, x, u *autograd.Tensor, g *layers.Graph) *autograd.Tensor {
	if x.Dim() != 4 || x.Size(3) != cfg.InputSize {
		panic(fmt.Sprintf("stgnn: %s: input of shape %v is not [B, W, N, %d]", op, x.Shape(), cfg.InputSize))
	}
	if g != nil && x.Size(2) != g.NumNodes {
		panic(fmt.Sprintf("stgnn: %s: input of shape %v for a graph of %d nodes", op, x.Shape(), g.NumNodes))
	}
	if cfg.Nodes > 0 && x.Size(2) != cfg.Nodes {
		panic(fmt.Sprintf("stgnn: %s: input of shape %v for a model of %d nodes", op, x.Shape(), cfg.Nodes))
	}
	if cfg.ExogSize == 0 {
		if u != nil {
			panic(fmt.Sprintf("stgnn: %s: exogenous input %v for a model built without (ExogSize 0)", op, u.Shape()))
		}
		return x
	}
	if u == nil || u.Dim() != 4 || u.Size(0) != x.Size(0) || u.Size(1) != x.Size(1) || u.Size(2) != x.Size(2) || u.Size(3) != cfg.ExogSize {
		var us []int
		if u != nil {
			us = u.Shape()
		}
		panic(fmt.Sprintf("stgnn: %s: exogenous input %v for input %v; want [%d, %d, %d, %d]", op, us, x.Shape(), x.Size(0), x.Size(1), x.Size(2), cfg.ExogSize))
	}
	return autograd.Concat([]*autograd.Tensor{x, u}, 3)
}

// runGRU runs gru over the time steps of x ([B, T, N, C]) for every node
// and returns the last state, [B, N, hidden].
func runGRU(gru *nn.GRU, x *autograd.Tensor) *autograd.Tensor {
	b, t, n, c := x.Size(0), x.Size(1), x.Size(2), x.Size(3)
	seq := x.Permute(1, 0, 2, 3).Reshape(t, b*n, c)
	_, hn := gru.Forward(seq, nil)
	return hn.Reshape(b, n, gru.HiddenSize)
}

// MLPDecoder is tsl's MLPDecoder: from the representation of the last
// step, [B, N, in], a hidden layer with ReLU and dropout, then a Linear to
// horizon·out features, reshaped to [B, horizon, N, out]. Its state_dict
// names are "readout.mlp.0.weight" ... in tsl; here "hidden.weight",
// "hidden.bias", "out.weight" and "out.bias".
type MLPDecoder struct {
	Hidden  *nn.Linear
	Out     *nn.Linear
	Drop    *nn.Dropout
	horizon int
}

// NewMLPDecoder returns a decoder from in features through ff hidden units
// to horizon steps of out features.
func NewMLPDecoder(rng *autograd.RNG, in, ff, out, horizon int, dropout float64) *MLPDecoder {
	return &MLPDecoder{Hidden: nn.NewLinear(rng, in, ff, true), Out: nn.NewLinear(rng, ff, out*horizon, true),
		Drop: nn.NewDropout(dropout, autograd.NewRNG(rng.Uint64())), horizon: horizon}
}

// Forward decodes h ([B, N, in]) to [B, horizon, N, out].
func (d *MLPDecoder) Forward(h *autograd.Tensor) *autograd.Tensor {
	z := d.Drop.Forward(d.Hidden.Forward(h).Relu())
	return unflattenHorizon(d.Out.Forward(z), d.horizon)
}

// unflattenHorizon turns [B, N, H·F] into [B, H, N, F] (tsl's rearrange
// 'b n (h f) -> b h n f').
func unflattenHorizon(z *autograd.Tensor, horizon int) *autograd.Tensor {
	b, n, hf := z.Size(0), z.Size(1), z.Size(2)
	return z.Reshape(b, n, horizon, hf/horizon).Permute(0, 2, 1, 3)
}

// EquivariantModel reports whether the named model has no node
// embeddings, so that permuting the nodes of its input and graph permutes
// its output the same way.
func EquivariantModel(name string) bool {
	return name == "dcrnn" || name == "stcn" || name == "grugcn"
}
