package autograd_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
)

// The golden values in testdata/golden/nn.json come from PyTorch: see
// testdata/golden/gen_golden_nn.py beside them, which regenerates the file
// with
//
//	/usr/bin/python3 autograd/testdata/golden/gen_golden_nn.py
//
// The format is ops.json's (see golden_test.go), plus absent inputs (an
// optional tensor argument left out, passed as nil) and extras (tensors an
// op updates in place, compared after the forward pass).

const goldenNNFile = "testdata/golden/nn.json"

type nnInput struct {
	goldenTensor
	Absent bool `json:"absent"`
}

// nnParams holds every parameter the nn cases use; each op reads its own.
type nnParams struct {
	Stride, Padding, Dilation, Kernel, Output []int
	Groups                                    int
	Same                                      bool
	Mode                                      string
	R                                         int
	CeilMode                                  bool  `json:"ceil_mode"`
	CountIncludePad                           *bool `json:"count_include_pad"`
	Divisor                                   int
	Shape                                     []int
	Eps                                       goldenF32
	Momentum                                  goldenF32
	Training                                  bool
	Num                                       int
	Axis                                      int
	Idx                                       []int
	IdxShape                                  []int `json:"idx_shape"`
	PaddingIdx                                *int  `json:"padding_idx"`
	Target                                    []int
	Reduction                                 string
	IgnoreIndex                               *int      `json:"ignore_index"`
	Smoothing                                 goldenF32 `json:"label_smoothing"`
	Delta                                     goldenF32
	Batched                                   bool
}

type nnCase struct {
	Name     string          `json:"name"`
	Op       string          `json:"op"`
	Params   nnParams        `json:"params"`
	Inputs   []nnInput       `json:"inputs"`
	Outputs  []goldenTensor  `json:"outputs"`
	Extras   []goldenTensor  `json:"extras"`
	Upstream []goldenTensor  `json:"upstream"`
	Grads    []*goldenTensor `json:"grads"`
}

type nnDoc struct {
	Cases []nnCase `json:"cases"`
}

// at returns s[i], or def when s is too short.
func at(s []int, i, def int) int {
	if i < len(s) {
		return s[i]
	}
	return def
}

func two(s []int) [2]int { return [2]int{at(s, 0, 0), at(s, 1, 0)} }

func padMode(m string) ag.PadMode {
	if m == "circular" {
		return ag.PadCircular
	}
	return ag.PadConstant
}

