#!/bin/bash
# bench/gpu/startup.sh [CONVEYOR...]: what a start costs each `conveyor` binary given
# (default build/conveyor): wall time and peak RSS of `conveyor --help` and of a small
# CPU-only run (bench/gpu/cpu_startup.flow), the median of 5 runs each, and which of
# cuBLAS, NCCL and the CUDA plugin the loader opened for `--help` (LD_DEBUG=files). Run
# from the repository root. Compare a binary that links the GPU libraries with one that loads
# them on demand (docs/compute.md, the CUDA plugin).
set -euo pipefail
bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=(build/conveyor)
out=$(mktemp -d) # the last run's timing and log
trap 'rm -rf "$out"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # measure LABEL CMD...: "LABEL: median s, median peak RSS MiB"
  local label=$1; shift
  local times=() rss=()
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M %x" -o "$out/t" "$@" > "$out/log" 2>&1 || true
    read -r t m rc < "$out/t"
    [[ $rc == 0 ]] || { echo "failed ($rc): $*"; tail -5 "$out/log"; exit 1; }
    times+=("$t"); rss+=("$m")
  done
  printf '  %-10s %6s s  %7s MiB peak RSS\n' "$label" "$(printf '%s\n' "${times[@]}" | median)" \
    "$(printf '%s\n' "${rss[@]}" | median | awk '{printf "%.0f", $1 / 1024}')"
}
for b in "${bins[@]}"; do
  echo "$b"
  measure "--help" "$b" --help
  measure "cpu run" "$b" --log-level warn run bench/gpu/cpu_startup.flow
  gpu_libs=$(LD_DEBUG=files "$b" --help 2>&1 >/dev/null | grep -o 'file=[^ ]*\(cublas\|nccl\|conveyor_cuda\)[^ ]*' | sort -u | tr "\n" " " || true)
  echo "  GPU libraries loaded by --help: ${gpu_libs:-none}"
done
