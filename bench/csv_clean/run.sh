#!/bin/sh
# Thin wrapper: bench/csv_clean/run.sh [ROWS ...]; CONVEYOR=path/to/conveyor overrides build/conveyor.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
