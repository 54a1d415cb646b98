package autograd_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

// The golden values in testdata/golden/ops.json come from PyTorch: see
// testdata/golden/gen_golden.py beside them, which regenerates the file with
//
//	/usr/bin/python3 autograd/testdata/golden/gen_golden.py
//
// Each case names an op of goldenOps, its parameters and inputs, the outputs
// torch computed (in float64 from the same float32 inputs), an upstream
// gradient per output and the gradient of every differentiable input.

const goldenFile = "testdata/golden/ops.json"

// The elementwise tolerance is |got − want| ≤ tol·max(1, |want|): relative,
// with an absolute floor for values below 1. Reductions of more than 10,000
// elements into each output value get the looser one.
const (
	goldenTol    = 1e-5
	goldenBigTol = 1e-4
	goldenBigN   = 10000
)

// goldenF32 is a float32 read from its shortest decimal form, parsed directly
// as float32 so that no double rounding can change it.
type goldenF32 float32

func (f *goldenF32) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 32)
	if err != nil {
		return fmt.Errorf("golden value %s: %w", b, err)
	}
	*f = goldenF32(v)
	return nil
}

// goldenTensor is one stored tensor; exactly one of Data, B64 (little-endian
// float32), Fill (every element), Expand (a tensor to broadcast to Shape),
// Index/Values (zero elsewhere) or Ref (a shared tensor) holds its values.
type goldenTensor struct {
	Shape  []int         `json:"shape"`
	Data   []goldenF32   `json:"data"`
	B64    string        `json:"b64"`
	Fill   *goldenF32    `json:"fill"`
	Expand *goldenTensor `json:"expand"`
	Index  []int         `json:"index"`
	Values []goldenF32   `json:"values"`
	Ref    string        `json:"ref"`
	Grad   bool          `json:"grad"`
}

// goldenParams holds every op parameter any case uses; each op reads its own.
type goldenParams struct {
	A, B       goldenF32
	Lo, Hi     *goldenF32
	Value      goldenF32
	Axes       []int
	Keepdim    bool
	Axis       int
	Shape      []int
	Perm       []int
	D0, D1     int
	Start      int
	End        int
	Step       int
	Length     int
	Idx        []int
	Size       int
	Sizes      []int
	N          int
	Pads       []int
	Mode       string
	Reps       []int
	Shifts     []int
	TransA     bool `json:"transA"`
	TransB     bool `json:"transB"`
	Correction int
}

type goldenCase struct {
	Name     string          `json:"name"`
	Op       string          `json:"op"`
	Params   goldenParams    `json:"params"`
	Inputs   []goldenTensor  `json:"inputs"`
	Outputs  []goldenTensor  `json:"outputs"`
	Upstream []goldenTensor  `json:"upstream"`
	Grads    []*goldenTensor `json:"grads"`
}

type goldenDoc struct {
	Tensors map[string]goldenTensor `json:"tensors"`
	Cases   []goldenCase            `json:"cases"`
}

// values decodes the tensor's elements (refs resolved through shared).
func (g goldenTensor) values(t testing.TB, shared map[string]goldenTensor) ([]int, []float32) {
	t.Helper()
	if g.Ref != "" {
		s, ok := shared[g.Ref]
		require.Truef(t, ok, "unknown shared tensor %q", g.Ref)
		return s.values(t, shared)
	}
	n := 1
	for _, d := range g.Shape {
		n *= d
	}
	out := make([]float32, n)
	switch {
	case g.Expand != nil:
		out = g.Expand.tensor(t, shared).Expand(g.Shape...).Data()
	case g.Fill != nil:
		for i := range out {
			out[i] = float32(*g.Fill)
		}
	case g.B64 != "":
		raw, err := base64.StdEncoding.DecodeString(g.B64)
		require.NoError(t, err)
		require.Len(t, raw, 4*n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case g.Index != nil:
		require.Len(t, g.Values, len(g.Index))
		for i, ix := range g.Index {
			out[ix] = float32(g.Values[i])
		}
	default:
		require.Lenf(t, g.Data, n, "tensor of shape %v", g.Shape)
		for i, v := range g.Data {
			out[i] = float32(v)
		}
	}
	shape := g.Shape
	if shape == nil {
		shape = []int{}
	}
	return shape, out
}

func (g goldenTensor) tensor(t testing.TB, shared map[string]goldenTensor) *ag.Tensor {
	shape, data := g.values(t, shared)
	return ag.New(data, shape...)
}

func goldenOne(x *ag.Tensor) []*ag.Tensor { return []*ag.Tensor{x} }

func goldenBound(b *goldenF32, inf float64) float32 {
	if b == nil {
		return float32(inf)
	}
	return float32(*b)
}

// goldenReduce maps a reduction's keepdim flag to the Keep or plain method.
func goldenReduce(plain, keep func(*ag.Tensor, ...int) *ag.Tensor) func([]*ag.Tensor, goldenParams) []*ag.Tensor {
	return func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		if p.Keepdim {
			return goldenOne(keep(x[0], p.Axes...))
		}
		return goldenOne(plain(x[0], p.Axes...))
	}
}

