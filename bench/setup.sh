#!/usr/bin/env bash
# bench/setup.sh [csv_clean] [serving] [train_mlp] [fleet]: installs the peers the
# benchmarks run against (all of them when no benchmark is named).
#   csv_clean   pandas and numpy (Debian), GNU time, Node.js and npm (Debian), and
#               DuckDB's Node API (npm, pinned below) into bench/node_modules/, which
#               git ignores
#   serving     numpy, pyzmq and msgpack (Debian) for the Python peers
#   train_mlp   PyTorch for CPU (Debian), GNU time
#   fleet       scikit-learn, PyTorch for CPU, pandas and numpy (Debian)
# Debian packages need root or sudo; npm installs into the checkout, no root needed.
set -euo pipefail

duckdb_node_api="@duckdb/node-api@1.5.6-r.1"
here="$(cd "$(dirname "$0")" && pwd)"

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(csv_clean serving train_mlp fleet)
packages=()
want_duckdb=0
for b in "${benches[@]}"; do
  case "$b" in
    csv_clean) packages+=(python3-pandas python3-numpy time nodejs npm); want_duckdb=1 ;;
    serving) packages+=(python3-numpy python3-zmq python3-msgpack) ;;
    train_mlp) packages+=(python3-torch python3-numpy time) ;;
    fleet) packages+=(python3-sklearn python3-torch python3-pandas python3-numpy) ;;
    *) echo "bench/setup.sh: unknown benchmark '$b' (csv_clean, serving, train_mlp, fleet)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (a newer release): what counts is that
# node (>= 18) and npm run.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=()
  for p in "${missing[@]}"; do
    [ "$p" = nodejs ] || [ "$p" = npm ] || keep+=("$p")
  done
  missing=("${keep[@]+"${keep[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$want_duckdb" -eq 1 ]; then
  installed="$(node -p "require('$here/node_modules/@duckdb/node-api/package.json').version" 2>/dev/null || true)"
  if [ "$installed" != "${duckdb_node_api##*@}" ]; then
    # --prefix bench: node_modules/ lands beside the scripts that import it; no
    # package.json or lock file is written into the checkout.
    npm install --prefix "$here" --no-save --no-package-lock --no-audit --no-fund "$duckdb_node_api"
  fi
fi
