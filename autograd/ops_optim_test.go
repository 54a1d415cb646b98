package autograd

import (
	"math"
	"testing"
)

// composedDevice is the CPU device without its fused kernels, so AdamStep
// takes the composed path other devices take.
type composedDevice struct{ Device }

func (composedDevice) Name() string { return "cpu-composed" }

// TestAdamStepFusedMatchesComposed runs three steps of Adam, AdamW and
// AMSGrad through the fused CPU kernel and through the composition of
// elementwise ops, on sizes that cover the kernel's chunk edges.
func TestAdamStepFusedMatchesComposed(t *testing.T) {
	for _, tc := range []struct {
		name string
		args AdamStepArgs
		ams  bool
	}{
		{"adam", AdamStepArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, false},
		{"adam-l2", AdamStepArgs{LR: 1e-2, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1}, false},
		{"adamw", AdamStepArgs{LR: 5e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.05, Decoupled: true}, false},
		{"amsgrad", AdamStepArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, true},
	} {
		for _, n := range []int{1, 7, 1023, 1025, 40000} {
			rng := NewRNG(uint64(n))
			p0 := rng.Normal(0, 1, n)
			var fused, composed [4]*Tensor
			for k, dev := range []Device{CPU, composedDevice{CPU}} {
				set := &fused
				if k == 1 {
					set = &composed
				}
				p := p0.Detach().Clone().To(dev)
				m, v, vmax := ZerosOn(dev, n), ZerosOn(dev, n), ZerosOn(dev, n)
				if !tc.ams {
					vmax = nil
				}
				grng := NewRNG(99)
				for step := 1; step <= 3; step++ {
					g := grng.Normal(0, 1, n).To(dev)
					a := tc.args
					a.Step = step
					AdamStep(p, g, m, v, vmax, a)
				}
				set[0], set[1], set[2] = p, m, v
				set[3] = vmax
			}
			for i := 0; i < 4; i++ {
				if fused[i] == nil {
					continue
				}
				f, c := fused[i].Data(), composed[i].Data()
				for j := range f {
					if d := math.Abs(float64(f[j] - c[j])); d > 1e-6*math.Max(1, math.Abs(float64(c[j]))) {
						t.Fatalf("%s n=%d tensor %d [%d]: fused %v, composed %v", tc.name, n, i, j, f[j], c[j])
					}
				}
			}
		}
	}
}

func TestAdamStepChecks(t *testing.T) {
	p, g := Zeros(3), Zeros(4)
	mustPanicWith(t, "does not match the parameter's shape", func() {
		AdamStep(p, g, Zeros(3), Zeros(3), nil, AdamStepArgs{Step: 1})
	})
	mustPanicWith(t, "steps count from 1", func() {
		AdamStep(p, Zeros(3), Zeros(3), Zeros(3), nil, AdamStepArgs{})
	})
}
