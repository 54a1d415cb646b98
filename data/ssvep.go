package data

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/deepgo/deepgo/autograd"
)

// SSVEPSubject is one subject's SSVEP recording: Blocks × Targets trials,
// each Channels × Samples, in microvolts. Trial (b, k) is the k-th target
// of block b; its samples run from the trial's start, which is
// SSVEPDataset.Onset seconds before the stimulus onset.
type SSVEPSubject struct {
	// Name identifies the subject ("S1", ...).
	Name string
	// Data holds the trials, Data[((b·Targets + k)·Channels + c)·Samples + t]
	// for block b, target k, channel c and sample t.
	Data []float32
	// Blocks, Targets, Channels and Samples are the dimensions of Data.
	Blocks, Targets, Channels, Samples int
}

// Trial returns the Channels × Samples values of target k in block b
// (row-major, channel by channel), sharing Data's storage.
func (s *SSVEPSubject) Trial(block, target int) []float32 {
	if block < 0 || block >= s.Blocks || target < 0 || target >= s.Targets {
		panic(fmt.Sprintf("data: SSVEPSubject.Trial: block %d, target %d out of range (%d blocks, %d targets)", block, target, s.Blocks, s.Targets))
	}
	n := s.Channels * s.Samples
	off := (block*s.Targets + target) * n
	return s.Data[off : off+n : off+n]
}

// SSVEPDataset is a set of subjects' SSVEP recordings made with one
// stimulus set: the synthetic benchmark of GenerateSSVEP, or the Tsinghua
// Benchmark or BETA datasets read by LoadSSVEPDir.
type SSVEPDataset struct {
	// Name is "synthetic", "Benchmark" or "BETA".
	Name string
	// SampleRate is the sampling rate in Hz (250 for all three).
	SampleRate float64
	// Freqs and Phases (radians) are the stimulus frequency and phase of
	// each target, in the order of the trials' target index.
	Freqs, Phases []float64
	// ChannelNames name the channels of the trials, in order.
	ChannelNames []string
	// Onset is the time in seconds from a trial's start to the stimulus
	// onset: the 0.5 s visual cue of the Benchmark and BETA recordings.
	Onset float64
	// Latency is the visual latency in seconds that analysis windows skip
	// after the onset: 0.14 s for the Benchmark and the synthetic set,
	// 0.13 s for BETA (Guney et al.).
	Latency float64
	// Subjects are the recordings, one per subject.
	Subjects []*SSVEPSubject
}

// WindowStart returns the index of the first sample of an analysis
// window: round((Onset + Latency)·SampleRate), 160 at 250 Hz with the
// Benchmark's 0.5 s cue and 0.14 s latency, as main.m of Guney et al.
func (d *SSVEPDataset) WindowStart() int {
	return int(math.Round((d.Latency + d.Onset) * d.SampleRate))
}

// Targets returns the number of targets (classes).
func (d *SSVEPDataset) Targets() int { return len(d.Freqs) }

// SSVEPChannelNames are the nine parietal and occipital channels of Guney
// et al. (and most SSVEP work on the Benchmark), in their order.
var SSVEPChannelNames = []string{"Pz", "PO3", "PO5", "PO4", "PO6", "POz", "O1", "Oz", "O2"}

// SSVEPChannels are the 0-based indices of SSVEPChannelNames among the 64
// channels of the Benchmark and BETA files (1-based 48 54 55 56 57 58 61
// 62 63).
var SSVEPChannels = []int{47, 53, 54, 55, 56, 57, 60, 61, 62}

// BenchmarkFreqsPhases returns the stimulus frequencies (Hz) and phases
// (radians) of the 40 targets of the Tsinghua Benchmark dataset in the
// order of its files' target index: 8, 9, ..., 15, 8.2, 9.2, ..., 15.8 Hz
// (the dataset's Freq_Phase.mat; LoadSSVEPDir reads that file instead when
// it is in the folder), each with phase ((f−8)/0.2 · π/2) mod 2π.
func BenchmarkFreqsPhases() (freqs, phases []float64) {
	for k := 0; k < 40; k++ {
		f := 8 + float64(k%8) + 0.2*float64(k/8)
		step := int(math.Round((f - 8) / 0.2))
		freqs = append(freqs, f)
		phases = append(phases, float64(step%4)*math.Pi/2)
	}
	return freqs, phases
}

