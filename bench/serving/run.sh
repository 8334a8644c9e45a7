#!/bin/sh
# bench/serving/run.sh [SECONDS]: conveyor's inference actor (with and without dynamic
# batching) vs the ceiling (decode and answer, no compute) and two Python peers (pyzmq +
# numpy, one BLAS thread: one request at a time, and every queued request in one batch),
# driven by the same load generator at 1, 32 and 128 requests in flight (see run.py).
# Needs a build (CONVEYOR=path/to/conveyor, default build/conveyor; the load generator
# and ceiling server are built beside it under bench/serving/); SERVERS and CONCURRENCY
# choose what runs.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