// nnOps maps each case's op name to the deepgo call it checks. Ops that
// update tensors in place return them after the outputs, as extras.
var nnOps = map[string]func(x []*ag.Tensor, p nnParams) (outs, extras []*ag.Tensor){
	"Conv2d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		var pad [4]int
		copy(pad[:], p.Padding)
		return goldenOne(ag.Conv2d(x[0], x[1], x[2], ag.Conv2dOptions{
			Stride: two(p.Stride), Padding: pad, Same: p.Same, PadMode: padMode(p.Mode),
			Dilation: two(p.Dilation), Groups: p.Groups,
		})), nil
	},
	"Conv1d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.Conv1d(x[0], x[1], x[2], ag.Conv1dOptions{
			Stride: at(p.Stride, 0, 0), Padding: two(p.Padding), Same: p.Same, PadMode: padMode(p.Mode),
			Dilation: at(p.Dilation, 0, 0), Groups: p.Groups,
		})), nil
	},
	"Unfold": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.Unfold(x[0], unfoldOpts(p))), nil
	},
	"Fold": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.Fold(x[0], p.Output[0], p.Output[1], unfoldOpts(p))), nil
	},
	"PixelShuffle": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.PixelShuffle(x[0], p.R)), nil
	},
	"PixelUnshuffle": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.PixelUnshuffle(x[0], p.R)), nil
	},
	"MaxPool2d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.MaxPool2d(x[0], pool2dOpts(p))), nil
	},
	"AvgPool2d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.AvgPool2d(x[0], pool2dOpts(p))), nil
	},
	"MaxPool1d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.MaxPool1d(x[0], pool1dOpts(p))), nil
	},
	"AvgPool1d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.AvgPool1d(x[0], pool1dOpts(p))), nil
	},
	"AdaptiveAvgPool2d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.AdaptiveAvgPool2d(x[0], p.Output[0], p.Output[1])), nil
	},
	"AdaptiveAvgPool1d": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.AdaptiveAvgPool1d(x[0], p.Output[0])), nil
	},
	"LayerNorm": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.LayerNorm(x[0], p.Shape, x[1], x[2], float32(p.Eps))), nil
	},
	"BatchNorm": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		y := ag.BatchNorm(x[0], x[1], x[2], x[3], x[4], p.Training, float32(p.Momentum), float32(p.Eps))
		var extras []*ag.Tensor
		if x[1] != nil {
			extras = []*ag.Tensor{x[1], x[2]}
		}
		return goldenOne(y), extras
	},
	"GroupNorm": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.GroupNorm(x[0], p.Groups, x[1], x[2], float32(p.Eps))), nil
	},
	"Embedding": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		if p.PaddingIdx != nil {
			return goldenOne(ag.EmbeddingPadded(x[0], p.Idx, p.IdxShape, *p.PaddingIdx)), nil
		}
		return goldenOne(ag.Embedding(x[0], p.Idx, p.IdxShape)), nil
	},
	"OneHot": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.OneHot(p.Idx, p.IdxShape, p.Num)), nil
	},
	"Gather": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(x[0].Gather(p.Axis, p.Idx, p.IdxShape)), nil
	},
	"ScatterAdd": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(x[0].ScatterAdd(p.Axis, p.Idx, p.IdxShape, x[1])), nil
	},
	"IndexAdd": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(x[0].IndexAdd(p.Axis, p.Idx, x[1])), nil
	},
	"SegmentSum": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.SegmentSum(x[0], p.Idx, p.Num)), nil
	},
	"CrossEntropy": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		o := ceOpts(p, x[1])
		o.Mask = x[2]
		return goldenOne(ag.CrossEntropy(x[0], p.Target, o)), nil
	},
	"NLLLoss": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.NLLLoss(x[0], p.Target, ceOpts(p, x[1]))), nil
	},
	"BCEWithLogits": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.BCEWithLogits(x[0], x[1], ag.BCEOptions{
			Reduction: reduction(p.Reduction), PosWeight: x[2], Weight: x[3], Mask: x[4],
		})), nil
	},
	"MSELoss": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.MSELoss(x[0], x[1], ag.LossOptions{Reduction: reduction(p.Reduction), Mask: x[2]})), nil
	},
	"L1Loss": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.L1Loss(x[0], x[1], ag.LossOptions{Reduction: reduction(p.Reduction), Mask: x[2]})), nil
	},
	"HuberLoss": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.HuberLoss(x[0], x[1], float32(p.Delta), ag.LossOptions{Reduction: reduction(p.Reduction), Mask: x[2]})), nil
	},
	"MaskedMAE": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.MaskedMAE(x[0], x[1], x[2])), nil
	},
	"CausalConv": func(x []*ag.Tensor, p nnParams) ([]*ag.Tensor, []*ag.Tensor) {
		return goldenOne(ag.CausalConv(x[0], x[1])), nil
	},
}

func unfoldOpts(p nnParams) ag.UnfoldOptions {
	return ag.UnfoldOptions{Kernel: two(p.Kernel), Stride: two(p.Stride), Padding: two(p.Padding), Dilation: two(p.Dilation)}
}

func pool2dOpts(p nnParams) ag.Pool2dOptions {
	return ag.Pool2dOptions{
		Kernel: two(p.Kernel), Stride: two(p.Stride), Padding: two(p.Padding), Dilation: two(p.Dilation),
		CeilMode: p.CeilMode, ExcludePad: p.CountIncludePad != nil && !*p.CountIncludePad, Divisor: p.Divisor,
	}
}

func pool1dOpts(p nnParams) ag.Pool1dOptions {
	return ag.Pool1dOptions{
		Kernel: at(p.Kernel, 0, 0), Stride: at(p.Stride, 0, 0), Padding: at(p.Padding, 0, 0), Dilation: at(p.Dilation, 0, 0),
		CeilMode: p.CeilMode, ExcludePad: p.CountIncludePad != nil && !*p.CountIncludePad, Divisor: p.Divisor,
	}
}

func reduction(r string) ag.Reduction {
	switch r {
	case "", "mean":
		return ag.ReductionMean
	case "sum":
		return ag.ReductionSum
	case "none":
		return ag.ReductionNone
	}
	panic("golden: unknown reduction " + r)
}

