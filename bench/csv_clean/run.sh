#!/bin/sh
# bench/csv_clean/run.sh [ROWS ...]: conveyor vs DuckDB and pandas (see run.py).
# CONVEYOR=path/to/conveyor overrides build/conveyor; RUNS, THREADS, SIDES as in run.py.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
