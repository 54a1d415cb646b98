package layers

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// This file holds LoRA (Hu et al., 2021) on a Linear layer and LoRAMoE
// (Dou et al., 2023), a dense mixture of LoRA experts with a localized
// balancing constraint. The reference is Ablustrund/LoRAMoE,
// peft/tuners/lora.py, a fork of an early peft: the adapted layer keeps the
// base layer's "weight" and "bias" at its own level, so a checkpoint of the
// unadapted model still loads into it, and adds "lora_A.weight" and
// "lora_B.weight" (LoRA) or "lora_route.weight", "lora_A0.weight",
// "lora_B0.weight", "lora_A1.weight", ... (LoRAMoE).

// LoRAConfig holds the hyper-parameters of a LoRA adapter.
type LoRAConfig struct {
	// Rank is r, the inner dimension of B·A; it must be positive.
	Rank int
	// Alpha is lora_alpha: the update is scaled by Alpha/Rank. Zero means
	// Alpha = Rank (scaling 1).
	Alpha float64
	// Dropout is the drop probability applied to the adapter's input (the
	// base layer sees x unchanged); zero means none.
	Dropout float64
}

func (c LoRAConfig) scaling(op string) float64 {
	if c.Rank <= 0 {
		panic(fmt.Sprintf("layers: %s: rank %d must be positive", op, c.Rank))
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		panic(fmt.Sprintf("layers: %s: dropout %v is outside [0, 1)", op, c.Dropout))
	}
	if c.Alpha == 0 {
		return 1
	}
	return c.Alpha / float64(c.Rank)
}

// LoRALinear is a Linear layer with a low-rank adapter:
//
//	y = x·W0ᵀ + b0 + (α/r)·B·A·Dropout(x)
//
// with the base weight W0 ([out, in]) and bias b0 frozen, A ([r, in]) drawn
// as kaiming_uniform(a=√5), and B ([out, r]) zero, so that a new adapter
// leaves the base layer's output unchanged and only B gets a gradient at
// the first step. Merge folds (α/r)·B·A into W0 for inference and Unmerge
// takes it out again.
//
// Its state_dict names are "weight" and "bias" (the base layer's),
// "lora_A.weight" and "lora_B.weight".
type LoRALinear struct {
	// Base is the adapted layer; NewLoRALinear freezes it.
	Base *nn.Linear `nn:",inline"`
	// LoRAA is A as a Linear from in to r features, without bias.
	LoRAA *nn.Linear `nn:"lora_A"`
	// LoRAB is B as a Linear from r to out features, without bias.
	LoRAB *nn.Linear `nn:"lora_B"`
	// LoRADropout drops elements of the adapter's input in training mode;
	// nil means no dropout.
	LoRADropout *nn.Dropout `nn:"lora_dropout"`
	// Scaling is α/r.
	Scaling float64

	merged bool
}

// NewLoRALinear wraps base with a LoRA adapter of cfg.Rank, freezing base.
// A is drawn from rng (kaiming_uniform with a = √5, U(±1/√in)); B is zero.
// The dropout layer, if any, draws its masks from rng too.
func NewLoRALinear(rng *autograd.RNG, base *nn.Linear, cfg LoRAConfig) *LoRALinear {
	const op = "NewLoRALinear"
	scaling := cfg.scaling(op)
	loraCheckBase(op, base)
	out, in := base.Weight.Size(0), base.Weight.Size(1)
	nn.Freeze(base)
	l := &LoRALinear{
		Base:    base,
		LoRAA:   &nn.Linear{Weight: nn.NewParameter(autograd.ZerosOn(base.Weight.Device(), cfg.Rank, in))},
		LoRAB:   &nn.Linear{Weight: nn.NewParameter(autograd.ZerosOn(base.Weight.Device(), out, cfg.Rank))},
		Scaling: scaling,
	}
	nn.KaimingUniform(l.LoRAA.Weight.Tensor, math.Sqrt(5), nn.FanIn, "leaky_relu", rng)
	if cfg.Dropout > 0 {
		l.LoRADropout = nn.NewDropout(cfg.Dropout, rng)
	}
	return l
}

func loraCheckBase(op string, base *nn.Linear) {
	if base == nil || base.Weight == nil || base.Weight.Dim() != 2 {
		panic(fmt.Sprintf("layers: %s: the base layer must be a Linear with a 2-D weight", op))
	}
}

