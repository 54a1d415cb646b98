package optim

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// EMA keeps an exponential moving average of a model's weights (its
// parameters and buffers), as timm's ModelEmaV2: after each optimizer step,
// Update sets every average to
//
//	ema ← d·ema + (1−d)·weight
//
// with the decay d fixed, or, after SetWarmup, growing with the number of
// updates t as timm's ModelEmaV3: d = min(Decay, 1 − (1 + t/γ)^−power).
// Evaluate the averaged model by copying the averages into a second
// instance of the model with CopyTo, or save them with StateDict.
type EMA struct {
	decay       float64
	warmupGamma float64
	warmupPower float64
	model       any `nn:"-"`
	names       []string
	shadow      []*autograd.Tensor
	updates     int64
}

// NewEMA starts an average of model's current weights with the given
// decay (timm's default is 0.9999).
func NewEMA(model any, decay float64) *EMA {
	if decay < 0 || decay > 1 {
		panic(fmt.Sprintf("optim: NewEMA: decay %v is outside [0, 1]", decay))
	}
	e := &EMA{decay: decay, model: model}
	autograd.NoGrad(func() {
		for _, nt := range nn.NamedStateDict(model) {
			e.names = append(e.names, nt.Name)
			e.shadow = append(e.shadow, nt.Tensor.Detach().Clone())
		}
	})
	return e
}

// SetWarmup makes the decay grow with the number of updates t as
// 1 − (1 + t/gamma)^−power, capped at the decay given to NewEMA (timm's
// defaults are gamma 1 and power 2/3; power 3/4 suits short runs). It
// returns e.
func (e *EMA) SetWarmup(gamma, power float64) *EMA {
	if gamma <= 0 || power <= 0 {
		panic(fmt.Sprintf("optim: EMA.SetWarmup: gamma and power must be positive, got %v and %v", gamma, power))
	}
	e.warmupGamma, e.warmupPower = gamma, power
	return e
}

// Decay returns the decay the next Update will use.
func (e *EMA) Decay() float64 {
	if e.warmupPower == 0 {
		return e.decay
	}
	t := float64(e.updates + 1)
	d := 1 - math.Pow(1+t/e.warmupGamma, -e.warmupPower)
	return math.Max(math.Min(d, e.decay), 0)
}

// Updates returns the number of Update calls so far.
func (e *EMA) Updates() int64 { return e.updates }

// current returns the model's tensors in the order of e.names (walking
// the model again, so that a buffer whose tensor was replaced is seen),
// panicking if the model's structure changed.
func (e *EMA) current() []*autograd.Tensor {
	sd := nn.NamedStateDict(e.model)
	if len(sd) != len(e.names) {
		panic(fmt.Sprintf("optim: EMA: the model now has %d tensors, it had %d when the EMA was made", len(sd), len(e.names)))
	}
	out := make([]*autograd.Tensor, len(sd))
	for i, nt := range sd {
		if nt.Name != e.names[i] || !sameShape(nt.Tensor.Shape(), e.shadow[i].Shape()) {
			panic(fmt.Sprintf("optim: EMA: the model's tensor %d is %q %v, it was %q %v when the EMA was made", i, nt.Name, nt.Tensor.Shape(), e.names[i], e.shadow[i].Shape()))
		}
		out[i] = nt.Tensor
	}
	return out
}

// Update folds the model's current weights into the averages.
func (e *EMA) Update() {
	d := e.Decay()
	weights := e.current()
	autograd.NoGrad(func() {
		for i, w := range weights {
			s := e.shadow[i]
			if s.Device() != w.Device() {
				s = s.To(w.Device())
			}
			e.shadow[i] = s.MulScalar(float32(d)).Add(w.MulScalar(float32(1 - d)))
		}
	})
	e.updates++
}

// StateDict returns the averaged weights under the model's state_dict
// names (copies), ready for nn.SaveSafetensors.
func (e *EMA) StateDict() []nn.NamedTensor {
	out := make([]nn.NamedTensor, len(e.names))
	for i, n := range e.names {
		out[i] = nn.NamedTensor{Name: n, Tensor: e.shadow[i].Clone()}
	}
	return out
}

// CopyTo loads the averaged weights into model, which must have the same
// state_dict names and shapes (a second instance of the model, or the
// model itself to finish training with the averages).
func (e *EMA) CopyTo(model any) error {
	sd := make(map[string]*autograd.Tensor, len(e.names))
	for i, n := range e.names {
		sd[n] = e.shadow[i]
	}
	_, err := nn.LoadStateDict(model, sd, true)
	return err
}

// State returns the averages and the update count for a checkpoint.
func (e *EMA) State() *State {
	return &State{Tensors: e.StateDict(), Values: map[string]float64{"updates": float64(e.updates)}}
}

// LoadState restores averages and the update count saved by State.
func (e *EMA) LoadState(s *State) error {
	if s == nil {
		return fmt.Errorf("optim: EMA: LoadState: nil state")
	}
	n, err := s.value("EMA", "updates")
	if err != nil {
		return err
	}
	weights := e.current()
	shadow := make([]*autograd.Tensor, len(e.names))
	for i, name := range e.names {
		t := s.tensor(name)
		if t == nil {
			return fmt.Errorf("optim: EMA: the saved state has no average for %q", name)
		}
		if !sameShape(t.Shape(), weights[i].Shape()) {
			return fmt.Errorf("optim: EMA: saved average %q has shape %v, the model's tensor %v", name, t.Shape(), weights[i].Shape())
		}
		shadow[i] = t.Detach().To(weights[i].Device()).Clone()
	}
	if len(s.Tensors) != len(e.names) {
		return fmt.Errorf("optim: EMA: the saved state has %d averages, the model %d tensors", len(s.Tensors), len(e.names))
	}
	e.shadow, e.updates = shadow, int64(n)
	return nil
}
