#!/bin/sh
# bench/serving/fairness.sh [--seconds 10] [--flood-sockets 64] [--flood-in-flight 8192]
# [--registry DIR]: the latency of a client with one request in flight while a flood from
# many connections overloads conveyor's inference server (goal: never shed, p99 under
# 10 ms). Needs a build (CONVEYOR=path/to/conveyor, default build/conveyor; the load
# generator is built beside it under bench/serving/). Details: bench/serving/fairness.py.
exec /usr/bin/python3 "$(dirname "$0")/fairness.py" "$@"
