package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A quick run of two models goes through every step and ends with the
// key=value line.
func TestRunQuick(t *testing.T) {
	var out bytes.Buffer
	o := options{models: "tts,grugcn", datasets: "gpvar,traffic", quick: true, seed: 1, epochs: 1, key: "data", perDay: 288,
		gpvarSteps: 1000, nodes: 40, days: 21}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	for _, key := range []string{"gpvar_optimal_mae=", "gpvar_tts_mae=", "traffic_grugcn_mae12=", "beat_baselines=", "seconds="} {
		if !strings.Contains(last, key) {
			t.Errorf("last line %q lacks %q", last, key)
		}
	}
	for _, row := range []string{"traffic  last value  12", "gpvar    optimal     1", "traffic  hist. avg   all"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("no row %q in the table:\n%s", row, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	base := options{models: "tts", datasets: "gpvar", quick: true, seed: 1, epochs: 1}
	for _, c := range []struct {
		mod  func(*options)
		want string
	}{
		{func(o *options) { o.models = "tts,lstm" }, "unknown model"},
		{func(o *options) { o.datasets = "mnist" }, "unknown dataset"},
		{func(o *options) { o.quick = false; o.epochs = 0 }, "-epochs"},
		{func(o *options) { o.datasets = "traffic"; o.readings = "nonexistent.csv"; o.distances = "d.csv" }, "nonexistent.csv"},
	} {
		o := base
		c.mod(&o)
		err := run(context.Background(), o, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}