func goldenUnary(f func(*ag.Tensor) *ag.Tensor) func([]*ag.Tensor, goldenParams) []*ag.Tensor {
	return func(x []*ag.Tensor, _ goldenParams) []*ag.Tensor { return goldenOne(f(x[0])) }
}

func goldenBinary(f func(a, b *ag.Tensor) *ag.Tensor) func([]*ag.Tensor, goldenParams) []*ag.Tensor {
	return func(x []*ag.Tensor, _ goldenParams) []*ag.Tensor { return goldenOne(f(x[0], x[1])) }
}

// goldenOps maps each case's op name to the deepgo call it checks.
var goldenOps = map[string]func(x []*ag.Tensor, p goldenParams) []*ag.Tensor{
	// Binary elementwise, broadcasting.
	"Add":     goldenBinary((*ag.Tensor).Add),
	"Sub":     goldenBinary((*ag.Tensor).Sub),
	"Mul":     goldenBinary((*ag.Tensor).Mul),
	"Div":     goldenBinary((*ag.Tensor).Div),
	"Pow":     goldenBinary((*ag.Tensor).Pow),
	"Maximum": goldenBinary((*ag.Tensor).Maximum),
	"Minimum": goldenBinary((*ag.Tensor).Minimum),
	"Eq":      goldenBinary((*ag.Tensor).Eq),
	"Ne":      goldenBinary((*ag.Tensor).Ne),
	"Lt":      goldenBinary((*ag.Tensor).Lt),
	"Le":      goldenBinary((*ag.Tensor).Le),
	"Gt":      goldenBinary((*ag.Tensor).Gt),
	"Ge":      goldenBinary((*ag.Tensor).Ge),
	"Where": func(x []*ag.Tensor, _ goldenParams) []*ag.Tensor {
		return goldenOne(ag.Where(x[0], x[1], x[2]))
	},

	// Unary elementwise.
	"Neg":        goldenUnary((*ag.Tensor).Neg),
	"Sqrt":       goldenUnary((*ag.Tensor).Sqrt),
	"Rsqrt":      goldenUnary((*ag.Tensor).Rsqrt),
	"Exp":        goldenUnary((*ag.Tensor).Exp),
	"Log":        goldenUnary((*ag.Tensor).Log),
	"Abs":        goldenUnary((*ag.Tensor).Abs),
	"Sin":        goldenUnary((*ag.Tensor).Sin),
	"Cos":        goldenUnary((*ag.Tensor).Cos),
	"Tanh":       goldenUnary((*ag.Tensor).Tanh),
	"Sigmoid":    goldenUnary((*ag.Tensor).Sigmoid),
	"Relu":       goldenUnary((*ag.Tensor).Relu),
	"Gelu":       goldenUnary((*ag.Tensor).Gelu),
	"GeluTanh":   goldenUnary((*ag.Tensor).GeluTanh),
	"Silu":       goldenUnary((*ag.Tensor).Silu),
	"Softplus":   goldenUnary((*ag.Tensor).Softplus),
	"Square":     goldenUnary((*ag.Tensor).Square),
	"Reciprocal": goldenUnary((*ag.Tensor).Reciprocal),
	"Sign":       goldenUnary((*ag.Tensor).Sign),
	"Clone":      goldenUnary((*ag.Tensor).Clone),
	"T":          goldenUnary((*ag.Tensor).T),
	"LeakyRelu": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].LeakyRelu(float32(p.A)))
	},
	"Elu": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Elu(float32(p.A))) },
	"SoftplusWith": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].SoftplusWith(float32(p.A), float32(p.B)))
	},
	"PowScalar": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].PowScalar(float32(p.A)))
	},
	"AddScalar": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].AddScalar(float32(p.A)))
	},
	"SubScalar": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].SubScalar(float32(p.A)))
	},
	"MulScalar": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].MulScalar(float32(p.A)))
	},
	"DivScalar": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].DivScalar(float32(p.A)))
	},
	"Clamp": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].Clamp(goldenBound(p.Lo, math.Inf(-1)), goldenBound(p.Hi, math.Inf(1))))
	},

	// Reductions.
	"Sum":       goldenReduce((*ag.Tensor).Sum, (*ag.Tensor).SumKeep),
	"Mean":      goldenReduce((*ag.Tensor).Mean, (*ag.Tensor).MeanKeep),
	"Max":       goldenReduce((*ag.Tensor).Max, (*ag.Tensor).MaxKeep),
	"Min":       goldenReduce((*ag.Tensor).Min, (*ag.Tensor).MinKeep),
	"LogSumExp": goldenReduce((*ag.Tensor).LogSumExp, (*ag.Tensor).LogSumExpKeep),
	"ArgMax":    goldenReduce((*ag.Tensor).ArgMax, (*ag.Tensor).ArgMaxKeep),
	"ArgMin":    goldenReduce((*ag.Tensor).ArgMin, (*ag.Tensor).ArgMinKeep),
	"Var":       func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Var(p.Axes...)) },
	"Std":       func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Std(p.Axes...)) },
	"VarCorrection": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].VarCorrection(p.Correction, p.Keepdim, p.Axes...))
	},
	"StdCorrection": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].StdCorrection(p.Correction, p.Keepdim, p.Axes...))
	},
	"Softmax":    func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Softmax(p.Axis)) },
	"LogSoftmax": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].LogSoftmax(p.Axis)) },

	// Matrix products.
	"MatMul": goldenBinary((*ag.Tensor).MatMul),
	"MatMulT": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(ag.MatMulT(x[0], x[1], p.TransA, p.TransB))
	},

	// Shape ops.
	"Reshape": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Reshape(p.Shape...)) },
	"View":    func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].View(p.Shape...)) },
	"Flatten": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].Flatten(p.Start, p.End))
	},
	"Permute":   func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Permute(p.Perm...)) },
	"Transpose": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Transpose(p.D0, p.D1)) },
	"Squeeze":   func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Squeeze(p.Axes...)) },
	"Unsqueeze": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Unsqueeze(p.Axis)) },
	"Expand":    func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Expand(p.Shape...)) },
	"BroadcastTo": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].BroadcastTo(p.Shape...))
	},
	"Narrow": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].Narrow(p.Axis, p.Start, p.Length))
	},
	"Slice": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].Slice(p.Axis, p.Start, p.End, p.Step))
	},
	"IndexSelect": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].IndexSelect(p.Axis, p.Idx))
	},
	"Concat":     func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(ag.Concat(x, p.Axis)) },
	"Stack":      func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(ag.Stack(x, p.Axis)) },
	"Split":      func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return x[0].Split(p.Size, p.Axis) },
	"SplitSizes": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return x[0].SplitSizes(p.Sizes, p.Axis) },
	"Chunk":      func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return x[0].Chunk(p.N, p.Axis) },
	"Pad": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		mode, ok := map[string]ag.PadMode{"constant": ag.PadConstant, "circular": ag.PadCircular}[p.Mode]
		if !ok {
			panic("golden: unknown pad mode " + strconv.Quote(p.Mode))
		}
		return goldenOne(x[0].Pad(p.Pads, mode, float32(p.Value)))
	},
	"Repeat": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Repeat(p.Reps...)) },
	"Flip":   func(x []*ag.Tensor, p goldenParams) []*ag.Tensor { return goldenOne(x[0].Flip(p.Axes...)) },
	"Roll": func(x []*ag.Tensor, p goldenParams) []*ag.Tensor {
		return goldenOne(x[0].Roll(p.Shifts, p.Axes))
	},
}

