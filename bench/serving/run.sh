#!/bin/sh
# bench/serving/run.sh [SECONDS]: conveyor's inference actor (with and without dynamic
# batching) vs the ceiling (decode and answer, no compute) and a Python peer (pyzmq +
# numpy, one request at a time), driven by the same load generator at 1, 32 and 128
# requests in flight. Needs a build (CONVEYOR=path/to/conveyor, default build/conveyor;
# the load generator and ceiling server are built beside it under bench/serving/).
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