// SSVEPConfig configures GenerateSSVEP, the seeded synthetic SSVEP
// benchmark. DefaultSSVEPConfig gives the Benchmark dataset's structure.
type SSVEPConfig struct {
	// Subjects, Blocks and Targets: 35, 6 and 40 in the Benchmark.
	Subjects, Blocks, Targets int
	// SampleRate in Hz (250).
	SampleRate float64
	// Seconds is the length of each trial, including the Onset seconds
	// before the stimulus onset (default 2: 0.5 s cue, 1.5 s of
	// stimulation, enough for windows up to 1.0 s after the latency).
	Seconds float64
	// Onset is the time from a trial's start to the stimulus onset (0.5).
	Onset float64
	// SNR is the subjects' mean wide-band signal-to-noise ratio in dB: the
	// power of the SSVEP (all harmonics) over the power of the background
	// EEG, both over the whole band and averaged over the channels.
	SNR float64
	// SNRSpread is the standard deviation in dB of the subjects' SNR
	// around SNR, so that some subjects are good and some poor.
	SNRSpread float64
	// Latency is the mean visual latency in seconds (0.14) and
	// LatencySpread its standard deviation across subjects.
	Latency, LatencySpread float64
	// Harmonics is the number of harmonics of the response (5).
	Harmonics int
	// NoiseMicrovolts is the background EEG's standard deviation in µV
	// (wide-band).
	NoiseMicrovolts float64
	// Seed seeds everything; subject s depends only on (Seed, s), so the
	// first subjects of a larger set are those of a smaller one.
	Seed uint64
}

// DefaultSSVEPConfig returns the synthetic benchmark used by
// examples/ssvep: 35 subjects, 6 blocks, 40 targets at 8–15.8 Hz, 9
// channels at 250 Hz, 2 s trials, latency 0.14 s ± 15 ms, 5 harmonics,
// 10 µV background and SNR −8 dB ± 3 dB. The SNR was chosen for FBCCA
// alone, before any network was trained: with it FBCCA reaches 53% at
// 0.4 s (94% at 1.0 s) over the 35 subjects, in the 50–65% that it
// reaches at 0.4 s with 9 channels on the real Benchmark.
func DefaultSSVEPConfig() SSVEPConfig {
	return SSVEPConfig{
		Subjects: 35, Blocks: 6, Targets: 40, SampleRate: 250, Seconds: 2, Onset: 0.5,
		SNR: -8, SNRSpread: 3, Latency: 0.14, LatencySpread: 0.015, Harmonics: 5,
		NoiseMicrovolts: 10, Seed: 1,
	}
}

// Salts for the generator's streams.
const (
	ssvepSubjectSalt = 0x7373766570 // "ssvep"
	ssvepTrialSalt   = 0x747269616c // "trial"
)

// ssvepTopography is the SSVEP's mean amplitude on the nine channels of
// SSVEPChannelNames: strongest at Oz, weaker towards Pz.
var ssvepTopography = []float64{0.45, 0.7, 0.65, 0.7, 0.65, 0.8, 0.9, 1.0, 0.9}

// SSVEP background: the share of the background's power in each source.
const (
	ssvepCommonPink = 0.45 // pink noise common to all channels (volume conduction)
	ssvepLocalPink  = 0.25 // pink noise of each channel
	ssvepAlpha      = 0.2  // the subject's alpha rhythm, two sources
	ssvepWhite      = 0.1  // white noise of each channel
)

