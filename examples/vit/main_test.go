package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/layers"
	"github.com/deepgo/deepgo/models/vit"
	"github.com/deepgo/deepgo/nn"
)

// fakeMNIST writes n random 28×28 images per split with labels to dir, in
// the IDX format (raw, not gzipped).
func fakeMNIST(t *testing.T, dir string, n int) {
	rng := autograd.NewRNG(7)
	for _, split := range []string{"train", "t10k"} {
		var im, lb bytes.Buffer
		im.Write([]byte{0, 0, 8, 3})
		require.NoError(t, binary.Write(&im, binary.BigEndian, [3]uint32{uint32(n), 28, 28}))
		lb.Write([]byte{0, 0, 8, 1})
		require.NoError(t, binary.Write(&lb, binary.BigEndian, uint32(n)))
		for i := 0; i < n; i++ {
			for j := 0; j < 28*28; j++ {
				im.WriteByte(byte(rng.IntN(256)))
			}
			lb.WriteByte(byte(i % 10))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, split+"-images-idx3-ubyte"), im.Bytes(), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, split+"-labels-idx1-ubyte"), lb.Bytes(), 0o644))
	}
}

// smallOptions is a run of a few steps of a tiny model on fake data.
func smallOptions(dataDir, out, model, dataset string) options {
	return options{model: model, tokens: layers.T2TPerformer, dataset: dataset, dataDir: dataDir, out: out,
		epochs: 1, maxSteps: 4, batch: 16, lr: 1e-3, minLR: 1e-5, wd: 0.05, warmup: 0.5, smoothing: 0.1,
		dropPath: 0.1, shift: 2, dim: 16, depth: 1, heads: 2, mlpRatio: 2, tokenDim: 8, seed: 1,
		valSize: 20, checkpointEvery: 2, progress: "log"}
}

var resultLine = regexp.MustCompile(`(?m)^model=(\w+) dataset=(\w+) test_accuracy=[0-9.]+ train_seconds=[0-9.]+ epochs=[0-9.e+-]+ params=(\d+) steps=4 resumed_from=0$`)

func TestSmokeRuns(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 100)
	for _, c := range []struct{ model, tokens, dataset string }{
		{"vit", "", "mnist"},
		{"t2t", layers.T2TPerformer, "fashion"},
		{"t2t", layers.T2TTransformer, "mnist"},
	} {
		t.Run(c.model+"_"+c.tokens+"_"+c.dataset, func(t *testing.T) {
			out := t.TempDir()
			o := smallOptions(dir, out, c.model, c.dataset)
			if c.tokens != "" {
				o.tokens = c.tokens
			}
			var log bytes.Buffer
			require.NoError(t, run(context.Background(), o, &log))
			m := resultLine.FindStringSubmatch(log.String())
			require.NotNil(t, m, "the last line gives the results: %s", log.String())
			assert.Equal(t, c.model, m[1])
			assert.Equal(t, c.dataset, m[2])
			for _, f := range []string{"model.safetensors", "metrics.csv", "curves.png", "best.safetensors"} {
				assert.FileExists(t, filepath.Join(out, f))
			}
			// The saved weights load strictly into a fresh model of the
			// same configuration, as into the PyTorch reference.
			model, _, _, _, err := buildModel(o)
			require.NoError(t, err)
			_, err = nn.Load(filepath.Join(out, "model.safetensors"), model, true)
			require.NoError(t, err)
			trainable, _ := nn.NumParams(model)
			assert.Equal(t, m[3], strconv.Itoa(trainable))
		})
	}
}

func TestResume(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	fakeMNIST(t, dir, 100)
	o := smallOptions(dir, out, "vit", "mnist")
	o.maxSteps, o.checkpointEvery = 3, 1
	var log bytes.Buffer
	require.NoError(t, run(context.Background(), o, &log))
	o.resume = true
	log.Reset()
	require.NoError(t, run(context.Background(), o, &log))
	assert.Contains(t, log.String(), "steps=3 resumed_from=3")
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 40)
	for _, c := range []struct {
		change func(*options)
		want   string
	}{
		{func(o *options) { o.model = "resnet" }, `-model "resnet"`},
		{func(o *options) { o.dataset = "cifar" }, `-dataset "cifar"`},
		{func(o *options) { o.tokens = "convolution" }, `-tokens "convolution"`},
		{func(o *options) { o.model, o.patch = "vit", 5 }, "-patch 5"},
		{func(o *options) { o.heads = 3 }, "check -dim, -heads"},
		{func(o *options) { o.progress = "fancy" }, "-progress"},
		{func(o *options) { o.valSize = 40 }, "-val 40"},
		{func(o *options) { o.dataDir = filepath.Join(dir, "missing") }, "missing"},
		{func(o *options) { o.device = "cuda:9" }, `-device "cuda:9"`},
	} {
		o := smallOptions(dir, t.TempDir(), "t2t", "mnist")
		c.change(&o)
		err := run(context.Background(), o, &bytes.Buffer{})
		require.Error(t, err, c.want)
		assert.Contains(t, err.Error(), c.want)
	}
}

// TestPadImage checks the 28 → 32 padding T2T-ViT's images get: zeros
// around, the image in the middle.
func TestPadImage(t *testing.T) {
	ex := data.Example{Data: make([]float32, 2*3*4), Shape: []int{2, 3, 4}}
	for i := range ex.Data {
		ex.Data[i] = float32(i + 1)
	}
	got, err := padImage(1)(ex, nil)
	require.NoError(t, err)
	require.Equal(t, []int{2, 5, 6}, got.Shape)
	assert.Equal(t, float32(0), got.Data[0])
	assert.Equal(t, float32(1), got.Data[1*6+1], "pixel (0, 0) of channel 0")
	assert.Equal(t, float32(12), got.Data[3*6+4], "pixel (2, 3) of channel 0")
	assert.Equal(t, float32(13), got.Data[30+1*6+1], "pixel (0, 0) of channel 1")
	var sum float32
	for _, v := range got.Data {
		sum += v
	}
	assert.Equal(t, float32(24*25/2), sum, "nothing but the image and zeros")
	_, err = padImage(1)(data.Example{Data: make([]float32, 4), Shape: []int{4}}, nil)
	assert.Error(t, err)
	// The T2T model takes the padded images.
	assert.Equal(t, 28+2*2, vit.T2TViTMNIST().ImageSize)
}
