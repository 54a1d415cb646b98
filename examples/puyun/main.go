// Command puyun trains the PuYun cascade of models/puyun on the seeded
// synthetic atmosphere of data.GenerateWeather and scores its 10-day
// forecasts against persistence and climatology:
//
//	go run ./examples/puyun
//
// It generates a training trajectory (3000 6-hourly states, about two
// years) and a held-out one (another seed, 32 initial states three days
// apart), trains PuYun-Short on two-step autoregressive forecasts from the
// true states, copies it into PuYun-Medium and fine-tunes that on longer
// (8-step) autoregressive rollouts, backpropagating through every step,
// that start from PuYun-Short's own 20-step forecasts — the inputs Medium
// gets in the cascade. Then it runs the 40-step cascade (Short for steps
// 1–20, Medium for 21–40) from the held-out initial states and prints the
// latitude-weighted RMSE and ACC per variable at a few lead times for the
// cascade, Short alone, persistence and climatology. It writes
// puyun-out/forecast.png (-png): the z500 anomaly of the forecast at step 40 beside
// the truth and the persistence forecast. It ends with one line of
// key=value results.
//
// The model is a small PuYun (our choice, as the paper's widths are not
// public): patch size 4 on the 32 × 64 grid, width 48, 4 VAN blocks with
// large kernel attention padded circularly in longitude (-width, -depth,
// -patch), 137,824 parameters. The loss is the latitude-weighted MSE of
// the normalised states; AdamW (weight decay 1e-4) with a warm-up and a
// cosine schedule, peak learning rate 2e-3 for Short and 4e-4 for Medium,
// gradients clipped at norm 1. -short-iters, -medium-iters,
// -medium-rollout, -pool and -batch set the training length; -quick is a
// smoke test of a few seconds (its numbers mean nothing).
//
// Measured with the defaults alone on a 2-core machine (6 min 54 s wall;
// 261 s Short, 141 s Medium; the same figures as an earlier run that
// shared the machine and took 10 min 46 s):
//
//	var    step  cascade          short alone      persistence      climatology
//	z500     20  450.2 (0.925)    450.2 (0.925)    1653 (0.015)     1179 (0.000)
//	z500     40  737.6 (0.782)    1113 (0.660)     1744 (-0.090)    1183 (0.000)
//	t850     20  2.168 (0.950)    2.168 (0.950)    9.541 (0.047)    6.929 (0.000)
//	t850     40  3.542 (0.862)    3.724 (0.851)    9.209 (0.115)    6.968 (0.000)
//	u500     20  4.186 (0.948)    4.186 (0.948)    18.52 (0.007)    13.1 (0.000)
//	u500     40  7.907 (0.796)    12.31 (0.667)    19.62 (-0.118)   13.07 (0.000)
//	v500     20  1.811 (0.932)    1.811 (0.932)    7.207 (-0.041)   4.989 (0.000)
//	v500     40  2.622 (0.853)    2.781 (0.838)    6.877 (0.053)    4.999 (0.000)
//
// (RMSE in the variables' units, m²/s² for z500; ACC in parentheses.) At
// step 40 the cascade's z500 RMSE is 0.42 of persistence's and 0.62 of
// climatology's, and over steps 21–40 it is below Short alone's for every
// variable (Medium is trained on exactly the degraded inputs that it gets
// in the cascade). With -seed 2 (other data and weights; 12 min 50 s)
// z500 at step 40 scores 707.9 for the cascade, 1033 for Short alone,
// 1850 for persistence and 1260 for climatology, and again the cascade
// beats Short alone over steps 21–40 for every variable. The last line
// of the default run:
//
//	params=137824 short_iters=2500 medium_iters=500 medium_rollout=8 z500_rmse20_cascade=450.2 z500_rmse40_cascade=737.6 z500_rmse40_short=1113.3 z500_rmse40_persistence=1744.5 z500_rmse40_climatology=1182.6 z500_acc40_cascade=0.782 z500_ratio40_persistence=0.423 mean_ratio40_persistence=0.398 mean_ratio40_climatology=0.565 cascade_beats_short_21_40=4/4 short_seconds=428 medium_seconds=200 eval_seconds=6 seconds=646
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/models/puyun"
	"github.com/deepgo/deepgo/nn"
	"github.com/deepgo/deepgo/optim"
)

type options struct {
	trainSteps, testInits   int
	width, depth, patch     int
	batch                   int
	shortIters, mediumIters int
	shortRollout            int
	mediumRollout           int
	lr                      float64
	pool                    int
	seed                    uint64
	png                     string
	quick                   bool
	evalBatch               int
	logEvery                int
}

