package train

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bigModel has 4M parameters (16 MB), so that writing a checkpoint takes
// long enough for a kill to land in the middle of it.
type bigModel struct {
	Big *nn.Parameter
	Net *mlp
}

func newBigTrainer(t testing.TB, dir string) *Trainer {
	net, _ := newMLP(1)
	m := &bigModel{Big: nn.NewParameter(autograd.NewRNG(1).Normal(0, 1, 2048, 2048)), Net: net}
	return &Trainer{
		Model: m, Step: classify(net),
		Optimizer: optim.NewSGD(nn.Parameters(m), optim.DefaultSGDConfig()),
		Train:     loader(t, blobs(t, 20, 1, 0), 5, false, 0),
		MaxSteps:  1 << 30, Dir: dir, KeepLast: 2, Progress: ProgressOff,
	}
}

const crashEnv = "DEEPGO_TRAIN_CRASH_DIR"

// TestCrashWhileWritingKeepsThePreviousCheckpoint kills (SIGKILL) a process
// that writes checkpoints back to back, several times at different moments,
// and checks each time that the newest checkpoint left reads back whole
// and resumes, and that the temporary file of the interrupted write is
// ignored.
func TestCrashWhileWritingKeepsThePreviousCheckpoint(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		// The child: write checkpoints for steps 1, 2, 3, ... until killed.
		tr := newBigTrainer(t, dir)
		for step := 1; ; step++ {
			tr.step = step
			if err := tr.saveCheckpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if testing.Short() {
		t.Skip("writes checkpoints of 16 MB in a child process")
	}
	dir := t.TempDir()
	midWrite := 0
	for round := 0; round < 4; round++ {
		before, _ := Checkpoints(dir)
		tmpBefore := len(temporaries(t, dir))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWhileWritingKeepsThePreviousCheckpoint$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		require.NoError(t, cmd.Start())
		// Wait for two new checkpoints, then kill at a moment that moves
		// from round to round.
		deadline := time.Now().Add(20 * time.Second)
		for {
			cks, _ := Checkpoints(dir)
			if len(cks) >= 2 && cks[len(cks)-1].Step >= lastStep(before)+2 {
				break
			}
			require.True(t, time.Now().Before(deadline), "the child wrote no checkpoints")
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(round*7) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		if len(temporaries(t, dir)) > tmpBefore {
			midWrite++
		}
		latest, err := LatestCheckpoint(dir)
		require.NoError(t, err)
		tr := newBigTrainer(t, t.TempDir())
		require.NoError(t, tr.Resume(latest), "round %d", round)
		assert.Greater(t, tr.StepCount(), lastStep(before))
	}
	t.Logf("%d of 4 kills landed in the middle of a write", midWrite)

	// A new run in the folder removes the temporary files.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+CheckpointName(7)+".tmp-42"), []byte("partial"), 0o644))
	tr := newBigTrainer(t, dir)
	latest, err := LatestCheckpoint(dir)
	require.NoError(t, err)
	require.NoError(t, tr.Resume(latest))
	tr.MaxSteps = tr.StepCount() + 1
	_, err = tr.Fit(context.Background())
	require.NoError(t, err)
	assert.Empty(t, temporaries(t, dir))

	// A fresh run refuses a folder with another run's checkpoints.
	_, err = newBigTrainer(t, dir).Fit(context.Background())
	assert.ErrorContains(t, err, "already holds checkpoints of another run")
}

func lastStep(cks []Checkpoint) int {
	if len(cks) == 0 {
		return 0
	}
	return cks[len(cks)-1].Step
}

func temporaries(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A writer that is not atomic could leave a partial file under the final
// name; LatestCheckpoint skips it and falls back to the one before.
func TestLatestCheckpointSkipsAPartialFile(t *testing.T) {
	dir := t.TempDir()
	tr, _ := setup(t, dir, 10)
	tr.CheckpointEvery = 5
	_, err := tr.Fit(context.Background())
	require.NoError(t, err)
	good := filepath.Join(dir, CheckpointName(10))
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, CheckpointName(15)), b[:len(b)/2], 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "."+CheckpointName(20)+".tmp-123"), b[:100], 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "step-1.safetensors"), b, 0o644)) // not our name pattern

	latest, err := LatestCheckpoint(dir)
	require.NoError(t, err)
	assert.Equal(t, good, latest)

	cks, err := Checkpoints(dir)
	require.NoError(t, err)
	require.Len(t, cks, 3)
	assert.Equal(t, 5, cks[0].Step)

	empty := t.TempDir()
	_, err = LatestCheckpoint(empty)
	assert.ErrorContains(t, err, "no checkpoint")
	require.NoError(t, os.WriteFile(filepath.Join(empty, CheckpointName(3)), []byte("junk"), 0o644))
	_, err = LatestCheckpoint(empty)
	assert.ErrorContains(t, err, "no readable checkpoint")
	cks, err = Checkpoints(filepath.Join(empty, "missing"))
	assert.NoError(t, err)
	assert.Empty(t, cks)
}
