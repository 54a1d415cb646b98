package puyun

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// Config describes a PuYun network. PuYun's published material fixes the
// inputs, the outputs, the time embedding and the cascade, but not the
// internal widths and depths: Width, Depth, PatchSize and MLPRatio are our
// choice, and so is the latitude input (LatitudeInput).
type Config struct {
	// Vars is the number of variables V of a state (69 in PuYun: z, t, u,
	// v, r at 13 levels and 2t, 10u, 10v, msl).
	Vars int
	// Lat and Lon are the grid's rows H and columns W; PatchSize must
	// divide both.
	Lat, Lon int
	// PatchSize is the side p of the patch embedding's kernel and stride
	// and the PixelShuffle factor of the upsampling (our choice; the
	// spec's sketch uses 4).
	PatchSize int
	// Width is the number of channels C of the LKA blocks (our choice;
	// the spec's sketch uses 256).
	Width int
	// Depth is the number of LKA (VAN) blocks N (our choice).
	Depth int
	// MLPRatio sets the hidden width of the blocks' MLP to MLPRatio·Width;
	// zero means 4 (VAN's).
	MLPRatio float64
	// LatitudeInput adds two constant channels, sin φ and cos φ, to the
	// patch embedding's input (our choice). A convolution cannot tell
	// latitudes apart otherwise, and the winds that carry the weather
	// depend on latitude. They do not depend on longitude, so the model
	// stays equivariant to zonal rolls.
	LatitudeInput bool
	// Latitudes holds the rows' latitudes in degrees (north to south);
	// nil means cell centres of an equally spaced grid from north to
	// south. Only LatitudeInput uses them.
	Latitudes []float64
}

// DefaultConfig returns a small PuYun for a vars × lat × lon grid: patch
// size 4, width 48, depth 4, MLP ratio 4, latitude input on — the model
// examples/puyun trains on the 32 × 64 synthetic atmosphere of
// data.GenerateWeather (our choice throughout; 137,824 parameters for its
// 4 variables).
func DefaultConfig(vars, lat, lon int) Config {
	return Config{Vars: vars, Lat: lat, Lon: lon, PatchSize: 4, Width: 48, Depth: 4, MLPRatio: 4, LatitudeInput: true}
}

// check panics when c cannot build a model.
func (c Config) check() {
	if c.Vars <= 0 || c.Lat <= 0 || c.Lon <= 0 || c.PatchSize <= 0 || c.Width <= 0 || c.Depth < 0 ||
		c.Lat%c.PatchSize != 0 || c.Lon%c.PatchSize != 0 || c.MLPRatio < 0 {
		panic(fmt.Sprintf("puyun: New: invalid config %+v: sizes must be positive and the patch size must divide the grid", c))
	}
	if c.Depth > 0 && c.Lon/c.PatchSize < 9 {
		panic(fmt.Sprintf("puyun: New: %d longitude patches; the LKA's circular padding in longitude needs at least 9 (Lon/PatchSize)", c.Lon/c.PatchSize))
	}
	if c.Latitudes != nil && len(c.Latitudes) != c.Lat {
		panic(fmt.Sprintf("puyun: New: %d latitudes for %d rows", len(c.Latitudes), c.Lat))
	}
}

// InChannels returns the patch embedding's input channels: 2·Vars (the
// two states), plus 2 with LatitudeInput.
func (c Config) InChannels() int {
	if c.LatitudeInput {
		return 2*c.Vars + 2
	}
	return 2 * c.Vars
}

// TimeFeatures is the number of time-embedding inputs: (sin d, sin h,
// cos d, cos h) at three times.
const TimeFeatures = 12

// StepHours is the time step of PuYun: 6 hours.
const StepHours = 6

