package data

import (
	"math"
	"math/cmplx"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

// The codes gen_mat.py writes into the nine channels of the test files.
func benchCode(subject, b, k, t, i int) float32 {
	return float32(subject*100000 + ((b*40+k)*4+t)*9 + i + 1)
}

func TestLoadSSVEPBenchmark(t *testing.T) {
	sub, info, err := LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "benchmark", "S1.mat"), nil, 0)
	require.NoError(t, err)
	assert.Equal(t, "benchmark", info.Format)
	assert.Equal(t, "S1", sub.Name)
	assert.Equal(t, [4]int{6, 40, 9, 4}, [4]int{sub.Blocks, sub.Targets, sub.Channels, sub.Samples})
	for b := 0; b < 6; b++ {
		for k := 0; k < 40; k++ {
			tr := sub.Trial(b, k)
			for i := 0; i < 9; i++ {
				for s := 0; s < 4; s++ {
					require.Equal(t, benchCode(1, b, k, s, i), tr[i*4+s], "block %d target %d channel %d sample %d", b, k, i, s)
				}
			}
		}
	}
	// Other channels and a sample limit.
	sub, _, err = LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "benchmark", "S1.mat"), []int{0, 61}, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, sub.Channels)
	assert.Equal(t, 2, sub.Samples)
	tr := sub.Trial(3, 7)
	assert.Equal(t, []float32{0, 0, benchCode(1, 3, 7, 0, 7), benchCode(1, 3, 7, 1, 7)}, tr)

	_, _, err = LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "benchmark", "S1.mat"), []int{64}, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "channel index 64 (0-based) out of range: the file has 64 channels")
	_, _, err = LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "benchmark", "S1.mat"), nil, 5)
	require.Error(t, err)
	_, _, err = LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "misc.mat"), nil, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no variable "data"`)
}

func TestLoadSSVEPBETA(t *testing.T) {
	sub, info, err := LoadSSVEPSubject(filepath.Join("testdata", "ssvep", "beta", "S1.mat"), nil, 0)
	require.NoError(t, err)
	assert.Equal(t, "beta", info.Format)
	// BETA's EEG is [64, samples, 4 blocks, 40 targets].
	assert.Equal(t, [4]int{4, 40, 9, 5}, [4]int{sub.Blocks, sub.Targets, sub.Channels, sub.Samples})
	for b := 0; b < 4; b++ {
		for k := 0; k < 40; k++ {
			tr := sub.Trial(b, k)
			for i := 0; i < 9; i++ {
				for s := 0; s < 5; s++ {
					require.Equal(t, float32(((k*4+b)*5+s)*9+i+1), tr[i*5+s])
				}
			}
		}
	}
	require.Len(t, info.Freqs, 40)
	assert.InDelta(t, 8.6, info.Freqs[0], 1e-12)
	assert.InDelta(t, 8.6+0.2*39, info.Freqs[39], 1e-12)
	assert.InDelta(t, 3*math.Pi/2, info.Phases[3], 1e-12)
	assert.Equal(t, []string{"PZ", "PO3", "PO5", "PO4", "PO6", "POZ", "O1", "OZ", "O2"}, info.ChannelNames)

	d, err := LoadSSVEPDir(filepath.Join("testdata", "ssvep", "beta"), SSVEPLoadConfig{})
	require.NoError(t, err)
	assert.Equal(t, "BETA", d.Name)
	assert.Equal(t, 0.13, d.Latency)
	assert.Equal(t, 158, d.WindowStart()) // round(0.63·250), as MATLAB rounds 157.5
	assert.Len(t, d.Subjects, 1)
	assert.Equal(t, info.Freqs, d.Freqs)
	assert.Equal(t, "OZ", d.ChannelNames[7])
}

func TestLoadSSVEPDir(t *testing.T) {
	dir := filepath.Join("testdata", "ssvep", "benchmark")
	d, err := LoadSSVEPDir(dir, SSVEPLoadConfig{Format: "benchmark"})
	require.NoError(t, err)
	assert.Equal(t, "Benchmark", d.Name)
	require.Len(t, d.Subjects, 2)
	assert.Equal(t, "S2", d.Subjects[1].Name)
	assert.Equal(t, benchCode(2, 5, 39, 3, 8), d.Subjects[1].Trial(5, 39)[8*4+3])
	assert.Equal(t, 160, d.WindowStart())
	assert.Equal(t, 40, d.Targets())
	assert.Equal(t, SSVEPChannelNames, d.ChannelNames)
	// The Benchmark's target order: 8, 9, ..., 15, 8.2, ...
	assert.Equal(t, 8.0, d.Freqs[0])
	assert.Equal(t, 9.0, d.Freqs[1])
	assert.InDelta(t, 8.2, d.Freqs[8], 1e-12)
	assert.InDelta(t, 15.8, d.Freqs[39], 1e-12)
	assert.InDelta(t, math.Pi/2, d.Phases[1], 1e-12) // 9 Hz
	assert.InDelta(t, math.Pi/2, d.Phases[8], 1e-12) // 8.2 Hz
	assert.InDelta(t, 0, d.Phases[0], 1e-12)

	d, err = LoadSSVEPDir(dir, SSVEPLoadConfig{Subjects: 1})
	require.NoError(t, err)
	assert.Len(t, d.Subjects, 1)
	_, err = LoadSSVEPDir(dir, SSVEPLoadConfig{Subjects: 3})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no S3.mat")
	_, err = LoadSSVEPDir(dir, SSVEPLoadConfig{Format: "beta"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "benchmark layout")
	_, err = LoadSSVEPDir(t.TempDir(), SSVEPLoadConfig{})
	require.Error(t, err)
	_, err = LoadSSVEPDir(dir, SSVEPLoadConfig{Format: "tsinghua"})
	require.Error(t, err)
}

func smallSSVEPConfig() SSVEPConfig {
	cfg := DefaultSSVEPConfig()
	cfg.Subjects, cfg.Blocks = 3, 2
	return cfg
}

func TestGenerateSSVEPShapes(t *testing.T) {
	cfg := smallSSVEPConfig()
	d, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	assert.Equal(t, "synthetic", d.Name)
	require.Len(t, d.Subjects, 3)
	assert.Equal(t, 40, d.Targets())
	assert.Equal(t, 160, d.WindowStart())
	assert.InDelta(t, 15.8, d.Freqs[39], 1e-12)
	assert.InDelta(t, 3*math.Pi/2, d.Phases[3], 1e-12)
	assert.InDelta(t, 0, d.Phases[4], 1e-12)
	for _, s := range d.Subjects {
		assert.Equal(t, [4]int{2, 40, 9, 500}, [4]int{s.Blocks, s.Targets, s.Channels, s.Samples})
		assert.Len(t, s.Data, 2*40*9*500)
		for _, v := range s.Data {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
		}
	}
	// The background is about NoiseMicrovolts (the SSVEP adds 1%).
	var ss float64
	for _, v := range d.Subjects[0].Data {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(d.Subjects[0].Data)))
	assert.InDelta(t, cfg.NoiseMicrovolts, rms, 0.25*cfg.NoiseMicrovolts)
}

func TestGenerateSSVEPSeeded(t *testing.T) {
	cfg := smallSSVEPConfig()
	a, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	b, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	assert.Equal(t, a.Subjects[2].Data, b.Subjects[2].Data)
	// A subject depends only on (seed, subject): the first two of three
	// are the two of a smaller set.
	cfg.Subjects = 2
	c, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	assert.Equal(t, a.Subjects[1].Data, c.Subjects[1].Data)
	cfg.Seed = 2
	e, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	assert.NotEqual(t, a.Subjects[0].Data, e.Subjects[0].Data)
	// Subjects differ.
	assert.NotEqual(t, a.Subjects[0].Data[:100], a.Subjects[1].Data[:100])
}

// With a high SNR the response is visible: the trial's amplitude at the
// target's frequency after the onset is far above that at the other
// targets' frequencies, and before the onset it is not.
func TestGenerateSSVEPResponse(t *testing.T) {
	cfg := smallSSVEPConfig()
	cfg.Subjects, cfg.Blocks, cfg.SNR, cfg.SNRSpread = 1, 1, 0, 0
	d, err := GenerateSSVEP(cfg)
	require.NoError(t, err)
	s := d.Subjects[0]
	start := d.WindowStart()
	hits := 0
	for k := 0; k < 40; k++ {
		tr := s.Trial(0, k)
		oz := tr[7*s.Samples+start : 7*s.Samples+start+250]
		// A 1 s window resolves 1 Hz: compare with 1.1 Hz away.
		if dftAmp(oz, d.Freqs[k], d.SampleRate) > 2*dftAmp(oz, d.Freqs[k]+1.1, d.SampleRate) {
			hits++
		}
	}
	assert.GreaterOrEqual(t, hits, 36, "responses at 0 dB standing out of the background")
	// Before the onset there is no response.
	tr := s.Trial(0, 10)
	pre := dftAmp(tr[7*s.Samples:7*s.Samples+125], d.Freqs[10], d.SampleRate)
	post := dftAmp(tr[7*s.Samples+start:7*s.Samples+start+125], d.Freqs[10], d.SampleRate)
	assert.Greater(t, post, 3*pre)
}

func dftAmp(x []float32, f, fs float64) float64 {
	var z complex128
	for t, v := range x {
		z += complex(float64(v), 0) * cmplx.Exp(complex(0, -2*math.Pi*f*float64(t)/fs))
	}
	return cmplx.Abs(z) / float64(len(x))
}

// The analytic variance of the pinking filter matches a long run.
func TestPinkVariance(t *testing.T) {
	rng := autograd.NewRNG(3)
	x := make([]float64, 200000)
	pinkNoise(x, rng)
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	assert.InDelta(t, pinkVariance(), ss/float64(len(x)), 0.15*pinkVariance())
}

func TestGenerateSSVEPErrors(t *testing.T) {
	cfg := smallSSVEPConfig()
	cfg.Subjects = 0
	_, err := GenerateSSVEP(cfg)
	require.Error(t, err)
	cfg = smallSSVEPConfig()
	cfg.Seconds = 0.4
	_, err = GenerateSSVEP(cfg)
	require.Error(t, err)
	cfg = smallSSVEPConfig()
	cfg.SampleRate = 20
	_, err = GenerateSSVEP(cfg)
	require.Error(t, err)
}

func TestSSVEPTrialPanics(t *testing.T) {
	s := &SSVEPSubject{Blocks: 1, Targets: 2, Channels: 1, Samples: 1, Data: make([]float32, 2)}
	assert.Panics(t, func() { s.Trial(1, 0) })
	assert.Len(t, s.Trial(0, 1), 1)
}

func TestBenchmarkFreqsPhases(t *testing.T) {
	f, p := BenchmarkFreqsPhases()
	require.Len(t, f, 40)
	seen := map[int]bool{}
	for k := range f {
		step := int(math.Round((f[k] - 8) / 0.2))
		seen[step] = true
		assert.InDelta(t, math.Mod(float64(step)*math.Pi/2, 2*math.Pi), p[k], 1e-12)
	}
	assert.Len(t, seen, 40)
}
