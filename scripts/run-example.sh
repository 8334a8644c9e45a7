#!/usr/bin/env bash
# Sets up, builds and runs the main example: the Fashion-MNIST factory graph on the
# embedded single-process default. Extra arguments go to `conveyor run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out
build/conveyor run examples/fashion.flow --report out/fashion-report.json "$@"