func main() {
	var o options
	flag.IntVar(&o.trainSteps, "train-steps", 3000, "6-hourly states in the training trajectory")
	flag.IntVar(&o.testInits, "test-inits", 32, "held-out initial states scored")
	flag.IntVar(&o.width, "width", 48, "channels C of the LKA blocks")
	flag.IntVar(&o.depth, "depth", 4, "number of VAN blocks")
	flag.IntVar(&o.patch, "patch", 4, "patch size p (must divide 32 and 64)")
	flag.IntVar(&o.batch, "batch", 8, "training batch size")
	flag.IntVar(&o.shortIters, "short-iters", 2500, "PuYun-Short training iterations")
	flag.IntVar(&o.shortRollout, "short-rollout", 2, "autoregressive steps in PuYun-Short's loss")
	flag.IntVar(&o.mediumIters, "medium-iters", 500, "PuYun-Medium fine-tuning iterations")
	flag.IntVar(&o.mediumRollout, "medium-rollout", 8, "autoregressive steps in PuYun-Medium's loss")
	flag.IntVar(&o.pool, "pool", 512, "PuYun-Short 20-step forecasts that PuYun-Medium is fine-tuned from (0: true states)")
	flag.Float64Var(&o.lr, "lr", 2e-3, "peak AdamW learning rate of PuYun-Short (Medium uses a fifth)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the training data and the weights (the test data use seed+1000)")
	flag.StringVar(&o.png, "png", "puyun-out/forecast.png", "PNG of the z500 forecast at the last step beside the truth (empty: none)")
	flag.BoolVar(&o.quick, "quick", false, "smoke test: tiny data, model and training")
	flag.IntVar(&o.evalBatch, "eval-batch", 16, "forecasts per batch in evaluation")
	flag.IntVar(&o.logEvery, "log-every", 100, "iterations between training log lines")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "puyun:", err)
		os.Exit(1)
	}
}

const steps = 40 // the cascade's 10 days

