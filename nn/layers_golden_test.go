package nn

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

// The goldens in testdata/layers come from testdata/gen_layers.py: each
// file holds a torch module's state_dict, its inputs and outputs, and for
// most cases the gradients of sum(output·up) for the inputs and every
// parameter, and the buffers after the forward pass. Each case builds the
// Go layer with the same configuration, loads the state_dict strictly (so
// names and shapes must be torch's) and compares.

// goldenTol is the tolerance: 1e-5 relative to the value, with an absolute
// floor of 1e-5 (|got − want| ≤ 1e-5·max(|want|, 1)).
const goldenTol = 1e-5

type ioMap = map[string]*autograd.Tensor

type goldenCase struct {
	name    string
	eval    bool
	build   func(rng *autograd.RNG) any
	forward func(m any, in ioMap) ioMap
}

// single runs a one-input layer on "input".
func single(m any, in ioMap) ioMap {
	return ioMap{"output": m.(Layer).Forward(in["input"])}
}

// smallCNN mirrors SmallCNN of gen_layers.py: the same attribute names give
// the same state_dict names.
type smallCNN struct {
	Conv1   *Conv2d
	BN1     *BatchNorm2d
	Pool    MaxPool2d
	Conv2   *Conv2d
	Gap     AdaptiveAvgPool2d
	Flatten Flatten
	FC      *Linear
}

func newSmallCNN(rng *autograd.RNG) *smallCNN {
	return &smallCNN{
		Conv1:   NewConv2d(rng, 3, 8, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}}),
		BN1:     NewBatchNorm2d(8, BatchNormConfig{}),
		Pool:    MaxPool2d{Kernel: [2]int{2, 2}},
		Conv2:   NewConv2d(rng, 8, 16, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}}),
		Gap:     AdaptiveAvgPool2d{Size: [2]int{1, 1}},
		Flatten: NewFlatten(),
		FC:      NewLinear(rng, 16, 5, true),
	}
}

func (m *smallCNN) Forward(x *autograd.Tensor) *autograd.Tensor {
	x = m.Pool.Forward(m.BN1.Forward(m.Conv1.Forward(x)).Relu())
	x = m.Conv2.Forward(x).Relu()
	return m.FC.Forward(m.Flatten.Forward(m.Gap.Forward(x)))
}

func rnnForward(m any, in ioMap) ioMap {
	switch l := m.(type) {
	case *GRU:
		out, h := l.Forward(in["input"], in["h0"])
		return ioMap{"output": out, "hn": h}
	case *LSTM:
		out, s := l.Forward(in["input"], LSTMState{H: in["h0"], C: in["c0"]})
		return ioMap{"output": out, "hn": s.H, "cn": s.C}
	case *GRUCell:
		return ioMap{"output": l.Forward(in["input"], in["h0"])}
	case *LSTMCell:
		s := l.Forward(in["input"], LSTMState{H: in["h0"], C: in["c0"]})
		return ioMap{"hn": s.H, "cn": s.C}
	}
	panic("not a recurrent layer")
}

func layer(l Layer) func(*autograd.RNG) any { return func(*autograd.RNG) any { return l } }

