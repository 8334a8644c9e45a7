#!/usr/bin/python3
"""Deterministic CSV generator for the csv_clean benchmark.

Writes ROWS data rows of 16 numeric columns (x0..x15, "%.3f") plus one categorical
column (city, 8 values). About 1% of cells are empty (missing); about 0.01% of rows
are malformed: half carry an extra field (wrong field count), half hold an
unparsable number ("n/a?") in a numeric column.

usage: gen_data.py ROWS OUT.csv [SEED]
"""
import io
import os
import sys

import numpy as np
import pandas as pd

NUM = 16
CITIES = np.array(["amsterdam", "berlin", "chicago", "delhi", "lagos", "lima", "osaka", "paris"], dtype=object)
CHUNK = 200_000


def main():
    rows = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261126
    rng = np.random.default_rng(seed)
    cols = [f"x{i}" for i in range(NUM)] + ["city"]
    means = rng.uniform(-50, 500, NUM)
    scales = rng.uniform(0.5, 80, NUM)
    malformed = {"fields": 0, "number": 0}
    tmp = out + ".tmp"
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(tmp, "w", newline="\n") as f:
        f.write(",".join(cols) + "\n")
        done = 0
        while done < rows:
            n = min(CHUNK, rows - done)
            x = rng.normal(means, scales, size=(n, NUM)).astype(np.float64)
            df = pd.DataFrame(x, columns=cols[:NUM])
            df["city"] = CITIES[rng.integers(0, len(CITIES), n)]
            miss = rng.random((n, NUM + 1)) < 0.01
            for j, c in enumerate(cols):
                df[c] = df[c].mask(miss[:, j])
            buf = io.StringIO()
            df.to_csv(buf, header=False, index=False, float_format="%.3f", na_rep="", lineterminator="\n")
            lines = buf.getvalue().split("\n")[:-1]
            bad = np.nonzero(rng.random(n) < 0.0001)[0]
            for k, r in enumerate(bad):
                if k % 2 == 0:
                    lines[r] = lines[r] + ",1.0"  # 18 fields
                    malformed["fields"] += 1
                else:
                    parts = lines[r].split(",")
                    parts[int(rng.integers(0, NUM))] = "n/a?"
                    lines[r] = ",".join(parts)
                    malformed["number"] += 1
            f.write("\n".join(lines) + "\n")
            done += n
    os.replace(tmp, out)
    print(f"wrote {rows} rows to {out}; malformed: {malformed}", file=sys.stderr)


if __name__ == "__main__":
    main()
