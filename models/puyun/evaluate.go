package puyun

import (
	"fmt"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
)

// Normalization holds the per-variable statistics that map physical
// states to the model's inputs, (x − Mean)/Std, and back. Use the training
// data's (data.WeatherFields.Mean and Std).
type Normalization struct {
	Mean, Std []float64
}

// States returns the normalised states of f at the time indices idx as a
// [len(idx), V, H, W] tensor.
func (n Normalization) States(f *data.WeatherFields, idx []int) *autograd.Tensor {
	v, h, w := len(f.Vars), len(f.Lat), len(f.Lon)
	if len(n.Mean) != v || len(n.Std) != v {
		panic(fmt.Sprintf("puyun: Normalization.States: statistics for %d and %d variables; the fields have %d", len(n.Mean), len(n.Std), v))
	}
	size := v * h * w
	out := make([]float32, 0, len(idx)*size)
	for _, t := range idx {
		st := f.State(t)
		for i, x := range st {
			c := i / (h * w)
			out = append(out, float32((float64(x)-n.Mean[c])/n.Std[c]))
		}
	}
	return autograd.New(out, len(idx), v, h, w)
}

// Physical returns the b-th state of the normalised batch x ([B, V, H, W])
// in physical units as a new slice.
func (n Normalization) Physical(x *autograd.Tensor, b int) []float32 {
	v := x.Size(1)
	size := v * x.Size(2) * x.Size(3)
	d := x.Data()[b*size : (b+1)*size]
	hw := size / v
	out := make([]float32, size)
	for i, z := range d {
		c := i / hw
		out[i] = float32(float64(z)*n.Std[c] + n.Mean[c])
	}
	return out
}

// checkInits panics unless every initial index has a state before it and
// steps states after it.
func checkInits(fn string, f *data.WeatherFields, inits []int, steps int) {
	for _, t := range inits {
		if t < 1 || t+steps >= f.NumTimes() {
			panic(fmt.Sprintf("puyun: %s: initial state %d needs states %d to %d; the fields have %d", fn, t, t-1, t+steps, f.NumTimes()))
		}
	}
}

// Evaluate runs the cascade for steps steps from each initial state index
// in inits (the input pair being the states at init−1 and init) in
// batches of batch forecasts, and scores every step against the truth in
// f and its climatology.
func Evaluate(c *Cascade, f *data.WeatherFields, norm Normalization, inits []int, steps, batch int) *Scores {
	checkInits("Evaluate", f, inits, steps)
	if batch < 1 {
		batch = 1
	}
	sc := NewScores(f.Vars, steps, f.Lat, len(f.Lon))
	for i := 0; i < len(inits); i += batch {
		idx := inits[i:min(i+batch, len(inits))]
		prevIdx := make([]int, len(idx))
		times := make([]time.Time, len(idx))
		for k, t := range idx {
			prevIdx[k] = t - 1
			times[k] = f.Times[t]
		}
		err := c.Forecast(norm.States(f, prevIdx), norm.States(f, idx), times, steps, func(step int, _ string, x *autograd.Tensor) error {
			for k, t := range idx {
				sc.Add(step, norm.Physical(x, k), f.State(t+step), f.ClimatologyAt(t+step))
			}
			return nil
		})
		if err != nil {
			panic(err) // the callback returns none
		}
	}
	return sc
}

// EvaluatePersistence scores persistence, the forecast that the initial
// state stays as it is, at leads 1..steps from each initial index.
func EvaluatePersistence(f *data.WeatherFields, inits []int, steps int) *Scores {
	checkInits("EvaluatePersistence", f, inits, steps)
	sc := NewScores(f.Vars, steps, f.Lat, len(f.Lon))
	for _, t := range inits {
		for s := 1; s <= steps; s++ {
			sc.Add(s, f.State(t), f.State(t+s), f.ClimatologyAt(t+s))
		}
	}
	return sc
}

// EvaluateClimatology scores the climatology as a forecast (f's
// climatology at each valid time) at leads 1..steps from each initial
// index. Its ACC is 0 by construction.
func EvaluateClimatology(f *data.WeatherFields, inits []int, steps int) *Scores {
	checkInits("EvaluateClimatology", f, inits, steps)
	sc := NewScores(f.Vars, steps, f.Lat, len(f.Lon))
	for _, t := range inits {
		for s := 1; s <= steps; s++ {
			c := f.ClimatologyAt(t + s)
			sc.Add(s, c, f.State(t+s), c)
		}
	}
	return sc
}