// GenerateSSVEP returns a seeded synthetic SSVEP dataset with the
// Benchmark's structure: cfg.Targets targets flickering at
// f_k = 8 + 0.2k Hz with phase φ_k = (k·π/2) mod 2π (k from 0), trials of
// SSVEPChannelNames at cfg.SampleRate, cfg.Blocks blocks of every target
// per subject. The response of subject s on channel c to target k is
//
//	Σ_h a_{s,c,h} · e(t) · sin(2π·h·f_k·(t − τ_s) + h·φ_k + ψ_{s,c,h}),  h = 1..Harmonics,
//
// from the onset plus the subject's latency τ_s on, with an envelope e
// that rises over 50 ms; a ∝ 1/h times the subject's own channel gains
// (around a topography that peaks at Oz), harmonic gains and gains per
// target, and ψ the subject's own phases per channel and harmonic. Each
// trial varies a little in amplitude and latency. The background is pink
// (1/f) noise common to all channels and per channel, the subject's alpha
// rhythm (9–11 Hz) on two sources with their own topographies, and white
// noise, scaled to cfg.NoiseMicrovolts; the SSVEP is scaled to the
// subject's SNR. Subjects differ in gains, phases, latency, alpha and SNR,
// which is what makes fine-tuning a model per subject pay.
//
// Generation runs on GOMAXPROCS goroutines; the result depends only on
// cfg.
func GenerateSSVEP(cfg SSVEPConfig) (*SSVEPDataset, error) {
	if cfg.Subjects <= 0 || cfg.Blocks <= 0 || cfg.Targets <= 0 || cfg.Harmonics <= 0 {
		return nil, fmt.Errorf("data: GenerateSSVEP: %d subjects, %d blocks, %d targets, %d harmonics: each must be positive (DefaultSSVEPConfig has 35, 6, 40, 5)",
			cfg.Subjects, cfg.Blocks, cfg.Targets, cfg.Harmonics)
	}
	if cfg.SampleRate <= 0 || cfg.Seconds <= cfg.Onset || cfg.Onset < 0 || cfg.NoiseMicrovolts <= 0 || cfg.Latency < 0 || cfg.LatencySpread < 0 || cfg.SNRSpread < 0 {
		return nil, fmt.Errorf("data: GenerateSSVEP: sample rate %v Hz, %v s trials with onset at %v s, noise %v µV, latency %v ± %v s, SNR spread %v dB: need positive rate and noise, onset in [0, trial length), non-negative latency and spreads",
			cfg.SampleRate, cfg.Seconds, cfg.Onset, cfg.NoiseMicrovolts, cfg.Latency, cfg.LatencySpread, cfg.SNRSpread)
	}
	if top := 8 + 0.2*float64(cfg.Targets-1); top >= cfg.SampleRate/2 {
		return nil, fmt.Errorf("data: GenerateSSVEP: the highest target, %v Hz, is above the Nyquist frequency %v Hz", top, cfg.SampleRate/2)
	}
	d := &SSVEPDataset{
		Name: "synthetic", SampleRate: cfg.SampleRate, Onset: cfg.Onset, Latency: cfg.Latency,
		ChannelNames: append([]string(nil), SSVEPChannelNames...),
		Subjects:     make([]*SSVEPSubject, cfg.Subjects),
	}
	for k := 0; k < cfg.Targets; k++ {
		d.Freqs = append(d.Freqs, 8+0.2*float64(k))
		d.Phases = append(d.Phases, math.Mod(float64(k)*math.Pi/2, 2*math.Pi))
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), cfg.Subjects); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range next {
				d.Subjects[s] = generateSSVEPSubject(cfg, d, s)
			}
		}()
	}
	for s := 0; s < cfg.Subjects; s++ {
		next <- s
	}
	close(next)
	wg.Wait()
	return d, nil
}

// ssvepProfile is what makes one synthetic subject: drawn once from
// (seed, subject).
type ssvepProfile struct {
	amp        [][]float64 // [channel][harmonic] amplitude (before SNR scaling)
	phase      [][]float64 // [channel][harmonic] phase offset ψ
	targetGain []float64   // per target
	latency    float64
	signal     float64 // SSVEP scale for the subject's SNR
	commonW    []float64
	alphaW     [2][]float64
	alphaFreq  float64
	blockGain  []float64
}

