package train

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Record is one row of the metrics history: the values measured at one
// evaluation, by name ("loss", "accuracy", "val_loss", "val_accuracy",
// "lr", "seconds", user metrics, ...).
type Record struct {
	// Step is the number of optimizer steps done.
	Step int
	// Epoch is the (fractional) number of epochs done: Step divided by the
	// batches per epoch.
	Epoch float64
	// Values holds the metrics by name.
	Values map[string]float64
}

// History is the list of Records of a training run, one per evaluation.
type History struct {
	// Records are in step order.
	Records []Record
	// Columns lists the metric names in the order they first appeared.
	Columns []string
}

// Add appends a record and adds its new metric names to Columns (in
// sorted order among themselves).
func (h *History) Add(r Record) {
	var names []string
	for k := range r.Values {
		if !slices.Contains(h.Columns, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	h.Columns = append(h.Columns, names...)
	h.Records = append(h.Records, r)
}

// Last returns the most recent value of a metric and whether there is one.
func (h *History) Last(name string) (float64, bool) {
	for i := len(h.Records) - 1; i >= 0; i-- {
		if v, ok := h.Records[i].Values[name]; ok {
			return v, true
		}
	}
	return 0, false
}

// Column returns the steps at which a metric was recorded and its values.
func (h *History) Column(name string) (steps []int, values []float64) {
	for _, r := range h.Records {
		if v, ok := r.Values[name]; ok {
			steps = append(steps, r.Step)
			values = append(values, v)
		}
	}
	return steps, values
}

// WriteCSV writes the history as CSV: a header "step,epoch,<columns>" and
// one line per record, values in the shortest form that reads back
// exactly, and an empty field where a record lacks a metric.
func (h *History) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"step", "epoch"}, h.Columns...)); err != nil {
		return err
	}
	for _, r := range h.Records {
		row := []string{strconv.Itoa(r.Step), strconv.FormatFloat(r.Epoch, 'g', -1, 64)}
		for _, c := range h.Columns {
			if v, ok := r.Values[c]; ok {
				row = append(row, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				row = append(row, "")
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadHistoryCSV reads a history written by WriteCSV.
func ReadHistoryCSV(r io.Reader) (*History, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("train: reading history CSV: %w", err)
	}
	if len(rows) == 0 || len(rows[0]) < 2 || rows[0][0] != "step" || rows[0][1] != "epoch" {
		return nil, fmt.Errorf("train: reading history CSV: no \"step,epoch,...\" header")
	}
	h := &History{Columns: slices.Clone(rows[0][2:])}
	for i, row := range rows[1:] {
		step, err := strconv.Atoi(row[0])
		if err != nil {
			return nil, fmt.Errorf("train: reading history CSV: line %d: step %q: %w", i+2, row[0], err)
		}
		epoch, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			return nil, fmt.Errorf("train: reading history CSV: line %d: epoch %q: %w", i+2, row[1], err)
		}
		rec := Record{Step: step, Epoch: epoch, Values: map[string]float64{}}
		for j, c := range h.Columns {
			if row[j+2] == "" {
				continue
			}
			v, err := strconv.ParseFloat(row[j+2], 64)
			if err != nil {
				return nil, fmt.Errorf("train: reading history CSV: line %d: %s %q: %w", i+2, c, row[j+2], err)
			}
			rec.Values[c] = v
		}
		h.Records = append(h.Records, rec)
	}
	return h, nil
}

// SaveCSV writes the history as CSV to path, atomically.
func (h *History) SaveCSV(path string) error {
	var b bytes.Buffer
	if err := h.WriteCSV(&b); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	return writeFileAtomic(path, b.Bytes())
}

// SavePlot draws the history as a PNG of width×height pixels (0 for
// 1000×450) at path, written atomically: on the left every metric whose
// name ends in "loss", on the right the others (accuracies and user
// metrics; "lr" and the machine's figures, "seconds", "alloc_mb_per_step"
// and "gc_ms_per_step", are left out), each against the step.
func (h *History) SavePlot(path string, width, height int) error {
	if width <= 0 || height <= 0 {
		width, height = 1000, 450
	}
	var losses, others []string
	for _, c := range h.Columns {
		switch {
		case c == "lr" || machineKeys[c]:
		case strings.HasSuffix(c, "loss"):
			losses = append(losses, c)
		default:
			others = append(others, c)
		}
	}
	panels := []*plot.Plot{h.panel("loss", losses, true)}
	if len(others) > 0 {
		panels = append(panels, h.panel("metrics", others, false))
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(width)*vg.Inch/96, vg.Length(height)*vg.Inch/96), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	return writeFileAtomic(path, b.Bytes())
}

// panel draws the named columns against the step, with the legend in the
// top or the bottom right corner (away from falling losses and rising
// accuracies).
func (h *History) panel(title string, names []string, legendTop bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Legend.Top = legendTop
	palette := []color.Color{
		color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
		color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	}
	for i, name := range names {
		steps, vals := h.Column(name)
		var xys plotter.XYs
		for j := range steps {
			if !math.IsNaN(vals[j]) && !math.IsInf(vals[j], 0) {
				xys = append(xys, plotter.XY{X: float64(steps[j]), Y: vals[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		c := palette[i%len(palette)]
		line.Color, points.Color = c, c
		points.Radius = vg.Points(2)
		if strings.HasPrefix(name, "val_") {
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	p.Add(plotter.NewGrid())
	return p
}

// writeFileAtomic writes b to a temporary file beside path, syncs it and
// renames it over path, so that path holds either its old or its new
// content, never a part.
func writeFileAtomic(path string, b []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("train: save %s: %w", path, err)
	}
	return nil
}
