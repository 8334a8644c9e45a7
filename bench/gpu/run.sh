#!/bin/sh
# bench/gpu/run.sh [--bin DIR] [--data DIR] [--seconds S] [--epochs N] [--device cuda:0]
# [--no-torch] [--out DIR]: on a GPU machine, in one run under 5 minutes (bench/gpu/run.py):
# the GPU tests; conveyor against PyTorch eager on the Fashion MLP (samples/s,
# utilisation, joules); Fashion-MNIST to accuracy; inference req/s at 128 in flight on
# the GPU against the CPU server.
#
# Staging (on the build machine, CUDA 13 under /usr/local/cuda, no GPU needed):
#   cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCONVEYOR_CUDA=ON \
#     -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
#     -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
#   cmake --build build-gpu -j2 --target conveyor conveyor_cuda gpu_train_bench loadgen \
#     test_compute_gpu test_actors_gpu
#   bench/gpu/stage.sh build-gpu        # -> build-gpu/device.tar.gz
# Run (on the GPU machine, from the repository root, with build-gpu/device.tar.gz copied in):
#   tar xzf build-gpu/device.tar.gz -C build-gpu && bench/gpu/run.sh --bin build-gpu/device
exec /usr/bin/env python3 "$(dirname "$0")/run.py" "$@"
