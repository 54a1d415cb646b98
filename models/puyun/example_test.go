package puyun_test

import (
	"fmt"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/models/puyun"
	"github.com/deepgo/deepgo/nn"
)

// Build a small PuYun for 4 variables on a 32 × 64 grid and forecast one
// 6-hour step from two states.
func ExampleNew() {
	rng := autograd.NewRNG(1)
	m := puyun.New(rng, puyun.DefaultConfig(4, 32, 64))
	_, params := nn.NumParams(m)
	nn.Eval(m)
	prev, cur := rng.Normal(0, 1, 2, 4, 32, 64), rng.Normal(0, 1, 2, 4, 32, 64)
	init := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	next := m.Forward(prev, cur, puyun.TimeFeatureTensor([]time.Time{init, init}))
	fmt.Println("parameters:", params)
	fmt.Println("next state:", next.Shape())
	// Output:
	// parameters: 137824
	// next state: [2 4 32 64]
}

// Stream a 10-day cascade forecast step by step: PuYun-Short makes steps
// 1–20, PuYun-Medium (here an untrained copy) steps 21–40.
func ExampleCascade_Start() {
	cfg := puyun.Config{Vars: 2, Lat: 8, Lon: 36, PatchSize: 2, Width: 8, Depth: 1, LatitudeInput: true}
	short := puyun.New(autograd.NewRNG(1), cfg)
	medium := puyun.New(autograd.NewRNG(2), cfg)
	puyun.CopyWeights(medium, short)
	nn.Eval(short)
	nn.Eval(medium)
	c := &puyun.Cascade{Short: short, Medium: medium}
	x := autograd.Zeros(1, 2, 8, 36)
	r := c.Start(x, x, []time.Time{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	for r.Step() < 40 {
		state := r.Next()
		if s := r.Step(); s == 1 || s == 20 || s == 21 || s == 40 {
			fmt.Printf("step %d (+%d h) by %s: %v\n", s, s*puyun.StepHours, r.Stage(), state.Shape())
		}
	}
	// Output:
	// step 1 (+6 h) by short: [1 2 8 36]
	// step 20 (+120 h) by short: [1 2 8 36]
	// step 21 (+126 h) by medium: [1 2 8 36]
	// step 40 (+240 h) by medium: [1 2 8 36]
}

// Latitude weights average to 1 over the rows.
func ExampleLatitudeWeights() {
	fmt.Printf("%.3f\n", puyun.LatitudeWeights([]float64{60, 0, -60}))
	// Output:
	// [0.750 1.500 0.750]
}
