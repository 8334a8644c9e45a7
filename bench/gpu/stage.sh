#!/bin/bash
# bench/gpu/stage.sh [BUILD] [DATA]: packs what bench/gpu/run.sh needs on a GPU machine
# that has the driver, cuBLAS and NCCL but not conveyor's other libraries, into
# BUILD/device.tar.gz (BUILD: build-gpu, a CUDA build; DATA: the Fashion-MNIST .gz files,
# default /usr/share/datasets/fashion-mnist). Inside, under device/: bin/ (conveyor,
# gpu_train_bench, test_compute_gpu, stripped), lib/ (CAF, ZeroMQ and the other shared
# libraries they load, OpenBLAS, which the CPU backend loads at run time, and its
# Fortran runtime) and fashion-mnist/. The .gz data does not shrink further; the rest
# compresses to about a third.
# On the GPU machine, from the repository root:
#   tar xzf build-gpu/device.tar.gz -C build-gpu && bench/gpu/run.sh --bin build-gpu/device
set -euo pipefail
build=${1:-build-gpu}
data=${2:-/usr/share/datasets/fashion-mnist}
pack_libs=${PACK_LIBS:-/work/shared/gpu/pack-libs.sh}
out=$build/device
rm -rf "$out" "$build/device.tar.gz"
mkdir -p "$out/bin" "$out/lib" "$out/fashion-mnist"
for b in conveyor bench/gpu/gpu_train_bench tests/compute/test_compute_gpu; do
  strip -o "$out/bin/$(basename "$b")" "$build/$b"
done
"$pack_libs" "$out/lib" "$out"/bin/* >/dev/null
openblas=$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0)
cp "$openblas" "$out/lib/libopenblas.so.0"
"$pack_libs" "$out/lib" "$openblas" >/dev/null
cp "$data"/*-ubyte.gz "$out/fashion-mnist/"
tar czf "$build/device.tar.gz" -C "$build" device
du -sh "$out" "$build/device.tar.gz"
