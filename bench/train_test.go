package bench

// One training step of an MLP 784-512-512-10 (ReLU) at batch 128 with
// cross-entropy and AdamW: forward, backward, optimizer step, as a user's
// loop runs it. Its PyTorch twin is in torch_train.py. Besides time, the
// benchmark reports the heap allocated per step, the garbage collector's
// CPU time per step and the share of pool-sized allocations the storage
// pool served.

import (
	"runtime/metrics"
	"testing"

	ag "github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// mlp784 is the benchmark's network, named like the PyTorch twin's
// nn.Sequential.
type mlp784 struct {
	L0 *nn.Linear `nn:"0"`
	L2 *nn.Linear `nn:"2"`
	L4 *nn.Linear `nn:"4"`
}

func (m *mlp784) forward(x *ag.Tensor) *ag.Tensor {
	return m.L4.Forward(m.L2.Forward(m.L0.Forward(x).Relu()).Relu())
}

// resetEvery is the length of the benchmark's training episodes.
const resetEvery = 50

func gcCPUSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

func benchMLPStep(b *testing.B, scope bool) {
	rng := ag.NewRNG(21)
	m := &mlp784{
		L0: nn.NewLinear(rng, 784, 512, true),
		L2: nn.NewLinear(rng, 512, 512, true),
		L4: nn.NewLinear(rng, 512, 10, true),
	}
	params := nn.Parameters(m)
	var init []*ag.Tensor
	for _, p := range params {
		init = append(init, p.Detach().Clone())
	}
	opt := optim.NewAdamW(params, optim.DefaultAdamWConfig())
	// reset restores the initial weights and a fresh optimizer: the
	// benchmark times episodes of the first resetEvery steps of training,
	// so that neither side drifts into denormal optimizer moments (dead
	// ReLU units decay their first moment by 0.9 a step), which would
	// measure the FPU's denormal penalty instead of the framework.
	reset := func() {
		ag.NoGrad(func() {
			for i, p := range params {
				p.CopyFrom(init[i])
			}
		})
		opt = optim.NewAdamW(params, optim.DefaultAdamWConfig())
	}
	x := rng.Normal(0, 1, 128, 784)
	labels := make([]int, 128)
	for i := range labels {
		labels[i] = i % 10
	}
	step := func() float32 {
		var s *ag.Scope
		if scope {
			s = ag.OpenScope()
		}
		opt.ZeroGrad()
		loss := ag.CrossEntropy(m.forward(x), labels, ag.CrossEntropyOptions{})
		if s != nil {
			s.Backward(loss)
		} else {
			loss.Backward()
		}
		opt.Step()
		v := loss.Item()
		if s != nil {
			s.Close()
		}
		return v
	}
	step()
	step()
	ag.ResetPoolStats()
	gc0 := gcCPUSeconds()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%resetEvery == 0 {
			b.StopTimer()
			reset()
			b.StartTimer()
		}
		step()
	}
	b.StopTimer()
	st := ag.CPUPoolStats()
	b.ReportMetric((gcCPUSeconds()-gc0)*1e3/float64(b.N), "gc-ms/op")
	if n := st.Hits + st.Misses; n > 0 {
		b.ReportMetric(float64(st.Hits)/float64(n), "pool-hit-rate")
	}
}

// BenchmarkMLPStep runs the step inside an autograd.Scope, as
// train.Trainer does.
func BenchmarkMLPStep(b *testing.B) { benchMLPStep(b, true) }

// BenchmarkMLPStepNoScope runs it without a Scope: every activation and
// gradient is a fresh allocation (the figure to compare the pool against).
func BenchmarkMLPStepNoScope(b *testing.B) { benchMLPStep(b, false) }
