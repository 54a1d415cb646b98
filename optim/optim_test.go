package optim

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// resumeModel is a small model with a buffer, for checkpoint tests.
type resumeModel struct {
	MLP   *nn.Sequential
	Count *nn.Buffer
}

func newResumeModel(seed uint64) *resumeModel {
	rng := autograd.NewRNG(seed)
	return &resumeModel{MLP: nn.NewMLP(rng, 3, []int{6}, 2, nn.Tanh{}), Count: nn.NewBuffer(autograd.Zeros(1))}
}

type trainer struct {
	model *resumeModel
	opt   Optimizer
	sched Scheduler
	ema   *EMA
}

type resumeCase struct {
	name  string
	build func(m *resumeModel) (Optimizer, Scheduler)
}

var resumeCases = []resumeCase{
	{"adamw_warmup_cosine", func(m *resumeModel) (Optimizer, Scheduler) {
		o := NewAdamW(nn.Parameters(m), DefaultAdamWConfig())
		return o, NewWarmupCosine(o, WarmupCosineConfig{WarmupSteps: 4, TotalSteps: 20, MinLR: 1e-5})
	}},
	{"sgd_nesterov_step", func(m *resumeModel) (Optimizer, Scheduler) {
		o := NewSGD(nn.Parameters(m), SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3})
		return o, NewStepLR(o, 3, 0.7)
	}},
	{"rmsprop_centered_onecycle", func(m *resumeModel) (Optimizer, Scheduler) {
		c := DefaultRMSPropConfig()
		c.Centered, c.Momentum = true, 0.5
		o := NewRMSProp(nn.Parameters(m), c)
		return o, NewOneCycle(o, DefaultOneCycleConfig(0.02, 20))
	}},
	{"adam_amsgrad_groups_multistep", func(m *resumeModel) (Optimizer, Scheduler) {
		c := DefaultAdamConfig()
		c.AMSGrad = true
		o := NewAdamGroups([]ParamGroup{
			{Params: nn.Parameters(m.MLP.Layers[0]), LR: 0.01, WeightDecay: 0.01},
			{Params: nn.Parameters(m.MLP.Layers[2]), LR: 0.003},
		}, c)
		return o, NewMultiStepLR(o, []int{5, 12}, 0.5)
	}},
}

func newTrainer(c resumeCase, seed uint64) *trainer {
	m := newResumeModel(seed)
	opt, sched := c.build(m)
	return &trainer{model: m, opt: opt, sched: sched, ema: NewEMA(m, 0.9).SetWarmup(1, 0.75)}
}

// step runs one training step on batch i (data made from i, so that a
// resumed run sees the same batches).
func (tr *trainer) step(i int) {
	rng := autograd.NewRNG(uint64(1000 + i))
	x, y := rng.Normal(0, 1, 4, 3), rng.Normal(0, 1, 4, 2)
	tr.opt.ZeroGrad()
	loss := tr.model.MLP.Forward(x).Sub(y).Square().Mean()
	loss.Backward()
	ClipGradNorm(nn.Parameters(tr.model), 0.5, 2)
	tr.opt.Step()
	tr.sched.Step()
	tr.ema.Update()
	autograd.NoGrad(func() { tr.model.Count.CopyFrom(tr.model.Count.AddScalar(1)) })
}

