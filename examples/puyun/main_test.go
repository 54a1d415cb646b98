package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A tiny run goes through every stage, writes the PNG and ends with the
// key=value line.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	pngPath := filepath.Join(t.TempDir(), "f.png")
	o := options{quick: true, png: pngPath, seed: 1, lr: 2e-3, shortRollout: 2, patch: 4, evalBatch: 4}
	if err := run(o, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	for _, key := range []string{"params=", "z500_rmse40_cascade=", "z500_rmse40_short=", "z500_rmse40_persistence=", "z500_rmse40_climatology=", "cascade_beats_short_21_40=", "seconds="} {
		if !strings.Contains(last, key) {
			t.Errorf("last line %q lacks %q", last, key)
		}
	}
	for _, s := range []string{"short alone", "persistence", "climatology", "z500     40"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("no %q in the output:\n%s", s, out.String())
		}
	}
	fh, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 3*64*4+8 || b.Dy() != 32*4 {
		t.Errorf("PNG of %v", b)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, o := range []options{
		{batch: 0, shortIters: 1, shortRollout: 1, mediumRollout: 1, testInits: 1, trainSteps: 100, patch: 4, width: 8},
		{batch: 1, shortIters: 1, shortRollout: 1, mediumRollout: 1, testInits: 1, trainSteps: 100, patch: 8, width: 8},
		{batch: 1, shortIters: 1, shortRollout: 1, mediumRollout: 1, testInits: 1, trainSteps: 3, patch: 4, width: 8},
	} {
		if err := run(o, new(bytes.Buffer)); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
}
