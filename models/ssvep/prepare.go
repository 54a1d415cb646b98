package ssvep

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
)

// WindowSamples returns the number of samples of a window of the given
// length in seconds at sampling rate fs: round(window·fs), 100 for 0.4 s
// at 250 Hz.
func WindowSamples(window, fs float64) int { return int(math.Round(window * fs)) }

// RawWindow returns the analysis window of target k in block b of a
// subject: samples samples of each channel from the dataset's
// WindowStart (the stimulus onset plus the visual latency), as float64,
// row-major (channel by channel). It panics when the trials are too short.
func RawWindow(d *data.SSVEPDataset, sub *data.SSVEPSubject, block, target, samples int) []float64 {
	start := d.WindowStart()
	if start+samples > sub.Samples {
		panic(fmtPanic("RawWindow", "a window of %d samples from sample %d does not fit in trials of %d samples", samples, start, sub.Samples))
	}
	tr := sub.Trial(block, target)
	out := make([]float64, sub.Channels*samples)
	for c := 0; c < sub.Channels; c++ {
		for t := 0; t < samples; t++ {
			out[c*samples+t] = float64(tr[c*sub.Samples+start+t])
		}
	}
	return out
}

// Features are the DNN's inputs for one window length: every trial of
// every subject cut to the window and split into sub-bands by the filter
// bank, as PreProcess.m of Guney et al. does (the window is cut first,
// then each channel is filtered with zero phase).
type Features struct {
	// X holds trial (s, b, k) at offset Trial(s, b, k)·TrialSize(): its
	// [SubBands, Channels, Samples] values, row-major.
	X []float32
	// Subjects, Blocks, Targets, SubBands, Channels and Samples are the
	// dimensions of X.
	Subjects, Blocks, Targets, SubBands, Channels, Samples int
	// Window is the window length in seconds.
	Window float64
}

// TrialSize returns the number of values of one trial: SubBands ·
// Channels · Samples.
func (f *Features) TrialSize() int { return f.SubBands * f.Channels * f.Samples }

// Trial returns the index of trial (subject, block, target) in X, in
// units of TrialSize.
func (f *Features) Trial(subject, block, target int) int {
	return (subject*f.Blocks+block)*f.Targets + target
}

// Label returns the target (class) of the trial with index i.
func (f *Features) Label(i int) int { return i % f.Targets }

// Prepare cuts every trial of d to a window of the given length in
// seconds from d.WindowStart() and filters it with bank. Every subject
// must have the same number of blocks, targets and channels; the work is
// spread over GOMAXPROCS goroutines.
func Prepare(d *data.SSVEPDataset, window float64, bank *FilterBank) (*Features, error) {
	if len(d.Subjects) == 0 {
		return nil, fmt.Errorf("ssvep: Prepare: the dataset has no subjects")
	}
	if bank.SampleRate != d.SampleRate {
		return nil, fmt.Errorf("ssvep: Prepare: filter bank designed for %v Hz, data at %v Hz", bank.SampleRate, d.SampleRate)
	}
	n := WindowSamples(window, d.SampleRate)
	s0 := d.Subjects[0]
	f := &Features{Subjects: len(d.Subjects), Blocks: s0.Blocks, Targets: s0.Targets, SubBands: bank.SubBands(),
		Channels: s0.Channels, Samples: n, Window: window}
	if n <= bank.Filters[0].PadLength() {
		return nil, fmt.Errorf("ssvep: Prepare: a %v s window has %d samples, too few to filter (more than %d needed)", window, n, bank.Filters[0].PadLength())
	}
	for _, s := range d.Subjects {
		if s.Blocks != f.Blocks || s.Targets != f.Targets || s.Channels != f.Channels {
			return nil, fmt.Errorf("ssvep: Prepare: subject %s has %d blocks, %d targets, %d channels; %s has %d, %d, %d",
				s.Name, s.Blocks, s.Targets, s.Channels, s0.Name, f.Blocks, f.Targets, f.Channels)
		}
		if d.WindowStart()+n > s.Samples {
			return nil, fmt.Errorf("ssvep: Prepare: subject %s: a %v s window (%d samples from sample %d) does not fit in trials of %d samples",
				s.Name, window, n, d.WindowStart(), s.Samples)
		}
	}
	f.X = make([]float32, f.Subjects*f.Blocks*f.Targets*f.TrialSize())
	parallel(f.Subjects, func(s int) {
		sub := d.Subjects[s]
		row := make([]float64, n)
		var buf []float64
		for b := 0; b < f.Blocks; b++ {
			for k := 0; k < f.Targets; k++ {
				raw := RawWindow(d, sub, b, k, n)
				out := f.X[f.Trial(s, b, k)*f.TrialSize():]
				for m, filt := range bank.Filters {
					for c := 0; c < f.Channels; c++ {
						buf = filt.FiltFiltBuf(row, raw[c*n:(c+1)*n], buf)
						dst := out[(m*f.Channels+c)*n:]
						for t, v := range row {
							dst[t] = float32(v)
						}
					}
				}
			}
		}
	})
	return f, nil
}

// Batch stacks the trials with the given indices (see Trial) into an
// input tensor [len(idx), SubBands, Channels, Samples] and their labels.
func (f *Features) Batch(idx []int) (*autograd.Tensor, []int) {
	ts := f.TrialSize()
	x := make([]float32, len(idx)*ts)
	labels := make([]int, len(idx))
	for j, i := range idx {
		copy(x[j*ts:(j+1)*ts], f.X[i*ts:(i+1)*ts])
		labels[j] = f.Label(i)
	}
	return autograd.Wrap(x, len(idx), f.SubBands, f.Channels, f.Samples), labels
}

// parallel runs fn(0..n−1) on GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// EvaluateFBCCA classifies every trial of d with FBCCA on windows of the
// given length and returns the accuracy per subject and block
// ([subject][block]), the same cells leave-one-block-out evaluation of the
// DNN fills. The subjects are spread over GOMAXPROCS goroutines.
func EvaluateFBCCA(d *data.SSVEPDataset, window float64, cfg FBCCAConfig) ([][]float64, error) {
	n := WindowSamples(window, d.SampleRate)
	for _, s := range d.Subjects {
		if d.WindowStart()+n > s.Samples {
			return nil, fmt.Errorf("ssvep: EvaluateFBCCA: subject %s: a %v s window (%d samples from sample %d) does not fit in trials of %d samples",
				s.Name, window, n, d.WindowStart(), s.Samples)
		}
	}
	if len(d.Freqs) < 2 {
		return nil, fmt.Errorf("ssvep: EvaluateFBCCA: the dataset has %d target frequencies; FBCCA needs at least 2", len(d.Freqs))
	}
	fb := NewFBCCA(d.Freqs, d.SampleRate, n, cfg)
	acc := make([][]float64, len(d.Subjects))
	parallel(len(d.Subjects), func(s int) {
		sub := d.Subjects[s]
		acc[s] = make([]float64, sub.Blocks)
		for b := 0; b < sub.Blocks; b++ {
			hits := 0
			for k := 0; k < sub.Targets; k++ {
				if fb.Classify(RawWindow(d, sub, b, k, n), sub.Channels) == k {
					hits++
				}
			}
			acc[s][b] = float64(hits) / float64(sub.Targets)
		}
	})
	return acc, nil
}