func TestResumeIsBitExact(t *testing.T) {
	for _, c := range resumeCases {
		t.Run(c.name, func(t *testing.T) {
			straight := newTrainer(c, 1)
			for i := 0; i < 20; i++ {
				straight.step(i)
			}

			first := newTrainer(c, 1)
			for i := 0; i < 10; i++ {
				first.step(i)
			}
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			require.NoError(t, SaveCheckpoint(path, Checkpoint{
				Model: first.model, Optimizer: first.opt, Scheduler: first.sched, EMA: first.ema,
				Metadata: map[string]string{"step": "10"},
			}))

			// Fresh objects, built from a different seed: everything comes
			// from the file.
			resumed := newTrainer(c, 2)
			meta := map[string]string{}
			require.NoError(t, LoadCheckpoint(path, Checkpoint{
				Model: resumed.model, Optimizer: resumed.opt, Scheduler: resumed.sched, EMA: resumed.ema, Metadata: meta,
			}))
			assert.Equal(t, map[string]string{"step": "10"}, meta)
			assert.Equal(t, first.sched.LastLR(), resumed.sched.LastLR())
			for i := 10; i < 20; i++ {
				resumed.step(i)
			}

			want, got := nn.NamedStateDict(straight.model), nn.NamedStateDict(resumed.model)
			require.Len(t, got, len(want))
			for i := range want {
				assert.Equal(t, want[i].Tensor.Data(), got[i].Tensor.Data(), want[i].Name)
			}
			for i, nt := range straight.ema.StateDict() {
				assert.Equal(t, nt.Tensor.Data(), resumed.ema.StateDict()[i].Tensor.Data(), "ema "+nt.Name)
			}
			assert.Equal(t, straight.sched.LastLR(), resumed.sched.LastLR())
			assert.Equal(t, straight.ema.Updates(), resumed.ema.Updates())
			// Sanity: the run did move the weights.
			assert.NotEqual(t, newResumeModel(1).MLP.Layers[0].(*nn.Linear).Weight.Data(), want[0].Tensor.Data())
		})
	}
}

func TestCheckpointIsAPyTorchStateDictPlusPrefixes(t *testing.T) {
	tr := newTrainer(resumeCases[0], 1)
	tr.step(0)
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	require.NoError(t, SaveCheckpoint(path, Checkpoint{Model: tr.model, Optimizer: tr.opt, Scheduler: tr.sched}))
	f, err := nn.LoadSafetensors(path)
	require.NoError(t, err)
	var names []string
	for _, nt := range f.Tensors {
		names = append(names, nt.Name)
	}
	assert.Equal(t, []string{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "count",
		"optimizer.state.0.exp_avg", "optimizer.state.0.exp_avg_sq", "optimizer.state.1.exp_avg", "optimizer.state.1.exp_avg_sq",
		"optimizer.state.2.exp_avg", "optimizer.state.2.exp_avg_sq", "optimizer.state.3.exp_avg", "optimizer.state.3.exp_avg_sq"}, names)
	assert.Equal(t, "1", f.Metadata["optimizer.state.0.step"])
	assert.Equal(t, "1", f.Metadata["scheduler.last_epoch"])
	assert.Equal(t, "0.00025", f.Metadata["optimizer.param_groups.0.lr"]) // warmup: 1e-3·1/4
	// The model alone loads the file non-strictly (the extra entries are
	// reported), as PyTorch's load_state_dict(strict=False) would.
	res, err := nn.Load(path, newResumeModel(3), false)
	require.NoError(t, err)
	assert.Len(t, res.Unexpected, 8)

	// Reserved prefixes are refused.
	assert.Error(t, SaveCheckpoint(path, Checkpoint{Model: tr.model, Metadata: map[string]string{"ema.x": "1"}}))
	assert.Error(t, SaveCheckpoint(path, Checkpoint{Model: &struct{ Optimizer *nn.Linear }{nn.NewLinear(autograd.NewRNG(1), 1, 1, true)}}))
	// A checkpoint without optimizer state cannot restore an optimizer.
	require.NoError(t, SaveCheckpoint(path, Checkpoint{Model: tr.model}))
	err = LoadCheckpoint(path, Checkpoint{Model: tr.model, Optimizer: tr.opt})
	assert.ErrorContains(t, err, `no "param_groups.0.lr"`)
}

