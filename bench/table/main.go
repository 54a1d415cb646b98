// Command table runs deepgo's benchmarks in bench/ and their PyTorch twins
// (the bench/torch_*.py scripts) side by side and prints a table of medians
// and ratios. Run it from the repository root on an otherwise idle machine:
//
//	go run ./bench/table -count 5
//	go run ./bench/table -count 5 -bench 'Sgemm|Conv2d3x3'
//
// The two sides are interleaved benchmark by benchmark: each round runs one
// Go measurement (one go test benchmark run, about a second) and then one
// PyTorch measurement of the same benchmark, so the pair sees the same
// machine. A shared or virtual machine's speed drifts by tens of percent
// over minutes; measuring all of one side and then all of the other would
// put that drift into the ratios. The speedup column is the median over the
// rounds of each pair's ratio, and the range column its lowest and highest.
//
// It needs Debian's python3-torch (apt-get install python3-torch
// libopenblas0-pthread); PyTorch runs with 2 threads.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	count := flag.Int("count", 5, "rounds (one measurement of each side per benchmark each); the table shows medians")
	filter := flag.String("bench", "", "only benchmarks whose name matches this regular expression (as go test -bench)")
	python := flag.String("python", "/usr/bin/python3", "Python with PyTorch")
	flag.Parse()
	if err := run(*count, *filter, *python); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(count int, filter, python string) error {
	if count < 1 {
		return fmt.Errorf("-count %d: need at least one round", count)
	}
	re, err := regexp.Compile(filter)
	if err != nil {
		return fmt.Errorf("-bench %q: %v", filter, err)
	}
	dir, err := os.MkdirTemp("", "benchtable")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./bench")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the Go benchmarks: %v", err)
	}
	names, err := goBenchmarks(bin, re)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("no Go benchmark matches %q", filter)
	}
	scripts, err := torchScripts(python, re)
	if err != nil {
		return fmt.Errorf("PyTorch side (is python3-torch installed?): %v", err)
	}
	goRuns := map[string][]float64{}
	torchRuns := map[string][]float64{}
	for r := 0; r < count; r++ {
		for _, name := range names {
			ns, err := goOnce(bin, name)
			if err != nil {
				return err
			}
			goRuns[name] = append(goRuns[name], ns)
			script, ok := scripts[name]
			if !ok {
				continue
			}
			ns, err = torchOnce(python, script, name)
			if err != nil {
				return err
			}
			torchRuns[name] = append(torchRuns[name], ns)
		}
	}
	fmt.Printf("%-28s %14s %14s %10s %14s\n", "benchmark", "deepgo", "pytorch", "speedup", "range")
	for _, n := range names {
		g := goRuns[n]
		t, ok := torchRuns[n]
		if !ok {
			fmt.Printf("%-28s %14s %14s %10s %14s\n", n, human(median(g)), "-", "-", "-")
			continue
		}
		ratios := make([]float64, len(g))
		for i := range g {
			ratios[i] = t[i] / g[i]
		}
		lo, hi := minMax(ratios)
		fmt.Printf("%-28s %14s %14s %9.2fx %14s\n", n, human(median(g)), human(median(t)), median(ratios),
			fmt.Sprintf("%.2f–%.2f", lo, hi))
	}
	fmt.Printf("\n%d interleaved rounds; times are medians; speedup = median over rounds of PyTorch time / deepgo time\n"+
		"(above 1: deepgo is faster); range = the lowest and highest of those ratios\n", count)
	return nil
}

// goBenchmarks lists the benchmarks of the test binary whose names (without
// "Benchmark") match re, sorted.
func goBenchmarks(bin string, re *regexp.Regexp) ([]string, error) {
	cmd := exec.Command(bin, "-test.list", "^Benchmark")
	cmd.Dir = "bench"
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Go benchmarks: %v", err)
	}
	var names []string
	for _, line := range strings.Fields(string(out)) {
		name := strings.TrimPrefix(line, "Benchmark")
		if name != line && re.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// goOnce runs one Go benchmark once and returns its ns per op.
func goOnce(bin, name string) (float64, error) {
	cmd := exec.Command(bin, "-test.run", "^$", "-test.bench", "^Benchmark"+regexp.QuoteMeta(name)+"$", "-test.count", "1")
	cmd.Dir = "bench"
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("go benchmark %s: %v\n%s", name, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "ns/op" {
			continue
		}
		base := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(base, "-"); i > 0 {
			base = base[:i]
		}
		if base == name {
			return strconv.ParseFloat(f[2], 64)
		}
	}
	return 0, fmt.Errorf("go benchmark %s: no result in:\n%s", name, out)
}

// torchScripts maps each PyTorch benchmark matching re to the
// bench/torch_*.py script that defines it (a name in two scripts is an
// error), asking each script with --list.
func torchScripts(python string, re *regexp.Regexp) (map[string]string, error) {
	scripts, err := filepath.Glob(filepath.Join("bench", "torch_*.py"))
	if err != nil {
		return nil, err
	}
	if len(scripts) == 0 {
		return nil, fmt.Errorf("no bench/torch_*.py scripts; run from the repository root")
	}
	sort.Strings(scripts)
	from := map[string]string{}
	for _, script := range scripts {
		part, err := torchRun(python, script, re.String(), -1)
		if err != nil {
			return nil, err
		}
		for name := range part {
			if prev, dup := from[name]; dup {
				return nil, fmt.Errorf("benchmark %s is defined by both %s and %s", name, prev, script)
			}
			from[name] = script
		}
	}
	return from, nil
}

// torchOnce runs one PyTorch benchmark once and returns its ns per call.
func torchOnce(python, script, name string) (float64, error) {
	part, err := torchRun(python, script, "^"+regexp.QuoteMeta(name)+"$", 1)
	if err != nil {
		return 0, err
	}
	if v := part[name]; len(v) == 1 {
		return v[0], nil
	}
	return 0, fmt.Errorf("%s: no result for %s", script, name)
}

// torchRun runs script with --bench filter --count count (--list for a
// negative count) and returns its JSON object: benchmark name -> ns per
// call, one figure per run.
func torchRun(python, script, filter string, count int) (map[string][]float64, error) {
	args := []string{script, "--bench", filter}
	if count < 0 {
		args = append(args, "--list")
	} else {
		args = append(args, "--count", strconv.Itoa(count))
	}
	cmd := exec.Command(python, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", script, err)
	}
	part := map[string][]float64{}
	if err := json.Unmarshal(out, &part); err != nil {
		return nil, fmt.Errorf("reading %s results: %v\n%s", script, err, out)
	}
	return part, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func human(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.3f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.3f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.3f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
