// Package optim holds deepgo's optimizers (SGD, Adam, AdamW, RMSProp) with
// torch.optim's exact update rules, parameter groups, learning-rate
// schedules (step, multi-step, cosine with linear warmup, one-cycle),
// gradient clipping, an exponential moving average of the weights, and
// checkpoints that resume training bit for bit.
//
// A training step is the usual one:
//
//	opt := optim.NewAdamW(nn.Parameters(model), optim.DefaultAdamWConfig())
//	sched := optim.NewWarmupCosine(opt, optim.WarmupCosineConfig{WarmupSteps: 100, TotalSteps: 1000})
//	for step := 0; step < 1000; step++ {
//		opt.ZeroGrad()
//		loss := lossOf(model, batch)
//		loss.Backward()
//		optim.ClipGradNorm(nn.Parameters(model), 1, 2)
//		opt.Step()
//		sched.Step()
//	}
//
// Updates run under autograd.NoGrad with tensor ops on each parameter's own
// device, writing parameters in place with CopyFrom and AddInPlace, so they
// work on any device a model lives on. Hyperparameters are float64, as
// Python floats are in PyTorch, and are rounded to float32 where an op uses
// them, as PyTorch does.
//
// Errors: invalid hyperparameters are programmer errors and panic, as
// PyTorch raises; loading state that does not fit returns an error.
//
// Concurrency: optimizers, schedulers and EMAs are not safe for concurrent
// use; step them from the goroutine that runs the training loop.
package optim

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step updates every parameter that has a gradient, once.
	Step()
	// ZeroGrad drops the gradients of all the optimizer's parameters (sets
	// them to nil, as torch's zero_grad(set_to_none=True)) and hands their
	// storage back for reuse (autograd.Tensor.ReleaseGrad): a Grad tensor
	// read before ZeroGrad must not be used after it; Clone it to keep it.
	ZeroGrad()
	// ParamGroups returns the optimizer's groups. Schedulers and callers
	// may change a group's LR and WeightDecay between steps.
	ParamGroups() []*ParamGroup
	// State returns a copy of the optimizer's state (per-parameter buffers
	// and step counts, and the groups' hyperparameters) for a checkpoint.
	State() *State
	// LoadState restores state saved by State from an optimizer of the
	// same kind over parameters of the same shapes, in the same groups.
	LoadState(s *State) error
}

// MomentumOptimizer is an Optimizer with a momentum-like hyperparameter per
// group, which OneCycle can cycle: SGD's and RMSProp's momentum, Adam's and
// AdamW's β1.
type MomentumOptimizer interface {
	Optimizer
	// Momentum returns group g's momentum (β1 for Adam).
	Momentum(g int) float64
	// SetMomentum sets group g's momentum (β1 for Adam).
	SetMomentum(g int, m float64)
}

// ParamGroup is a set of parameters with their own learning rate and weight
// decay, as a torch.optim param_group.
type ParamGroup struct {
	Params      []*nn.Parameter
	LR          float64
	WeightDecay float64
}

// State is a serialisable snapshot of an optimizer, a scheduler or an EMA:
// tensors by name and scalars by name. Optimizer tensors are named
// "state.<i>.<buffer>" with i the parameter's position over all groups in
// order, as in torch's state_dict; scalars include "state.<i>.step" and
// "param_groups.<g>.lr".
type State struct {
	Tensors []nn.NamedTensor
	Values  map[string]float64
}

// tensor returns the named tensor or nil.
func (s *State) tensor(name string) *autograd.Tensor {
	for _, nt := range s.Tensors {
		if nt.Name == name {
			return nt.Tensor
		}
	}
	return nil
}

// value returns a named scalar, or an error naming what is missing.
func (s *State) value(kind, name string) (float64, error) {
	v, ok := s.Values[name]
	if !ok {
		return 0, fmt.Errorf("optim: %s state has no %q; was it saved from a %s?", kind, name, kind)
	}
	return v, nil
}

// paramState is one parameter's optimizer state.
type paramState struct {
	step int64
	bufs map[string]*autograd.Tensor
}

