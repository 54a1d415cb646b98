//go:build !amd64

package cpu

// Without assembly the callers' portable loops run.

func vecAxpy(a float32, x, y []float32) bool { return false }

func vecDot(x, y []float32) (float32, bool) { return 0, false }
