package ssvep_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/deepgo/deepgo/models/ssvep"
)

// The spec's values (itr.m of Guney et al.).
func TestITRSpecValues(t *testing.T) {
	assert.InDelta(t, 354.7952, ssvep.ITR(1, 40, 0.9), 1e-4)
	assert.InDelta(t, 259.4635, ssvep.ITR(0.9, 40, 1.0), 1e-4)
	assert.InDelta(t, 236.1946, ssvep.ITR(0.8, 40, 0.9), 1e-4)
	assert.Equal(t, 0.0, ssvep.ITR(0.025, 40, 0.9))
	assert.Equal(t, 0.0, ssvep.ITR(0.01, 40, 1.4))
	// A 0.4 s window with the 0.5 s gaze shift.
	assert.Equal(t, ssvep.ITR(0.8, 40, 0.9), ssvep.WindowITR(0.8, 40, 0.4))
	// Chance level gives zero bits; just above it, a little.
	assert.InDelta(t, 0, ssvep.ITR(1.0/40, 40, 1), 1e-12)
	assert.Greater(t, ssvep.ITR(0.03, 40, 1), 0.0)
	// Monotone in accuracy above chance, and decreasing in time.
	prev := 0.0
	for p := 0.05; p <= 1; p += 0.05 {
		v := ssvep.ITR(math.Min(p, 1), 40, 0.9)
		assert.Greater(t, v, prev, "p=%v", p)
		prev = v
	}
	assert.Greater(t, ssvep.ITR(0.9, 40, 0.7), ssvep.ITR(0.9, 40, 0.9))
	assert.Panics(t, func() { ssvep.ITR(1.2, 40, 1) })
	assert.Panics(t, func() { ssvep.ITR(0.5, 1, 1) })
	assert.Panics(t, func() { ssvep.ITR(0.5, 40, 0) })
}