// base holds what every optimizer shares: the groups, the state per
// parameter, and a momentum per group.
//
// The nn:"-" tags keep nn's model walker out, should an optimizer be
// stored in a struct that is walked as a model.
type base struct {
	kind     string
	keys     []string                      // the names of the per-parameter buffers
	groups   []*ParamGroup                 `nn:"-"`
	state    map[*nn.Parameter]*paramState `nn:"-"`
	momentum []float64
}

func newBase(kind string, keys []string, groups []ParamGroup, momentum float64) base {
	if len(groups) == 0 {
		panic(fmt.Sprintf("optim: %s: no parameter groups", kind))
	}
	b := base{kind: kind, keys: keys, state: map[*nn.Parameter]*paramState{}}
	seen := map[*nn.Parameter]bool{}
	for i, g := range groups {
		if g.LR < 0 {
			panic(fmt.Sprintf("optim: %s: invalid learning rate %v in group %d", kind, g.LR, i))
		}
		if g.WeightDecay < 0 {
			panic(fmt.Sprintf("optim: %s: invalid weight decay %v in group %d", kind, g.WeightDecay, i))
		}
		for j, p := range g.Params {
			if p == nil || p.Tensor == nil {
				panic(fmt.Sprintf("optim: %s: parameter %d of group %d is nil", kind, j, i))
			}
			if seen[p] {
				panic(fmt.Sprintf("optim: %s: a parameter (shape %v) appears in more than one place; each parameter may be in one group once", kind, p.Shape()))
			}
			seen[p] = true
		}
		g.Params = append([]*nn.Parameter(nil), g.Params...)
		b.groups = append(b.groups, &g)
		b.momentum = append(b.momentum, momentum)
	}
	return b
}

func singleGroup(params []*nn.Parameter, lr, wd float64) []ParamGroup {
	return []ParamGroup{{Params: params, LR: lr, WeightDecay: wd}}
}

// ParamGroups returns the optimizer's groups (see Optimizer).
func (b *base) ParamGroups() []*ParamGroup { return b.groups }

// ZeroGrad drops every parameter's gradient (see Optimizer).
func (b *base) ZeroGrad() {
	for _, g := range b.groups {
		for _, p := range g.Params {
			p.ReleaseGrad()
		}
	}
}

// Momentum returns group g's momentum (see MomentumOptimizer).
func (b *base) Momentum(g int) float64 { return b.momentum[g] }

// SetMomentum sets group g's momentum (see MomentumOptimizer).
func (b *base) SetMomentum(g int, m float64) { b.momentum[g] = m }

// each runs fn under NoGrad for every parameter that has a gradient.
func (b *base) each(fn func(gi int, g *ParamGroup, p *nn.Parameter, grad *autograd.Tensor, st *paramState)) {
	autograd.NoGrad(func() {
		for gi, g := range b.groups {
			for _, p := range g.Params {
				if p.Grad == nil {
					continue
				}
				st := b.state[p]
				if st == nil {
					st = &paramState{bufs: map[string]*autograd.Tensor{}}
					b.state[p] = st
				}
				fn(gi, g, p, p.Grad, st)
			}
		}
	})
}

// State returns a copy of the optimizer's state (see Optimizer).
func (b *base) State() *State {
	s := &State{Values: map[string]float64{}}
	i := 0
	for gi, g := range b.groups {
		pre := "param_groups." + strconv.Itoa(gi) + "."
		s.Values[pre+"lr"] = g.LR
		s.Values[pre+"weight_decay"] = g.WeightDecay
		s.Values[pre+"momentum"] = b.momentum[gi]
		s.Values[pre+"params"] = float64(len(g.Params))
		for _, p := range g.Params {
			if st := b.state[p]; st != nil {
				sp := "state." + strconv.Itoa(i) + "."
				s.Values[sp+"step"] = float64(st.step)
				keys := make([]string, 0, len(st.bufs))
				for k := range st.bufs {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					s.Tensors = append(s.Tensors, nn.NamedTensor{Name: sp + k, Tensor: st.bufs[k].Clone()})
				}
			}
			i++
		}
	}
	return s
}