func TestLoadStateChecks(t *testing.T) {
	m := newResumeModel(1)
	opt := NewAdam(nn.Parameters(m), DefaultAdamConfig())
	m.MLP.Forward(autograd.Ones(1, 3)).Sum().Backward()
	opt.Step()
	s := opt.State()
	assert.Len(t, s.Tensors, 8)
	assert.Equal(t, 1.0, s.Values["state.3.step"])

	// A different shape of optimizer.
	other := NewAdam(nn.Parameters(newResumeModel(1).MLP.Layers[0]), DefaultAdamConfig())
	assert.ErrorContains(t, other.LoadState(s), "saved group 0 has 4 parameters, this optimizer's has 2")
	grouped := NewAdamGroups([]ParamGroup{{Params: nn.Parameters(m.MLP.Layers[0])}, {Params: nn.Parameters(m.MLP.Layers[2])}}, DefaultAdamConfig())
	assert.Error(t, grouped.LoadState(s))
	// Mismatched tensor shapes.
	bad := &State{Tensors: append([]nn.NamedTensor(nil), s.Tensors...), Values: s.Values}
	bad.Tensors[0] = nn.NamedTensor{Name: bad.Tensors[0].Name, Tensor: autograd.Zeros(2)}
	fresh := NewAdam(nn.Parameters(newResumeModel(1)), DefaultAdamConfig())
	assert.ErrorContains(t, fresh.LoadState(bad), "saved state.0.exp_avg has shape [2], parameter 0 has shape [6 3]")
	bad.Tensors[0] = nn.NamedTensor{Name: "state.9.exp_avg", Tensor: autograd.Zeros(6, 3)}
	assert.ErrorContains(t, fresh.LoadState(bad), "unexpected tensor")
	assert.Error(t, fresh.LoadState(nil))
	// A good state loads, and the state is a copy.
	require.NoError(t, fresh.LoadState(s))
	s.Tensors[0].Tensor.Data()
	autograd.NoGrad(func() { s.Tensors[0].Tensor.CopyFrom(autograd.Zeros(6, 3)) })
	assert.NotEqual(t, make([]float32, 18), fresh.State().Tensors[0].Tensor.Data())

	sched := NewStepLR(opt, 2, 0.5)
	assert.Error(t, sched.LoadState(&State{Values: map[string]float64{}}))
	assert.Error(t, NewEMA(m, 0.9).LoadState(&State{Values: map[string]float64{"updates": 1}}))
}

func TestOptimizerArgumentChecks(t *testing.T) {
	p := nn.NewParameter(autograd.Zeros(2))
	assert.Panics(t, func() { NewSGD([]*nn.Parameter{p, p}, DefaultSGDConfig()) })
	assert.Panics(t, func() { NewSGD([]*nn.Parameter{p}, SGDConfig{LR: -1}) })
	assert.Panics(t, func() { NewSGD([]*nn.Parameter{p}, SGDConfig{LR: 1, Nesterov: true}) })
	assert.Panics(t, func() { NewSGD([]*nn.Parameter{nil}, DefaultSGDConfig()) })
	assert.Panics(t, func() { NewSGDGroups(nil, DefaultSGDConfig()) })
	assert.Panics(t, func() { NewAdam([]*nn.Parameter{p}, AdamConfig{LR: 1, Beta1: 1, Beta2: 0.9}) })
	assert.Panics(t, func() { NewAdamW([]*nn.Parameter{p}, AdamConfig{LR: 1, Eps: -1}) })
	assert.Panics(t, func() { NewRMSProp([]*nn.Parameter{p}, RMSPropConfig{LR: 1, Alpha: -1}) })
	assert.Panics(t, func() { NewStepLR(NewSGD([]*nn.Parameter{p}, DefaultSGDConfig()), 0, 0.1) })
	assert.Panics(t, func() {
		NewWarmupCosine(NewSGD([]*nn.Parameter{p}, DefaultSGDConfig()), WarmupCosineConfig{WarmupSteps: 5, TotalSteps: 3})
	})
	assert.Panics(t, func() {
		c := DefaultOneCycleConfig(1, 10)
		c.MaxLR = []float64{1, 2, 3}
		NewOneCycle(NewSGD([]*nn.Parameter{p}, DefaultSGDConfig()), c)
	})
	// OneCycle may step TotalSteps times, as torch.
	oc := NewOneCycle(NewSGD([]*nn.Parameter{p}, DefaultSGDConfig()), DefaultOneCycleConfig(1, 3))
	for i := 0; i < 3; i++ {
		oc.Step()
	}
	assert.Panics(t, oc.Step)
}

