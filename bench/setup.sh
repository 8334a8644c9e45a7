#!/usr/bin/env bash
# Installs the peers the benchmarks run against (Debian packages, root or sudo):
# pandas and numpy for bench/csv_clean, PyTorch (CPU) for bench/train_mlp.
set -euo pipefail
packages=(python3-pandas python3-numpy python3-torch time)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
