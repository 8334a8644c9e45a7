#!/bin/sh
# bench/train_mlp/run.sh [EPOCHS]: conveyor (cpu:1, cpu:2) vs PyTorch on the Fashion MLP.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
