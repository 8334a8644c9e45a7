#!/bin/sh
# bench/train_mlp/run.sh [EPOCHS] [--cores N] [--coretype NAME] [--no-torch]: conveyor
# (cpu:1, cpu:N) vs PyTorch on the Fashion MLP, against the sgemm peak of the same cores.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