func ceOpts(p nnParams, w *ag.Tensor) ag.CrossEntropyOptions {
	o := ag.CrossEntropyOptions{Reduction: reduction(p.Reduction), Weight: w, LabelSmoothing: float32(p.Smoothing)}
	if p.IgnoreIndex != nil {
		o.IgnoreIndex, o.UseIgnoreIndex = *p.IgnoreIndex, true
	}
	return o
}

func loadGoldenNN(t testing.TB) nnDoc {
	t.Helper()
	raw, err := os.ReadFile(filepath.FromSlash(goldenNNFile))
	require.NoError(t, err, "golden file missing; regenerate it with /usr/bin/python3 autograd/testdata/golden/gen_golden_nn.py")
	var doc nnDoc
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.NotEmpty(t, doc.Cases)
	return doc
}

// TestGoldenNN checks every nn op's forward values and gradients against
// PyTorch, on every device.
func TestGoldenNN(t *testing.T) {
	doc := loadGoldenNN(t)
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, c := range doc.Cases {
		require.Falsef(t, names[c.Name], "duplicate golden case %q", c.Name)
		names[c.Name] = true
		seen[c.Op] = true
	}
	devtest.Each(t, func(t *testing.T, dev ag.Device) {
		for _, c := range doc.Cases {
			t.Run(c.Name, func(t *testing.T) { runGoldenNNCase(t, c, dev) })
		}
	})
	for op := range nnOps {
		require.Truef(t, seen[op], "op %s has no golden case; add one to gen_golden_nn.py", op)
	}
}

func runGoldenNNCase(t *testing.T, c nnCase, dev ag.Device) {
	fn, ok := nnOps[c.Op]
	require.Truef(t, ok, "golden case %s names op %q, which nnOps lacks", c.Name, c.Op)
	xs := make([]*ag.Tensor, len(c.Inputs))
	for i, in := range c.Inputs {
		if in.Absent {
			continue
		}
		xs[i] = in.tensor(t, nil).To(dev)
		if in.Grad {
			xs[i].SetRequiresGrad(true)
		}
	}
	outs, extras := fn(xs, c.Params)
	require.Lenf(t, outs, len(c.Outputs), "number of outputs")
	tol := goldenTol
	if len(outs) == 1 && len(xs) > 0 && xs[0] != nil && outs[0].Numel() > 0 && xs[0].Numel()/outs[0].Numel() > goldenBigN {
		tol = goldenBigTol // a reduction of more than 10,000 elements into each value
	}
	worst := 0.0 // the largest |got − want|/max(1, |want|), logged with -v
	track := func(got *ag.Tensor, want []float32) {
		if got == nil || got.Numel() != len(want) {
			return
		}
		for i, g := range got.Data() {
			w := float64(want[i])
			worst = math.Max(worst, math.Abs(float64(g)-w)/math.Max(1, math.Abs(w)))
		}
	}
	defer func() { t.Logf("max scaled error %.3g (tolerance %g)", worst, tol) }()
	for i, o := range c.Outputs {
		shape, want := o.values(t, nil)
		track(outs[i], want)
		requireGoldenClose(t, fmt.Sprintf("output %d", i), outs[i], shape, want, tol)
	}
	require.Lenf(t, extras, len(c.Extras), "number of extras")
	for i, e := range c.Extras {
		shape, want := e.values(t, nil)
		track(extras[i], want)
		requireGoldenClose(t, fmt.Sprintf("extra %d", i), extras[i], shape, want, tol)
	}
	if len(c.Upstream) == 0 {
		return
	}
	require.Len(t, c.Upstream, len(outs))
	require.Len(t, c.Grads, len(xs))
	for i, u := range c.Upstream {
		up := u.tensor(t, nil).To(dev)
		require.Truef(t, outs[i].RequiresGrad(), "output %d does not require grad", i)
		outs[i].BackwardWith(up, false)
	}
	for i, g := range c.Grads {
		if xs[i] == nil {
			continue
		}
		if g == nil {
			require.Nilf(t, xs[i].Grad, "input %d is not differentiable but got a gradient", i)
			continue
		}
		shape, want := g.values(t, nil)
		if xs[i].Grad == nil {
			zeros := true
			for _, w := range want {
				zeros = zeros && w == 0
			}
			require.Truef(t, zeros, "input %d: no gradient reached it", i)
			continue
		}
		track(xs[i].Grad, want)
		requireGoldenClose(t, fmt.Sprintf("gradient of input %d", i), xs[i].Grad, shape, want, tol)
	}
}
