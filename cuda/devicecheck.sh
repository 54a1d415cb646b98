#!/bin/sh
# devicecheck.sh: checks the CUDA device on a GPU machine that has no Go
# toolchain, in about five minutes (each step has its own timeout; the
# worst case adds up to 535 s).
#
#   cuda/devicecheck.sh build   # here, with Go: builds the test binaries
#                               # (CGO_ENABLED=0) into cuda/devicecheck.out
#   cuda/devicecheck.sh run     # on the GPU machine, from the repository
#                               # root: runs them and the PyTorch twin of the
#                               # benchmark, prints key=value results and
#                               # writes cuda/devicecheck.out/results.txt
#   cuda/devicecheck.sh profile # on the GPU machine: the step benchmarks
#                               # with deepgo's and PyTorch's GPU profilers
#   cuda/devicecheck.sh         # both, when Go is here
#
# "run" needs the NVIDIA driver, and cuBLAS and NVRTC somewhere: it adds
# the folders of PyTorch's nvidia-* wheels and /usr/local/cuda to
# DEEPGO_CUDA_PATH. See cuda/README.md.
set -u
cd "$(dirname "$0")/.." || exit 1
out=cuda/devicecheck.out
mode=${1:-all}

build() {
	mkdir -p "$out" || exit 1
	export CGO_ENABLED=0
	go test -c -o "$out/cuda.test" ./cuda || exit 1
	# With the tag cuda, internal/devtest imports the cuda package, so every
	# devtest.Each test also runs on cuda:0.
	go test -c -tags cuda -o "$out/autograd.test" ./autograd || exit 1
	go test -c -tags cuda -o "$out/nn.test" ./nn || exit 1
	go test -c -tags cuda -o "$out/layers.test" ./layers || exit 1
	ls -la "$out"
}

