// Command ssvep runs the SSVEP speller DNN of Guney, Oblokulov and Ozkan
// (models/ssvep) the way the paper evaluates it: a global model trained on
// every subject (stage 1), fine-tuned per subject (stage 2), scored
// leave-one-block-out, against FBCCA, the training-free baseline.
//
//	go run ./examples/ssvep -subjects 10
//
// By default it uses the seeded synthetic benchmark of data.GenerateSSVEP
// (35 subjects, 6 blocks, 40 targets at 8–15.8 Hz, 9 occipital channels at
// 250 Hz); -data reads the real Tsinghua Benchmark or BETA subject files
// (S1.mat, ...) from a folder instead. For each window length (-windows,
// seconds after the stimulus onset plus the 0.14 s visual latency) it
// prints the mean accuracy and ITR (bits/min, with the 0.5 s gaze shift)
// of FBCCA, stage 1 and stage 2, and how many subjects stage 2 improves
// over stage 1 and over FBCCA, then one line of key=value results.
//
// The paper trains 1000 epochs in each stage with Adam at 1e-4 (days on a
// CPU). The defaults here train 15 + 15 epochs (-epochs1, -epochs2), so
// the learning rate is raised tenfold to 1e-3 (-lr 1e-4 restores the
// paper's; with 15 + 15 epochs it leaves the network far below FBCCA);
// the other settings are the paper's: L2 0.001 on the weights, batch 100
// then 40·(blocks−1), dropout 0.1/0.1/0.95 then 0.6/0.6/0.95. For a smoke
// test that takes seconds: -quick.
//
// Measured on a 2-core machine shared with other jobs (the wall times
// vary with their load):
//
//	go run ./examples/ssvep -subjects 10   # 5.5 min alone, 18 min shared
//	window   FBCCA acc   ITR    stage 1 acc   ITR    stage 2 acc   ITR
//	0.40 s   0.5792    152.9   0.4146       90.6   0.6879      187.3
//	(stage 2 above stage 1 for 10 of 10 subjects, above FBCCA for 7)
//
//	go run ./examples/ssvep -subjects 10 -windows 0.2,0.6,1.0   # 25 min
//	0.20 s   0.0983     10.5   0.1750       30.1   0.3617       90.2
//	0.60 s   0.8592    226.2   0.5563      115.1   0.8329      208.3
//	1.00 s   0.9775    204.0   0.7617      137.0   0.9596      195.5
//
//	go run ./examples/ssvep                # 35 subjects, 34 min shared
//	0.40 s   0.5323    137.9   0.2468       45.7   0.6012      154.9
//	(stage 2 above stage 1 for 35 of 35 subjects, above FBCCA for 24)
//
// The global model (stage 1) is the weak point of the shortened schedule:
// 15 epochs are far from the paper's 1000, and with more subjects its
// task is harder (their phases and gains differ). Fine-tuning recovers
// most of that within 15 epochs. With this short training the network
// leads FBCCA at short windows only; from 0.6 s on FBCCA is ahead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/models/ssvep"
)

type options struct {
	subjects   int
	windows    string
	epochs1    int
	epochs2    int
	testBlocks string
	lr         float64
	snr        float64
	seed       uint64
	dataDir    string
	format     string
	quick      bool
	fbccaOnly  bool
}

