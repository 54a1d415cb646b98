package layers_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/nn"
)

// loraTypes reads the sample types a golden stores (int64 as float32).
func loraTypes(t *autograd.Tensor) []int {
	d := t.Data()
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out
}

func TestLoRAGoldens(t *testing.T) {
	lora := func(bias bool) func(*autograd.RNG) any {
		return func(r *autograd.RNG) any {
			return layers.NewLoRALinear(r, nn.NewLinear(r, 6, 5, bias), layers.LoRAConfig{Rank: 3, Alpha: 6})
		}
	}
	moe := func(e int, delta, weight float64) func(*autograd.RNG) any {
		return func(r *autograd.RNG) any {
			return layers.NewLoRAMoE(r, nn.NewLinear(r, 6, 5, true), layers.LoRAMoEConfig{
				Experts: e, Rank: 2, Alpha: 4, BalanceDelta: delta, BalanceWeight: weight})
		}
	}
	ssfRunGoldens(t, "adapt", []ssfGoldenCase{
		{name: "lora", build: lora(true)},
		{name: "lora_nobias", build: lora(false)},
		{name: "loramoe", build: moe(4, 0, 0)},
		{name: "loramoe_e1", build: moe(1, 0, 0)},
		{name: "loramoe_blc", build: moe(4, 0.1, 0.5), forward: func(m any, in ssfIO) ssfIO {
			y, blc := m.(*layers.LoRAMoE).ForwardBalance(in["input"], loraTypes(in["types"]))
			return ssfIO{"output": y, "blc": blc}
		}},
	})
}

func TestLoRANames(t *testing.T) {
	rng := autograd.NewRNG(1)
	l := layers.NewLoRALinear(rng, nn.NewLinear(rng, 6, 5, true), layers.LoRAConfig{Rank: 2, Dropout: 0.1})
	var names []string
	for _, np := range nn.NamedParameters(l) {
		names = append(names, np.Name)
	}
	assert.Equal(t, []string{"weight", "bias", "lora_A.weight", "lora_B.weight"}, names)
	trainable, total := nn.NumParams(l)
	assert.Equal(t, 2*(6+5), trainable, "r·(in + out)")
	assert.Equal(t, 6*5+5+2*(6+5), total)
	assert.Equal(t, 2, l.Rank())
	assert.Equal(t, 1.0, l.Scaling, "Alpha 0 means scaling 1")

	m := layers.NewLoRAMoE(rng, nn.NewLinear(rng, 6, 5, true), layers.LoRAMoEConfig{Experts: 3, Rank: 2, Alpha: 8})
	names = names[:0]
	for _, np := range nn.NamedParameters(m) {
		names = append(names, np.Name)
	}
	assert.Equal(t, []string{"weight", "bias", "lora_route.weight",
		"lora_A0.weight", "lora_B0.weight", "lora_A1.weight", "lora_B1.weight", "lora_A2.weight", "lora_B2.weight"}, names)
	trainable, _ = nn.NumParams(m)
	assert.Equal(t, 3*2*(6+5)+3*6, trainable, "E·r·(in + out) + E·in")
	assert.Equal(t, 4.0, m.Scaling)
	assert.Equal(t, 3, m.NumExperts())
}

// TestLoRAInit: A is U(±1/√in), B is 0, so a new adapter returns the
// frozen base's output exactly, the base gets no gradient, A gets none
// either (B = 0 blocks it) and B does.
func TestLoRAInit(t *testing.T) {
	rng := autograd.NewRNG(2)
	base := nn.NewLinear(rng, 64, 16, true)
	x := rng.Normal(0, 1, 4, 3, 64).SetRequiresGrad(true)
	want := base.Forward(x).Data()
	l := layers.NewLoRALinear(rng, base, layers.LoRAConfig{Rank: 8, Alpha: 16, Dropout: 0.2})
	assert.False(t, base.Weight.RequiresGrad(), "the base is frozen")
	bound := 1 / math.Sqrt(64)
	for _, v := range l.LoRAA.Weight.Data() {
		require.LessOrEqual(t, math.Abs(float64(v)), bound)
	}
	for _, v := range l.LoRAB.Weight.Data() {
		require.Zero(t, v)
	}
	y := l.Forward(x)
	assert.Equal(t, want, y.Data(), "B = 0: exactly the base output")
	y.Square().Sum().Backward()
	assert.Nil(t, base.Weight.Grad)
	assert.Nil(t, base.Bias.Grad)
	assert.InDelta(t, 0, loraAbsMax(l.LoRAA.Weight.Grad), 0)
	assert.Greater(t, loraAbsMax(l.LoRAB.Weight.Grad), 0.0)
}

