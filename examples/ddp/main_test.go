package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/dist"
	"github.com/deepgo/deepgo/nn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetIsTheQuickstarts(t *testing.T) {
	m := NewNet(autograd.NewRNG(1), 16, 32)
	assert.Equal(t, []int{2, 10}, m.Forward(autograd.Zeros(2, 1, 28, 28)).Shape())
	_, total := nn.NumParams(m)
	assert.Equal(t, 20490, total)
}

// fakeMNIST writes n random 28×28 images per split with labels to dir, in
// the IDX format.
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

// TestRunAsOneProcess runs the program over dist.Single, as the default
// build does; .ci/run runs it under mpirun with two ranks.
func TestRunAsOneProcess(t *testing.T) {
	mnist, out := t.TempDir(), t.TempDir()
	fakeMNIST(t, mnist, 120)
	o := options{out: out, epochs: 1, maxSteps: 5, batch: 16, lr: 0.01, seed: 1, channels1: 4, channels2: 8,
		valSize: 20, evalEvery: 2, checkpointEvery: 2, progress: "log", mnistDir: mnist, bucketMB: 25}
	var log bytes.Buffer
	require.NoError(t, run(context.Background(), dist.Single{}, o, &log))
	assert.Contains(t, log.String(), "steps=5 ranks=1 batch_per_rank=16")
	assert.Contains(t, log.String(), "resumed_from=0")
	for _, f := range []string{"model.safetensors", "metrics.csv", "curves.png", "step-000000005.safetensors"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	log.Reset()
	o.resume = true
	require.NoError(t, run(context.Background(), dist.Single{}, o, &log))
	assert.Contains(t, log.String(), "resumed_from=5")

	o.out = t.TempDir()
	assert.ErrorContains(t, run(context.Background(), dist.Single{}, o, &log), "no checkpoint")
}
