#!/bin/sh
# bench/cluster/run.sh [--rows N] [--cols N] [--batch N] [--repeat N]: cross-node batch
# throughput (two conveyor nodes on loopback) against one process and against raw
# ZeroMQ PUSH/PULL moving the same payloads; failure detection after SIGKILL and SIGSTOP.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