func run(o options, w io.Writer) error {
	if o.quick {
		o.trainSteps, o.testInits, o.width, o.depth = 300, 4, 16, 1
		o.shortIters, o.mediumIters, o.mediumRollout, o.batch, o.logEvery, o.pool = 10, 3, 3, 2, 5, 8
	}
	if o.batch < 1 || o.shortIters < 0 || o.mediumIters < 0 || o.shortRollout < 1 || o.mediumRollout < 1 || o.testInits < 1 {
		return errors.New("-batch, -test-inits, -short-rollout and -medium-rollout must be positive, the iterations non-negative")
	}
	if o.patch < 1 || 32%o.patch != 0 || 64/o.patch < 9 || o.width < 1 || o.depth < 0 {
		return fmt.Errorf("-patch %d, -width %d, -depth %d: the patch size must divide the 32 × 64 grid and leave at least 9 longitude patches (1, 2 or 4), the width be positive", o.patch, o.width, o.depth)
	}
	if o.trainSteps < o.mediumRollout+o.shortRollout+24 {
		return fmt.Errorf("-train-steps %d is too short for the rollouts", o.trainSteps)
	}
	start := time.Now()
	cfg := data.DefaultWeatherConfig()
	cfg.Steps, cfg.Seed = o.trainSteps, o.seed
	trainF, err := data.GenerateWeather(cfg)
	if err != nil {
		return err
	}
	// Held out: another trajectory, initial states 3 days apart.
	tcfg := data.DefaultWeatherConfig()
	tcfg.Seed = o.seed + 1000
	tcfg.Steps = 2 + (o.testInits-1)*12 + steps + 1
	tcfg.Start = trainF.Times[len(trainF.Times)-1].Add(30 * 24 * time.Hour)
	testF, err := data.GenerateWeather(tcfg)
	if err != nil {
		return err
	}
	var inits []int
	for i := 0; i < o.testInits; i++ {
		inits = append(inits, 1+12*i)
	}
	norm := puyun.Normalization{Mean: trainF.Mean, Std: trainF.Std}
	fmt.Fprintf(w, "data: %d training states, %d held-out forecasts of %d steps, %d×%d grid, variables %v (%.1f s)\n",
		trainF.NumTimes(), len(inits), steps, len(trainF.Lat), len(trainF.Lon), trainF.Vars, time.Since(start).Seconds())

	mcfg := puyun.DefaultConfig(len(trainF.Vars), len(trainF.Lat), len(trainF.Lon))
	mcfg.Width, mcfg.Depth, mcfg.PatchSize, mcfg.Latitudes = o.width, o.depth, o.patch, trainF.Lat
	rng := autograd.NewRNG(o.seed)
	short := puyun.New(rng, mcfg)
	_, params := nn.NumParams(short)
	fmt.Fprintf(w, "model: PuYun width %d, depth %d, patch %d: %d parameters; %d threads\n", o.width, o.depth, o.patch, params, runtime.GOMAXPROCS(0))

	tr := newTrainer(trainF, norm, o.seed)
	t0 := time.Now()
	tr.fit(w, "short", short, o.shortIters, o.batch, o.shortRollout, o.lr, o.logEvery, nil)
	shortSec := time.Since(t0).Seconds()

	medium := puyun.New(autograd.NewRNG(o.seed+1), mcfg)
	puyun.CopyWeights(medium, short)
	t0 = time.Now()
	var pl *pool
	if o.mediumIters > 0 && o.pool > 0 {
		pl = tr.newPool(short, o.pool, 20, o.mediumRollout, o.evalBatch)
		fmt.Fprintf(w, "medium: %d PuYun-Short forecasts to step 20 as inputs (%.0f s)\n", o.pool, time.Since(t0).Seconds())
	}
	tr.fit(w, "medium", medium, o.mediumIters, max(1, o.batch/2), o.mediumRollout, o.lr/5, o.logEvery, pl)
	mediumSec := time.Since(t0).Seconds()
	nn.Eval(short)
	nn.Eval(medium)

	t0 = time.Now()
	cascade := &puyun.Cascade{Short: short, Medium: medium}
	shortOnly := &puyun.Cascade{Short: short}
	sc := puyun.Evaluate(cascade, testF, norm, inits, steps, o.evalBatch)
	ss := puyun.Evaluate(shortOnly, testF, norm, inits, steps, o.evalBatch)
	sp := puyun.EvaluatePersistence(testF, inits, steps)
	scl := puyun.EvaluateClimatology(testF, inits, steps)
	evalSec := time.Since(t0).Seconds()

	printTable(w, testF.Vars, []int{1, 4, 12, 20, 28, 40}, sc, ss, sp, scl)
	// Mean RMSE ratios over steps 21–40 (normalised by climatology's).
	better := 0
	for v := range testF.Vars {
		if meanRMSE(sc, v, 21, 40) < meanRMSE(ss, v, 21, 40) {
			better++
		}
	}
	fmt.Fprintf(w, "steps 21–40: the cascade's mean RMSE is below Short alone's for %d of %d variables\n", better, len(testF.Vars))
	if o.png != "" {
		if err := writePNG(o.png, cascade, testF, norm, inits[0]); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s: z500 anomaly at step %d (forecast | truth | persistence)\n", o.png, steps)
	}
	z := 0
	var sb strings.Builder
	fmt.Fprintf(&sb, "params=%d short_iters=%d medium_iters=%d medium_rollout=%d", params, o.shortIters, o.mediumIters, o.mediumRollout)
	fmt.Fprintf(&sb, " z500_rmse20_cascade=%.1f z500_rmse40_cascade=%.1f z500_rmse40_short=%.1f z500_rmse40_persistence=%.1f z500_rmse40_climatology=%.1f",
		sc.RMSE(z, 20), sc.RMSE(z, 40), ss.RMSE(z, 40), sp.RMSE(z, 40), scl.RMSE(z, 40))
	fmt.Fprintf(&sb, " z500_acc40_cascade=%.3f z500_ratio40_persistence=%.3f", sc.ACC(z, 40), sc.RMSE(z, 40)/sp.RMSE(z, 40))
	fmt.Fprintf(&sb, " mean_ratio40_persistence=%.3f mean_ratio40_climatology=%.3f", meanRatio(sc, sp, 40), meanRatio(sc, scl, 40))
	fmt.Fprintf(&sb, " cascade_beats_short_21_40=%d/%d", better, len(testF.Vars))
	fmt.Fprintf(&sb, " short_seconds=%.0f medium_seconds=%.0f eval_seconds=%.0f seconds=%.0f", shortSec, mediumSec, evalSec, time.Since(start).Seconds())
	fmt.Fprintln(w, sb.String())
	return nil
}

// meanRMSE averages variable v's RMSE over leads from..to.
func meanRMSE(s *puyun.Scores, v, from, to int) float64 {
	var sum float64
	for l := from; l <= to; l++ {
		sum += s.RMSE(v, l)
	}
	return sum / float64(to-from+1)
}

// meanRatio averages a's RMSE over b's across the variables at lead.
func meanRatio(a, b *puyun.Scores, lead int) float64 {
	var sum float64
	for v := range a.Vars {
		sum += a.RMSE(v, lead) / b.RMSE(v, lead)
	}
	return sum / float64(len(a.Vars))
}

