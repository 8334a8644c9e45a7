#!/bin/sh
# bench/cluster/fashion.sh [--repeat N] [--epochs N]: the Fashion-MNIST training graph
# in one process and on three conveyor nodes on this machine: accuracy, samples/s, time.
exec /usr/bin/python3 "$(dirname "$0")/fashion.py" "$@"
