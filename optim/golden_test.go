package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/internal/devtest"
	"github.com/deepgo/deepgo/nn"
)

// The golden values in testdata/optim_golden.json come from PyTorch: see
// testdata/gen_optim_golden.py beside them, which regenerates the file with
//
//	/usr/bin/python3 optim/testdata/gen_optim_golden.py

const goldenFile = "testdata/optim_golden.json"

// Trajectories match to |go − torch| ≤ tol·max(1, |torch|).
const goldenTol = 1e-5

// f32 is a float32 read from its shortest decimal form.
type f32 float32

func (f *f32) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 32)
	if err != nil {
		return fmt.Errorf("golden value %s: %w", b, err)
	}
	*f = f32(v)
	return nil
}

type goldenTensor struct {
	Shape []int `json:"shape"`
	Data  []f32 `json:"data"`
}

func (g goldenTensor) tensor() *autograd.Tensor {
	data := make([]float32, len(g.Data))
	for i, v := range g.Data {
		data[i] = float32(v)
	}
	return autograd.New(data, g.Shape...)
}

type golden struct {
	Steps   int                     `json:"steps"`
	Problem map[string]goldenTensor `json:"problem"`
	Optims  []struct {
		Name   string      `json:"name"`
		Losses []f32       `json:"losses"`
		LRs    [][]float64 `json:"lrs"`
		Params [][]f32     `json:"params"`
	} `json:"optimizers"`
	Schedules []struct {
		Name     string      `json:"name"`
		BaseLRs  []float64   `json:"base_lrs"`
		LRs      [][]float64 `json:"lrs"`
		Momentum [][]float64 `json:"momentum"`
	} `json:"schedules"`
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	raw, err := os.ReadFile(goldenFile)
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(raw, &g))
	return &g
}

// mlp is the golden problem's model: tanh(x·W1ᵀ + b1)·W2ᵀ + b2.
type mlp struct {
	FC1, FC2 *nn.Linear
}

func newProblem(g *golden, dev autograd.Device) (m *mlp, loss func() *autograd.Tensor) {
	p := func(k string) *nn.Parameter { return nn.NewParameter(g.Problem[k].tensor().To(dev)) }
	m = &mlp{FC1: &nn.Linear{Weight: p("w1"), Bias: p("b1")}, FC2: &nn.Linear{Weight: p("w2"), Bias: p("b2")}}
	x, y := g.Problem["x"].tensor().To(dev), g.Problem["target"].tensor().To(dev)
	return m, func() *autograd.Tensor {
		return m.FC2.Forward(m.FC1.Forward(x).Tanh()).Sub(y).Square().Mean()
	}
}

func (m *mlp) flat() []float32 {
	var out []float32
	for _, p := range nn.Parameters(m) {
		out = append(out, p.Data()...)
	}
	return out
}