func printTable(w io.Writer, vars []string, leads []int, cascade, short, pers, clim *puyun.Scores) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "latitude-weighted RMSE (ACC) on held-out forecasts; lead in 6-hour steps")
	fmt.Fprintf(w, "%-6s %4s  %-18s %-18s %-18s %-18s\n", "var", "step", "cascade", "short alone", "persistence", "climatology")
	for v, name := range vars {
		for _, l := range leads {
			fmt.Fprintf(w, "%-6s %4d  %-18s %-18s %-18s %-18s\n", name, l,
				cell(cascade, v, l), cell(short, v, l), cell(pers, v, l), cell(clim, v, l))
		}
	}
	fmt.Fprintln(w)
}

func cell(s *puyun.Scores, v, l int) string {
	return fmt.Sprintf("%.4g (%.3f)", s.RMSE(v, l), s.ACC(v, l))
}

// trainer samples training windows and runs the optimisation.
type trainer struct {
	f    *data.WeatherFields
	norm []float32 // normalised Data
	w    *autograd.Tensor
	rng  *autograd.RNG
	v    int
	h, l int
}

func newTrainer(f *data.WeatherFields, norm puyun.Normalization, seed uint64) *trainer {
	g := *f
	g.Mean, g.Std = norm.Mean, norm.Std
	return &trainer{f: f, norm: g.Normalized(), w: puyun.LatitudeWeightTensor(f.Lat), rng: autograd.NewRNG(seed + 7),
		v: len(f.Vars), h: len(f.Lat), l: len(f.Lon)}
}

// batch returns the normalised states at the indices idx+off as [B, V, H, W].
func (t *trainer) states(idx []int, off int) *autograd.Tensor {
	n := t.v * t.h * t.l
	out := make([]float32, 0, len(idx)*n)
	for _, i := range idx {
		out = append(out, t.norm[(i+off)*n:(i+off+1)*n]...)
	}
	return autograd.New(out, len(idx), t.v, t.h, t.l)
}

// fit trains m for iters iterations on rollouts of k steps: from the states
// at i−1 and i it forecasts i+1 … i+k autoregressively, and the loss is the
// mean over the steps of the latitude-weighted MSE. With a pool the input
// pairs are PuYun-Short's forecasts of the states at i−1 and i instead of
// the true states.
func (t *trainer) fit(w io.Writer, name string, m *puyun.Model, iters, batch, k int, lr float64, logEvery int, pl *pool) {
	if iters == 0 {
		return
	}
	nn.Train(m)
	params := nn.Parameters(m)
	opt := optim.NewAdamW(params, optim.AdamWConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4})
	start := time.Now()
	var run float64
	nRun := 0
	for it := 0; it < iters; it++ {
		// Cosine schedule with a short warm-up.
		warm := max(1, iters/20)
		cur := lr * 0.5 * (1 + math.Cos(math.Pi*float64(it)/float64(iters)))
		if it < warm {
			cur = lr * float64(it+1) / float64(warm)
		}
		for _, g := range opt.ParamGroups() {
			g.LR = cur
		}
		idx := make([]int, batch)
		times := make([]time.Time, batch)
		var prev, cur0 *autograd.Tensor
		if pl == nil {
			for b := range idx {
				idx[b] = 1 + t.rng.IntN(t.f.NumTimes()-k-1)
			}
			prev, cur0 = t.states(idx, -1), t.states(idx, 0)
		} else {
			prev, cur0, idx = pl.sample(t.rng, batch)
		}
		var loss *autograd.Tensor
		x0, x1 := prev, cur0
		for s := 1; s <= k; s++ {
			for b := range times {
				times[b] = t.f.Times[idx[b]+s-1]
			}
			next := m.Forward(x0, x1, puyun.TimeFeatureTensor(times))
			l := puyun.WeightedMSELoss(next, t.states(idx, s), t.w)
			if loss == nil {
				loss = l
			} else {
				loss = loss.Add(l)
			}
			x0, x1 = x1, next
		}
		loss = loss.DivScalar(float32(k))
		opt.ZeroGrad()
		loss.Backward()
		optim.ClipGradNorm(params, 1, 2)
		opt.Step()
		run += float64(loss.Item())
		nRun++
		if (it+1)%logEvery == 0 || it+1 == iters {
			fmt.Fprintf(w, "%s: iter %d/%d loss %.5f lr %.2e (%.0f s)\n", name, it+1, iters, run/float64(nRun), cur, time.Since(start).Seconds())
			run, nRun = 0, 0
		}
	}
}