func newSSVEPProfile(cfg SSVEPConfig, s int) *ssvepProfile {
	rng := autograd.NewRNG(mix(cfg.Seed, ssvepSubjectSalt, uint64(s)))
	norm := func() float64 { return float64(rng.NormFloat32()) }
	logn := func(sigma float64) float64 { return math.Exp(sigma*norm() - sigma*sigma/2) }
	uni := func(lo, hi float64) float64 { return lo + (hi-lo)*float64(rng.Float32()) }
	nc, nh := len(SSVEPChannelNames), cfg.Harmonics
	p := &ssvepProfile{latency: cfg.Latency + cfg.LatencySpread*norm(), alphaFreq: uni(9, 11)}
	p.latency = math.Max(p.latency, 0.05)
	harm := make([]float64, nh)
	hphase := make([]float64, nh)
	for h := range harm {
		harm[h] = logn(0.3) / float64(h+1)
		hphase[h] = uni(0, 2*math.Pi)
	}
	hphase[0] = 0.5 * norm()
	delay := make([]float64, nc) // per-channel phase lag, growing with the harmonic
	for c := range delay {
		delay[c] = 0.15 * norm()
	}
	p.amp, p.phase = make([][]float64, nc), make([][]float64, nc)
	for c := 0; c < nc; c++ {
		g := ssvepTopography[c] * logn(0.3)
		p.amp[c], p.phase[c] = make([]float64, nh), make([]float64, nh)
		for h := 0; h < nh; h++ {
			p.amp[c][h] = g * harm[h]
			p.phase[c][h] = hphase[h] + float64(h+1)*delay[c] + 0.2*norm()
		}
	}
	p.targetGain = make([]float64, cfg.Targets)
	for k := range p.targetGain {
		p.targetGain[k] = logn(0.15)
	}
	p.blockGain = make([]float64, cfg.Blocks)
	for b := range p.blockGain {
		p.blockGain[b] = logn(0.1)
	}
	p.commonW = make([]float64, nc)
	for c := range p.commonW {
		p.commonW[c] = 1 + 0.15*norm()
	}
	for a := 0; a < 2; a++ {
		p.alphaW[a] = make([]float64, nc)
		for c := range p.alphaW[a] {
			p.alphaW[a][c] = math.Abs(ssvepTopography[c] + 0.3*norm())
		}
	}
	// Scale the SSVEP to the subject's SNR: the mean power over channels
	// and targets of Σ_h a²/2 against the background's NoiseMicrovolts².
	var pw float64
	for c := 0; c < nc; c++ {
		for h := 0; h < nh; h++ {
			pw += p.amp[c][h] * p.amp[c][h] / 2
		}
	}
	pw /= float64(nc)
	var tg float64
	for _, g := range p.targetGain {
		tg += g * g
	}
	pw *= tg / float64(len(p.targetGain))
	snr := cfg.SNR + cfg.SNRSpread*norm()
	p.signal = cfg.NoiseMicrovolts * math.Sqrt(math.Pow(10, snr/10)/pw)
	return p
}

// generateSSVEPSubject draws subject s's trials.
func generateSSVEPSubject(cfg SSVEPConfig, d *SSVEPDataset, s int) *SSVEPSubject {
	p := newSSVEPProfile(cfg, s)
	nc := len(SSVEPChannelNames)
	ns := int(math.Round(cfg.Seconds * cfg.SampleRate))
	sub := &SSVEPSubject{
		Name: fmt.Sprintf("S%d", s+1), Blocks: cfg.Blocks, Targets: cfg.Targets, Channels: nc, Samples: ns,
		Data: make([]float32, cfg.Blocks*cfg.Targets*nc*ns),
	}
	fs := cfg.SampleRate
	pinkStd := math.Sqrt(pinkVariance())
	r := 0.985 // alpha resonator pole radius: a ~2 Hz wide rhythm
	a1, a2 := 2*r*math.Cos(2*math.Pi*p.alphaFreq/fs), -r*r
	alphaStd := math.Sqrt((1 - a2) / ((1 + a2) * ((1-a2)*(1-a2) - a1*a1)))
	sd := cfg.NoiseMicrovolts
	wCommon := sd * math.Sqrt(ssvepCommonPink) / pinkStd
	wLocal := sd * math.Sqrt(ssvepLocalPink) / pinkStd
	wAlpha := sd * math.Sqrt(ssvepAlpha/2) / alphaStd
	wWhite := sd * math.Sqrt(ssvepWhite)
	common := make([]float64, ns)
	alpha := [2][]float64{make([]float64, ns), make([]float64, ns)}
	local := make([]float64, ns)
	for b := 0; b < cfg.Blocks; b++ {
		for k := 0; k < cfg.Targets; k++ {
			rng := autograd.NewRNG(mix(cfg.Seed, ssvepTrialSalt, uint64(s), uint64(b), uint64(k)))
			trial := sub.Trial(b, k)
			pinkNoise(common, rng)
			for a := range alpha {
				resonator(alpha[a], a1, a2, rng)
			}
			gain := p.signal * p.targetGain[k] * p.blockGain[b] * math.Exp(0.1*float64(rng.NormFloat32())-0.005)
			lat := p.latency + 0.005*float64(rng.NormFloat32())
			start := cfg.Onset + lat
			f, phi := d.Freqs[k], d.Phases[k]
			for c := 0; c < nc; c++ {
				pinkNoise(local, rng)
				row := trial[c*ns : (c+1)*ns]
				for t := 0; t < ns; t++ {
					v := wCommon*p.commonW[c]*common[t] + wLocal*local[t] +
						wAlpha*(p.alphaW[0][c]*alpha[0][t]+p.alphaW[1][c]*alpha[1][t]) +
						wWhite*float64(rng.NormFloat32())
					if tt := float64(t)/fs - start; tt >= 0 {
						env := gain * (1 - math.Exp(-tt/0.05))
						for h := 0; h < cfg.Harmonics; h++ {
							hf := float64(h + 1)
							if hf*f >= fs/2 { // above the Nyquist frequency: not sampled
								break
							}
							v += env * p.amp[c][h] * math.Sin(2*math.Pi*hf*f*tt+hf*phi+p.phase[c][h])
						}
					}
					row[t] = float32(v)
				}
			}
		}
	}
	return sub
}