// Rank returns r.
func (l *LoRALinear) Rank() int { return l.LoRAA.Weight.Size(0) }

// Merged reports whether the update is folded into the base weight.
func (l *LoRALinear) Merged() bool { return l.merged }

// Forward returns the base layer's output plus the scaled low-rank update
// (the base layer's output alone while merged). x is [..., in].
func (l *LoRALinear) Forward(x *autograd.Tensor) *autograd.Tensor {
	y := l.Base.Forward(x)
	if l.merged {
		return y
	}
	h := x
	if l.LoRADropout != nil {
		h = l.LoRADropout.Forward(h)
	}
	// Scale the rank-r activation rather than the output: the same value
	// up to rounding, r/out times fewer multiplications.
	h = autograd.MatMulT(h, l.LoRAA.Weight.Tensor, false, true).MulScalar(float32(l.Scaling))
	return y.Add(autograd.MatMulT(h, l.LoRAB.Weight.Tensor, false, true))
}

// Delta returns the update (α/r)·B·A ([out, in]) that Merge adds to the
// base weight, outside the graph.
func (l *LoRALinear) Delta() *autograd.Tensor {
	var d *autograd.Tensor
	autograd.NoGrad(func() {
		d = l.LoRAB.Weight.MatMul(l.LoRAA.Weight.Tensor).MulScalar(float32(l.Scaling))
	})
	return d
}

// Merge adds (α/r)·B·A into the base weight in place, so that Forward costs
// one Linear; it does nothing when already merged. Training A or B while
// merged has no effect on the output: Unmerge first.
func (l *LoRALinear) Merge() {
	if l.merged {
		return
	}
	d := l.Delta()
	autograd.NoGrad(func() { l.Base.Weight.AddInPlace(d, 1) })
	l.merged = true
}

// Unmerge subtracts (α/r)·B·A from the base weight again (the original
// weight up to rounding); it does nothing when not merged.
func (l *LoRALinear) Unmerge() {
	if !l.merged {
		return
	}
	d := l.Delta()
	autograd.NoGrad(func() { l.Base.Weight.AddInPlace(d, -1) })
	l.merged = false
}

// LoRAMoEConfig holds the hyper-parameters of a LoRAMoE layer.
type LoRAMoEConfig struct {
	// Experts is E (lora_nums), the number of LoRA experts; it must be
	// positive, and even for the balancing loss.
	Experts int
	// Rank, Alpha and Dropout are each expert's, as in LoRAConfig; Dropout
	// draws an independent mask for every expert, as the reference does.
	Rank    int
	Alpha   float64
	Dropout float64
	// BalanceDelta is δ (blc_alpha) of the localized balancing constraint.
	BalanceDelta float64
	// BalanceWeight is β (blc_weight), the factor ForwardBalance applies
	// to the constraint; zero switches it off.
	BalanceWeight float64
}

// LoRAMoE is a frozen Linear layer plus E LoRA experts mixed by a dense
// softmax router, the layer of LoRAMoE:
//
//	ω = softmax(x·W_gᵀ)                       per token, [..., E]
//	y = x·W0ᵀ + b0 + (α/r)·Σ_e ω_e · B_e·A_e·Dropout_e(x)
//
// with W_g ([E, in], no bias) and each A_e ([r, in]) drawn as
// kaiming_uniform(a=√5) and each B_e ([out, r]) zero, so that a new layer
// returns the base output exactly. There is no weight merge: the mixture
// depends on x. ForwardBalance also returns the localized balancing
// constraint (see LoRAMoEBalanceLoss).
//
// Its state_dict names are "weight" and "bias" (the base layer's),
// "lora_route.weight", and "lora_A0.weight", "lora_B0.weight",
// "lora_A1.weight", ... in that order, as the reference registers them.
type LoRAMoE struct {
	// Base is the adapted layer; NewLoRAMoE freezes it.
	Base *nn.Linear `nn:",inline"`
	// Route is the router W_g, a Linear from in to E features without bias.
	Route *nn.Linear `nn:"lora_route"`
	// Experts holds A_0, B_0, A_1, B_1, ... under their state_dict names;
	// A and B return them by expert.
	Experts []nn.NamedParameter `nn:",inline"`
	// LoRADropout drops elements of each expert's input in training mode;
	// nil means no dropout.
	LoRADropout *nn.Dropout `nn:"lora_dropout"`
	// Scaling is α/r.
	Scaling float64
	// BalanceDelta and BalanceWeight are δ and β of the balancing
	// constraint (see LoRAMoEConfig).
	BalanceDelta, BalanceWeight float64
}