func loraAbsMax(t *autograd.Tensor) float64 {
	m := 0.0
	for _, v := range t.Data() {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// loraTrained returns a LoRA layer whose B is no longer zero.
func loraTrained(rng *autograd.RNG) *layers.LoRALinear {
	l := layers.NewLoRALinear(rng, nn.NewLinear(rng, 12, 10, true), layers.LoRAConfig{Rank: 4, Alpha: 8})
	nn.Normal(l.LoRAB.Weight.Tensor, 0, 0.3, rng)
	return l
}

func TestLoRAMerge(t *testing.T) {
	rng := autograd.NewRNG(3)
	l := loraTrained(rng)
	w0 := l.Base.Weight.Clone()
	x := rng.Normal(0, 1, 5, 12)
	want := l.Forward(x)
	l.Merge()
	assert.True(t, l.Merged())
	ssfAssertClose(t, want, l.Forward(x), 1e-5, "merged output")
	ssfAssertClose(t, w0.Add(l.Delta()), l.Base.Weight.Tensor, 1e-6, "W0 + (α/r)·B·A")
	l.Merge() // no-op
	ssfAssertClose(t, w0.Add(l.Delta()), l.Base.Weight.Tensor, 1e-6, "a second Merge does nothing")
	l.Unmerge()
	assert.False(t, l.Merged())
	ssfAssertClose(t, w0, l.Base.Weight.Tensor, 1e-6, "merge then unmerge restores the weight")
	ssfAssertClose(t, want, l.Forward(x), 1e-5, "unmerged output")
	l.Unmerge() // no-op
	ssfAssertClose(t, w0, l.Base.Weight.Tensor, 1e-6, "a second Unmerge does nothing")
}

func TestLoRADropout(t *testing.T) {
	rng := autograd.NewRNG(4)
	base := nn.NewLinear(rng, 8, 6, true)
	l := layers.NewLoRALinear(rng, base, layers.LoRAConfig{Rank: 2, Dropout: 0.5})
	nn.Normal(l.LoRAB.Weight.Tensor, 0, 1, rng)
	plain := &layers.LoRALinear{Base: base, LoRAA: l.LoRAA, LoRAB: l.LoRAB, Scaling: l.Scaling}
	x := rng.Normal(0, 1, 4, 8)
	assert.NotEqual(t, plain.Forward(x).Data(), l.Forward(x).Data(), "training mode drops")
	nn.Eval(l)
	assert.Equal(t, plain.Forward(x).Data(), l.Forward(x).Data(), "evaluation mode does not")
}

// loraMoETrained returns a LoRAMoE layer whose experts' B are not zero.
func loraMoETrained(rng *autograd.RNG, cfg layers.LoRAMoEConfig) *layers.LoRAMoE {
	m := layers.NewLoRAMoE(rng, nn.NewLinear(rng, 10, 7, true), cfg)
	for e := range m.NumExperts() {
		nn.Normal(m.B(e).Tensor, 0, 0.3, rng)
	}
	return m
}

func TestLoRAMoEInit(t *testing.T) {
	rng := autograd.NewRNG(5)
	base := nn.NewLinear(rng, 32, 16, true)
	x := rng.Normal(0, 1, 2, 5, 32)
	want := base.Forward(x).Data()
	m := layers.NewLoRAMoE(rng, base, layers.LoRAMoEConfig{Experts: 4, Rank: 4, Alpha: 8, Dropout: 0.1})
	y, route := m.ForwardRoute(x)
	assert.Equal(t, want, y.Data(), "B = 0: exactly the base output")
	assert.Equal(t, []int{2, 5, 4}, route.Shape())
	sums := route.Sum(-1).Data()
	for _, s := range sums {
		assert.InDelta(t, 1, s, 1e-6, "ω sums to 1")
	}
	y.Square().Sum().Backward()
	assert.Nil(t, base.Weight.Grad)
	assert.Nil(t, base.Bias.Grad)
	bound := 1 / math.Sqrt(32)
	for e := range 4 {
		assert.Zero(t, loraAbsMax(m.A(e).Grad), "∂L/∂A_%d = 0 at init", e)
		assert.Greater(t, loraAbsMax(m.B(e).Grad), 0.0, "∂L/∂B_%d ≠ 0 at init", e)
		assert.LessOrEqual(t, loraAbsMax(m.A(e).Tensor), bound)
	}
	assert.LessOrEqual(t, loraAbsMax(m.Route.Weight.Tensor), bound)
}

// TestLoRAMoEOneExpert: with E = 1 the router's weight is 1 and LoRAMoE is
// plain LoRA with the same A and B.
func TestLoRAMoEOneExpert(t *testing.T) {
	rng := autograd.NewRNG(6)
	m := loraMoETrained(rng, layers.LoRAMoEConfig{Experts: 1, Rank: 3, Alpha: 6})
	l := &layers.LoRALinear{Base: m.Base, LoRAA: &nn.Linear{Weight: m.A(0)}, LoRAB: &nn.Linear{Weight: m.B(0)}, Scaling: m.Scaling}
	x := rng.Normal(0, 1, 3, 4, 10)
	ssfAssertClose(t, l.Forward(x), m.Forward(x), 1e-6, "E = 1 is LoRA")
}

// TestLoRAMoEDropout: evaluation mode is the deterministic mixture; in
// training mode each expert draws its own mask.
func TestLoRAMoEDropout(t *testing.T) {
	rng := autograd.NewRNG(7)
	m := loraMoETrained(rng, layers.LoRAMoEConfig{Experts: 2, Rank: 2, Dropout: 0.5})
	plain := *m
	plain.LoRADropout = nil
	x := rng.Normal(0, 1, 2, 3, 10)
	assert.NotEqual(t, plain.Forward(x).Data(), m.Forward(x).Data())
	nn.Eval(m)
	assert.Equal(t, plain.Forward(x).Data(), m.Forward(x).Data())
	// Gradients flow through the per-expert path as well.
	nn.Train(m)
	m.Forward(x).Sum().Backward()
	for e := range 2 {
		assert.NotNil(t, m.A(e).Grad)
	}
}

func TestLoRAMoEBalanceLoss(t *testing.T) {
	rng := autograd.NewRNG(8)
	types := []int{1, 0, 1}
	// Constant Z: δ = 0 and equal routing.
	flat := autograd.Full(0.25, 3, 5, 4)
	assert.Zero(t, layers.LoRAMoEBalanceLoss(flat, types, 0).Item())
	// Constant Z with δ ≠ 0: the importance cancels a routing that favours
	// each sample's group.
	q := make([]float32, 0, 12)
	for _, ty := range types {
		for e := range 4 {
			if (ty == 1) == (e < 2) {
				q = append(q, 1/1.5)
			} else {
				q = append(q, 1/0.5)
			}
		}
	}
	assert.InDelta(t, 0, layers.LoRAMoEBalanceLoss(autograd.New(q, 3, 4), types, 0.5).Item(), 1e-6)

	route := rng.Uniform(0, 1, 3, 5, 4).Softmax(-1)
	l := layers.LoRAMoEBalanceLoss(route, types, 0.1).Item()
	assert.Greater(t, l, float32(0))
	for _, c := range []float32{0.01, 3, 1000} {
		assert.InDelta(t, l, layers.LoRAMoEBalanceLoss(route.MulScalar(c), types, 0.1).Item(), 1e-5*float64(l), "scale invariant (×%g)", c)
	}
	// By hand: Z = I ⊙ Σ_tokens ω, unbiased variance over mean².
	sum := route.Sum(1).Data()
	var z []float64
	for n, ty := range types {
		for e := range 4 {
			v := 0.9
			if (ty == 1 && e < 2) || (ty == 0 && e >= 2) {
				v = 1.1
			}
			z = append(z, v*float64(sum[n*4+e]))
		}
	}
	mean, ss := 0.0, 0.0
	for _, v := range z {
		mean += v / float64(len(z))
	}
	for _, v := range z {
		ss += (v - mean) * (v - mean)
	}
	assert.InDelta(t, ss/float64(len(z)-1)/(mean*mean+1e-10), l, 1e-5)
	// Other types boost no expert.
	assert.InDelta(t, layers.LoRAMoEBalanceLoss(route, []int{2, 2, 2}, 0).Item(), layers.LoRAMoEBalanceLoss(route, []int{2, 2, 2}, 0.3).Item(), 1e-5)
	// No samples: zero.
	assert.Zero(t, layers.LoRAMoEBalanceLoss(autograd.Ones(0, 2), nil, 0.1).Item())
	assert.Panics(t, func() { layers.LoRAMoEBalanceLoss(autograd.Ones(2, 3), []int{1, 0}, 0.1) }, "odd E")
	assert.Panics(t, func() { layers.LoRAMoEBalanceLoss(autograd.Ones(2, 4), []int{1}, 0.1) }, "types per sample")

	// ForwardBalance: zero without weight, β·L with it, and differentiable.
	m := loraMoETrained(rng, layers.LoRAMoEConfig{Experts: 4, Rank: 2})
	x := rng.Normal(0, 1, 3, 5, 10)
	_, zero := m.ForwardBalance(x, types)
	assert.Zero(t, zero.Item())
	m.BalanceWeight, m.BalanceDelta = 0.1, 0.2
	_, route = m.ForwardRoute(x)
	_, blc := m.ForwardBalance(x, types)
	assert.InDelta(t, 0.1*layers.LoRAMoEBalanceLoss(route, types, 0.2).Item(), blc.Item(), 1e-7)
	blc.Backward()
	assert.Greater(t, loraAbsMax(m.Route.Weight.Grad), 0.0, "the constraint trains the router")
	assert.Nil(t, m.Base.Weight.Grad)
}

// ExampleLoRALinear adapts a pretrained Linear layer with a rank-4 LoRA
// adapter, trains only the adapter, and merges it for inference.
func ExampleLoRALinear() {
	rng := autograd.NewRNG(1)
	base := nn.NewLinear(rng, 64, 32, true) // pretrained weights, e.g. from nn.Load
	l := layers.NewLoRALinear(rng, base, layers.LoRAConfig{Rank: 4, Alpha: 8, Dropout: 0.05})

	trainable, total := nn.NumParams(l)
	fmt.Printf("trainable %d of %d parameters\n", trainable, total)
	for _, np := range nn.NamedParameters(l) {
		fmt.Println(np.Name, np.Param.Shape(), np.Param.RequiresGrad())
	}

	// One training step's backward pass: only lora_A and lora_B get gradients.
	x := rng.Normal(0, 1, 8, 64)
	l.Forward(x).Square().Mean().Backward()
	fmt.Println("base gradient:", base.Weight.Grad == nil)

	// For inference, fold (α/r)·B·A into the base weight.
	nn.Eval(l)
	l.Merge()
	fmt.Println("merged:", l.Merged())
	// Output:
	// trainable 384 of 2464 parameters
	// weight [32 64] false
	// bias [32] false
	// lora_A.weight [4 64] true
	// lora_B.weight [32 4] true
	// base gradient: true
	// merged: true
}