// optimConfigs builds, for each golden configuration, the Go optimizer
// (and schedule) that PyTorch ran; see OPTIMIZERS in the script.
var optimConfigs = map[string]func(m *mlp) (Optimizer, Scheduler){
	"sgd": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGD(nn.Parameters(m), SGDConfig{LR: 0.1}), nil
	},
	"sgd_momentum": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGD(nn.Parameters(m), SGDConfig{LR: 0.05, Momentum: 0.9}), nil
	},
	"sgd_dampening": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGD(nn.Parameters(m), SGDConfig{LR: 0.05, Momentum: 0.9, Dampening: 0.3}), nil
	},
	"sgd_nesterov": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGD(nn.Parameters(m), SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true}), nil
	},
	"sgd_weight_decay": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGD(nn.Parameters(m), SGDConfig{LR: 0.1, Momentum: 0.5, WeightDecay: 0.01}), nil
	},
	"adam": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamConfig()
		c.LR = 0.01
		return NewAdam(nn.Parameters(m), c), nil
	},
	"adam_weight_decay": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamConfig()
		c.LR, c.WeightDecay = 0.01, 0.05
		return NewAdam(nn.Parameters(m), c), nil
	},
	"adam_amsgrad": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamConfig()
		c.LR, c.AMSGrad = 0.01, true
		return NewAdam(nn.Parameters(m), c), nil
	},
	"adam_big_eps": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamConfig()
		c.LR, c.Eps = 0.01, 0.1
		return NewAdam(nn.Parameters(m), c), nil
	},
	"adamw": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamWConfig()
		c.LR, c.WeightDecay = 0.01, 0.1
		return NewAdamW(nn.Parameters(m), c), nil
	},
	"adamw_betas": func(m *mlp) (Optimizer, Scheduler) {
		return NewAdamW(nn.Parameters(m), AdamWConfig{LR: 0.02, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.01}), nil
	},
	"rmsprop": func(m *mlp) (Optimizer, Scheduler) {
		return NewRMSProp(nn.Parameters(m), DefaultRMSPropConfig()), nil
	},
	"rmsprop_centered": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultRMSPropConfig()
		c.Centered = true
		return NewRMSProp(nn.Parameters(m), c), nil
	},
	"rmsprop_big_eps": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultRMSPropConfig()
		c.Eps = 0.05
		return NewRMSProp(nn.Parameters(m), c), nil
	},
	"rmsprop_momentum": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultRMSPropConfig()
		c.LR, c.Momentum = 0.005, 0.9
		return NewRMSProp(nn.Parameters(m), c), nil
	},
	"rmsprop_all": func(m *mlp) (Optimizer, Scheduler) {
		return NewRMSProp(nn.Parameters(m), RMSPropConfig{LR: 0.005, Alpha: 0.9, Eps: 1e-6, WeightDecay: 0.01, Momentum: 0.5, Centered: true}), nil
	},
	"groups_sgd": func(m *mlp) (Optimizer, Scheduler) {
		return NewSGDGroups([]ParamGroup{
			{Params: nn.Parameters(m.FC1), LR: 0.1, WeightDecay: 0.01},
			{Params: nn.Parameters(m.FC2), LR: 0.01},
		}, SGDConfig{Momentum: 0.9}), nil
	},
	"groups_adamw": func(m *mlp) (Optimizer, Scheduler) {
		return NewAdamWGroups([]ParamGroup{
			{Params: nn.Parameters(m.FC1), LR: 0.01, WeightDecay: 0.1},
			{Params: nn.Parameters(m.FC2), LR: 0.001},
		}, DefaultAdamWConfig()), nil
	},
	"adamw_onecycle": func(m *mlp) (Optimizer, Scheduler) {
		c := DefaultAdamWConfig()
		c.LR, c.WeightDecay = 0.01, 0.01
		opt := NewAdamW(nn.Parameters(m), c)
		return opt, NewOneCycle(opt, DefaultOneCycleConfig(0.05, 20))
	},
	"sgd_warmup_cosine": func(m *mlp) (Optimizer, Scheduler) {
		opt := NewSGD(nn.Parameters(m), SGDConfig{LR: 0.1, Momentum: 0.9})
		return opt, NewWarmupCosine(opt, WarmupCosineConfig{WarmupSteps: 5, TotalSteps: 20, StartFactor: 0.1, MinLR: 1e-3})
	},
}

// relErr is |got − want| / max(1, |want|).
func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(1, math.Abs(want))
}

func TestOptimizerGoldens(t *testing.T) {
	g := loadGolden(t)
	require.Len(t, g.Optims, len(optimConfigs), "every golden configuration has a Go counterpart")
	devtest.Each(t, func(t *testing.T, dev autograd.Device) {
		worst := 0.0
		for _, c := range g.Optims {
			build, ok := optimConfigs[c.Name]
			require.True(t, ok, "no Go configuration for %q", c.Name)
			t.Run(c.Name, func(t *testing.T) {
				m, lossFn := newProblem(g, dev)
				opt, sched := build(m)
				maxErr := 0.0
				for step := 0; step < g.Steps; step++ {
					opt.ZeroGrad()
					loss := lossFn()
					loss.Backward()
					assert.LessOrEqual(t, relErr(float64(loss.Item()), float64(c.Losses[step])), goldenTol, "loss before step %d", step)
					for gi, grp := range opt.ParamGroups() {
						assert.LessOrEqual(t, relErr(grp.LR, c.LRs[step][gi]), 1e-12, "lr of group %d at step %d", gi, step)
					}
					opt.Step()
					if sched != nil {
						sched.Step()
					}
					got := m.flat()
					require.Len(t, got, len(c.Params[step]))
					for i, w := range c.Params[step] {
						e := relErr(float64(got[i]), float64(w))
						maxErr = math.Max(maxErr, e)
						if e > goldenTol {
							require.Failf(t, "trajectory differs", "step %d, element %d: torch %v, go %v (rel err %.3g)", step, i, w, got[i], e)
						}
					}
				}
				t.Logf("max rel err over %d steps: %.3g", g.Steps, maxErr)
				worst = math.Max(worst, maxErr)
			})
		}
		t.Logf("worst max rel err over all configurations: %.3g", worst)
	})
}

