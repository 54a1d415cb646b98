// Command table runs deepgo's benchmarks in bench/ and their PyTorch twins
// (every bench/torch_*.py script, whose results are merged) side by side and
// prints a table of medians and ratios. Run it from the repository root on an otherwise idle machine:
//
//	go run ./bench/table -count 5
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
	"sort"
	"strconv"
	"strings"
)

func main() {
	count := flag.Int("count", 5, "runs of each benchmark; the table shows medians")
	filter := flag.String("bench", "", "only benchmarks whose name contains this")
	python := flag.String("python", "/usr/bin/python3", "Python with PyTorch")
	flag.Parse()

	goRuns, err := runGo(*count, *filter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	torchRuns, err := runTorch(*python, *count, *filter)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table: PyTorch side failed (is python3-torch installed?):", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(goRuns))
	for n := range goRuns {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("%-28s %14s %14s %10s\n", "benchmark", "deepgo", "pytorch", "speedup")
	for _, n := range names {
		g := median(goRuns[n])
		t, ok := torchRuns[n]
		if !ok {
			fmt.Printf("%-28s %14s %14s %10s\n", n, human(g), "-", "-")
			continue
		}
		tm := median(t)
		fmt.Printf("%-28s %14s %14s %9.2fx\n", n, human(g), human(tm), tm/g)
	}
	fmt.Printf("\nmedians of %d runs; speedup = PyTorch time / deepgo time (above 1: deepgo is faster)\n", *count)
}

func runGo(count int, filter string) (map[string][]float64, error) {
	pattern := "."
	if filter != "" {
		pattern = filter
	}
	cmd := exec.Command("go", "test", "./bench", "-run", "^$", "-bench", pattern, "-count", strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	runs := map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %v", sc.Text(), err)
		}
		runs[name] = append(runs[name], ns)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no benchmark results in:\n%s", out)
	}
	return runs, nil
}

// runTorch runs every bench/torch_*.py script (each prints a JSON object of
// benchmark name -> ns per run) and merges their results; a name defined by
// two scripts is an error.
func runTorch(python string, count int, filter string) (map[string][]float64, error) {
	scripts, err := filepath.Glob(filepath.Join("bench", "torch_*.py"))
	if err != nil {
		return nil, err
	}
	if len(scripts) == 0 {
		return nil, fmt.Errorf("no bench/torch_*.py scripts; run from the repository root")
	}
	sort.Strings(scripts)
	runs := map[string][]float64{}
	from := map[string]string{}
	for _, script := range scripts {
		cmd := exec.Command(python, script, "--count", strconv.Itoa(count), "--bench", filter)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", script, err)
		}
		part := map[string][]float64{}
		if err := json.Unmarshal(out, &part); err != nil {
			return nil, fmt.Errorf("reading %s results: %v\n%s", script, err, out)
		}
		for name, v := range part {
			if prev, dup := from[name]; dup {
				return nil, fmt.Errorf("benchmark %s is defined by both %s and %s", name, prev, script)
			}
			from[name] = script
			runs[name] = v
		}
	}
	return runs, nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
