package cuda

import (
	"math/rand"
	"os"
	"testing"

	"github.com/deepgo/deepgo/autograd"
)

// The training-step benchmark: one residual MLP block (the feed-forward half
// of a transformer layer) over a batch of token vectors, with a layer norm,
// a mean-squared-error loss, backward and an Adam update of every
// parameter. bench_torch.py beside this file runs the same step in PyTorch
// on the same GPU; devicecheck.sh prints both.
const (
	benchTokens = 4096 // batch × sequence
	benchDim    = 1024
	benchHidden = 4096
)

type benchModel struct {
	params []*autograd.Tensor
	m, v   []*autograd.Tensor
	step   int
}

func newBenchModel(dev autograd.Device, rng *rand.Rand, dim, hidden int) *benchModel {
	randn := func(scale float64, shape ...int) *autograd.Tensor {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		return autograd.New(v, shape...).To(dev)
	}
	md := &benchModel{params: []*autograd.Tensor{
		randn(0.03, dim, hidden), autograd.ZerosOn(dev, hidden),
		randn(0.015, hidden, dim), autograd.ZerosOn(dev, dim),
		autograd.FullOn(dev, 1, dim), autograd.ZerosOn(dev, dim),
	}}
	for _, p := range md.params {
		p.SetRequiresGrad(true)
		md.m = append(md.m, autograd.ZerosOn(dev, p.Shape()...))
		md.v = append(md.v, autograd.ZerosOn(dev, p.Shape()...))
	}
	return md
}

// trainStep runs forward, backward and the update, and returns the loss
// tensor (not read, so the GPU is not waited for).
func (md *benchModel) trainStep(x, target *autograd.Tensor) *autograd.Tensor {
	p := md.params
	h := x.MatMul(p[0]).Add(p[1]).Gelu()
	y := h.MatMul(p[2]).Add(p[3]).Add(x)
	y = autograd.LayerNorm(y, p[4].Shape(), p[4], p[5], 1e-5)
	loss := y.Sub(target).Square().Mean()
	loss.Backward()
	md.step++
	for i, q := range p {
		autograd.AdamStep(q, q.Grad, md.m[i], md.v[i], nil, autograd.AdamStepArgs{
			LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: md.step})
		q.ZeroGrad()
	}
	return loss.Detach()
}

// BenchmarkTrainStep measures one training step on each CUDA GPU.
func BenchmarkTrainStep(b *testing.B) {
	g := benchGPU(b)
	rng := rand.New(rand.NewSource(1))
	md := newBenchModel(g, rng, benchDim, benchHidden)
	xs := make([]float32, benchTokens*benchDim)
	ts := make([]float32, benchTokens*benchDim)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
		ts[i] = float32(rng.NormFloat64())
	}
	x := autograd.New(xs, benchTokens, benchDim).To(g)
	target := autograd.New(ts, benchTokens, benchDim).To(g)
	loss := timeSteps(b, g, func() *autograd.Tensor { return md.trainStep(x, target) })
	b.Logf("%s (%s): loss %.5f, allocator %+v", g.Name(), g.Product(), loss.Item(), g.MemStats())
}

// benchGPU returns the first GPU, or skips the benchmark without one.
func benchGPU(b *testing.B) *GPU {
	n, err := DeviceCount()
	if err != nil || n == 0 {
		b.Skipf("no CUDA device: %v", Available())
	}
	dev, err := Open(0)
	if err != nil {
		b.Fatal(err)
	}
	return dev.(*GPU)
}

// timeSteps runs step three times (compiling the kernels and filling the
// allocator's cache), then b.N times timed, waiting for the GPU at the end,
// and reports ms/step and the driver allocations per step; it returns the
// last step's result. With DEEPGO_CUDA_PROFILE set it then logs a GPU
// profile of five more steps.
func timeSteps(b *testing.B, g *GPU, step func() *autograd.Tensor) *autograd.Tensor {
	for i := 0; i < 3; i++ {
		step()
	}
	if err := g.Synchronize(); err != nil {
		b.Fatal(err)
	}
	before := g.MemStats()
	b.ResetTimer()
	var out *autograd.Tensor
	for i := 0; i < b.N; i++ {
		out = step()
	}
	if err := g.Synchronize(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	after := g.MemStats()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/step")
	b.ReportMetric(float64(after.DriverAllocs-before.DriverAllocs)/float64(b.N), "cuMemAlloc/step")
	if os.Getenv(profileEnv) != "" {
		logProfile(b, g, 5, func() { step() })
	}
	return out
}

// TestTrainStep runs a few steps of the benchmark's model, small, on the
// CUDA test devices and on the CPU, and compares the losses.
func TestTrainStep(t *testing.T) {
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		run := func(d autograd.Device) []float32 {
			rng := rand.New(rand.NewSource(2))
			md := newBenchModel(d, rng, 16, 48)
			xs, ts := make([]float32, 24*16), make([]float32, 24*16)
			for i := range xs {
				xs[i], ts[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			x, target := autograd.New(xs, 24, 16).To(d), autograd.New(ts, 24, 16).To(d)
			var losses []float32
			for i := 0; i < 4; i++ {
				losses = append(losses, md.trainStep(x, target).Item())
			}
			return append(losses, md.params[0].Data()[:8]...)
		}
		want, got := run(autograd.CPU), run(dev)
		for i := range want {
			if d := want[i] - got[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("step results differ at %d: got %v, want %v", i, got, want)
			}
		}
	})
}