var goldenCases = []goldenCase{
	{name: "conv1d", build: func(r *autograd.RNG) any {
		return NewConv1d(r, 4, 6, 3, Conv1dConfig{Stride: 2, Padding: 1})
	}},
	{name: "conv1d_same_circular", build: func(r *autograd.RNG) any {
		return NewConv1d(r, 4, 6, 3, Conv1dConfig{Same: true, PaddingMode: PadCircular, Dilation: 2, Groups: 2})
	}},
	{name: "conv1d_reflect", build: func(r *autograd.RNG) any {
		return NewConv1d(r, 3, 2, 4, Conv1dConfig{Padding: 2, PaddingMode: PadReflect, NoBias: true})
	}},
	{name: "conv2d", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 3, 8, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}})
	}},
	{name: "conv2d_strided", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 4, 6, 3, 2, Conv2dConfig{Stride: [2]int{2, 1}, Padding: [2]int{1, 0}, Dilation: [2]int{1, 2}, Groups: 2, NoBias: true})
	}},
	{name: "conv2d_same", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 3, 4, 4, 3, Conv2dConfig{Same: true, Dilation: [2]int{1, 2}})
	}},
	{name: "conv2d_circular", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 2, 3, 3, 3, Conv2dConfig{Padding: [2]int{1, 2}, PaddingMode: PadCircular})
	}},
	{name: "conv2d_replicate", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 2, 3, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}, PaddingMode: PadReplicate})
	}},
	{name: "conv2d_reflect_same", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 2, 3, 3, 4, Conv2dConfig{Same: true, PaddingMode: PadReflect})
	}},
	{name: "conv2d_depthwise", build: func(r *autograd.RNG) any {
		return NewConv2d(r, 4, 4, 3, 3, Conv2dConfig{Padding: [2]int{1, 1}, Groups: 4})
	}},
	{name: "conv2d_unbatched", build: func(r *autograd.RNG) any { return NewConv2d(r, 3, 2, 2, 2, Conv2dConfig{}) }},

	{name: "layernorm", build: func(*autograd.RNG) any { return NewLayerNorm([]int{5, 6}, LayerNormConfig{}) }},
	{name: "layernorm_noaffine", build: func(*autograd.RNG) any {
		return NewLayerNorm([]int{8}, LayerNormConfig{Eps: 1e-3, NoAffine: true})
	}},
	{name: "batchnorm1d_train_2d", build: func(*autograd.RNG) any { return NewBatchNorm1d(5, BatchNormConfig{}) }},
	{name: "batchnorm1d_train_3d", build: func(*autograd.RNG) any { return NewBatchNorm1d(4, BatchNormConfig{Momentum: 0.3}) }},
	{name: "batchnorm2d_train", build: func(*autograd.RNG) any { return NewBatchNorm2d(3, BatchNormConfig{}) }},
	{name: "batchnorm2d_eval", eval: true, build: func(*autograd.RNG) any { return NewBatchNorm2d(3, BatchNormConfig{}) }},
	{name: "batchnorm2d_cumavg", build: func(*autograd.RNG) any {
		return NewBatchNorm2d(3, BatchNormConfig{CumulativeAverage: true})
	}},
	{name: "batchnorm2d_nostats_eval", eval: true, build: func(*autograd.RNG) any {
		return NewBatchNorm2d(3, BatchNormConfig{NoAffine: true, NoRunningStats: true})
	}},
	{name: "groupnorm", build: func(*autograd.RNG) any { return NewGroupNorm(2, 6, GroupNormConfig{}) }},
	{name: "groupnorm_noaffine", build: func(*autograd.RNG) any {
		return NewGroupNorm(3, 6, GroupNormConfig{Eps: 1e-4, NoAffine: true})
	}},

	{name: "embedding", build: func(r *autograd.RNG) any { return NewEmbeddingPadded(r, 10, 4, 2) },
		forward: func(m any, in ioMap) ioMap { return ioMap{"output": m.(*Embedding).ForwardTensor(in["input"])} }},

	{name: "grucell", forward: rnnForward, build: func(r *autograd.RNG) any { return NewGRUCell(r, 5, 4, true) }},
	{name: "lstmcell", forward: rnnForward, build: func(r *autograd.RNG) any { return NewLSTMCell(r, 5, 4, true) }},
	{name: "gru", forward: rnnForward, build: func(r *autograd.RNG) any {
		return NewGRU(r, 5, 4, RNNConfig{NumLayers: 2, Bidirectional: true})
	}},
	{name: "gru_batchfirst", forward: rnnForward, build: func(r *autograd.RNG) any {
		return NewGRU(r, 3, 4, RNNConfig{NumLayers: 2, BatchFirst: true, NoBias: true})
	}},
	{name: "lstm", forward: rnnForward, build: func(r *autograd.RNG) any {
		return NewLSTM(r, 5, 4, RNNConfig{NumLayers: 2, BatchFirst: true, Bidirectional: true})
	}},
	{name: "lstm_unbatched", forward: rnnForward, build: func(r *autograd.RNG) any { return NewLSTM(r, 3, 5, RNNConfig{}) }},

	{name: "maxpool2d", build: layer(MaxPool2d{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})},
	{name: "maxpool2d_ceil", build: layer(MaxPool2d{Kernel: [2]int{2, 3}, Stride: [2]int{2, 2}, CeilMode: true})},
	{name: "maxpool1d", build: layer(MaxPool1d{Kernel: 3, Stride: 2, Padding: 1, Dilation: 2})},
	{name: "avgpool2d", build: layer(AvgPool2d{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, ExcludePad: true})},
	{name: "avgpool2d_ceil", build: layer(AvgPool2d{Kernel: [2]int{2, 2}, CeilMode: true})},
	{name: "avgpool1d", build: layer(AvgPool1d{Kernel: 4, Stride: 3, Padding: 2})},
	{name: "adaptiveavgpool2d", build: layer(AdaptiveAvgPool2d{Size: [2]int{3, 4}})},
	{name: "adaptiveavgpool2d_none", build: layer(AdaptiveAvgPool2d{Size: [2]int{0, 2}})},
	{name: "adaptiveavgpool1d", build: layer(AdaptiveAvgPool1d{Size: 4})},
	{name: "flatten", build: layer(NewFlatten())},
	{name: "flatten_0_2", build: layer(Flatten{StartDim: 0, EndDim: 2})},
	{name: "pixelshuffle", build: layer(PixelShuffle{Factor: 2})},
	{name: "pixelunshuffle", build: layer(PixelUnshuffle{Factor: 2})},

	{name: "cnn_train", build: func(r *autograd.RNG) any { return newSmallCNN(r) }},
	{name: "cnn_eval", eval: true, build: func(r *autograd.RNG) any { return newSmallCNN(r) }},
}