// The pinking filter of Paul Kellet (refined version): six first-order
// sections and a direct path driven by one white noise give a 1/f
// spectrum over three decades below the Nyquist frequency.
var (
	pinkPoles = [6]float64{0.99886, 0.99332, 0.96900, 0.86650, 0.55000, -0.7616}
	pinkGains = [6]float64{0.0555179, 0.0750759, 0.1538520, 0.3104856, 0.5329522, -0.0168980}
)

const (
	pinkDirect = 0.5362
	pinkDelay  = 0.115926
)

// pinkVariance returns the stationary variance of the pinking filter's
// output for unit white noise.
func pinkVariance() float64 {
	v := pinkDirect*pinkDirect + pinkDelay*pinkDelay
	for i := range pinkPoles {
		for j := range pinkPoles {
			v += pinkGains[i] * pinkGains[j] / (1 - pinkPoles[i]*pinkPoles[j])
		}
		v += 2 * pinkDirect * pinkGains[i]               // E[b_i[n]·w[n]]
		v += 2 * pinkDelay * pinkGains[i] * pinkPoles[i] // E[b_i[n]·w[n−1]]
	}
	return v
}

// pinkNoise fills out with pink noise, starting each section from its
// stationary spread.
func pinkNoise(out []float64, rng *autograd.RNG) {
	var st [6]float64
	for i := range st {
		st[i] = pinkGains[i] / math.Sqrt(1-pinkPoles[i]*pinkPoles[i]) * float64(rng.NormFloat32())
	}
	prev := float64(rng.NormFloat32())
	for t := range out {
		w := float64(rng.NormFloat32())
		v := pinkDirect*w + pinkDelay*prev
		for i := range st {
			st[i] = pinkPoles[i]*st[i] + pinkGains[i]*w
			v += st[i]
		}
		out[t], prev = v, w
	}
}

// resonator fills out with a narrow-band rhythm, the AR(2) process
// x[n] = a1·x[n−1] + a2·x[n−2] + w[n], after a burn-in.
func resonator(out []float64, a1, a2 float64, rng *autograd.RNG) {
	var x1, x2 float64
	for t := -300; t < len(out); t++ {
		x := a1*x1 + a2*x2 + float64(rng.NormFloat32())
		x1, x2 = x, x1
		if t >= 0 {
			out[t] = x
		}
	}
}

// SSVEPLoadConfig configures LoadSSVEPDir.
type SSVEPLoadConfig struct {
	// Format is "benchmark", "beta" or "" to tell from the first file.
	Format string
	// Subjects is the number of subjects to read, S1.mat to S<n>.mat; 0
	// reads every S<n>.mat from S1 on.
	Subjects int
	// Channels are the 0-based indices of the channels to keep among the
	// file's 64; nil keeps SSVEPChannels (Pz, PO3, PO5, PO4, PO6, POz,
	// O1, Oz, O2).
	Channels []int
	// Samples keeps the first Samples samples of each trial (0: all), to
	// save memory when only short windows are needed.
	Samples int
}

// SSVEPFileInfo describes a subject file read by LoadSSVEPSubject.
type SSVEPFileInfo struct {
	// Format is "benchmark" or "beta".
	Format string
	// Freqs and Phases are BETA's suppl_info.freqs and .phases when the
	// file has them (nil otherwise).
	Freqs, Phases []float64
	// ChannelNames are the names of the channels kept, from BETA's
	// suppl_info.chan when the file has it (nil otherwise).
	ChannelNames []string
}

