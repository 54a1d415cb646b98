package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A tiny run goes through every step and ends with the key=value line.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	o := options{subjects: 2, windows: "0.2", epochs1: 1, epochs2: 1, testBlocks: "2", lr: 1e-4, snr: -8, seed: 1}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	for _, key := range []string{"dataset=synthetic", "subjects=2", "fbcca_acc_0.2=", "stage1_acc_0.2=", "stage2_itr_0.2=", "seconds="} {
		if !strings.Contains(last, key) {
			t.Errorf("last line %q lacks %q", last, key)
		}
	}
	if !strings.Contains(out.String(), "window   FBCCA acc") {
		t.Errorf("no table in the output:\n%s", out.String())
	}
}

func TestRunFlagErrors(t *testing.T) {
	base := options{subjects: 2, windows: "0.2", epochs1: 1, epochs2: 1, lr: 1e-4, snr: -8, seed: 1, fbccaOnly: true}
	for _, c := range []struct {
		mod  func(*options)
		want string
	}{
		{func(o *options) { o.windows = "0.2,abc" }, "-windows"},
		{func(o *options) { o.windows = "3" }, "outside"},
		{func(o *options) { o.testBlocks = "7" }, "-test-blocks"},
		{func(o *options) { o.subjects = 0 }, "-subjects"},
		{func(o *options) { o.dataDir = t.TempDir() }, "no S1.mat"},
	} {
		o := base
		c.mod(&o)
		err := run(context.Background(), o, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	// FBCCA only: no training columns.
	var out bytes.Buffer
	if err := run(context.Background(), base, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "stage1_acc") {
		t.Errorf("-fbcca-only trained:\n%s", out.String())
	}
}
