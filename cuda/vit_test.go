package cuda

import (
	"math"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/models/vit"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// The ViT training step: timm's vit_tiny_patch16_224 (models/vit
// ViTTiny16, 5.7 M parameters, without dropout so that devices can be
// compared) on a batch of 224×224 images, cross-entropy, backward and an
// AdamW update. Batch 16 is the configuration of the CPU bench table
// (bench/attn_test.go: B=16, N=197, D=192, 3 heads); bench_vit_torch.py
// runs the same step with timm's model in PyTorch on the same GPU.

// vitBatch is one seeded batch of images and labels for cfg.
type vitBatch struct {
	x      []float32
	labels []int
	shape  []int
}

func newVitBatch(cfg vit.Config, batch int, seed int64) vitBatch {
	rng := rand.New(rand.NewSource(seed))
	shape := []int{batch, cfg.InChans, cfg.ImageSize, cfg.ImageSize}
	x := make([]float32, batch*cfg.InChans*cfg.ImageSize*cfg.ImageSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.Intn(cfg.NumClasses)
	}
	return vitBatch{x: x, labels: labels, shape: shape}
}

// vitTrainer is a ViT with its AdamW optimizer on one device.
type vitTrainer struct {
	model *vit.VisionTransformer
	opt   *optim.AdamW
	x     *autograd.Tensor
	b     vitBatch
}

// newVitTrainer builds the model on the CPU from seed (so every device
// starts from the same weights) and moves it to dev.
func newVitTrainer(dev autograd.Device, cfg vit.Config, b vitBatch, seed uint64) *vitTrainer {
	m := vit.New(autograd.NewRNG(seed), cfg)
	nn.To(m, dev)
	opt := optim.NewAdamW(nn.Parameters(m), optim.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.05})
	return &vitTrainer{model: m, opt: opt, x: autograd.New(b.x, b.shape...).To(dev), b: b}
}

// forwardBackward runs the forward pass and backward, leaving the
// gradients in the parameters, and returns the loss (not read).
func (v *vitTrainer) forwardBackward() *autograd.Tensor {
	loss := autograd.CrossEntropy(v.model.Forward(v.x), v.b.labels, autograd.CrossEntropyOptions{})
	loss.Backward()
	return loss.Detach()
}

// step is one whole training step.
func (v *vitTrainer) step() *autograd.Tensor {
	loss := v.forwardBackward()
	v.opt.Step()
	v.opt.ZeroGrad()
	return loss
}

// compareVitStep runs one step of cfg on the CPU and on dev from the same
// weights and batch, and checks the loss, every parameter's gradient
// (relative to the largest gradient element of that parameter) and every
// updated parameter to tol.
func compareVitStep(t *testing.T, dev autograd.Device, cfg vit.Config, batch int, tol float64) {
	b := newVitBatch(cfg, batch, 7)
	cpu := newVitTrainer(autograd.CPU, cfg, b, 11)
	gpu := newVitTrainer(dev, cfg, b, 11)
	lc, lg := cpu.forwardBackward().Item(), gpu.forwardBackward().Item()
	require.InDelta(t, lc, lg, tol*math.Max(1, math.Abs(float64(lc))), "loss")
	pc, pg := nn.NamedParameters(cpu.model), nn.NamedParameters(gpu.model)
	require.Equal(t, len(pc), len(pg))
	worstGrad, worstParam := 0.0, 0.0
	for i := range pc {
		gc, gg := pc[i].Param.Grad.Data(), pg[i].Param.Grad.Data()
		scale := 0.0
		for _, v := range gc {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range gc {
			e := math.Abs(float64(gc[j]-gg[j])) / math.Max(scale, 1e-12)
			worstGrad = math.Max(worstGrad, e)
			require.LessOrEqual(t, e, tol, "gradient of %s at %d: cpu %v, %s %v (largest %v)", pc[i].Name, j, gc[j], dev.Name(), gg[j], scale)
		}
	}
	cpu.opt.Step()
	gpu.opt.Step()
	for i := range pc {
		wc, wg := pc[i].Param.Data(), pg[i].Param.Data()
		for j := range wc {
			e := math.Abs(float64(wc[j] - wg[j]))
			worstParam = math.Max(worstParam, e)
			require.LessOrEqual(t, e, tol, "%s after the AdamW step at %d: cpu %v, %s %v", pc[i].Name, j, wc[j], dev.Name(), wg[j])
		}
	}
	t.Logf("D=%d depth %d batch %d: loss cpu %.6f %s %.6f; worst gradient error %.2e (relative), worst parameter error %.2e", cfg.EmbedDim, cfg.Depth, batch, lc, dev.Name(), lg, worstGrad, worstParam)
}

// TestViTStepSmall compares a small ViT's training step on every test
// device (the emulator included) with the CPU's.
func TestViTStepSmall(t *testing.T) {
	cfg := vit.Config{ImageSize: 32, PatchSize: 8, InChans: 3, NumClasses: 10,
		EmbedDim: 64, Depth: 2, NumHeads: 2, MLPRatio: 2}
	eachDevice(t, func(t *testing.T, dev autograd.Device) {
		compareVitStep(t, dev, cfg, 4, 1e-3)
	})
}

// TestViTTiStep compares ViT-Ti/16's training step at the bench table's
// batch of 16 on each real GPU with the CPU's, to 1e-3 (the issue's
// criterion). It is skipped on the emulator, where it would take minutes.
func TestViTTiStep(t *testing.T) {
	n, err := DeviceCount()
	if err != nil || n == 0 {
		t.Skipf("no CUDA device: %v", Available())
	}
	if testing.Short() {
		t.Skip("-short: ViT-Ti's CPU step takes seconds")
	}
	dev, err := Open(0)
	require.NoError(t, err)
	compareVitStep(t, dev, vit.ViTTiny16(), 16, 1e-3)
}

func benchViTStep(b *testing.B, batch int) {
	g := benchGPU(b)
	cfg := vit.ViTTiny16()
	v := newVitTrainer(g, cfg, newVitBatch(cfg, batch, 7), 11)
	loss := timeSteps(b, g, v.step)
	b.Logf("%s (%s): ViT-Ti/16 batch %d, loss %.5f", g.Name(), g.Product(), batch, loss.Item())
}

// profileEnv, when set, makes the step benchmarks log a profile of a few
// more steps after timing them.
const profileEnv = "DEEPGO_CUDA_PROFILE"

// logProfile logs the GPU profile of n calls of step.
func logProfile(b *testing.B, g *GPU, n int, step func()) {
	if err := g.StartProfile(); err != nil {
		b.Logf("no profile: %v", err)
		return
	}
	for i := 0; i < n; i++ {
		step()
	}
	p, err := g.StopProfile()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("profile of %d steps:\n%s", n, p)
}

// BenchmarkViTTiStep16 times ViT-Ti/16's training step at batch 16 (the
// bench table's configuration) on the first GPU.
func BenchmarkViTTiStep16(b *testing.B) { benchViTStep(b, 16) }

// BenchmarkViTTiStep128 is BenchmarkViTTiStep16 at batch 128, where the
// GPU rather than the launch rate sets the pace.
func BenchmarkViTTiStep128(b *testing.B) { benchViTStep(b, 128) }
