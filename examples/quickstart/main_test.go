package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetShapesAndNames(t *testing.T) {
	m := NewNet(autograd.NewRNG(1), 16, 32)
	out := m.Forward(autograd.Zeros(2, 1, 28, 28))
	assert.Equal(t, []int{2, 10}, out.Shape())
	_, total := nn.NumParams(m)
	assert.Equal(t, 16*9+16+32*16*9+32+32*7*7*10+10, total)
	var names []string
	for _, p := range nn.NamedParameters(m) {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc.weight", "fc.bias"}, names)
}

// fakeMNIST writes n random 28×28 images per split with labels to dir, in
// the IDX format (raw, not gzipped).
func fakeMNIST(t *testing.T, dir string, n int) {
	rng := autograd.NewRNG(7)
	for _, split := range []string{"train", "t10k"} {
		var im, lb bytes.Buffer
		im.Write([]byte{0, 0, 8, 3})
		binary.Write(&im, binary.BigEndian, [3]uint32{uint32(n), 28, 28})
		lb.Write([]byte{0, 0, 8, 1})
		binary.Write(&lb, binary.BigEndian, uint32(n))
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

func TestRunAndResume(t *testing.T) {
	mnist, out := t.TempDir(), t.TempDir()
	fakeMNIST(t, mnist, 120)
	o := options{out: out, epochs: 1, maxSteps: 5, batch: 16, lr: 0.01, seed: 1, channels1: 4, channels2: 8,
		valSize: 20, evalEvery: 2, checkpointEvery: 2, progress: "log", mnistDir: mnist}
	var log bytes.Buffer
	require.NoError(t, run(context.Background(), o, &log))
	assert.Contains(t, log.String(), "steps=5 resumed_from=0")
	for _, f := range []string{"model.safetensors", "metrics.csv", "curves.png", "best.safetensors", "step-000000004.safetensors", "step-000000005.safetensors"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	// Resuming a finished run only scores the test set again.
	log.Reset()
	o.resume = true
	require.NoError(t, run(context.Background(), o, &log))
	assert.Contains(t, log.String(), "steps=5 resumed_from=5")

	// A fresh run in the same folder starts afresh.
	log.Reset()
	o.resume = false
	require.NoError(t, run(context.Background(), o, &log))
	assert.Contains(t, log.String(), "starting afresh")
	assert.Contains(t, log.String(), "resumed_from=0")

	o.resume = true
	o.out = t.TempDir()
	assert.ErrorContains(t, run(context.Background(), o, &log), "no checkpoint")
	o.progress = "fancy"
	assert.ErrorContains(t, run(context.Background(), o, &log), "-progress")
}