// LoadSSVEPSubject reads one subject's MAT-file of the Tsinghua SSVEP
// Benchmark (Wang et al. 2017) or BETA (Liu et al. 2020) dataset and
// keeps the given channels (0-based; nil for SSVEPChannels) and the first
// samples samples of each trial (0 for all).
//
// Supported layouts (level-5 MAT-files, as the datasets ship them):
//
//   - Benchmark: a variable data of size [64, 1500, 40, 6] — channels,
//     samples (6 s at 250 Hz: 0.5 s before the stimulus, 5 s of it, 0.5 s
//     after), targets, blocks.
//   - BETA: a struct data with a field EEG of size [64, 750, 4, 40]
//     (subjects 1–15) or [64, 1000, 4, 40] (16–70) — channels, samples
//     (0.5 s, 2 or 3 s of stimulation, 0.5 s), blocks, targets: blocks and
//     targets are swapped against the Benchmark. The struct's suppl_info,
//     when present, gives freqs, phases and chan (the channel names in
//     its fourth column).
//
// Any numeric class works (double in the datasets); the dimensions are
// read from the file, so smaller files of the same layout load too.
func LoadSSVEPSubject(path string, channels []int, samples int) (*SSVEPSubject, SSVEPFileInfo, error) {
	var info SSVEPFileInfo
	f, err := LoadMat(path, "data")
	if err != nil {
		return nil, info, fmt.Errorf("%w (SSVEP subject files have a variable \"data\": Benchmark's numeric [64, samples, 40, 6] or BETA's struct with EEG [64, samples, 4, 40])", err)
	}
	v := f.Var("data")
	eeg := v
	info.Format = "benchmark"
	if v.Class == MatStruct {
		info.Format = "beta"
		if eeg = v.Field("EEG"); eeg == nil {
			return nil, info, fmt.Errorf("data: %s: variable \"data\" is a struct without a field EEG (fields %v); BETA files have data.EEG [64, samples, 4, 40]", path, v.FieldNames)
		}
		readBETAInfo(v.Field("suppl_info"), &info)
	}
	if !eeg.Class.Numeric() || len(eeg.Dims) != 4 {
		return nil, info, fmt.Errorf("data: %s: %s is not a numeric 4-D array; want [64 channels, samples, 40 targets, 6 blocks] (Benchmark) or data.EEG [64, samples, 4 blocks, 40 targets] (BETA)", path, eeg.describe())
	}
	nch, nsamp := eeg.Dims[0], eeg.Dims[1]
	targets, blocks := eeg.Dims[2], eeg.Dims[3]
	if info.Format == "beta" {
		targets, blocks = blocks, targets
	}
	if channels == nil {
		channels = SSVEPChannels
	}
	for _, c := range channels {
		if c < 0 || c >= nch {
			return nil, info, fmt.Errorf("data: %s: channel index %d (0-based) out of range: the file has %d channels", path, c, nch)
		}
	}
	if samples <= 0 {
		samples = nsamp
	}
	if samples > nsamp {
		return nil, info, fmt.Errorf("data: %s: the trials have %d samples, fewer than the %d asked for (enough for the cue, the visual latency and the longest window); use shorter windows or the full recordings", path, nsamp, samples)
	}
	base := filepath.Base(path)
	sub := &SSVEPSubject{
		Name: base[:len(base)-len(filepath.Ext(base))], Blocks: blocks, Targets: targets, Channels: len(channels), Samples: samples,
		Data: make([]float32, blocks*targets*len(channels)*samples),
	}
	for b := 0; b < blocks; b++ {
		for k := 0; k < targets; k++ {
			i3, i4 := k, b // column-major index (c, t, k, b)
			if info.Format == "beta" {
				i3, i4 = b, k
			}
			trial := sub.Trial(b, k)
			for ci, c := range channels {
				for t := 0; t < samples; t++ {
					trial[ci*samples+t] = float32(eeg.Real[c+nch*(t+nsamp*(i3+eeg.Dims[2]*i4))])
				}
			}
		}
	}
	if info.ChannelNames != nil {
		names := make([]string, len(channels))
		for i, c := range channels {
			if c < len(info.ChannelNames) {
				names[i] = info.ChannelNames[c]
			}
		}
		info.ChannelNames = names
	}
	return sub, info, nil
}