# cuda_path prints the folders that hold cuBLAS or NVRTC: PyTorch's wheels
# first, then the CUDA toolkit's.
cuda_path() {
	{
		for py in python3 python; do
			command -v "$py" >/dev/null 2>&1 || continue
			"$py" - <<'EOF' 2>/dev/null
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + sys.path)
for r in sorted(p for p in roots if p and os.path.isdir(p)):
    for pat in ("nvidia/*/lib", "nvidia/*/*/lib", "nvidia/cu*/lib", "torch/lib"):
        for d in glob.glob(os.path.join(r, pat)):
            if glob.glob(os.path.join(d, "libcublas.so*")) or glob.glob(os.path.join(d, "libnvrtc.so*")):
                print(d)
EOF
			break
		done
		for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/*/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
			ls "$d"/libcublas.so* "$d"/libnvrtc.so* >/dev/null 2>&1 && echo "$d"
		done
	} | awk '!seen[$0]++' | paste -sd: -
}

run() {
	for b in cuda autograd nn layers; do
		[ -x "$out/$b.test" ] || { echo "devicecheck: $out/$b.test is missing: run 'cuda/devicecheck.sh build' where Go is"; exit 1; }
	done
	root=$(pwd)
	res="$root/$out/results.txt"
	: >"$res"
	say() { echo "$*" | tee -a "$res"; }
	nvidia-smi -L 2>&1 | tee -a "$res"
	p=$(cuda_path)
	export DEEPGO_CUDA_PATH="${DEEPGO_CUDA_PATH:+$DEEPGO_CUDA_PATH:}$p"
	say "DEEPGO_CUDA_PATH=$DEEPGO_CUDA_PATH"
	export DEEPGO_CUDA_CACHE="$root/$out/kernel-cache"
	fail=0

	# 1. The cuda package: loader, allocator and conformance of every kernel
	#    with the CPU device, on the GPU.
	(cd cuda && DEEPGO_CUDA_POISON=1 timeout 90 "$root/$out/cuda.test" -test.v -test.run . -test.timeout 85s) >"$out/cuda.log" 2>&1
	rc=$?
	say "cuda_tests_rc=$rc pass=$(grep -c -- '--- PASS' "$out/cuda.log") fail=$(grep -c -- '--- FAIL' "$out/cuda.log") skip=$(grep -c -- '--- SKIP' "$out/cuda.log")"
	grep -E -- '--- (FAIL|SKIP)|panic|cuda: |vit_test.go' "$out/cuda.log" | head -40 | tee -a "$res"
	[ $rc = 0 ] || fail=1

	# 2. The op suites of autograd, nn and layers on cuda:0 beside the CPU
	#    (TestDeviceRegistry assumes no cuda:0 is registered, so it is skipped).
	for pkg in autograd nn layers; do
		(cd "$pkg" && DEEPGO_CUDA_POISON=1 timeout 50 "$root/$out/$pkg.test" -test.v -test.skip '^TestDeviceRegistry$' -test.timeout 45s) >"$out/$pkg.log" 2>&1
		rc=$?
		say "${pkg}_tests_rc=$rc cuda_subtests_pass=$(grep -c -- '--- PASS: .*/cuda:0' "$out/$pkg.log") cuda_subtests_fail=$(grep -c -- '--- FAIL: .*/cuda:0' "$out/$pkg.log")"
		grep -E -- '--- FAIL|^panic|cuda: ' "$out/$pkg.log" | head -20 | tee -a "$res"
		[ $rc = 0 ] || fail=1
	done

	# 3. The training-step benchmark, deepgo then PyTorch on the same GPU.
	(cd cuda && timeout 45 "$root/$out/cuda.test" -test.run '^$' -test.bench '^BenchmarkTrainStep$' -test.benchtime 30x -test.v) >"$out/bench.log" 2>&1
	go_ms=$(awk '/^BenchmarkTrainStep/ { for (i = 1; i < NF; i++) if ($(i+1) == "ms/step") print $i }' "$out/bench.log" | tail -1)
	allocs=$(awk '/^BenchmarkTrainStep/ { for (i = 1; i < NF; i++) if ($(i+1) == "cuMemAlloc/step") print $i }' "$out/bench.log" | tail -1)
	grep -E 'loss|panic|cuda: ' "$out/bench.log" | head -5 | tee -a "$res"
	torch_line=$(timeout 45 python3 cuda/bench_torch.py 30 2>"$out/torch.log")
	torch_line=${torch_line:-torch_ms_per_step=nan reason=see_$out/torch.log}
	say "$torch_line"
	torch_ms=$(echo "$torch_line" | sed -n 's/.*torch_ms_per_step=\([^ ]*\).*/\1/p')
	ratio=$(awk -v g="${go_ms:-nan}" -v t="${torch_ms:-nan}" 'BEGIN { if (g + 0 > 0 && t + 0 > 0) printf "%.2f", g / t; else print "nan" }')
	say "go_ms_per_step=${go_ms:-nan} torch_ms_per_step=${torch_ms:-nan} go_over_torch=$ratio go_cuMemAlloc_per_step=${allocs:-nan}"

	# 4. The ViT-Ti/16 training step (batch 16, the CPU bench table's
	#    configuration, and 128), deepgo then PyTorch (timm) on the same GPU.
	(cd cuda && timeout 90 "$root/$out/cuda.test" -test.run '^$' -test.bench '^BenchmarkViTTiStep' -test.benchtime 20x -test.count 3 -test.v) >"$out/vit.log" 2>&1
	grep -E 'ViT-Ti|panic|cuda: ' "$out/vit.log" | head -5 | tee -a "$res"
	timeout 90 python3 cuda/bench_vit_torch.py 20 16 128 >"$out/vit_torch.out" 2>"$out/vit_torch.log"
	cat "$out/vit_torch.out" | tee -a "$res"
	for bs in 16 128; do
		# the median of the three timings
		g=$(awk -v b="BenchmarkViTTiStep$bs" '$1 ~ "^"b { for (i = 1; i < NF; i++) if ($(i+1) == "ms/step") print $i }' "$out/vit.log" | sort -g | sed -n 2p)
		tm=$(sed -n "s/.*torch_vit_b${bs}_ms_per_step=\([^ ]*\).*/\1/p" "$out/vit_torch.out")
		r=$(awk -v g="${g:-nan}" -v t="${tm:-nan}" 'BEGIN { if (g + 0 > 0 && t + 0 > 0) printf "%.2f", t / g; else print "nan" }')
		say "vit_b${bs}_go_ms_per_step=${g:-nan} vit_b${bs}_torch_ms_per_step=${tm:-nan} vit_b${bs}_speed_vs_torch=$r"
	done
	say "devicecheck_ok=$([ $fail = 0 ] && echo 1 || echo 0)"
	exit $fail
}

# profile: the step benchmarks once more with the GPU profiler on, deepgo's
# and PyTorch's, into $out/profile_*.log.
profile() {
	[ -x "$out/cuda.test" ] || { echo "devicecheck: $out/cuda.test is missing: run 'cuda/devicecheck.sh build' where Go is"; exit 1; }
	root=$(pwd)
	export DEEPGO_CUDA_PATH="${DEEPGO_CUDA_PATH:+$DEEPGO_CUDA_PATH:}$(cuda_path)"
	export DEEPGO_CUDA_CACHE="$root/$out/kernel-cache" DEEPGO_CUDA_PROFILE=1
	(cd cuda && timeout 120 "$root/$out/cuda.test" -test.run '^$' -test.bench '^Benchmark(ViTTiStep|TrainStep)' -test.benchtime 20x -test.count 3 -test.v) >"$out/profile_go.log" 2>&1
	grep -E '^Benchmark' "$out/profile_go.log"
	timeout 120 python3 cuda/bench_vit_torch.py 20 16 128 >"$out/profile_torch.out" 2>"$out/profile_torch.log"
	cat "$out/profile_torch.out"
}

case $mode in
build) build ;;
run) run ;;
profile) profile ;;
all)
	if command -v go >/dev/null 2>&1; then build; fi
	if command -v nvidia-smi >/dev/null 2>&1; then run; else echo "devicecheck: no nvidia-smi here: built only; run 'cuda/devicecheck.sh run' on the GPU machine"; fi
	;;
*)
	echo "usage: cuda/devicecheck.sh [build|run|profile]" >&2
	exit 2
	;;
esac
