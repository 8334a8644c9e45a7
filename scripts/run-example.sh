#!/usr/bin/env bash
# The main job: sets up and builds, then runs the Fashion-MNIST factory
# (examples/fashion.flow) on the embedded single-process default. The graph trains,
# evaluates, publishes to out/models and serves on tcp://127.0.0.1:5555; once the new
# model is served, a client (examples/python/fashion_client.py) sends the 10,000 test
# images over the wire, one per request, and prints the accuracy of the served answers
# and the latency. Then the run is drained (SIGTERM) and prints its report.
# Extra arguments go to `conveyor run` (e.g. --set epochs=3).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out

# The version this run will publish is above the registry's latest.
latest=$(build/conveyor models show fashion --registry out/models --json 2>/dev/null |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])' 2>/dev/null || echo 0)

build/conveyor run examples/fashion.flow --report out/fashion-report.json "$@" &
run_pid=$!
/usr/bin/python3 examples/python/fashion_client.py --endpoint tcp://127.0.0.1:5555 \
  --model fashion --min-version $((latest + 1)) --wait-s 900 &
client_pid=$!
trap 'kill $client_pid $run_pid 2>/dev/null || true' EXIT

# Whichever ends first: the client (then stop the run), or the run (it failed).
status=0
wait -n $run_pid $client_pid || status=$?
if kill -0 $client_pid 2>/dev/null; then
  echo "run-example: the run ended before the model was served" >&2
  kill $client_pid 2>/dev/null || true
  exit 1
fi
kill -TERM $run_pid
run_status=0
wait $run_pid || run_status=$?
trap - EXIT
[ $status -eq 0 ] && exit $run_status
exit $status
