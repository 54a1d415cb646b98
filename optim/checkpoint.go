package optim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/nn"
)

// Checkpoint names what SaveCheckpoint writes and LoadCheckpoint restores.
// Every field but Model may be nil.
type Checkpoint struct {
	Model     any
	Optimizer Optimizer
	Scheduler Scheduler
	EMA       *EMA
	// Metadata is stored in the file's "__metadata__" (keys must not start
	// with one of the prefixes below); LoadCheckpoint fills it from the file.
	Metadata map[string]string
}

// The name prefixes of a checkpoint file: the model's tensors keep their
// state_dict names, the rest are prefixed.
const (
	optimizerPrefix = "optimizer."
	schedulerPrefix = "scheduler."
	emaPrefix       = "ema."
)

// SaveCheckpoint writes a training checkpoint to a safetensors file at path,
// atomically (see nn.SaveSafetensors): the model's state_dict under its own
// names, the optimizer's tensors under "optimizer.state.<i>.<buffer>", the
// EMA's averages under "ema.<name>", and every scalar (step counts, group
// hyperparameters, the schedule's step) in the metadata as decimal strings
// that round-trip float64 exactly. Loading it with LoadCheckpoint into fresh
// objects built the same way resumes training bit for bit.
func SaveCheckpoint(path string, c Checkpoint) error {
	if c.Model == nil {
		return fmt.Errorf("optim: SaveCheckpoint: no model")
	}
	tensors := nn.NamedStateDict(c.Model)
	meta := map[string]string{}
	for k, v := range c.Metadata {
		if hasReservedPrefix(k) {
			return fmt.Errorf("optim: SaveCheckpoint: metadata key %q uses a reserved prefix (optimizer., scheduler., ema.)", k)
		}
		meta[k] = v
	}
	for _, nt := range tensors {
		if hasReservedPrefix(nt.Name) {
			return fmt.Errorf("optim: SaveCheckpoint: model tensor %q uses a reserved prefix (optimizer., scheduler., ema.); rename the field with an nn tag", nt.Name)
		}
	}
	add := func(prefix string, s *State) {
		for _, nt := range s.Tensors {
			tensors = append(tensors, nn.NamedTensor{Name: prefix + nt.Name, Tensor: nt.Tensor})
		}
		for k, v := range s.Values {
			meta[prefix+k] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	if c.Optimizer != nil {
		add(optimizerPrefix, c.Optimizer.State())
	}
	if c.Scheduler != nil {
		add(schedulerPrefix, c.Scheduler.State())
	}
	if c.EMA != nil {
		add(emaPrefix, c.EMA.State())
	}
	return nn.SaveSafetensors(path, tensors, meta)
}

func hasReservedPrefix(s string) bool {
	return strings.HasPrefix(s, optimizerPrefix) || strings.HasPrefix(s, schedulerPrefix) || strings.HasPrefix(s, emaPrefix)
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint into the
// objects of c (those that are non-nil), strictly: every model tensor must
// be in the file with its shape. It fills c.Metadata, when non-nil, with
// the file's own metadata entries. On error the model may be loaded and
// the rest not.
func LoadCheckpoint(path string, c Checkpoint) error {
	if c.Model == nil {
		return fmt.Errorf("optim: LoadCheckpoint: no model")
	}
	f, err := nn.LoadSafetensors(path)
	if err != nil {
		return err
	}
	model := map[string]*autograd.Tensor{}
	parts := map[string]*State{
		optimizerPrefix: {Values: map[string]float64{}},
		schedulerPrefix: {Values: map[string]float64{}},
		emaPrefix:       {Values: map[string]float64{}},
	}
	for _, nt := range f.Tensors {
		if p := prefixOf(nt.Name); p != "" {
			parts[p].Tensors = append(parts[p].Tensors, nn.NamedTensor{Name: strings.TrimPrefix(nt.Name, p), Tensor: nt.Tensor})
		} else {
			model[nt.Name] = nt.Tensor
		}
	}
	for k, v := range f.Metadata {
		p := prefixOf(k)
		if p == "" {
			if c.Metadata != nil {
				c.Metadata[k] = v
			}
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("optim: LoadCheckpoint %s: metadata %q=%q is not a number", path, k, v)
		}
		parts[p].Values[strings.TrimPrefix(k, p)] = x
	}
	if _, err := nn.LoadStateDict(c.Model, model, true); err != nil {
		return fmt.Errorf("optim: LoadCheckpoint %s: %w", path, err)
	}
	if c.Optimizer != nil {
		if err := c.Optimizer.LoadState(parts[optimizerPrefix]); err != nil {
			return fmt.Errorf("optim: LoadCheckpoint %s: %w", path, err)
		}
	}
	if c.Scheduler != nil {
		if err := c.Scheduler.LoadState(parts[schedulerPrefix]); err != nil {
			return fmt.Errorf("optim: LoadCheckpoint %s: %w", path, err)
		}
	}
	if c.EMA != nil {
		if err := c.EMA.LoadState(parts[emaPrefix]); err != nil {
			return fmt.Errorf("optim: LoadCheckpoint %s: %w", path, err)
		}
	}
	return nil
}

func prefixOf(name string) string {
	for _, p := range []string{optimizerPrefix, schedulerPrefix, emaPrefix} {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}
