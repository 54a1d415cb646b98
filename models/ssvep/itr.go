package ssvep

import "math"

// GazeShift is the time in seconds a user needs to move their gaze to the
// next target, added to the window length when the information transfer
// rate is computed (0.5 s, the cue length of the Benchmark and BETA
// recordings, as in Guney et al.'s itr.m).
const GazeShift = 0.5

// ITR returns Wolpaw's information transfer rate in bits per minute of a
// speller with classes targets selected with accuracy p, one selection every
// seconds seconds (the window length plus GazeShift):
//
//	B = log2 M + p·log2 p + (1−p)·log2((1−p)/(M−1)),  ITR = B·60/seconds,
//
// with ITR = log2(M)·60/seconds at p = 1 and 0 for p < 1/M, as itr.m of
// Guney et al. It panics unless classes ≥ 2, seconds > 0 and p is in
// [0, 1].
func ITR(p float64, classes int, seconds float64) float64 {
	if classes < 2 || !(seconds > 0) || !(p >= 0 && p <= 1) {
		panic(fmtPanic("ITR", "accuracy %v, %d classes, %v s: need accuracy in [0, 1], at least 2 classes and a positive time", p, classes, seconds))
	}
	m := float64(classes)
	switch {
	case p < 1/m:
		return 0
	case p == 1:
		return math.Log2(m) * 60 / seconds
	}
	b := math.Log2(m) + p*math.Log2(p) + (1-p)*math.Log2((1-p)/(m-1))
	return b * 60 / seconds
}

// WindowITR returns the ITR of a window of the given length in seconds:
// ITR(p, classes, window+GazeShift).
func WindowITR(p float64, classes int, window float64) float64 {
	return ITR(p, classes, window+GazeShift)
}