func loadGolden(t testing.TB) goldenDoc {
	t.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(goldenFile))
	require.NoError(t, err, "golden file missing; regenerate it with /usr/bin/python3 autograd/testdata/golden/gen_golden.py")
	var doc goldenDoc
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.NotEmpty(t, doc.Cases)
	return doc
}

// requireGoldenClose checks shape and values elementwise:
// |got − want| ≤ tol·max(1, |want|).
func requireGoldenClose(t *testing.T, what string, got *ag.Tensor, wantShape []int, want []float32, tol float64) {
	t.Helper()
	require.NotNilf(t, got, "%s: no tensor", what)
	require.Equalf(t, wantShape, got.Shape(), "%s: shape", what)
	gd := got.Data()
	bad, worst, worstAt := 0, 0.0, -1
	for i, w := range want {
		g := float64(gd[i])
		err := math.Abs(g - float64(w))
		lim := tol * math.Max(1, math.Abs(float64(w)))
		if !(err <= lim) { // also catches NaN
			bad++
			if worstAt < 0 || err/lim > worst || math.IsNaN(err) {
				worst, worstAt = err/lim, i
			}
		}
	}
	if bad > 0 {
		require.Failf(t, what+" differs from PyTorch",
			"%d of %d elements beyond tolerance %g·max(1,|want|); worst at flat index %d: got %v, want %v (%.3g× the tolerance)\ngot  %v\nwant %v",
			bad, len(want), tol, worstAt, gd[worstAt], want[worstAt], worst, goldenHead(gd), goldenHead(want))
	}
}