// readBETAInfo takes freqs, phases and channel names from BETA's
// suppl_info when they are there in the expected form.
func readBETAInfo(s *MatArray, info *SSVEPFileInfo) {
	if s == nil {
		return
	}
	if f := s.Field("freqs"); f != nil && f.Class.Numeric() {
		info.Freqs = append([]float64(nil), f.Real...)
	}
	if p := s.Field("phases"); p != nil && p.Class.Numeric() {
		info.Phases = append([]float64(nil), p.Real...)
	}
	if c := s.Field("chan"); c != nil && c.Class == MatCell && len(c.Dims) == 2 && c.Dims[1] >= 4 {
		rows := c.Dims[0]
		names := make([]string, rows)
		for i := range names {
			if cell := c.Cells[i+rows*3]; cell != nil && cell.Class == MatChar {
				names[i] = cell.Text
			}
		}
		info.ChannelNames = names
	}
}

// LoadSSVEPDir reads the subject files S1.mat, S2.mat, ... (or s1.mat,
// ...) of the Benchmark or BETA dataset from dir (see LoadSSVEPSubject
// for the layouts). It sets the dataset's latency (0.14 s Benchmark,
// 0.13 s BETA), the 0.5 s onset, 250 Hz, and the targets' frequencies and
// phases: Benchmark's from Freq_Phase.mat in dir when it is there (else
// BenchmarkFreqsPhases), BETA's from the first file's suppl_info.
func LoadSSVEPDir(dir string, cfg SSVEPLoadConfig) (*SSVEPDataset, error) {
	if cfg.Format != "" && cfg.Format != "benchmark" && cfg.Format != "beta" {
		return nil, fmt.Errorf("data: LoadSSVEPDir: format %q: use \"benchmark\", \"beta\" or \"\" (detect)", cfg.Format)
	}
	find := func(n int) string {
		for _, name := range []string{fmt.Sprintf("S%d.mat", n), fmt.Sprintf("s%d.mat", n)} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
	d := &SSVEPDataset{SampleRate: 250, Onset: 0.5}
	for n := 1; cfg.Subjects == 0 || n <= cfg.Subjects; n++ {
		path := find(n)
		if path == "" {
			if cfg.Subjects > 0 || n == 1 {
				return nil, fmt.Errorf("data: LoadSSVEPDir: no S%d.mat in %s; give the folder holding the dataset's subject files S1.mat, S2.mat, ...", n, dir)
			}
			break
		}
		sub, info, err := LoadSSVEPSubject(path, cfg.Channels, cfg.Samples)
		if err != nil {
			return nil, err
		}
		if cfg.Format != "" && info.Format != cfg.Format {
			return nil, fmt.Errorf("data: %s is in the %s layout, but format %q was asked for", path, info.Format, cfg.Format)
		}
		if n == 1 {
			cfg.Format = info.Format
			if err := d.setStimuli(dir, info, sub.Targets); err != nil {
				return nil, err
			}
			if info.ChannelNames != nil {
				d.ChannelNames = info.ChannelNames
			}
		}
		if sub.Targets != d.Targets() {
			return nil, fmt.Errorf("data: %s has %d targets, S1 has %d", path, sub.Targets, d.Targets())
		}
		d.Subjects = append(d.Subjects, sub)
	}
	if d.ChannelNames == nil && (cfg.Channels == nil || equalInts(cfg.Channels, SSVEPChannels)) {
		d.ChannelNames = append([]string(nil), SSVEPChannelNames...)
	}
	return d, nil
}

// setStimuli fills the name, latency and the targets' frequencies and
// phases for the format in info.
func (d *SSVEPDataset) setStimuli(dir string, info SSVEPFileInfo, targets int) error {
	if info.Format == "beta" {
		d.Name, d.Latency = "BETA", 0.13
		d.Freqs, d.Phases = info.Freqs, info.Phases
	} else {
		d.Name, d.Latency = "Benchmark", 0.14
		d.Freqs, d.Phases = BenchmarkFreqsPhases()
		if fp := filepath.Join(dir, "Freq_Phase.mat"); fileExists(fp) {
			m, err := LoadMat(fp, "freqs", "phases")
			if err != nil {
				return err
			}
			d.Freqs, d.Phases = m.Var("freqs").Real, m.Var("phases").Real
		}
	}
	if len(d.Freqs) != targets || len(d.Phases) != targets {
		return fmt.Errorf("data: LoadSSVEPDir: %s: %d frequencies and %d phases for %d targets; BETA files carry them in data.suppl_info.freqs and .phases, the Benchmark in Freq_Phase.mat",
			dir, len(d.Freqs), len(d.Phases), targets)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
