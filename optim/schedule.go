package optim

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Scheduler sets the learning rates of an optimizer's groups as training
// progresses, as torch.optim.lr_scheduler's schedulers do. A new scheduler
// records each group's current LR as its base LR and sets the LRs for step
// 0; call Step after each optimizer step to move to the next.
//
// Schedulers here compute each LR in closed form from the step count and
// the base LRs (torch's _get_closed_form_lr), so they do not compound
// rounding and their state is just the step count. They are not meant to
// be chained on one optimizer.
type Scheduler interface {
	// Step advances the schedule by one step and sets the groups' LRs.
	Step()
	// LastLR returns the LRs the last Step (or the constructor) set, one
	// per group, as torch's get_last_lr().
	LastLR() []float64
	// State returns the scheduler's state for a checkpoint.
	State() *State
	// LoadState restores state saved by State and sets the LRs it implies.
	LoadState(s *State) error
}

// schedule is the shared part of the schedulers: the optimizer, the base
// LRs, the step count and the rule.
type schedule struct {
	kind    string
	opt     Optimizer `nn:"-"`
	baseLRs []float64
	epoch   int
	lastLR  []float64
	lr      func(epoch, group int, base float64) float64
	// after runs after the LRs are set (OneCycle's momentum).
	after func(epoch int)
}

func newSchedule(kind string, opt Optimizer, lr func(epoch, group int, base float64) float64) *schedule {
	if opt == nil {
		panic(fmt.Sprintf("optim: %s: nil optimizer", kind))
	}
	s := &schedule{kind: kind, opt: opt, lr: lr}
	for _, g := range opt.ParamGroups() {
		s.baseLRs = append(s.baseLRs, g.LR)
	}
	return s
}

// apply sets every group's LR for the current step.
func (s *schedule) apply() {
	groups := s.opt.ParamGroups()
	s.lastLR = make([]float64, len(groups))
	for i, g := range groups {
		g.LR = s.lr(s.epoch, i, s.baseLRs[i])
		s.lastLR[i] = g.LR
	}
	if s.after != nil {
		s.after(s.epoch)
	}
}

// Step advances the schedule by one step (see Scheduler).
func (s *schedule) Step() {
	s.epoch++
	s.apply()
}

// LastLR returns the LRs last set (see Scheduler).
func (s *schedule) LastLR() []float64 { return append([]float64(nil), s.lastLR...) }

// Epoch returns the number of Step calls so far (torch's last_epoch).
func (s *schedule) Epoch() int { return s.epoch }

// State returns the step count and the base LRs (see Scheduler).
func (s *schedule) State() *State {
	st := &State{Values: map[string]float64{"last_epoch": float64(s.epoch)}}
	for i, b := range s.baseLRs {
		st.Values["base_lrs."+strconv.Itoa(i)] = b
	}
	return st
}

