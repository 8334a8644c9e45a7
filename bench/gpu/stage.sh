#!/bin/bash
# bench/gpu/stage.sh [BUILD] [DATA]: packs what bench/gpu/run.sh needs on a GPU machine
# that has the driver, cuBLAS and NCCL but not conveyor's other libraries, into
# BUILD/device.tar.gz (BUILD: build-gpu, a CUDA build; DATA: the Fashion-MNIST .gz files,
# default /usr/share/datasets/fashion-mnist). Inside, under device/: bin/ (conveyor,
# gpu_train_bench, bench/serving's loadgen and the GPU tests, stripped), lib/ (the CUDA
# plugin libconveyor_cuda.so, which conveyor loads from ../lib when a graph asks for a
# GPU; CAF, ZeroMQ and the other shared libraries they load; OpenBLAS, which the CPU
# backend loads at run time, and its Fortran runtime), fashion-mnist/, and COMMIT (what
# the binaries were built from). The .gz data does not shrink further; the rest
# compresses to about a third.
# Build what it packs first:
#   cmake --build build-gpu -j2 --target conveyor conveyor_cuda gpu_train_bench loadgen \
#     test_compute_gpu test_actors_gpu
# On the GPU machine, from the repository root:
#   tar xzf build-gpu/device.tar.gz -C build-gpu && bench/gpu/run.sh --bin build-gpu/device
set -euo pipefail
build=${1:-build-gpu}
data=${2:-/usr/share/datasets/fashion-mnist}
# The libraries a GPU machine has: the C and C++ runtimes and CUDA's own.
have='^(linux-vdso|ld-linux|libc\.so|libm\.so|libstdc\+\+|libgcc_s|libpthread|libdl\.so|librt\.so|libcuda\.so|libcudart|libcublas|libcublasLt|libnccl|libnvidia-ml)'
copy_libs() { # copy_libs BINARY...: the shared libraries they load, into $out/lib
  for bin in "$@"; do
    ldd "$bin" | awk '/=> \// {print $1, $3}' | while read -r name path; do
      [[ $name =~ $have ]] || cp -Lu "$path" "$out/lib/$name"
    done
  done
}
out=$build/device
rm -rf "$out" "$build/device.tar.gz"
mkdir -p "$out/bin" "$out/lib" "$out/fashion-mnist"
for b in conveyor bench/gpu/gpu_train_bench bench/serving/loadgen tests/compute/test_compute_gpu \
         tests/actors/test_actors_gpu; do
  strip -o "$out/bin/$(basename "$b")" "$build/$b"
done
strip -o "$out/lib/libconveyor_cuda.so" "$build/libconveyor_cuda.so"
copy_libs "$out"/bin/* "$out/lib/libconveyor_cuda.so"
openblas=$(readlink -f /usr/lib/x86_64-linux-gnu/libopenblas.so.0)
cp "$openblas" "$out/lib/libopenblas.so.0"
copy_libs "$openblas"
cp "$data"/*-ubyte.gz "$out/fashion-mnist/"
git describe --always --dirty --abbrev=7 > "$out/COMMIT"
tar czf "$build/device.tar.gz" -C "$build" device
du -sh "$out" "$build/device.tar.gz"
