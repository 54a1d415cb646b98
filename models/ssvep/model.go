package ssvep

import (
	"fmt"
	"strings"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// Config is the shape of the DNN and its dropout rates. DefaultConfig
// gives the network of Guney et al. for 9 channels and 0.4 s at 250 Hz.
type Config struct {
	// SubBands is the number of filter-bank sub-bands (input channels): 3.
	SubBands int
	// Channels is the number of EEG channels: 9 (or 64).
	Channels int
	// Samples is the window length in samples, fs·T: 100 at 0.4 s.
	Samples int
	// Classes is the number of targets: 40.
	Classes int
	// Filters is the width of the convolutions: 120.
	Filters int
	// Kernel is the length of the last convolution's kernel: 10.
	Kernel int
	// Dropout1, Dropout2 and Dropout3 are the drop probabilities after
	// the channel combination, after the stride-2 convolution and after
	// the last convolution: 0.1, 0.1, 0.95 in the first training stage,
	// 0.6, 0.6, 0.95 in the second (Benchmark; 0.7 for BETA).
	Dropout1, Dropout2, Dropout3 float64
}

// DefaultConfig returns the network of Guney et al. for a window of
// samples samples (100 for 0.4 s at 250 Hz): 3 sub-bands, 9 channels, 40
// classes, 120 filters, kernel 10 and the first stage's dropout.
func DefaultConfig(samples int) Config {
	return Config{SubBands: 3, Channels: 9, Samples: samples, Classes: 40, Filters: 120, Kernel: 10,
		Dropout1: 0.1, Dropout2: 0.1, Dropout3: 0.95}
}

// Net is the DNN of Guney, Oblokulov and Ozkan for SSVEP classification.
// It maps a batch of filter-bank outputs [B, SubBands, Channels, Samples]
// to class scores [B, Classes]:
//
//  1. SubBand: conv 1×1, SubBands → 1 (sub-band combination), weights
//     initialised to 1 so that it starts as the sum of the sub-bands, no
//     bias (MATLAB's bias there is fixed at 0) → [B, 1, Channels, N]
//  2. Channel: conv Channels×1, 1 → Filters (channel combination) →
//     [B, Filters, 1, N]; dropout Dropout1
//  3. Time: conv 1×2, stride 2, Filters → Filters → [B, Filters, 1, N/2];
//     dropout Dropout2; ReLU
//  4. Conv: conv 1×Kernel, 'same' padding (4 left, 5 right for 10),
//     Filters → Filters; dropout Dropout3
//  5. FC: flatten, linear Filters·(N/2) → Classes (softmax in the loss)
//
// With 9 channels and 100 samples it has 414,283 parameters. Its
// state_dict names are sub_band.weight, channel.weight, channel.bias,
// time.weight, time.bias, conv.weight, conv.bias, fc.weight, fc.bias.
type Net struct {
	SubBand *nn.Conv2d
	Channel *nn.Conv2d
	Time    *nn.Conv2d
	Conv    *nn.Conv2d
	FC      *nn.Linear
	Drop1   *nn.Dropout
	Drop2   *nn.Dropout
	Drop3   *nn.Dropout
	cfg     Config
}

// Half returns the length after the stride-2 convolution, ⌊N/2⌋.
func (c Config) Half() int { return (c.Samples-2)/2 + 1 }

// NewNet returns the network, initialised as Guney et al. do in MATLAB:
// every weight from N(0, 0.01²) ('narrow-normal'), biases 0, and the
// sub-band combination's weights 1. rng draws the weights and, through a
// generator seeded from it, the dropout masks.
func NewNet(rng *autograd.RNG, cfg Config) *Net {
	if cfg.SubBands < 1 || cfg.Channels < 1 || cfg.Samples < 2 || cfg.Classes < 2 || cfg.Filters < 1 || cfg.Kernel < 1 {
		panic(fmtPanic("NewNet", "config %+v: need at least 1 sub-band, channel, filter and kernel tap, 2 samples and 2 classes", cfg))
	}
	normal := func(shape ...int) *nn.Parameter {
		return nn.NewParameter(nn.Normal(autograd.Zeros(shape...), 0, 0.01, rng))
	}
	zeros := func(n int) *nn.Parameter { return nn.NewParameter(autograd.Zeros(n)) }
	f := cfg.Filters
	m := &Net{
		SubBand: &nn.Conv2d{Weight: nn.NewParameter(autograd.Ones(1, cfg.SubBands, 1, 1)), Config: nn.Conv2dConfig{NoBias: true}},
		Channel: &nn.Conv2d{Weight: normal(f, 1, cfg.Channels, 1), Bias: zeros(f)},
		Time:    &nn.Conv2d{Weight: normal(f, f, 1, 2), Bias: zeros(f), Config: nn.Conv2dConfig{Stride: [2]int{1, 2}}},
		Conv:    &nn.Conv2d{Weight: normal(f, f, 1, cfg.Kernel), Bias: zeros(f), Config: nn.Conv2dConfig{Same: true}},
		FC:      &nn.Linear{Weight: normal(cfg.Classes, f*cfg.Half()), Bias: zeros(cfg.Classes)},
		cfg:     cfg,
	}
	drop := autograd.NewRNG(rng.Uint64())
	m.Drop1 = nn.NewDropout(cfg.Dropout1, drop)
	m.Drop2 = nn.NewDropout(cfg.Dropout2, drop)
	m.Drop3 = nn.NewDropout(cfg.Dropout3, drop)
	return m
}

// Config returns the network's configuration (with its current dropout
// rates).
func (m *Net) Config() Config {
	c := m.cfg
	c.Dropout1, c.Dropout2, c.Dropout3 = m.Drop1.P, m.Drop2.P, m.Drop3.P
	return c
}

// SetDropout sets the three dropout rates (the second stage raises the
// first two).
func (m *Net) SetDropout(p1, p2, p3 float64) {
	for _, p := range []float64{p1, p2, p3} {
		if p < 0 || p >= 1 {
			panic(fmtPanic("Net.SetDropout", "probability %v is outside [0, 1)", p))
		}
	}
	m.Drop1.P, m.Drop2.P, m.Drop3.P = p1, p2, p3
}

// Forward maps x [B, SubBands, Channels, Samples] to logits [B, Classes].
func (m *Net) Forward(x *autograd.Tensor) *autograd.Tensor {
	c := m.cfg
	if x.Dim() != 4 || x.Size(1) != c.SubBands || x.Size(2) != c.Channels || x.Size(3) != c.Samples {
		panic(fmt.Sprintf("ssvep: Net: input of shape %v is not [B, %d sub-bands, %d channels, %d samples]", x.Shape(), c.SubBands, c.Channels, c.Samples))
	}
	h := m.SubBand.Forward(x)                     // [B, 1, C, N]
	h = m.Drop1.Forward(m.Channel.Forward(h))     // [B, F, 1, N]
	h = m.Drop2.Forward(m.Time.Forward(h))        // [B, F, 1, N/2]
	h = m.Drop3.Forward(m.Conv.Forward(h.Relu())) // [B, F, 1, N/2]
	return m.FC.Forward(h.Flatten(1, -1))
}

// ParamGroups splits the parameters for the optimizer as MATLAB's
// L2Regularization does: the weights get the decay wd (added to the
// gradient, the L2 penalty wd/2·‖w‖² in the loss), the biases none. Both
// groups have learning rate lr.
func (m *Net) ParamGroups(lr, wd float64) []optim.ParamGroup {
	var weights, biases []*nn.Parameter
	for _, np := range nn.NamedParameters(m) {
		if strings.HasSuffix(np.Name, ".bias") {
			biases = append(biases, np.Param)
		} else {
			weights = append(weights, np.Param)
		}
	}
	return []optim.ParamGroup{{Params: weights, LR: lr, WeightDecay: wd}, {Params: biases, LR: lr}}
}