// Model is PuYun's backbone, an autoregressive large-kernel-attention
// convolutional network ("LKA-FCN"). From two consecutive states x_{t−1},
// x_t ([B, V, H, W] each, normalised) and the time features of the step it
// predicts x_{t+1} = x_t + Δ:
//
//	h = PatchEmbed(concat(x_{t−1}, x_t [, sin φ, cos φ]))  Conv k=p, stride p → [B, C, H/p, W/p]
//	h = h + TimeEmbed(features)                              Linear(12 → C), broadcast over the grid
//	h = Blocks(h)                                            N VAN blocks, LKA padded circularly in longitude, zeros in latitude
//	Δ = PixelShuffle_p(Head(h))                              1×1 conv C → V·p², then [B, V, H, W]
//
// The parameters are named "patch_embed.weight", "time_embed.weight",
// "blocks.0.attn.spatial_gating_unit.conv0.weight", ..., "head.weight".
// The layout follows the spec's sketch of PuYun; the exact widths are not
// public, so everything inside (patch size, width, depth, the latitude
// channels, the 1×1 head) is our choice. Hold it by pointer so that
// nn.Train and nn.Eval reach the blocks' BatchNorms.
type Model struct {
	// PatchEmbed maps the concatenated inputs to tokens: Conv2d with
	// kernel and stride PatchSize.
	PatchEmbed *nn.Conv2d `nn:"patch_embed"`
	// TimeEmbed maps the 12 time features to a per-channel bias.
	TimeEmbed *nn.Linear `nn:"time_embed"`
	// Blocks are the VAN blocks, LKA padded with layers.LKAPadLongitude.
	Blocks []*layers.VANBlock
	// Head is the 1×1 convolution from Width to Vars·PatchSize² channels
	// that PixelShuffle turns into Δ; zero it and the model forecasts
	// persistence.
	Head *nn.Conv2d `nn:"head"`
	// Config is the configuration the model was built with.
	Config Config

	latitude *autograd.Tensor // [1, 2, H, W]: sin φ, cos φ
}

// New returns a PuYun network for cfg, drawing its weights from rng: the
// blocks as VAN initialises them (see layers.NewVANBlock), the patch
// embedding with VAN's N(0, 2/fan_out), the time embedding from a
// truncated normal of std 0.02, and the head from N(0, 0.01²) with a zero
// bias, so that a new model's increments Δ are small.
func New(rng *autograd.RNG, cfg Config) *Model {
	cfg.check()
	if cfg.MLPRatio == 0 {
		cfg.MLPRatio = 4
	}
	p, c := cfg.PatchSize, cfg.Width
	m := &Model{
		PatchEmbed: nn.NewConv2d(rng, cfg.InChannels(), c, p, p, nn.Conv2dConfig{Stride: [2]int{p, p}}),
		TimeEmbed:  nn.NewLinear(rng, TimeFeatures, c, true),
		Head:       nn.NewConv2d(rng, c, cfg.Vars*p*p, 1, 1, nn.Conv2dConfig{}),
		Config:     cfg,
	}
	nn.Normal(m.PatchEmbed.Weight.Tensor, 0, math.Sqrt(2/float64(p*p*c)), rng)
	nn.Zeros(m.PatchEmbed.Bias.Tensor)
	nn.TruncNormal(m.TimeEmbed.Weight.Tensor, 0, 0.02, -2, 2, rng)
	nn.Zeros(m.TimeEmbed.Bias.Tensor)
	nn.Normal(m.Head.Weight.Tensor, 0, 0.01, rng)
	nn.Zeros(m.Head.Bias.Tensor)
	for i := 0; i < cfg.Depth; i++ {
		m.Blocks = append(m.Blocks, layers.NewVANBlock(rng, c, layers.VANBlockConfig{MLPRatio: cfg.MLPRatio, Padding: layers.LKAPadLongitude}))
	}
	if cfg.LatitudeInput {
		m.latitude = latitudeChannels(cfg)
	}
	return m
}

// latitudeChannels returns [1, 2, H, W] holding sin φ and cos φ.
func latitudeChannels(cfg Config) *autograd.Tensor {
	h, w := cfg.Lat, cfg.Lon
	lat := cfg.Latitudes
	if lat == nil {
		lat = GridLatitudes(h)
	}
	d := make([]float32, 2*h*w)
	for i := 0; i < h; i++ {
		phi := lat[i] * math.Pi / 180
		s, c := float32(math.Sin(phi)), float32(math.Cos(phi))
		for j := 0; j < w; j++ {
			d[i*w+j] = s
			d[h*w+i*w+j] = c
		}
	}
	return autograd.New(d, 1, 2, h, w)
}

// GridLatitudes returns the latitudes in degrees of the cell centres of
// an equally spaced grid of n rows from north to south:
// 90 − 180·(i + ½)/n.
func GridLatitudes(n int) []float64 {
	lat := make([]float64, n)
	for i := range lat {
		lat[i] = 90 - 180*(float64(i)+0.5)/float64(n)
	}
	return lat
}