// golden is one golden file, split by the key prefixes of gen_layers.py.
type golden struct {
	state, in, out, up, grad, after ioMap
}

func loadGolden(t *testing.T, name string) golden {
	t.Helper()
	f, err := LoadSafetensors(filepath.Join("testdata", "layers", name+".safetensors"))
	require.NoError(t, err)
	g := golden{ioMap{}, ioMap{}, ioMap{}, ioMap{}, ioMap{}, ioMap{}}
	for _, nt := range f.Tensors {
		key, io := strings.CutPrefix(nt.Name, "io.")
		if !io {
			g.state[key] = nt.Tensor
			continue
		}
		dst := g.in
		for _, p := range []struct {
			prefix string
			m      ioMap
		}{{"out.", g.out}, {"up.", g.up}, {"grad.", g.grad}, {"after.", g.after}} {
			if rest, ok := strings.CutPrefix(key, p.prefix); ok {
				key, dst = rest, p.m
				break
			}
		}
		dst[key] = nt.Tensor
	}
	return g
}

// maxErr returns max |got − want| / max(|want|, 1) after checking shapes.
func maxErr(t *testing.T, what string, want, got *autograd.Tensor) float64 {
	t.Helper()
	require.NotNil(t, got, what)
	require.Equal(t, want.Shape(), got.Shape(), what)
	w, g := want.Data(), got.Data()
	worst := 0.0
	for i := range w {
		e := math.Abs(float64(g[i])-float64(w[i])) / math.Max(math.Abs(float64(w[i])), 1)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

// goldenMaxErr collects each case's worst error, for the summary log.
var goldenMaxErr = map[string]float64{}

func TestLayerGoldens(t *testing.T) {
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		overall := 0.0
		for _, c := range goldenCases {
			t.Run(c.name, func(t *testing.T) {
				g := loadGolden(t, c.name)
				m := c.build(autograd.NewRNG(1))
				_, err := LoadStateDict(m, g.state, true)
				require.NoError(t, err, "torch's state_dict must load strictly")
				To(m, dev)
				if c.eval {
					Eval(m)
				} else {
					Train(m)
				}
				in := ioMap{}
				for k, v := range g.in {
					v = v.To(dev)
					if _, ok := g.grad[k]; ok {
						v = v.Detach().SetRequiresGrad(true)
					}
					in[k] = v
				}
				forward := c.forward
				if forward == nil {
					forward = single
				}
				outs := forward(m, in)
				worst := 0.0
				check := func(what string, want, got *autograd.Tensor) {
					e := maxErr(t, what, want, got)
					assert.LessOrEqual(t, e, goldenTol, "%s: %s", c.name, what)
					worst = math.Max(worst, e)
				}
				require.Len(t, outs, len(g.out))
				for k, want := range g.out {
					check("output "+k, want, outs[k])
				}
				if len(g.up) > 0 {
					var loss *autograd.Tensor
					for _, k := range sortedNames(outs) {
						l := outs[k].Mul(g.up[k].To(dev)).Sum()
						if loss == nil {
							loss = l
						} else {
							loss = loss.Add(l)
						}
					}
					loss.Backward()
					checked := 0
					for k, v := range in {
						if want, ok := g.grad[k]; ok {
							check("grad of input "+k, want, v.Grad)
							checked++
						}
					}
					for _, np := range NamedParameters(m) {
						want, ok := g.grad[np.Name]
						require.True(t, ok, "no golden gradient for parameter %s", np.Name)
						check("grad of "+np.Name, want, np.Param.Grad)
						checked++
					}
					assert.Equal(t, len(g.grad), checked, "every golden gradient is checked")
				}
				bufs := NamedBuffers(m)
				require.Len(t, bufs, len(g.after))
				for _, nb := range bufs {
					check("buffer "+nb.Name+" after forward", g.after[nb.Name], nb.Buffer.Tensor)
				}
				goldenMaxErr[c.name] = worst
				overall = math.Max(overall, worst)
			})
		}
		t.Logf("largest error over %d golden cases on %s: %.3g (tolerance %g)", len(goldenCases), dev.Name(), overall, goldenTol)
		if testing.Verbose() {
			for _, name := range sortedNames(goldenMaxErr) {
				t.Logf("  %-26s %.3g", name, goldenMaxErr[name])
			}
		}
	})
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestEveryGoldenFileHasACase keeps the script and the table in step.
func TestEveryGoldenFileHasACase(t *testing.T) {
	files, err := os.ReadDir(filepath.Join("testdata", "layers"))
	require.NoError(t, err)
	var onDisk, inTable []string
	for _, f := range files {
		if name, ok := strings.CutSuffix(f.Name(), ".safetensors"); ok {
			onDisk = append(onDisk, name)
		}
	}
	for _, c := range goldenCases {
		inTable = append(inTable, c.name)
	}
	slices.Sort(inTable)
	assert.Equal(t, onDisk, inTable)
}
