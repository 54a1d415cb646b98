package ssvep_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/models/ssvep"
)

func smallDataset(t *testing.T, subjects, blocks int, snr float64) *data.SSVEPDataset {
	t.Helper()
	cfg := data.DefaultSSVEPConfig()
	cfg.Subjects, cfg.Blocks, cfg.SNR, cfg.Seconds = subjects, blocks, snr, 1.2
	d, err := data.GenerateSSVEP(cfg)
	require.NoError(t, err)
	return d
}

func TestPrepare(t *testing.T) {
	d := smallDataset(t, 2, 2, -8)
	bank := ssvep.NewFilterBank(3, 250)
	f, err := ssvep.Prepare(d, 0.4, bank)
	require.NoError(t, err)
	assert.Equal(t, [6]int{2, 2, 40, 3, 9, 100}, [6]int{f.Subjects, f.Blocks, f.Targets, f.SubBands, f.Channels, f.Samples})
	assert.Equal(t, 2700, f.TrialSize())
	assert.Len(t, f.X, 2*2*40*2700)
	// Trial (1, 1, 7) is the filtered window from sample 160.
	i := f.Trial(1, 1, 7)
	assert.Equal(t, 7, f.Label(i))
	raw := ssvep.RawWindow(d, d.Subjects[1], 1, 7, 100)
	tr := d.Subjects[1].Trial(1, 7)
	assert.Equal(t, float64(tr[3*d.Subjects[1].Samples+160]), raw[3*100])
	got := f.X[i*f.TrialSize():]
	y := make([]float64, 100)
	for m := 0; m < 3; m++ {
		for c := 0; c < 9; c++ {
			bank.Filters[m].FiltFilt(y, raw[c*100:(c+1)*100])
			for s := 0; s < 100; s++ {
				require.Equal(t, float32(y[s]), got[(m*9+c)*100+s])
			}
		}
	}
	x, labels := f.Batch([]int{i, f.Trial(0, 0, 39)})
	assert.Equal(t, []int{2, 3, 9, 100}, x.Shape())
	assert.Equal(t, []int{7, 39}, labels)
	assert.Equal(t, got[:2700], x.Data()[:2700])

	assert.Equal(t, 100, ssvep.WindowSamples(0.4, 250))
	assert.Equal(t, 75, ssvep.WindowSamples(0.3, 250))
	_, err = ssvep.Prepare(d, 1.2, bank) // 160 + 300 > 300 samples
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not fit")
	_, err = ssvep.Prepare(d, 0.4, ssvep.NewFilterBank(3, 500))
	require.Error(t, err)
}

// The whole procedure on a tiny, easy problem: it runs, fills every
// cell, is reproducible, and the fine-tuned model is far above chance.
func TestLeaveOneBlockOutSmoke(t *testing.T) {
	d := smallDataset(t, 2, 3, 5)
	f, err := ssvep.Prepare(d, 0.2, ssvep.NewFilterBank(3, 250))
	require.NoError(t, err)
	cfg := ssvep.PaperTrainConfig()
	cfg.Stage1Epochs, cfg.Stage2Epochs, cfg.LR, cfg.TestBlocks = 1, 1, 1e-3, []int{0, 2}
	res, err := ssvep.LeaveOneBlockOut(context.Background(), f, cfg)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, res.TestBlocks)
	require.Len(t, res.Stage1, 2)
	for s := 0; s < 2; s++ {
		require.Len(t, res.Stage2[s], 2)
		for j := 0; j < 2; j++ {
			for _, v := range []float64{res.Stage1[s][j], res.Stage2[s][j]} {
				assert.True(t, v >= 0 && v <= 1)
				assert.Equal(t, v, math.Round(v*40)/40, "an accuracy over 40 trials")
			}
		}
	}
	again, err := ssvep.LeaveOneBlockOut(context.Background(), f, cfg)
	require.NoError(t, err)
	assert.Equal(t, res.Stage1, again.Stage1)
	assert.Equal(t, res.Stage2, again.Stage2)

	// Learning: a few more epochs at a higher rate on one held-out block.
	cfg.Stage1Epochs, cfg.Stage2Epochs, cfg.LR, cfg.TestBlocks = 4, 12, 3e-3, []int{1}
	res, err = ssvep.LeaveOneBlockOut(context.Background(), f, cfg)
	require.NoError(t, err)
	assert.Greater(t, ssvep.MeanAccuracy(res.Stage2), 0.15, "chance is 0.025")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ssvep.LeaveOneBlockOut(ctx, f, cfg)
	assert.ErrorIs(t, err, context.Canceled)
	cfg.TestBlocks = []int{3}
	_, err = ssvep.LeaveOneBlockOut(context.Background(), f, cfg)
	assert.Error(t, err)
	cfg.TestBlocks, cfg.Stage1Batch = nil, 0
	_, err = ssvep.LeaveOneBlockOut(context.Background(), f, cfg)
	assert.Error(t, err)
}

func TestSummaries(t *testing.T) {
	cells := [][]float64{{1, 0.8}, {0.9, 0.025}}
	assert.InDelta(t, 0.68125, ssvep.MeanAccuracy(cells), 1e-12)
	want := (ssvep.ITR(1, 40, 0.9) + ssvep.ITR(0.8, 40, 0.9) + ssvep.ITR(0.9, 40, 0.9) + 0) / 4
	assert.InDelta(t, want, ssvep.MeanITR(cells, 40, 0.4), 1e-9)
	assert.Equal(t, []float64{0.9, 0.4625}, ssvep.SubjectMeans(cells))
	assert.Equal(t, 0.0, ssvep.MeanAccuracy(nil))
}

// FBCCA over a dataset: one cell per subject and block, clearly above
// chance at a moderate SNR and 0.5 s.
func TestEvaluateFBCCA(t *testing.T) {
	d := smallDataset(t, 2, 2, -8)
	acc, err := ssvep.EvaluateFBCCA(d, 0.5, ssvep.DefaultFBCCAConfig())
	require.NoError(t, err)
	require.Len(t, acc, 2)
	require.Len(t, acc[0], 2)
	assert.Greater(t, ssvep.MeanAccuracy(acc), 0.5)
	_, err = ssvep.EvaluateFBCCA(d, 0.6, ssvep.DefaultFBCCAConfig())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not fit")
}