// pool holds PuYun-Short's forecasts of the states at lead−1 and lead
// steps from many training initial states: PuYun-Medium's inputs at its
// first step.
type pool struct {
	prev, cur []float32 // [n, V, H, W]
	idx       []int     // the index of the state cur forecasts
	v, h, l   int
}

// newPool runs short for lead steps from n initial states drawn from the
// training data, leaving room for k more steps of truth.
func (t *trainer) newPool(short *puyun.Model, n, lead, k, batch int) *pool {
	p := &pool{v: t.v, h: t.h, l: t.l}
	nn.Eval(short)
	c := &puyun.Cascade{Short: short}
	for len(p.idx) < n {
		b := min(batch, n-len(p.idx))
		inits := make([]int, b)
		times := make([]time.Time, b)
		for i := range inits {
			inits[i] = 1 + t.rng.IntN(t.f.NumTimes()-lead-k-1)
			times[i] = t.f.Times[inits[i]]
		}
		var last *autograd.Tensor
		_ = c.Forecast(t.states(inits, -1), t.states(inits, 0), times, lead, func(step int, _ string, x *autograd.Tensor) error {
			if step == lead-1 {
				p.prev = append(p.prev, x.Data()...)
			}
			last = x
			return nil
		})
		p.cur = append(p.cur, last.Data()...)
		for _, i := range inits {
			p.idx = append(p.idx, i+lead)
		}
	}
	return p
}

// sample draws batch pairs from the pool.
func (p *pool) sample(rng *autograd.RNG, batch int) (prev, cur *autograd.Tensor, idx []int) {
	n := p.v * p.h * p.l
	a, b := make([]float32, 0, batch*n), make([]float32, 0, batch*n)
	for i := 0; i < batch; i++ {
		j := rng.IntN(len(p.idx))
		a = append(a, p.prev[j*n:(j+1)*n]...)
		b = append(b, p.cur[j*n:(j+1)*n]...)
		idx = append(idx, p.idx[j])
	}
	return autograd.New(a, batch, p.v, p.h, p.l), autograd.New(b, batch, p.v, p.h, p.l), idx
}

// writePNG draws the z500 anomaly (from the climatology) at the last
// step: the cascade's forecast, the truth and persistence side by side, on
// one colour scale (blue negative, red positive).
func writePNG(path string, c *puyun.Cascade, f *data.WeatherFields, norm puyun.Normalization, init int) error {
	var last []float32
	err := c.Forecast(norm.States(f, []int{init - 1}), norm.States(f, []int{init}), []time.Time{f.Times[init]}, steps,
		func(step int, _ string, x *autograd.Tensor) error {
			if step == steps {
				last = norm.Physical(x, 0)
			}
			return nil
		})
	if err != nil {
		return err
	}
	h, wd := len(f.Lat), len(f.Lon)
	hw := h * wd
	// Anomalies from the climatology of the valid time.
	clim := f.ClimatologyAt(init + steps)[:hw]
	panels := make([][]float32, 3)
	for k, src := range [][]float32{last[:hw], f.State(init + steps)[:hw], f.State(init)[:hw]} {
		panels[k] = make([]float32, hw)
		for i := range src {
			panels[k][i] = src[i] - clim[i]
		}
	}
	var amp float64
	for _, p := range panels {
		for _, v := range p {
			amp = math.Max(amp, math.Abs(float64(v)))
		}
	}
	lo, hi := -amp, amp
	const scale, gap = 4, 4
	img := image.NewRGBA(image.Rect(0, 0, 3*wd*scale+2*gap, h*scale))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for k, p := range panels {
		for i := 0; i < h; i++ {
			for j := 0; j < wd; j++ {
				col := colour((float64(p[i*wd+j]) - lo) / (hi - lo))
				for y := 0; y < scale; y++ {
					for x := 0; x < scale; x++ {
						img.Set(k*(wd*scale+gap)+j*scale+x, i*scale+y, col)
					}
				}
			}
		}
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	// Written beside and renamed, so a failed write never leaves half a
	// picture where the last good one was.
	tmp := path + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := png.Encode(fh, img); err != nil {
		fh.Close()
		os.Remove(tmp)
		return err
	}
	if err := fh.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// colour maps [0, 1] to a blue–white–red scale.
func colour(t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	if t < 0.5 {
		s := t / 0.5
		return color.RGBA{uint8(255 * s), uint8(255 * s), 255, 255}
	}
	s := (1 - t) / 0.5
	return color.RGBA{255, uint8(255 * s), uint8(255 * s), 255}
}