// Forward predicts the next state from prev = x_{t−1} and cur = x_t
// ([B, V, H, W], normalised) and the time features tf ([B, 12], see
// TimeFeaturesAt): it returns x_{t+1} = x_t + Δ, of cur's shape.
func (m *Model) Forward(prev, cur, tf *autograd.Tensor) *autograd.Tensor {
	return cur.Add(m.Increment(prev, cur, tf))
}

// Increment returns Δ, the network's prediction of x_{t+1} − x_t ([B, V,
// H, W]); Forward adds it to cur.
func (m *Model) Increment(prev, cur, tf *autograd.Tensor) *autograd.Tensor {
	cfg := m.Config
	want := []int{cur.Size(0), cfg.Vars, cfg.Lat, cfg.Lon}
	if cur.Dim() != 4 || !slices.Equal(prev.Shape(), want) || !slices.Equal(cur.Shape(), want) {
		panic(fmt.Sprintf("puyun: Model.Forward: states of shapes %v and %v; need both [B, %d, %d, %d]", prev.Shape(), cur.Shape(), cfg.Vars, cfg.Lat, cfg.Lon))
	}
	b := cur.Size(0)
	if tf.Dim() != 2 || tf.Size(0) != b || tf.Size(1) != TimeFeatures {
		panic(fmt.Sprintf("puyun: Model.Forward: time features of shape %v; need [%d, %d]", tf.Shape(), b, TimeFeatures))
	}
	in := []*autograd.Tensor{prev, cur}
	if m.latitude != nil {
		if m.latitude.Device() != cur.Device() {
			m.latitude = m.latitude.To(cur.Device())
		}
		in = append(in, m.latitude.Expand(b, 2, cfg.Lat, cfg.Lon))
	}
	x := autograd.Concat(in, 1)
	h := m.PatchEmbed.Forward(x)
	h = h.Add(m.TimeEmbed.Forward(tf).Reshape(b, cfg.Width, 1, 1))
	for _, blk := range m.Blocks {
		h = blk.Forward(h)
	}
	return autograd.PixelShuffle(m.Head.Forward(h), cfg.PatchSize)
}

// TimeFeaturesAt returns PuYun's 12 time features for the forecast step
// that starts from the state valid at t (and whose input pair is the
// states at t − 6 h and t): for the three times t − 6 h, t and t + 6 h —
// in PuYun's terms the offsets (i−1, i, i+1)·6 h from the initial time —
// the fractions d = day_of_year/366 and h = hour/24 (day_of_year from 1,
// hour with minutes as a fraction, UTC), and the values ordered per time
// as (sin d, sin h, cos d, cos h) of the raw fractions (no 2π), as the
// ONNX input of ai-models-puyun.
func TimeFeaturesAt(t time.Time) []float32 {
	out := make([]float32, 0, TimeFeatures)
	for _, off := range []int{-1, 0, 1} {
		u := t.UTC().Add(time.Duration(off*StepHours) * time.Hour)
		d := float64(u.YearDay()) / 366
		h := (float64(u.Hour()) + float64(u.Minute())/60 + float64(u.Second())/3600) / 24
		out = append(out, float32(math.Sin(d)), float32(math.Sin(h)), float32(math.Cos(d)), float32(math.Cos(h)))
	}
	return out
}

// TimeFeatureTensor returns the time features of a batch of steps
// starting from the states valid at ts, as [len(ts), 12].
func TimeFeatureTensor(ts []time.Time) *autograd.Tensor {
	d := make([]float32, 0, len(ts)*TimeFeatures)
	for _, t := range ts {
		d = append(d, TimeFeaturesAt(t)...)
	}
	return autograd.New(d, len(ts), TimeFeatures)
}

// CopyWeights copies every parameter and buffer of src into dst, which
// must have been built with the same configuration: PuYun-Medium starts
// from PuYun-Short's weights this way.
func CopyWeights(dst, src *Model) {
	sd, dd := nn.StateDict(src), nn.StateDict(dst)
	if len(sd) != len(dd) {
		panic(fmt.Sprintf("puyun: CopyWeights: models of %d and %d tensors", len(dd), len(sd)))
	}
	for name, s := range sd {
		d, ok := dd[name]
		if !ok || !slices.Equal(d.Shape(), s.Shape()) {
			panic(fmt.Sprintf("puyun: CopyWeights: %q does not match between the models", name))
		}
		autograd.NoGrad(func() { d.CopyFrom(s) })
	}
}
