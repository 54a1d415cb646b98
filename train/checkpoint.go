package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/deepgo/deepgo/nn"
)

// BestCheckpointName is the file name, inside Trainer.Dir, of the
// checkpoint taken at the best validation score.
const BestCheckpointName = "best.safetensors"

// CheckpointName returns the file name of the periodic checkpoint taken
// after step optimizer steps: "step-000001200.safetensors".
func CheckpointName(step int) string { return fmt.Sprintf("step-%09d.safetensors", step) }

var checkpointRE = regexp.MustCompile(`^step-(\d{9,})\.safetensors$`)

// Checkpoint is a periodic checkpoint file found in a folder.
type Checkpoint struct {
	// Path is the file's path.
	Path string
	// Step is the number of optimizer steps done when it was written.
	Step int
}

// Checkpoints lists the periodic checkpoints in dir (named by
// CheckpointName), oldest first. Temporary files left by an interrupted
// write start with a dot and are not listed. A missing dir has none.
func Checkpoints(dir string) ([]Checkpoint, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: listing checkpoints: %w", err)
	}
	var out []Checkpoint
	for _, e := range entries {
		m := checkpointRE.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		step, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		out = append(out, Checkpoint{Path: filepath.Join(dir, e.Name()), Step: step})
	}
	slices.SortFunc(out, func(a, b Checkpoint) int { return a.Step - b.Step })
	return out, nil
}

// LatestCheckpoint returns the path of the newest periodic checkpoint in
// dir that reads back as a whole safetensors file, skipping (and naming in
// the error, when none is left) any that does not. It returns an error
// that says so when dir has no checkpoint.
func LatestCheckpoint(dir string) (string, error) {
	cks, err := Checkpoints(dir)
	if err != nil {
		return "", err
	}
	var bad []string
	for i := len(cks) - 1; i >= 0; i-- {
		if _, err := nn.LoadSafetensors(cks[i].Path); err != nil {
			bad = append(bad, fmt.Sprintf("%s (%v)", cks[i].Path, err))
			continue
		}
		return cks[i].Path, nil
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("train: no readable checkpoint in %s; unreadable: %v", dir, bad)
	}
	return "", fmt.Errorf("train: no checkpoint (%s) in %s; train without resuming first, with Trainer.Dir set to it", CheckpointName(0)[:5]+"*.safetensors", dir)
}

var temporaryRE = regexp.MustCompile(`^\.(step-\d+\.safetensors|best\.safetensors|metrics\.csv|curves\.png)\.tmp-`)

// removeTemporaries deletes the temporary files that writes of the
// Trainer's files interrupted by a crash left in dir.
func removeTemporaries(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if temporaryRE.MatchString(e.Name()) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// prune deletes the oldest periodic checkpoints in dir so that keep remain.
func prune(dir string, keep int) error {
	cks, err := Checkpoints(dir)
	if err != nil {
		return err
	}
	for len(cks) > keep {
		if err := os.Remove(cks[0].Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: removing old checkpoint: %w", err)
		}
		cks = cks[1:]
	}
	return nil
}
