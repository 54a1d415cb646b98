package puyun

import (
	"fmt"
	"time"

	"github.com/deepgo/deepgo/autograd"
)

// The cascade's stages, as Rollout.Stage names them.
const (
	StageShort  = "short"
	StageMedium = "medium"
	StageLong   = "long"
)

// Cascade is PuYun's cascade of models: PuYun-Short forecasts steps 1–20
// (0–5 days), PuYun-Medium — Short's weights fine-tuned on longer
// autoregressive rollouts — steps 21–40 (5–10 days), and, as the released
// plugin does, an optional Long model step 41 on. The switch is exact: step
// ShortSteps+1 (21) is the first made by Medium, step
// ShortSteps+MediumSteps+1 (41) the first made by Long.
//
// A missing model hands over to the one before it: a Cascade with Short
// only is PuYun-Short alone for every step, one without Long keeps Medium
// from step 21 on.
type Cascade struct {
	// Short, Medium and Long are the stages' models (Medium and Long
	// optional).
	Short, Medium, Long *Model
	// ShortSteps and MediumSteps are the stages' lengths in steps; zero
	// means 20 each (PuYun's).
	ShortSteps, MediumSteps int
}

// StageAt returns the model that makes forecast step step (1-based: step 1
// is the first 6-hour forecast) and its stage's name.
func (c *Cascade) StageAt(step int) (*Model, string) {
	if step < 1 {
		panic(fmt.Sprintf("puyun: Cascade.StageAt: step %d; steps count from 1", step))
	}
	if c.Short == nil {
		panic("puyun: Cascade.StageAt: the cascade has no Short model")
	}
	s, m := c.ShortSteps, c.MediumSteps
	if s == 0 {
		s = 20
	}
	if m == 0 {
		m = 20
	}
	switch {
	case step > s+m && c.Long != nil:
		return c.Long, StageLong
	case step > s && c.Medium != nil:
		return c.Medium, StageMedium
	}
	return c.Short, StageShort
}

// Rollout streams a cascade's forecast one step at a time: each Next runs
// the model of the coming step under no-grad and feeds its output back as
// the newest input state (PuYun's rollout: input ← (previous newest,
// output)). Create it with Cascade.Start.
type Rollout struct {
	c         *Cascade
	prev, cur *autograd.Tensor
	valid     []time.Time // valid time of cur, per batch element
	step      int
	stage     string
}

// Start begins a forecast from the normalised states prev = x_{−1} and cur
// = x_0 ([B, V, H, W]) valid 6 hours apart, cur's valid times being init
// (one per batch element).
func (c *Cascade) Start(prev, cur *autograd.Tensor, init []time.Time) *Rollout {
	if cur.Dim() != 4 || len(init) != cur.Size(0) {
		panic(fmt.Sprintf("puyun: Cascade.Start: states of shape %v with %d initial times; need [B, V, H, W] and B times", cur.Shape(), len(init)))
	}
	return &Rollout{c: c, prev: prev.Detach(), cur: cur.Detach(), valid: append([]time.Time(nil), init...)}
}

// Next makes the next forecast step and returns its state ([B, V, H, W],
// normalised), valid Step()·6 hours after the initial time.
func (r *Rollout) Next() *autograd.Tensor {
	m, stage := r.c.StageAt(r.step + 1)
	var next *autograd.Tensor
	autograd.NoGrad(func() {
		next = m.Forward(r.prev, r.cur, TimeFeatureTensor(r.valid))
	})
	r.prev, r.cur = r.cur, next
	for i := range r.valid {
		r.valid[i] = r.valid[i].Add(StepHours * time.Hour)
	}
	r.step++
	r.stage = stage
	return next
}

// Step returns the number of steps made so far: the lead, in 6-hour steps,
// of the state the last Next returned.
func (r *Rollout) Step() int { return r.step }

// Stage returns the name of the stage ("short", "medium" or "long") whose
// model made the last step; "" before the first.
func (r *Rollout) Stage() string { return r.stage }

// Forecast runs steps forecast steps from prev and cur (see Start) and
// calls fn with each step's number (1-based), stage and state as it is
// made. It stops at the first error fn returns and returns it.
func (c *Cascade) Forecast(prev, cur *autograd.Tensor, init []time.Time, steps int, fn func(step int, stage string, state *autograd.Tensor) error) error {
	r := c.Start(prev, cur, init)
	for i := 0; i < steps; i++ {
		x := r.Next()
		if err := fn(r.Step(), r.Stage(), x); err != nil {
			return err
		}
	}
	return nil
}
