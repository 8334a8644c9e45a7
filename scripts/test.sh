#!/usr/bin/env bash
# Sets up, builds and runs every test: the CTest suite (unit and integration tests),
# then each libFuzzer target for a short while (FUZZ_SECONDS, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