func main() {
	var o options
	flag.IntVar(&o.subjects, "subjects", 35, "number of subjects (the synthetic benchmark has up to any number; the real ones 35 and 70)")
	flag.StringVar(&o.windows, "windows", "0.4", "comma-separated window lengths in seconds, such as 0.2,0.4,0.6,0.8,1.0")
	flag.IntVar(&o.epochs1, "epochs1", 15, "stage-1 (global model) epochs; the paper uses 1000")
	flag.IntVar(&o.epochs2, "epochs2", 15, "stage-2 (per-subject fine-tuning) epochs; the paper uses 1000")
	flag.StringVar(&o.testBlocks, "test-blocks", "", "comma-separated 1-based blocks to hold out in turn (default: all, leave-one-block-out)")
	flag.Float64Var(&o.lr, "lr", 1e-3, "Adam learning rate; the paper's is 1e-4 over 1000+1000 epochs, raised 10x here for the far fewer epochs")
	flag.Float64Var(&o.snr, "snr", data.DefaultSSVEPConfig().SNR, "synthetic data: mean wide-band SNR in dB")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the synthetic data, the weights, the shuffles and dropout")
	flag.StringVar(&o.dataDir, "data", "", "folder with the real Benchmark or BETA files S1.mat, ... (default: synthetic data)")
	flag.StringVar(&o.format, "format", "", "with -data: benchmark, beta, or empty to detect")
	flag.BoolVar(&o.quick, "quick", false, "smoke test: 3 subjects, window 0.4 s, one test block, 2+2 epochs")
	flag.BoolVar(&o.fbccaOnly, "fbcca-only", false, "only run FBCCA (no training)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ssvep:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	window                float64
	fbcca, stage1, stage2 [][]float64 // [subject][test block]
}

func run(ctx context.Context, o options, w io.Writer) error {
	if o.quick {
		o.subjects, o.windows, o.epochs1, o.epochs2, o.testBlocks = 3, "0.4", 2, 2, "1"
	}
	windows, err := parseFloats(o.windows)
	if err != nil {
		return fmt.Errorf("-windows: %w", err)
	}
	for _, win := range windows {
		if win < 0.1 || win > 1.5 {
			return fmt.Errorf("-windows: %v s is outside [0.1, 1.5]", win)
		}
	}
	start := time.Now()
	d, err := loadData(o, windows)
	if err != nil {
		return err
	}
	blocks := d.Subjects[0].Blocks
	var test []int
	if o.testBlocks != "" {
		bs, err := parseFloats(o.testBlocks)
		if err != nil {
			return fmt.Errorf("-test-blocks: %w", err)
		}
		for _, b := range bs {
			if b != float64(int(b)) || int(b) < 1 || int(b) > blocks {
				return fmt.Errorf("-test-blocks: %v is not a block number in 1..%d", b, blocks)
			}
			test = append(test, int(b)-1)
		}
	} else {
		for b := 0; b < blocks; b++ {
			test = append(test, b)
		}
	}
	cfg := ssvep.PaperTrainConfig()
	cfg.Stage1Epochs, cfg.Stage2Epochs, cfg.LR, cfg.Seed, cfg.TestBlocks, cfg.Log = o.epochs1, o.epochs2, o.lr, o.seed, test, w
	if d.Name == "BETA" {
		cfg.Stage2Dropout = [3]float64{0.7, 0.7, 0.95}
	}
	fmt.Fprintf(w, "%s data: %d subjects, %d blocks, %d targets, %d channels at %v Hz (%.1f s to load)\n",
		d.Name, len(d.Subjects), blocks, d.Targets(), d.Subjects[0].Channels, d.SampleRate, time.Since(start).Seconds())
	if !o.fbccaOnly {
		fmt.Fprintf(w, "training: stage 1 %d epochs (paper 1000), stage 2 %d epochs (paper 1000), Adam lr %g, L2 %g, batch %d then %d, dropout %v then %v; test blocks %v; %d threads\n",
			cfg.Stage1Epochs, cfg.Stage2Epochs, cfg.LR, cfg.L2, cfg.Stage1Batch, d.Targets()*(blocks-1),
			cfg.Stage1Dropout, cfg.Stage2Dropout, oneBased(test), runtime.GOMAXPROCS(0))
	}
	bank := ssvep.NewFilterBank(3, d.SampleRate)
	var rows []row
	for _, win := range windows {
		t0 := time.Now()
		all, err := ssvep.EvaluateFBCCA(d, win, ssvep.DefaultFBCCAConfig())
		if err != nil {
			return err
		}
		r := row{window: win, fbcca: make([][]float64, len(all))}
		for s := range all {
			for _, b := range test {
				r.fbcca[s] = append(r.fbcca[s], all[s][b])
			}
		}
		fmt.Fprintf(w, "window %.2f s: FBCCA accuracy %.4f, ITR %.1f bits/min (%.1f s)\n",
			win, ssvep.MeanAccuracy(r.fbcca), ssvep.MeanITR(r.fbcca, d.Targets(), win), time.Since(t0).Seconds())
		if !o.fbccaOnly {
			feat, err := ssvep.Prepare(d, win, bank)
			if err != nil {
				return err
			}
			res, err := ssvep.LeaveOneBlockOut(ctx, feat, cfg)
			if err != nil {
				return err
			}
			r.stage1, r.stage2 = res.Stage1, res.Stage2
		}
		rows = append(rows, r)
	}
	printTable(w, rows, d.Targets())
	fmt.Fprintln(w, keyValues(rows, d, o, time.Since(start).Seconds()))
	return nil
}

// loadData generates the synthetic benchmark or reads the real files.
func loadData(o options, windows []float64) (*data.SSVEPDataset, error) {
	if o.subjects < 1 {
		return nil, fmt.Errorf("-subjects %d: need at least 1", o.subjects)
	}
	if o.dataDir != "" {
		maxWin := 0.0
		for _, w := range windows {
			maxWin = max(maxWin, w)
		}
		// Keep only what the longest window needs (the files hold 3–6 s).
		samples := int((0.5+0.14+maxWin)*250) + 10
		d, err := data.LoadSSVEPDir(o.dataDir, data.SSVEPLoadConfig{Format: o.format, Subjects: o.subjects, Samples: samples})
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	cfg := data.DefaultSSVEPConfig()
	cfg.Subjects, cfg.SNR, cfg.Seed = o.subjects, o.snr, o.seed
	return data.GenerateSSVEP(cfg)
}

func printTable(w io.Writer, rows []row, classes int) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "window   FBCCA acc   ITR    stage 1 acc   ITR    stage 2 acc   ITR    stage 2 > stage 1   stage 2 > FBCCA")
	for _, r := range rows {
		fmt.Fprintf(w, "%.2f s   %.4f   %6.1f", r.window, ssvep.MeanAccuracy(r.fbcca), ssvep.MeanITR(r.fbcca, classes, r.window))
		if r.stage1 == nil {
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintf(w, "   %.4f     %6.1f   %.4f     %6.1f   %s   %s\n",
			ssvep.MeanAccuracy(r.stage1), ssvep.MeanITR(r.stage1, classes, r.window),
			ssvep.MeanAccuracy(r.stage2), ssvep.MeanITR(r.stage2, classes, r.window),
			wins(r.stage2, r.stage1), wins(r.stage2, r.fbcca))
	}
	fmt.Fprintln(w, "(accuracy: mean over subjects × test blocks; ITR: mean over the same cells, window + 0.5 s gaze shift; a > b: subjects whose mean accuracy is higher / lower)")
}

// wins counts the subjects whose mean accuracy is higher and lower in a
// than in b.
func wins(a, b [][]float64) string {
	ma, mb := ssvep.SubjectMeans(a), ssvep.SubjectMeans(b)
	better, worse := 0, 0
	for s := range ma {
		switch {
		case ma[s] > mb[s]:
			better++
		case ma[s] < mb[s]:
			worse++
		}
	}
	return fmt.Sprintf("%2d better, %2d worse", better, worse)
}

func keyValues(rows []row, d *data.SSVEPDataset, o options, seconds float64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "dataset=%s subjects=%d epochs1=%d epochs2=%d", d.Name, len(d.Subjects), o.epochs1, o.epochs2)
	for _, r := range rows {
		tag := strconv.FormatFloat(r.window, 'f', -1, 64)
		fmt.Fprintf(&sb, " fbcca_acc_%s=%.4f fbcca_itr_%s=%.1f", tag, ssvep.MeanAccuracy(r.fbcca), tag, ssvep.MeanITR(r.fbcca, d.Targets(), r.window))
		if r.stage1 != nil {
			fmt.Fprintf(&sb, " stage1_acc_%s=%.4f stage1_itr_%s=%.1f stage2_acc_%s=%.4f stage2_itr_%s=%.1f",
				tag, ssvep.MeanAccuracy(r.stage1), tag, ssvep.MeanITR(r.stage1, d.Targets(), r.window),
				tag, ssvep.MeanAccuracy(r.stage2), tag, ssvep.MeanITR(r.stage2, d.Targets(), r.window))
		}
	}
	fmt.Fprintf(&sb, " seconds=%.0f", seconds)
	return sb.String()
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func oneBased(b []int) []int {
	out := make([]int, len(b))
	for i, v := range b {
		out[i] = v + 1
	}
	return out
}