// NewLoRAMoE wraps base with cfg.Experts LoRA experts and a router,
// freezing base. The weights are drawn from rng in the reference's order:
// A_0, ..., A_{E−1} (B_e are zero), then the router; the dropout layer, if
// any, draws its masks from rng too.
func NewLoRAMoE(rng *autograd.RNG, base *nn.Linear, cfg LoRAMoEConfig) *LoRAMoE {
	const op = "NewLoRAMoE"
	scaling := LoRAConfig{Rank: cfg.Rank, Alpha: cfg.Alpha, Dropout: cfg.Dropout}.scaling(op)
	if cfg.Experts <= 0 {
		panic(fmt.Sprintf("layers: %s: %d experts; need at least one", op, cfg.Experts))
	}
	loraCheckBase(op, base)
	out, in := base.Weight.Size(0), base.Weight.Size(1)
	dev := base.Weight.Device()
	nn.Freeze(base)
	m := &LoRAMoE{
		Base:          base,
		Route:         &nn.Linear{Weight: nn.NewParameter(autograd.ZerosOn(dev, cfg.Experts, in))},
		Scaling:       scaling,
		BalanceDelta:  cfg.BalanceDelta,
		BalanceWeight: cfg.BalanceWeight,
	}
	for e := 0; e < cfg.Experts; e++ {
		a := nn.NewParameter(autograd.ZerosOn(dev, cfg.Rank, in))
		nn.KaimingUniform(a.Tensor, math.Sqrt(5), nn.FanIn, "leaky_relu", rng)
		b := nn.NewParameter(autograd.ZerosOn(dev, out, cfg.Rank))
		m.Experts = append(m.Experts,
			nn.NamedParameter{Name: fmt.Sprintf("lora_A%d.weight", e), Param: a},
			nn.NamedParameter{Name: fmt.Sprintf("lora_B%d.weight", e), Param: b})
	}
	nn.KaimingUniform(m.Route.Weight.Tensor, math.Sqrt(5), nn.FanIn, "leaky_relu", rng)
	if cfg.Dropout > 0 {
		m.LoRADropout = nn.NewDropout(cfg.Dropout, rng)
	}
	return m
}

// NumExperts returns E.
func (m *LoRAMoE) NumExperts() int { return len(m.Experts) / 2 }

// A returns expert e's down-projection A_e ([r, in]).
func (m *LoRAMoE) A(e int) *nn.Parameter { return m.Experts[2*e].Param }

// B returns expert e's up-projection B_e ([out, r]).
func (m *LoRAMoE) B(e int) *nn.Parameter { return m.Experts[2*e+1].Param }

// Forward returns the layer's output for x of shape [..., in].
func (m *LoRAMoE) Forward(x *autograd.Tensor) *autograd.Tensor {
	y, _ := m.ForwardRoute(x)
	return y
}

