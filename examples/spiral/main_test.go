package main

import (
	"math"
	"slices"
	"testing"

	"github.com/deepgo/deepgo/autograd"
)

func TestSpiralsAreSeeded(t *testing.T) {
	x1, l1 := makeSpirals(autograd.NewRNG(3), 3, 50, 0.15)
	x2, l2 := makeSpirals(autograd.NewRNG(3), 3, 50, 0.15)
	if len(x1) != 2*150 || len(l1) != 150 {
		t.Fatalf("got %d coordinates and %d labels, want 300 and 150", len(x1), len(l1))
	}
	if !slices.Equal(x1, x2) || !slices.Equal(l1, l2) {
		t.Fatal("the same seed gave different data")
	}
	for i := 0; i < len(x1); i += 2 {
		if r := math.Hypot(float64(x1[i]), float64(x1[i+1])); r > 1+1e-6 {
			t.Fatalf("point %d has radius %v > 1", i/2, r)
		}
	}
	train, test := split(autograd.NewRNG(4), x1, l1, 3, 0.2)
	if train.len() != 120 || test.len() != 30 {
		t.Fatalf("split %d/%d, want 120/30", train.len(), test.len())
	}
	if got := train.onehot.Sum().Item(); got != 120 {
		t.Fatalf("one-hot rows sum to %v, want 120", got)
	}
}

func TestNLLMatchesDefinition(t *testing.T) {
	logits := autograd.New([]float32{1, 2, 0.5, -1, 0, 3}, 2, 3)
	onehot := autograd.New([]float32{0, 1, 0, 0, 0, 1}, 2, 3)
	got := nll(logits.LogSoftmax(1), onehot).Item()
	lse := func(a, b, c float64) float64 { return math.Log(math.Exp(a) + math.Exp(b) + math.Exp(c)) }
	want := -((2 - lse(1, 2, 0.5)) + (3 - lse(-1, 0, 3))) / 2
	if math.Abs(float64(got)-want) > 1e-5 {
		t.Fatalf("nll = %v, want %v", got, want)
	}
}

// A short run must already separate the spirals; the full program trains
// longer.
func TestShortTrainingLearns(t *testing.T) {
	rng := autograd.NewRNG(1)
	xs, labels := makeSpirals(rng, 3, 200, 0.15)
	train, test := split(rng, xs, labels, 3, 0.25)
	model := newMLP(rng, 2, 32, 3)
	opt := newSGD(model.params(), 0.5, 0.9)
	for range 300 {
		nll(model.forward(train.x).LogSoftmax(1), train.onehot).Backward()
		if err := opt.step(); err != nil {
			t.Fatal(err)
		}
	}
	if acc := accuracy(model, test); acc < 0.9 {
		t.Fatalf("test accuracy %.4f after 300 steps, want ≥ 0.9", acc)
	}
}