// LoadState restores state saved by State (see Optimizer). It checks
// everything before changing anything.
func (b *base) LoadState(s *State) error {
	if s == nil {
		return fmt.Errorf("optim: %s: LoadState: nil state", b.kind)
	}
	if _, ok := s.Values["param_groups."+strconv.Itoa(len(b.groups))+".lr"]; ok {
		return fmt.Errorf("optim: %s: the saved state has more than %d parameter groups", b.kind, len(b.groups))
	}
	type groupVals struct{ lr, wd, mom float64 }
	gv := make([]groupVals, len(b.groups))
	var params []*nn.Parameter
	for gi, g := range b.groups {
		pre := "param_groups." + strconv.Itoa(gi) + "."
		var err error
		if gv[gi].lr, err = s.value(b.kind, pre+"lr"); err != nil {
			return err
		}
		if gv[gi].wd, err = s.value(b.kind, pre+"weight_decay"); err != nil {
			return err
		}
		if gv[gi].mom, err = s.value(b.kind, pre+"momentum"); err != nil {
			return err
		}
		n, err := s.value(b.kind, pre+"params")
		if err != nil {
			return err
		}
		if int(n) != len(g.Params) {
			return fmt.Errorf("optim: %s: saved group %d has %d parameters, this optimizer's has %d", b.kind, gi, int(n), len(g.Params))
		}
		params = append(params, g.Params...)
	}
	states := map[*nn.Parameter]*paramState{}
	for _, nt := range s.Tensors {
		idx, key, ok := parseStateName(nt.Name)
		if !ok || idx >= len(params) {
			return fmt.Errorf("optim: %s: unexpected tensor %q in the saved state (%d parameters)", b.kind, nt.Name, len(params))
		}
		if !slices.Contains(b.keys, key) {
			return fmt.Errorf("optim: %s: unexpected tensor %q in the saved state (%s keeps %s); was it saved from another kind of optimizer?", b.kind, nt.Name, b.kind, strings.Join(b.keys, ", "))
		}
		p := params[idx]
		if !sameShape(nt.Tensor.Shape(), p.Shape()) {
			return fmt.Errorf("optim: %s: saved %s has shape %v, parameter %d has shape %v", b.kind, nt.Name, nt.Tensor.Shape(), idx, p.Shape())
		}
		st := states[p]
		if st == nil {
			st = &paramState{bufs: map[string]*autograd.Tensor{}}
			states[p] = st
		}
		t := autograd.ZerosLike(p.Tensor)
		autograd.NoGrad(func() { t.CopyFrom(nt.Tensor.To(p.Device())) })
		st.bufs[key] = t
	}
	for i, p := range params {
		step, ok := s.Values["state."+strconv.Itoa(i)+".step"]
		if !ok {
			if states[p] != nil {
				return fmt.Errorf("optim: %s: saved state of parameter %d has buffers but no step count", b.kind, i)
			}
			continue
		}
		if states[p] == nil {
			states[p] = &paramState{bufs: map[string]*autograd.Tensor{}}
		}
		states[p].step = int64(step)
	}
	for gi, g := range b.groups {
		g.LR, g.WeightDecay, b.momentum[gi] = gv[gi].lr, gv[gi].wd, gv[gi].mom
	}
	b.state = states
	return nil
}

// parseStateName splits "state.<i>.<key>".
func parseStateName(name string) (int, string, bool) {
	rest, ok := strings.CutPrefix(name, "state.")
	if !ok {
		return 0, "", false
	}
	num, key, ok := strings.Cut(rest, ".")
	if !ok || key == "" {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, key, true
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// axpy returns a + alpha·b, adding b itself when alpha is 1 (as torch's
// add(b, alpha=1) does).
func axpy(a, b *autograd.Tensor, alpha float64) *autograd.Tensor {
	if alpha == 1 {
		return a.Add(b)
	}
	return a.Add(b.MulScalar(float32(alpha)))
}

// scale returns v·a, or a itself when v is 1.
func scale(a *autograd.Tensor, v float64) *autograd.Tensor {
	if v == 1 {
		return a
	}
	return a.MulScalar(float32(v))
}