// LoadState restores the step count and base LRs and sets the LRs for
// that step (see Scheduler).
func (s *schedule) LoadState(st *State) error {
	if st == nil {
		return fmt.Errorf("optim: %s: LoadState: nil state", s.kind)
	}
	e, err := st.value(s.kind, "last_epoch")
	if err != nil {
		return err
	}
	bases := make([]float64, len(s.baseLRs))
	for i := range bases {
		if bases[i], err = st.value(s.kind, "base_lrs."+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	if _, ok := st.Values["base_lrs."+strconv.Itoa(len(bases))]; ok {
		return fmt.Errorf("optim: %s: the saved state has more than %d groups", s.kind, len(bases))
	}
	s.epoch, s.baseLRs = int(e), bases
	s.apply()
	return nil
}

// StepLR multiplies the LR by Gamma every StepSize steps, as
// torch.optim.lr_scheduler.StepLR: lr = base·γ^⌊step/StepSize⌋.
type StepLR struct{ *schedule }

// NewStepLR returns a StepLR schedule on opt's groups.
func NewStepLR(opt Optimizer, stepSize int, gamma float64) *StepLR {
	if stepSize <= 0 {
		panic(fmt.Sprintf("optim: StepLR: step size must be positive, got %d", stepSize))
	}
	s := newSchedule("StepLR", opt, func(e, _ int, base float64) float64 {
		return base * math.Pow(gamma, float64(e/stepSize))
	})
	s.apply()
	return &StepLR{s}
}

// MultiStepLR multiplies the LR by Gamma at each milestone step, as
// torch.optim.lr_scheduler.MultiStepLR: lr = base·γ^(milestones ≤ step).
// A milestone listed twice counts twice.
type MultiStepLR struct{ *schedule }

// NewMultiStepLR returns a MultiStepLR schedule on opt's groups.
func NewMultiStepLR(opt Optimizer, milestones []int, gamma float64) *MultiStepLR {
	ms := append([]int(nil), milestones...)
	sort.Ints(ms)
	s := newSchedule("MultiStepLR", opt, func(e, _ int, base float64) float64 {
		n := sort.Search(len(ms), func(i int) bool { return ms[i] > e }) // bisect_right
		return base * math.Pow(gamma, float64(n))
	})
	s.apply()
	return &MultiStepLR{s}
}

// WarmupCosineConfig describes a cosine schedule with linear warmup.
type WarmupCosineConfig struct {
	// WarmupSteps is the length of the linear warmup (0 for none).
	WarmupSteps int
	// TotalSteps is the step at which the LR reaches MinLR; it stays there
	// after.
	TotalSteps int
	// StartFactor is the LR at step 0 as a fraction of the base LR; the
	// warmup rises linearly from it to 1 (0 starts from zero).
	StartFactor float64
	// MinLR is the final LR (eta_min), the same for every group.
	MinLR float64
}

// WarmupCosine warms the LR up linearly and then anneals it along a half
// cosine: for step e < W (WarmupSteps)
//
//	lr = base·(s + (1−s)·e/W)
//
// and after, with t = e − W and T = TotalSteps − W,
//
//	lr = MinLR + (base − MinLR)·(1 + cos(π·min(t, T)/T))/2
//
// which is torch's SequentialLR of LinearLR(start_factor=s, total_iters=W)
// and CosineAnnealingLR(T_max=T, eta_min=MinLR) with milestone W, in closed
// form (and the schedule of timm's and Hugging Face's cosine-with-warmup).
type WarmupCosine struct{ *schedule }

// NewWarmupCosine returns a WarmupCosine schedule on opt's groups.
func NewWarmupCosine(opt Optimizer, cfg WarmupCosineConfig) *WarmupCosine {
	w, total := cfg.WarmupSteps, cfg.TotalSteps
	if w < 0 || total < w {
		panic(fmt.Sprintf("optim: WarmupCosine: need 0 ≤ WarmupSteps ≤ TotalSteps, got %d and %d", w, total))
	}
	s := newSchedule("WarmupCosine", opt, func(e, _ int, base float64) float64 {
		if e < w {
			return base * (cfg.StartFactor + (1-cfg.StartFactor)*float64(e)/float64(w))
		}
		T := total - w
		if T == 0 {
			return cfg.MinLR
		}
		t := min(e-w, T)
		return cfg.MinLR + (base-cfg.MinLR)*(1+math.Cos(math.Pi*float64(t)/float64(T)))/2
	})
	s.apply()
	return &WarmupCosine{s}
}

// OneCycleConfig holds the arguments of torch.optim.lr_scheduler.OneCycleLR.
type OneCycleConfig struct {
	// MaxLR is the peak LR: one value for every group, or one per group.
	MaxLR []float64
	// TotalSteps is the length of the cycle; Step may be called
	// TotalSteps times.
	TotalSteps int
	// PctStart is the fraction of the cycle spent increasing the LR.
	PctStart float64
	// Linear anneals linearly instead of along a cosine.
	Linear bool
	// DivFactor gives the initial LR, MaxLR/DivFactor.
	DivFactor float64
	// FinalDivFactor gives the final LR, initial LR/FinalDivFactor.
	FinalDivFactor float64
	// ThreePhase goes back down to the initial LR before annealing to
	// the final one, as in fast.ai's original schedule.
	ThreePhase bool
	// CycleMomentum cycles the optimizer's momentum (β1 for Adam)
	// inversely to the LR, between BaseMomentum and MaxMomentum; it needs
	// a MomentumOptimizer (every optimizer of this package is one).
	CycleMomentum             bool
	BaseMomentum, MaxMomentum float64
}

// DefaultOneCycleConfig returns torch's defaults for OneCycleLR: cosine
// annealing, PctStart 0.3, DivFactor 25, FinalDivFactor 1e4, two phases,
// and momentum cycled between 0.85 and 0.95.
func DefaultOneCycleConfig(maxLR float64, totalSteps int) OneCycleConfig {
	return OneCycleConfig{
		MaxLR: []float64{maxLR}, TotalSteps: totalSteps, PctStart: 0.3,
		DivFactor: 25, FinalDivFactor: 1e4,
		CycleMomentum: true, BaseMomentum: 0.85, MaxMomentum: 0.95,
	}
}

// OneCycle is the one-cycle policy of torch.optim.lr_scheduler.OneCycleLR
// (Smith and Topin): the LR rises from MaxLR/DivFactor to MaxLR over the
// first PctStart of the steps, then anneals to MaxLR/DivFactor/
// FinalDivFactor, while the momentum, if cycled, does the opposite. The
// base LRs of the optimizer's groups are replaced by the initial LRs.
type OneCycle struct {
	*schedule
	cfg OneCycleConfig
}

type phase struct {
	end              float64
	startLR, endLR   int // 0 initial, 1 max, 2 min
	startMom, endMom float64
}

// NewOneCycle returns a OneCycle schedule on opt's groups. It panics on
// invalid arguments, as torch raises.
func NewOneCycle(opt Optimizer, cfg OneCycleConfig) *OneCycle {
	groups := opt.ParamGroups()
	if cfg.TotalSteps <= 0 {
		panic(fmt.Sprintf("optim: OneCycle: TotalSteps must be positive, got %d", cfg.TotalSteps))
	}
	if cfg.PctStart < 0 || cfg.PctStart > 1 {
		panic(fmt.Sprintf("optim: OneCycle: PctStart must be in [0, 1], got %v", cfg.PctStart))
	}
	maxLR := cfg.MaxLR
	switch len(maxLR) {
	case 1:
		maxLR = make([]float64, len(groups))
		for i := range maxLR {
			maxLR[i] = cfg.MaxLR[0]
		}
	case len(groups):
		maxLR = append([]float64(nil), maxLR...)
	default:
		panic(fmt.Sprintf("optim: OneCycle: %d MaxLR values for %d groups (give one, or one per group)", len(cfg.MaxLR), len(groups)))
	}
	cfg.MaxLR = maxLR
	var mo MomentumOptimizer
	if cfg.CycleMomentum {
		var ok bool
		if mo, ok = opt.(MomentumOptimizer); !ok {
			panic("optim: OneCycle: CycleMomentum needs an optimizer with a momentum (a MomentumOptimizer)")
		}
	}
	pct := cfg.PctStart * float64(cfg.TotalSteps)
	last := float64(cfg.TotalSteps - 1)
	var phases []phase
	if cfg.ThreePhase {
		phases = []phase{
			{pct - 1, 0, 1, cfg.MaxMomentum, cfg.BaseMomentum},
			{2*pct - 2, 1, 0, cfg.BaseMomentum, cfg.MaxMomentum},
			{last, 0, 2, cfg.MaxMomentum, cfg.MaxMomentum},
		}
	} else {
		phases = []phase{
			{pct - 1, 0, 1, cfg.MaxMomentum, cfg.BaseMomentum},
			{last, 1, 2, cfg.BaseMomentum, cfg.MaxMomentum},
		}
	}
	anneal := func(start, end, pct float64) float64 {
		if cfg.Linear {
			return (end-start)*pct + start
		}
		return end + (start-end)/2*(math.Cos(math.Pi*pct)+1)
	}
	// lrs gives group i's initial, max and min LR.
	lrs := func(i int) [3]float64 {
		initial := maxLR[i] / cfg.DivFactor
		return [3]float64{initial, maxLR[i], initial / cfg.FinalDivFactor}
	}
	// at returns the phase fraction for step e, as torch's get_lr.
	at := func(e int) (phase, float64) {
		if e > cfg.TotalSteps {
			panic(fmt.Sprintf("optim: OneCycle: tried to step %d times; the schedule has %d steps", e, cfg.TotalSteps))
		}
		start := 0.0
		for i, ph := range phases {
			if float64(e) <= ph.end || i == len(phases)-1 {
				return ph, (float64(e) - start) / (ph.end - start)
			}
			start = ph.end
		}
		panic("unreachable")
	}
	s := newSchedule("OneCycle", opt, func(e, i int, _ float64) float64 {
		ph, p := at(e)
		l := lrs(i)
		return anneal(l[ph.startLR], l[ph.endLR], p)
	})
	for i := range s.baseLRs {
		s.baseLRs[i] = lrs(i)[0]
	}
	if mo != nil {
		s.after = func(e int) {
			ph, p := at(e)
			m := anneal(ph.startMom, ph.endMom, p)
			for i := range groups {
				mo.SetMomentum(i, m)
			}
		}
	}
	s.apply()
	return &OneCycle{schedule: s, cfg: cfg}
}