func goldenHead(v []float32) []float32 {
	if len(v) > 32 {
		return v[:32]
	}
	return v
}

// TestGolden checks every op's forward values and gradients against PyTorch.
func TestGolden(t *testing.T) {
	doc := loadGolden(t)
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, c := range doc.Cases {
		require.Falsef(t, names[c.Name], "duplicate golden case %q", c.Name)
		names[c.Name] = true
		seen[c.Op] = true
	}
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		for _, c := range doc.Cases {
			t.Run(c.Name, func(t *testing.T) { runGoldenCase(t, doc, c, dev) })
		}
	})
	for op := range goldenOps {
		require.Truef(t, seen[op], "op %s has no golden case; add one to gen_golden.py", op)
	}
}

func runGoldenCase(t *testing.T, doc goldenDoc, c goldenCase, dev ag.Device) {
	fn, ok := goldenOps[c.Op]
	require.Truef(t, ok, "golden case %s names op %q, which goldenOps lacks", c.Name, c.Op)
	xs := make([]*ag.Tensor, len(c.Inputs))
	for i, in := range c.Inputs {
		xs[i] = in.tensor(t, doc.Tensors).To(dev)
		if in.Grad {
			xs[i].SetRequiresGrad(true)
		}
	}
	outs := fn(xs, c.Params)
	require.Lenf(t, outs, len(c.Outputs), "number of outputs")
	tol := goldenTol
	if len(outs) == 1 && outs[0].Numel() > 0 && xs[0].Numel()/outs[0].Numel() > goldenBigN {
		tol = goldenBigTol // a reduction of more than 10,000 elements into each value
	}
	for i, o := range c.Outputs {
		shape, want := o.values(t, doc.Tensors)
		requireGoldenClose(t, fmt.Sprintf("output %d", i), outs[i], shape, want, tol)
	}
	if len(c.Upstream) == 0 {
		return
	}
	require.Len(t, c.Upstream, len(outs))
	require.Len(t, c.Grads, len(xs))
	// Several outputs (Split, Chunk) are run backward one after the other;
	// their gradients accumulate in the inputs, as for loss = Σ sum(out_i·up_i).
	for i, u := range c.Upstream {
		up := u.tensor(t, doc.Tensors).To(dev)
		require.Truef(t, outs[i].RequiresGrad(), "output %d does not require grad", i)
		outs[i].BackwardWith(up, false)
	}
	for i, g := range c.Grads {
		if g == nil {
			require.Nilf(t, xs[i].Grad, "input %d is not differentiable but got a gradient", i)
			continue
		}
		shape, want := g.values(t, doc.Tensors)
		if xs[i].Grad == nil {
			zeros := true
			for _, w := range want {
				zeros = zeros && w == 0
			}
			require.Truef(t, zeros, "input %d: no gradient reached it", i)
			continue
		}
		requireGoldenClose(t, fmt.Sprintf("gradient of input %d", i), xs[i].Grad, shape, want, tol)
	}
}
