"""The harness shared by the bench/torch_*.py scripts (the PyTorch twins of
the Go benchmarks): two threads, the timing loop and the command line.

Each script defines BENCHES, a dict from benchmark name to a function that
builds the state and returns the callable to time, and ends with

    if __name__ == "__main__":
        torchbench.main(BENCHES)

which takes --count (runs per benchmark) and --bench (a regular expression,
as go test -bench takes) and prints one JSON object: name -> ns per call,
one figure per run (with --list, the matching names and no figures, without
running anything).
"""
import argparse
import json
import re
import time

import torch

torch.set_num_threads(2)


def timeit(fn, min_seconds=0.5):
    """Returns the time per call of fn in ns, calling it (after one warm-up
    call) in doubling batches until a batch takes min_seconds."""
    fn()  # warm up
    n, elapsed = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return elapsed / n * 1e9
        n = max(n * 2, int(n * min_seconds / max(elapsed, 1e-9)))


def main(benches, measure=timeit):
    """Runs the benchmarks the command line selects; measure(fn) gives the
    ns per call of the callable a BENCHES entry built."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--bench", default="")
    ap.add_argument("--list", action="store_true",
                    help="print the matching names (with no figures) without running them")
    args = ap.parse_args()
    out = {}
    for name, make in benches.items():
        if args.bench and not re.search(args.bench, name):
            continue
        if args.list:
            out[name] = []
            continue
        fn = make()
        out[name] = [measure(fn) for _ in range(args.count)]
    print(json.dumps(out))
