#!/bin/sh
# bench/gpu/run.sh [--bin DIR] [--data DIR] [--seconds S] [--epochs N] [--device cuda:0]
# [--no-torch]: on a GPU machine, the GPU tests, conveyor against PyTorch eager on the
# Fashion MLP (samples/s, utilisation, joules) and Fashion-MNIST to accuracy (run.py).
exec /usr/bin/env python3 "$(dirname "$0")/run.py" "$@"