// scheduleConfigs builds each golden schedule on an optimizer with two
// groups of base LRs 0.1 and 0.02; see SCHEDULES in the script.
var scheduleConfigs = map[string]func(sgd, adam MomentumOptimizer) (MomentumOptimizer, Scheduler){
	"step": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) { return o, NewStepLR(o, 3, 0.5) },
	"multistep": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		return o, NewMultiStepLR(o, []int{9, 4, 15, 9}, 0.3)
	},
	"warmup_cosine": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		return o, NewWarmupCosine(o, WarmupCosineConfig{WarmupSteps: 5, TotalSteps: 20, StartFactor: 0.1, MinLR: 1e-4})
	},
	"warmup_cosine_from_zero": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		return o, NewWarmupCosine(o, WarmupCosineConfig{WarmupSteps: 4, TotalSteps: 20})
	},
	"cosine_no_warmup": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		return o, NewWarmupCosine(o, WarmupCosineConfig{TotalSteps: 20, StartFactor: 1, MinLR: 0.001})
	},
	"onecycle": func(o, _ MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		c := DefaultOneCycleConfig(0, 20)
		c.MaxLR = []float64{1.0, 0.2}
		return o, NewOneCycle(o, c)
	},
	"onecycle_linear_three_phase": func(_, a MomentumOptimizer) (MomentumOptimizer, Scheduler) {
		return a, NewOneCycle(a, OneCycleConfig{
			MaxLR: []float64{0.5}, TotalSteps: 20, PctStart: 0.25, Linear: true, DivFactor: 10, FinalDivFactor: 100,
			ThreePhase: true, CycleMomentum: true, BaseMomentum: 0.8, MaxMomentum: 0.9,
		})
	},
}

func twoGroups() []ParamGroup {
	return []ParamGroup{
		{Params: []*nn.Parameter{nn.NewParameter(autograd.Zeros(1))}, LR: 0.1},
		{Params: []*nn.Parameter{nn.NewParameter(autograd.Zeros(1))}, LR: 0.02},
	}
}

func TestScheduleGoldens(t *testing.T) {
	g := loadGolden(t)
	require.Len(t, g.Schedules, len(scheduleConfigs))
	worst := 0.0
	for _, c := range g.Schedules {
		t.Run(c.Name, func(t *testing.T) {
			build := scheduleConfigs[c.Name]
			require.NotNil(t, build, "no Go schedule for %q", c.Name)
			opt, s := build(NewSGDGroups(twoGroups(), SGDConfig{Momentum: 0.9}), NewAdamGroups(twoGroups(), DefaultAdamConfig()))
			for step, want := range c.LRs {
				if step > 0 {
					opt.Step()
					s.Step()
				}
				got := s.LastLR()
				for i := range want {
					e := relErr(got[i], want[i])
					worst = math.Max(worst, e)
					require.LessOrEqual(t, e, 1e-12, "step %d group %d: torch %v, go %v", step, i, want[i], got[i])
					assert.Equal(t, got[i], opt.ParamGroups()[i].LR)
					if c.Momentum != nil {
						require.LessOrEqual(t, relErr(opt.Momentum(i), c.Momentum[step][i]), 1e-12, "momentum at step %d", step)
					}
				}
			}
		})
	}
	t.Logf("worst rel err of the LR sequences: %.3g", worst)
}
