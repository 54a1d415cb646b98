package autograd_test

import (
	"math"
	"runtime"
	"testing"
	"time"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackwardAccumulatesAcrossCalls(t *testing.T) {
	x := ag.New([]float32{1, 2, 3}).SetRequiresGrad(true)
	x.Square().Sum().Backward()
	assert.Equal(t, []float32{2, 4, 6}, x.Grad.Data())
	x.Square().Sum().Backward()
	assert.Equal(t, []float32{4, 8, 12}, x.Grad.Data(), "second Backward adds to Grad")
	x.ZeroGrad()
	assert.Nil(t, x.Grad)
	x.MulScalar(3).Sum().Backward()
	assert.Equal(t, []float32{3, 3, 3}, x.Grad.Data())
}

func TestTensorUsedManyTimesGetsSumOfGradients(t *testing.T) {
	x := ag.New([]float32{2, -1}).SetRequiresGrad(true)
	// f = x·x + 3x + x·(x·x) → f' = 2x + 3 + 3x²
	y := x.Mul(x).Add(x.MulScalar(3)).Add(x.Mul(x.Mul(x)))
	y.Sum().Backward()
	assert.Equal(t, []float32{2*2 + 3 + 3*4, -2 + 3 + 3}, x.Grad.Data())
}

func TestGradientsAreNotShared(t *testing.T) {
	// Add passes the same upstream tensor to both inputs; accumulating into
	// one leaf's Grad must not change the other's.
	a := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	b := ag.New([]float32{3, 4}).SetRequiresGrad(true)
	a.Add(b).Sum().Backward()
	a.Sum().Backward()
	assert.Equal(t, []float32{2, 2}, a.Grad.Data())
	assert.Equal(t, []float32{1, 1}, b.Grad.Data())
}

func TestLongChainBackwardDoesNotOverflowStack(t *testing.T) {
	x := ag.New([]float32{1}).SetRequiresGrad(true)
	y := x
	for i := 0; i < 100000; i++ {
		y = y.AddScalar(1e-6)
	}
	y.MulScalar(2).Sum().Backward()
	assert.Equal(t, []float32{2}, x.Grad.Data())
}

func TestBackwardOnReleasedGraphPanics(t *testing.T) {
	x := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	y := x.Exp().Sum()
	y.Backward()
	assert.PanicsWithValue(t,
		"autograd: Backward: the graph through Sum has already been run backward and released; recompute the forward pass, or pass retainGraph=true to BackwardWith on the first call",
		func() { y.Backward() })
}

func TestRetainGraphAllowsSecondBackward(t *testing.T) {
	x := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	y := x.Square().Sum()
	y.BackwardWith(nil, true)
	y.BackwardWith(nil, false)
	assert.Equal(t, []float32{4, 8}, x.Grad.Data())
}

func TestBackwardOnNonScalarNeedsSeed(t *testing.T) {
	x := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	y := x.MulScalar(2)
	assert.PanicsWithValue(t,
		"autograd: Backward: tensor of shape [2] is not a scalar; pass a seed gradient of the same shape with BackwardWith",
		func() { y.Backward() })
	y.BackwardWith(ag.New([]float32{1, 10}), false)
	assert.Equal(t, []float32{2, 20}, x.Grad.Data())
	z := x.MulScalar(2)
	assert.Panics(t, func() { z.BackwardWith(ag.New([]float32{1, 2, 3}), false) }, "seed of the wrong shape")
}

func TestBackwardWithoutRequiresGradPanics(t *testing.T) {
	x := ag.New([]float32{1, 2})
	assert.PanicsWithValue(t,
		"autograd: Backward: tensor of shape [] does not require grad; no input was marked with SetRequiresGrad(true), or it was computed under NoGrad",
		func() { x.Sum().Backward() })
}

func TestNoGradAndDetach(t *testing.T) {
	x := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	var y *ag.Tensor
	ag.NoGrad(func() {
		assert.False(t, ag.IsGradEnabled())
		y = x.Exp()
	})
	assert.True(t, ag.IsGradEnabled())
	assert.False(t, y.RequiresGrad())
	assert.True(t, y.IsLeaf())

	d := x.Square().Detach()
	assert.False(t, d.RequiresGrad())
	// The detached value is a constant: the gradient comes only from the other term.
	x.Mul(d).Sum().Backward()
	assert.Equal(t, []float32{1, 4}, x.Grad.Data())
}

func TestRetainGradAndGradFn(t *testing.T) {
	x := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	h := x.MulScalar(3).RetainGrad()
	assert.Equal(t, "MulScalar", h.GradFn())
	assert.False(t, h.IsLeaf())
	h.Square().Sum().Backward()
	require.NotNil(t, h.Grad)
	assert.Equal(t, []float32{6, 12}, h.Grad.Data())
	assert.Equal(t, []float32{18, 36}, x.Grad.Data())
	assert.Panics(t, func() { h.SetRequiresGrad(false) }, "non-leaf")
}

func TestOnlyRequiredInputsGetGradients(t *testing.T) {
	a := ag.New([]float32{1, 2}).SetRequiresGrad(true)
	b := ag.New([]float32{3, 4})
	a.Mul(b).Sum().Backward()
	assert.Equal(t, []float32{3, 4}, a.Grad.Data())
	assert.Nil(t, b.Grad)
}

func TestSharedSubgraphBackward(t *testing.T) {
	// A diamond: h feeds two branches that meet again.
	x := ag.New([]float32{0.5, -1}).SetRequiresGrad(true)
	h := x.Tanh()
	y := h.Mul(h).Add(h.Exp())
	y.Sum().Backward()
	for i, v := range []float64{0.5, -1} {
		th := tanh(v)
		want := (2*th + exp(th)) * (1 - th*th)
		assert.InDelta(t, want, x.Grad.Data()[i], 1e-6)
	}
}

func tanh(v float64) float64 { return math.Tanh(v) }
func exp(v float64) float64  { return math.Exp(v) }

func TestAddInPlace(t *testing.T) {
	w := ag.New([]float32{1, 2, 3, 4}, 2, 2).SetRequiresGrad(true)
	w.Square().Sum().Backward()
	assert.PanicsWithValue(t, "autograd: AddInPlace: leaf of shape [2 2] requires grad; update it inside NoGrad",
		func() { w.AddInPlace(w.Grad, -0.1) })
	ag.NoGrad(func() { w.AddInPlace(w.Grad, -0.25) })
	assert.Equal(t, []float32{0.5, 1, 1.5, 2}, w.Data())
	ag.NoGrad(func() { w.AddInPlace(ag.New([]float32{10, 20}), 1) })
	assert.Equal(t, []float32{10.5, 21, 11.5, 22}, w.Data(), "broadcast row")
	h := w.MulScalar(2)
	assert.Panics(t, func() { ag.NoGrad(func() { h.AddInPlace(w, 1) }) }, "non-leaf")
	assert.Panics(t, func() { ag.NoGrad(func() { w.AddInPlace(ag.Ones(3), 1) }) }, "shape")
}

func TestCopyFrom(t *testing.T) {
	w := ag.Zeros(2, 2).SetRequiresGrad(true)
	assert.Panics(t, func() { w.CopyFrom(ag.Ones(2, 2)) }, "grad enabled")
	ag.NoGrad(func() { w.CopyFrom(ag.New([]float32{1, 2}, 2, 1)) })
	assert.Equal(t, []float32{1, 1, 2, 2}, w.Data())
	assert.True(t, w.RequiresGrad())
}

// The graph refers to producers, not to intermediate tensors: a result that
// no backward rule needs is freed while the graph is alive.
func TestGraphDoesNotKeepUnneededIntermediates(t *testing.T) {
	x := ag.NewRNG(1).Normal(0, 1, 256, 256).SetRequiresGrad(true)
	freed := make(chan struct{}, 1)
	h := x.MulScalar(2)
	runtime.AddCleanup(h, func(struct{}) { freed <- struct{}{} }, struct{}{})
	y := h.Add(ag.Ones(256)).Sum()
	h = nil
	for i := 0; i < 5 && len(freed) == 0; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.Len(t, freed, 1, "the intermediate was freed before Backward")
	y.Backward()
	assert.Equal(t, float32(2), x.Grad.At(3, 4))
}