// ForwardRoute returns the output and the router's weights ω ([..., E],
// each row summing to 1) for x of shape [..., in].
func (m *LoRAMoE) ForwardRoute(x *autograd.Tensor) (y, route *autograd.Tensor) {
	const op = "LoRAMoE"
	e := m.NumExperts()
	if e == 0 || len(m.Experts) != 2*e {
		panic(fmt.Sprintf("layers: %s: %d expert parameters; need A and B for each expert", op, len(m.Experts)))
	}
	in := m.Base.Weight.Size(1)
	if x.Dim() == 0 || x.Size(-1) != in {
		panic(fmt.Sprintf("layers: %s: input of shape %v does not end in in_features=%d", op, x.Shape(), in))
	}
	r := m.A(0).Size(0)
	y = m.Base.Forward(x)

	// All experts' A and the router in one product,
	// [A_0 x, A_1 x, ..., W_g x] ([..., E·r + E]): x is read once and the
	// backward pass runs one product for x's gradient instead of E + 1
	// thin ones. With dropout each expert needs its own mask instead.
	as := make([]*autograd.Tensor, e, e+1)
	bs := make([]*autograd.Tensor, e)
	for i := range e {
		as[i], bs[i] = m.A(i).Tensor, m.B(i).Tensor
	}
	var h, logits *autograd.Tensor
	if d := m.LoRADropout; d != nil && d.Training() && d.P > 0 {
		logits = autograd.MatMulT(x, m.Route.Weight.Tensor, false, true)
		hs := make([]*autograd.Tensor, e)
		for i := range e {
			hs[i] = autograd.MatMulT(d.Forward(x), as[i], false, true)
		}
		h = autograd.Concat(hs, -1)
	} else {
		hl := autograd.MatMulT(x, autograd.Concat(append(as, m.Route.Weight.Tensor), 0), false, true)
		h, logits = hl.Narrow(-1, 0, e*r), hl.Narrow(-1, e*r, e)
	}
	route = logits.Softmax(-1)
	// Weigh each expert's rank-r block by α/r·ω_e, then B = [B_0 B_1 ...]
	// sums the experts in one product.
	lead := x.Shape()[:x.Dim()-1]
	w := route.MulScalar(float32(m.Scaling)).Unsqueeze(-1)
	h = h.Reshape(append(append([]int{}, lead...), e, r)...).Mul(w).Reshape(append(append([]int{}, lead...), e*r)...)
	y = y.Add(autograd.MatMulT(h, autograd.Concat(bs, 1), false, true))
	return y, route
}

// ForwardBalance returns the output for x of shape [B, ..., in] and the
// weighted balancing constraint BalanceWeight·LoRAMoEBalanceLoss(ω, types,
// BalanceDelta), where types holds each sample's type (one per entry of
// x's first dimension). The loss is a scalar zero when BalanceWeight is 0,
// as in the reference's forward(x, task_types).
func (m *LoRAMoE) ForwardBalance(x *autograd.Tensor, types []int) (y, loss *autograd.Tensor) {
	y, route := m.ForwardRoute(x)
	if m.BalanceWeight == 0 {
		return y, autograd.ZerosOn(y.Device())
	}
	return y, LoRAMoEBalanceLoss(route, types, m.BalanceDelta).MulScalar(float32(m.BalanceWeight))
}

// LoRAMoEBalanceLoss is LoRAMoE's localized balancing constraint for the
// router weights route ([N, ..., E], N samples, E even) and each sample's
// type:
//
//	Q[n, e] = Σ over the middle dimensions (tokens) of route[n, ..., e]
//	I[n, e] = 1+δ if expert e is in the sample's group, else 1−δ
//	Z = I ⊙ Q,  L = Var(Z) / (Mean(Z)² + 1e−10)
//
// with the unbiased variance and the mean over all N·E entries (the squared
// coefficient of variation; 0 when Z has no two entries). Type 1 samples boost
// the first half of the experts and type 0 samples the second half; any
// other type boosts none (every entry 1−δ), as the reference's mask does.
// L is 0 for a constant Z and does not change when Z is scaled.
func LoRAMoEBalanceLoss(route *autograd.Tensor, types []int, delta float64) *autograd.Tensor {
	const op = "LoRAMoEBalanceLoss"
	if route.Dim() < 2 {
		panic(fmt.Sprintf("layers: %s: router weights %v are not [N, ..., E]", op, route.Shape()))
	}
	n, e := route.Size(0), route.Size(-1)
	if len(types) != n {
		panic(fmt.Sprintf("layers: %s: %d types for router weights %v (one per sample)", op, len(types), route.Shape()))
	}
	if e%2 != 0 {
		panic(fmt.Sprintf("layers: %s: router weights %v: the constraint splits the experts in two halves and needs an even count", op, route.Shape()))
	}
	q := route
	if route.Dim() > 2 {
		axes := make([]int, route.Dim()-2)
		for i := range axes {
			axes[i] = i + 1
		}
		q = route.Sum(axes...)
	}
	imp := make([]float32, n*e)
	hi, lo := float32(1+delta), float32(1-delta)
	for i, t := range types {
		for j := range e {
			v := lo
			if (t == 1 && j < e/2) || (t == 0 && j >= e/2) {
				v = hi
			}
			imp[i*e+j] = v
		}
	}
	z := q.Mul(autograd.New(imp, n, e).To(route.Device())).Reshape(n * e)
	if n*e < 2 {
		return z.Sum().MulScalar(0)
	}
	mean := z.Mean()
	return z.Var().Div(mean.Square().AddScalar(1e-10))
}