func TestParamsWithoutGradAreSkipped(t *testing.T) {
	a := nn.NewParameter(autograd.Ones(2))
	b := nn.NewParameter(autograd.Ones(2))
	for _, opt := range []Optimizer{
		NewSGD([]*nn.Parameter{a, b}, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}),
		NewAdamW([]*nn.Parameter{a, b}, DefaultAdamWConfig()),
		NewRMSProp([]*nn.Parameter{a, b}, DefaultRMSPropConfig()),
	} {
		opt.ZeroGrad()
		a.Mul(a.Tensor).Sum().Backward()
		opt.Step()
		assert.NotEqual(t, []float32{1, 1}, a.Data())
		assert.Equal(t, []float32{1, 1}, b.Data(), "%T", opt)
		assert.NotContains(t, opt.State().Values, "state.1.step")
		assert.Equal(t, 1.0, opt.State().Values["state.0.step"])
		assert.NotNil(t, a.Grad)
		opt.ZeroGrad()
		assert.Nil(t, a.Grad)
		autograd.NoGrad(func() { a.CopyFrom(autograd.Ones(2)) })
	}
}

func TestSGDPlainStep(t *testing.T) {
	// p ← p − lr·(g + wd·p), by hand.
	p := nn.NewParameter(autograd.New([]float32{1, -2}))
	opt := NewSGD([]*nn.Parameter{p}, SGDConfig{LR: 0.5, WeightDecay: 0.1})
	p.Mul(p.Tensor).Sum().Backward() // g = 2p
	opt.Step()
	assert.InDeltaSlice(t, []float32{1 - 0.5*(2+0.1), -2 - 0.5*(-4-0.2)}, p.Data(), 1e-6)
}

func TestClipGradNorm(t *testing.T) {
	a := nn.NewParameter(autograd.Zeros(2))
	b := nn.NewParameter(autograd.Zeros(1))
	none := nn.NewParameter(autograd.Zeros(3)) // no gradient: skipped
	set := func(ga, gb []float32) {
		a.Grad, b.Grad = autograd.New(ga), autograd.New(gb)
	}
	params := []*nn.Parameter{a, b, none}

	set([]float32{3, 4}, []float32{12})
	norm := ClipGradNorm(params, 6.5, 2)
	assert.InDelta(t, 13, norm, 1e-6)
	c := 6.5 / (13 + 1e-6)
	assert.InDeltaSlice(t, []float32{float32(3 * c), float32(4 * c)}, a.Grad.Data(), 1e-6)
	assert.InDeltaSlice(t, []float32{float32(12 * c)}, b.Grad.Data(), 1e-6)
	assert.Nil(t, none.Grad)

	// Below the limit: unchanged.
	set([]float32{3, 4}, []float32{12})
	assert.InDelta(t, 13, ClipGradNorm(params, 100, 2), 1e-6)
	assert.Equal(t, []float32{3, 4}, a.Grad.Data())

	set([]float32{3, -4}, []float32{-12})
	assert.InDelta(t, 12, ClipGradNorm(params, 1, math.Inf(1)), 1e-6)
	assert.InDeltaSlice(t, []float32{float32(3 / (12 + 1e-6)), float32(-4 / (12 + 1e-6))}, a.Grad.Data(), 1e-6)

	set([]float32{3, -4}, []float32{-12})
	assert.InDelta(t, 19, ClipGradNorm(params, 100, 1), 1e-5)
	set([]float32{3, -4}, []float32{-12})
	assert.InDelta(t, math.Pow(27+64+1728, 1.0/3), ClipGradNorm(params, 100, 3), 1e-4)

	assert.Equal(t, 0.0, ClipGradNorm([]*nn.Parameter{none}, 1, 2))
	assert.Panics(t, func() { ClipGradNorm(params, 1, 0) })

	set([]float32{3, -4}, []float32{0.5})
	ClipGradValue(params, 1)
	assert.Equal(t, []float32{1, -1}, a.Grad.Data())
	assert.Equal(t, []float32{0.5}, b.Grad.Data())
	assert.Panics(t, func() { ClipGradValue(params, -1) })
}

