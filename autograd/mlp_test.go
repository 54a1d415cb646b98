package autograd_test

import (
	"math"
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A two-layer MLP built from the ops learns XOR-like concentric circles,
// which no linear model can separate.
func TestTwoLayerMLPLearnsNonlinearProblem(t *testing.T) {
	rng := ag.NewRNG(7)
	const n = 256
	xs := make([]float32, 2*n)
	ys := make([]float32, 2*n) // one-hot
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		r := 0.2 + 0.6*rng.Float32()
		if i%2 == 1 {
			r += 1.0
		}
		th := 2 * math.Pi * float64(rng.Float32())
		xs[2*i] = r * float32(math.Cos(th))
		xs[2*i+1] = r * float32(math.Sin(th))
		labels[i] = i % 2
		ys[2*i+i%2] = 1
	}
	x := ag.New(xs, n, 2)
	y := ag.New(ys, n, 2)

	w1 := rng.Normal(0, 0.7, 2, 32).SetRequiresGrad(true)
	b1 := ag.Zeros(32).SetRequiresGrad(true)
	w2 := rng.Normal(0, 0.2, 32, 2).SetRequiresGrad(true)
	b2 := ag.Zeros(2).SetRequiresGrad(true)
	params := []*ag.Tensor{w1, b1, w2, b2}
	forward := func() *ag.Tensor { return x.MatMul(w1).Add(b1).Tanh().MatMul(w2).Add(b2) }

	var first, last float32
	for step := 0; step < 400; step++ {
		loss := forward().LogSoftmax(1).Mul(y).Sum(1).Mean().Neg()
		for _, p := range params {
			p.ZeroGrad()
		}
		loss.Backward()
		if step == 0 {
			first = loss.Item()
		}
		last = loss.Item()
		ag.NoGrad(func() {
			for _, p := range params {
				d, err := p.HostData()
				require.NoError(t, err)
				for i, g := range p.Grad.Data() {
					d[i] -= 0.5 * g
				}
			}
		})
	}
	var pred []float32
	ag.NoGrad(func() { pred = forward().ArgMax(1).Data() })
	correct := 0
	for i, p := range pred {
		if int(p) == labels[i] {
			correct++
		}
	}
	acc := float64(correct) / n
	t.Logf("loss %.4f -> %.4f, accuracy %.3f", first, last, acc)
	assert.Less(t, last, first/5, "loss falls")
	assert.GreaterOrEqual(t, acc, 0.97, "the MLP separates the circles")
}
