package ssvep_test

import (
	"fmt"
	"math"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/models/ssvep"
	"github.com/deepgo/deepgo/nn"
)

// Build the DNN for 9 channels and 0.4 s windows at 250 Hz and classify a
// batch of filter-bank outputs.
func ExampleNewNet() {
	rng := autograd.NewRNG(1)
	m := ssvep.NewNet(rng, ssvep.DefaultConfig(ssvep.WindowSamples(0.4, 250)))
	_, params := nn.NumParams(m)
	nn.Eval(m)
	x := rng.Normal(0, 1, 8, 3, 9, 100) // [batch, sub-bands, channels, samples]
	fmt.Println("parameters:", params)
	fmt.Println("logits:", m.Forward(x).Shape())
	// Output:
	// parameters: 414283
	// logits: [8 40]
}

// The information transfer rate of a 40-target speller at 90% accuracy
// with 0.4 s windows and the 0.5 s gaze shift.
func ExampleITR() {
	fmt.Printf("%.2f bits/min\n", ssvep.ITR(0.9, 40, 0.4+ssvep.GazeShift))
	fmt.Printf("%.2f bits/min\n", ssvep.WindowITR(1, 40, 0.4))
	// Output:
	// 288.29 bits/min
	// 354.80 bits/min
}

// The DNN's filter bank: three Chebyshev type I band-pass filters, band m
// passing [8m, 90] Hz, applied forward and backward.
func ExampleNewFilterBank() {
	fb := ssvep.NewFilterBank(3, 250)
	for m, f := range fb.Filters {
		fmt.Printf("band %d: %.2f dB at 8 Hz, %.2f dB at 24 Hz\n", m+1, f.ZeroPhaseGainDB(8, 250), f.ZeroPhaseGainDB(24, 250))
	}
	x := make([]float64, 100)
	for t := range x {
		x[t] = 1 + math.Sin(2*math.Pi*40*float64(t)/250) // DC + 40 Hz
	}
	y := make([]float64, 100)
	fb.Filters[0].FiltFilt(y, x)
	fmt.Printf("40 Hz passes, DC does not: x[51] = %.2f, y[51] = %.2f, the sine %.2f\n", x[51], y[51], x[51]-1)
	// Output:
	// band 1: -2.00 dB at 8 Hz, -0.08 dB at 24 Hz
	// band 2: -6.98 dB at 8 Hz, -0.68 dB at 24 Hz
	// band 3: -12.62 dB at 8 Hz, -2.00 dB at 24 Hz
	// 40 Hz passes, DC does not: x[51] = 1.84, y[51] = 0.85, the sine 0.84
}

// Classify synthetic SSVEP trials with FBCCA, the training-free baseline.
func ExampleEvaluateFBCCA() {
	cfg := data.DefaultSSVEPConfig()
	cfg.Subjects, cfg.Blocks, cfg.SNR = 1, 1, 0 // one easy subject
	d, err := data.GenerateSSVEP(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, err := ssvep.EvaluateFBCCA(d, 1.0, ssvep.DefaultFBCCAConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("accuracy at 1 s: %.2f\n", acc[0][0])
	// Output:
	// accuracy at 1 s: 1.00
}
