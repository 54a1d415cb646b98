package nn_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

// quadNet is a small convolutional classifier: Conv-BN-ReLU-MaxPool,
// Conv-ReLU, adaptive average pooling to 2×2 and a Linear head.
type quadNet struct {
	Conv1   *nn.Conv2d
	BN1     *nn.BatchNorm2d
	Pool    nn.MaxPool2d
	Conv2   *nn.Conv2d
	Gap     nn.AdaptiveAvgPool2d
	Flatten nn.Flatten
	FC      *nn.Linear
}

func newQuadNet(rng *autograd.RNG, classes int) *quadNet {
	return &quadNet{
		Conv1:   nn.NewConv2d(rng, 1, 8, 3, 3, nn.Conv2dConfig{Padding: [2]int{1, 1}}),
		BN1:     nn.NewBatchNorm2d(8, nn.BatchNormConfig{}),
		Pool:    nn.MaxPool2d{Kernel: [2]int{2, 2}},
		Conv2:   nn.NewConv2d(rng, 8, 16, 3, 3, nn.Conv2dConfig{Padding: [2]int{1, 1}}),
		Gap:     nn.AdaptiveAvgPool2d{Size: [2]int{2, 2}},
		Flatten: nn.NewFlatten(),
		FC:      nn.NewLinear(rng, 16*4, classes, true),
	}
}

func (m *quadNet) Forward(x *autograd.Tensor) *autograd.Tensor {
	x = m.Pool.Forward(m.BN1.Forward(m.Conv1.Forward(x)).Relu())
	x = m.Conv2.Forward(x).Relu()
	return m.FC.Forward(m.Flatten.Forward(m.Gap.Forward(x)))
}

// blobImages draws n noisy 16×16 images, each with a bright Gaussian blob
// (σ = 1.5 pixels) centred at a random place in one of the four quadrants,
// and the quadrant as the class (0 top left, 1 top right, 2 bottom left,
// 3 bottom right).
func blobImages(rng *autograd.RNG, n int) (*autograd.Tensor, []int) {
	const s = 16
	data := make([]float32, n*s*s)
	labels := make([]int, n)
	for i := range labels {
		q := rng.IntN(4)
		labels[i] = q
		// Centre 1..6 pixels into the quadrant, so that the blob sits
		// mostly inside it.
		cy := float64(q/2*s/2) + 1 + 6*float64(rng.Float32())
		cx := float64(q%2*s/2) + 1 + 6*float64(rng.Float32())
		img := data[i*s*s : (i+1)*s*s]
		for r := 0; r < s; r++ {
			for c := 0; c < s; c++ {
				d2 := (float64(r)-cy)*(float64(r)-cy) + (float64(c)-cx)*(float64(c)-cx)
				img[r*s+c] = float32(math.Exp(-d2/(2*1.5*1.5))) + 0.5*rng.NormFloat32()
			}
		}
	}
	return autograd.New(data, n, 1, s, s), labels
}

func lossAndAccuracy(m *quadNet, x *autograd.Tensor, y []int) (float64, float64) {
	var loss float64
	var acc float64
	autograd.NoGrad(func() {
		logits := m.Forward(x)
		loss = float64(autograd.CrossEntropy(logits, y, autograd.CrossEntropyOptions{}).Item())
		pred := logits.ArgMax(1).Data()
		for i, p := range pred {
			if int(p) == y[i] {
				acc++
			}
		}
		acc /= float64(len(y))
	})
	return loss, acc
}

// TestConvNetLearnsQuadrants is the done-when test: a small CNN
// trained with AdamW for a few hundred steps on seeded synthetic images
// lowers its loss well below the start and classifies held-out images far
// above chance; saved with nn.Save and loaded strictly into a fresh model,
// it gives bit-identical outputs in evaluation mode.
func TestConvNetLearnsQuadrants(t *testing.T) {
	start := time.Now()
	rng := autograd.NewRNG(42)
	const classes, batch, steps = 4, 32, 300
	trainX, trainY := blobImages(rng, 1024)
	testX, testY := blobImages(rng, 256)

	model := newQuadNet(rng, classes)
	nn.Eval(model)
	initLoss, initAcc := lossAndAccuracy(model, testX, testY)
	nn.Train(model)

	cfg := optim.DefaultAdamWConfig()
	cfg.LR = 0.01
	opt := optim.NewAdamW(nn.Parameters(model), cfg)
	var firstLoss, lastLoss float64
	for step := 0; step < steps; step++ {
		idx := make([]int, batch)
		for i := range idx {
			idx[i] = rng.IntN(trainX.Size(0))
		}
		xb := trainX.IndexSelect(0, idx)
		yb := make([]int, batch)
		for i, j := range idx {
			yb[i] = trainY[j]
		}
		opt.ZeroGrad()
		loss := autograd.CrossEntropy(model.Forward(xb), yb, autograd.CrossEntropyOptions{})
		loss.Backward()
		opt.Step()
		l := float64(loss.Item())
		require.False(t, math.IsNaN(l), "loss is NaN at step %d", step)
		if step == 0 {
			firstLoss = l
		}
		if step >= steps-20 {
			lastLoss += l / 20
		}
	}
	trainTime := time.Since(start)

	nn.Eval(model)
	finalLoss, finalAcc := lossAndAccuracy(model, testX, testY)
	t.Logf("held-out loss %.4f → %.4f, accuracy %.3f → %.3f; training loss first step %.4f, mean of last 20 steps %.4f; %d steps in %v",
		initLoss, finalLoss, initAcc, finalAcc, firstLoss, lastLoss, steps, trainTime.Round(time.Millisecond))
	assert.Less(t, finalLoss, 0.3*initLoss, "held-out loss must fall below 0.3× its start")
	assert.Less(t, lastLoss, 0.3*firstLoss, "training loss must fall below 0.3× its start")
	assert.Greater(t, finalAcc, 0.9, "held-out accuracy (chance is 0.25)")
	assert.Equal(t, float32(steps), nn.StateDict(model)["bn1.num_batches_tracked"].Item())

	// Save, load strictly into a fresh model, and compare bit for bit.
	path := filepath.Join(t.TempDir(), "quadnet.safetensors")
	require.NoError(t, nn.Save(path, model, map[string]string{"format": "pt"}))
	restored := newQuadNet(autograd.NewRNG(7), classes)
	_, err := nn.Load(path, restored, true)
	require.NoError(t, err)
	nn.Eval(restored)
	var want, got []float32
	autograd.NoGrad(func() {
		want = model.Forward(testX).Data()
		got = restored.Forward(testX).Data()
	})
	assert.Equal(t, want, got, "a reloaded model gives bit-identical outputs")
	for name, tensor := range nn.StateDict(model) {
		assert.Equal(t, tensor.Data(), nn.StateDict(restored)[name].Data(), name)
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
