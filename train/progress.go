package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressMode says how a Trainer reports progress.
type ProgressMode int

// The progress modes. Evaluation results are printed as lines in every
// mode but ProgressOff.
const (
	// ProgressAuto shows a progress bar when the output is a terminal and
	// plain log lines otherwise (a file, a pipe, CI).
	ProgressAuto ProgressMode = iota
	// ProgressBar always shows a progress bar.
	ProgressBar
	// ProgressLog prints a plain line every LogEvery steps.
	ProgressLog
	// ProgressOff prints nothing.
	ProgressOff
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress reports training progress as a bar or as log lines.
type progress struct {
	out      io.Writer
	mode     ProgressMode
	bar      *progressbar.ProgressBar
	logEvery int
	total    int
	start    time.Time
	first    int
}

func newProgress(out io.Writer, mode ProgressMode, logEvery, first, total int) *progress {
	if mode == ProgressAuto {
		mode = ProgressLog
		if isTerminal(out) {
			mode = ProgressBar
		}
	}
	p := &progress{out: out, mode: mode, logEvery: logEvery, total: total, start: time.Now(), first: first}
	if p.logEvery <= 0 {
		p.logEvery = max(10, (total-first)/20)
	}
	if mode == ProgressBar && total > first {
		p.bar = progressbar.NewOptions(total-first,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("step"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)
	}
	return p
}

// step reports that step (1-based, of total) is done, with a short status.
func (p *progress) step(step int, status string) {
	switch p.mode {
	case ProgressBar:
		if p.bar != nil {
			p.bar.Describe(status)
			p.bar.Add(1)
		}
	case ProgressLog:
		if step%p.logEvery == 0 || step == p.total {
			el := time.Since(p.start).Seconds()
			rate := float64(step-p.first) / max(el, 1e-9)
			fmt.Fprintf(p.out, "step %d/%d %s (%.1f steps/s, %.0fs)\n", step, p.total, status, rate, el)
		}
	}
}

// line prints a line of results without breaking the bar.
func (p *progress) line(s string) {
	switch p.mode {
	case ProgressOff:
		return
	case ProgressBar:
		if p.bar != nil && !p.bar.IsFinished() {
			p.bar.Clear()
		}
	}
	fmt.Fprintln(p.out, strings.TrimRight(s, "\n"))
}

// finish ends the bar.
func (p *progress) finish() {
	if p.bar != nil && !p.bar.IsFinished() {
		p.bar.Exit() // prints the newline of OptionOnCompletion
	}
}