func TestEMA(t *testing.T) {
	m := &struct {
		W *nn.Parameter
		B *nn.Buffer
	}{nn.NewParameter(autograd.New([]float32{0, 10})), nn.NewBuffer(autograd.New([]float32{1}))}
	e := NewEMA(m, 0.5)
	assert.Equal(t, 0.5, e.Decay())
	autograd.NoGrad(func() {
		m.W.CopyFrom(autograd.New([]float32{4, 2}))
		m.B.CopyFrom(autograd.New([]float32{3}))
	})
	e.Update()
	sd := e.StateDict()
	assert.Equal(t, "w", sd[0].Name)
	assert.Equal(t, []float32{2, 6}, sd[0].Tensor.Data())
	assert.Equal(t, []float32{2}, sd[1].Tensor.Data())
	assert.Equal(t, []float32{4, 2}, m.W.Data(), "the model is not changed")

	twin := &struct {
		W *nn.Parameter
		B *nn.Buffer
	}{nn.NewParameter(autograd.Zeros(2)), nn.NewBuffer(autograd.Zeros(1))}
	require.NoError(t, e.CopyTo(twin))
	assert.Equal(t, []float32{2, 6}, twin.W.Data())
	assert.Error(t, e.CopyTo(&struct{ W *nn.Parameter }{nn.NewParameter(autograd.Zeros(2))}))

	// timm ModelEmaV3's warmup: 1 − (1 + t/γ)^−p, capped at the decay.
	w := NewEMA(m, 0.999).SetWarmup(1, 2.0/3)
	for step := 1; step <= 3; step++ {
		assert.InDelta(t, 1-math.Pow(1+float64(step), -2.0/3), w.Decay(), 1e-15)
		w.Update()
	}
	assert.EqualValues(t, 3, w.Updates())
	w2 := NewEMA(m, 0.1).SetWarmup(1, 2.0/3)
	assert.Equal(t, 0.1, w2.Decay())
	assert.Panics(t, func() { NewEMA(m, 1.5) })
	assert.Panics(t, func() { w.SetWarmup(0, 1) })
}

func TestMomentumAccessors(t *testing.T) {
	p := nn.NewParameter(autograd.Zeros(1))
	var mo MomentumOptimizer = NewAdam([]*nn.Parameter{p}, DefaultAdamConfig())
	assert.Equal(t, 0.9, mo.Momentum(0))
	mo.SetMomentum(0, 0.5)
	assert.Equal(t, 0.5, mo.State().Values["param_groups.0.momentum"])
	mo = NewSGD([]*nn.Parameter{p}, SGDConfig{LR: 1, Momentum: 0.3})
	assert.Equal(t, 0.3, mo.Momentum(0))
	mo = NewRMSProp([]*nn.Parameter{p}, DefaultRMSPropConfig())
	assert.Equal(t, 0.0, mo.Momentum(0))
}

func TestLoadStateOfAnotherKindFails(t *testing.T) {
	p := nn.NewParameter(autograd.Ones(2))
	sgd := NewSGD([]*nn.Parameter{p}, SGDConfig{LR: 0.1, Momentum: 0.9})
	p.Mul(p.Tensor).Sum().Backward()
	sgd.Step()
	adam := NewAdam([]*nn.Parameter{p}, DefaultAdamConfig())
	assert.ErrorContains(t, adam.LoadState(sgd.State()), `unexpected tensor "state.0.momentum_buffer" in the saved state (Adam keeps exp_avg, exp_avg_sq, max_exp_avg_sq)`)
}

func TestOptimizerInsideAWalkedStruct(t *testing.T) {
	m := newResumeModel(1)
	opt := NewAdamW(nn.Parameters(m), DefaultAdamWConfig())
	m.MLP.Forward(autograd.Ones(1, 3)).Sum().Backward()
	opt.Step()
	tr := &struct {
		Model *resumeModel
		Opt   *AdamW
		Sched *StepLR
		EMA   *EMA
	}{m, opt, NewStepLR(opt, 1, 0.5), NewEMA(m, 0.9)}
	assert.Len(t, nn.NamedStateDict(tr), 5, "only the model's tensors")
}

func TestEMASeesReplacedBuffers(t *testing.T) {
	m := &struct{ B *nn.Buffer }{nn.NewBuffer(autograd.New([]float32{0}))}
	e := NewEMA(m, 0.5)
	m.B.Set(autograd.New([]float32{4})) // a new tensor, not an in-place update
	e.Update()
	assert.Equal(t, []float32{2}, e.StateDict()[0].Tensor.Data())
	m.B = nn.NewBuffer(autograd.Zeros(2))
	assert.Panics(t, e.Update)
}
