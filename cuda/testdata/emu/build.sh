#!/bin/sh
# build.sh OUTDIR: builds the CUDA emulator (a host-only libcuda.so.1,
# libnvrtc.so.13 and libcublas.so.13) into OUTDIR. With DEEPGO_CUDA_PATH=OUTDIR
# the cuda package loads it instead of a GPU's libraries; see README.md.
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
g++ -std=c++17 -O1 -shared -fPIC -o "$out/libcuda.so.1" "$here/libcuda.cpp" -ldl
g++ -std=c++17 -O1 -shared -fPIC -DEMU_PRELUDE_DIR="\"$here\"" -o "$out/libnvrtc.so.13" "$here/libnvrtc.cpp" -ldl
g++ -std=c++17 -O1 -shared -fPIC -o "$out/libcublas.so.13" "$here/libcublas.cpp"
