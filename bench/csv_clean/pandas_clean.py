#!/usr/bin/python3
"""pandas peer of csv_clean.flow: the same cleaning work, in one process, three ways.

  plain    what a first version looks like: read_csv with no hints. Each numeric
           column that holds an unparsable cell is read as text (object), so
           pd.to_numeric(errors='coerce') turns those cells into NaN.
  typed    what a careful user writes after looking at the data: dtypes declared
           (float32 numbers, a category for city) and the file's unparsable token
           named in na_values (BAD_TOKEN below, what gen_data.py writes), so read_csv
           parses the numbers directly (it needs that token known up front; conveyor
           and the other peers do not); the z-scores and one-hot columns computed on
           one numpy array (DataFrame arithmetic on a column list, as in plain, costs
           more than the reading).
  chunked  typed, in chunks of CHUNK_ROWS rows for bounded memory: a first pass over
           the file fits the statistics (count, mean, sum of squared deviations per
           column, merged across chunks in float64; the city values), a second pass
           transforms each chunk and counts it.

Common to all: on_bad_lines='skip' drops rows with too many fields (rows with too few
would be padded with NaN and dropped by dropna); dropna drops every row with a
missing value; the 16 numeric columns are z-scored in float32 with the mean and
population standard deviation of all kept rows (conveyor's default fits them on its
first fit_rows rows); 'city' is one-hot encoded (columns named city=VALUE, sorted, as
conveyor names them).

--sample OUT.csv --every K writes every K-th output row (rows 0, K, 2K, ...) with a
header, for the driver's value check. Prints one JSON line: rows read, rows kept and
output columns.

usage: pandas_clean.py FILE.csv [--mode plain|typed|chunked] [--sample OUT.csv --every K]
"""
import argparse
import json
import sys
import warnings

import numpy as np
import pandas as pd

CATEGORICAL = "city"
BAD_TOKEN = "n/a?"
CHUNK_ROWS = 100_000


def header_of(path):
    with open(path, newline="") as f:
        return f.readline().rstrip("\r\n").split(",")


def typed_options(path):
    numeric = [c for c in header_of(path) if c != CATEGORICAL]
    dtype = {c: "float32" for c in numeric}
    dtype[CATEGORICAL] = "category"
    return numeric, dict(dtype=dtype, na_values=[BAD_TOKEN], on_bad_lines="skip", engine="c")


def one_hot(df, categories):
    """Replaces CATEGORICAL by one float32 column per value of `categories` (sorted)."""
    codes = pd.Categorical(df[CATEGORICAL], categories=categories)
    dummies = pd.get_dummies(codes, dtype="float32")
    dummies.columns = [f"{CATEGORICAL}={c}" for c in categories]
    dummies.index = df.index
    return pd.concat([df.drop(columns=[CATEGORICAL]), dummies], axis=1)


def transform(df, numeric, mean, sd, categories, z=None):
    """The cleaned frame of `df` (no missing cells) on numpy arrays: float32 z-scores
    of `numeric` with float64 `mean` and `sd`, then one float32 column per category.
    z: df[numeric] as a float32 array if the caller has it (overwritten)."""
    if z is None:
        z = df[numeric].to_numpy(dtype=np.float32)
    z -= mean.astype(np.float32)
    z /= sd.astype(np.float32)
    codes = pd.Categorical(df[CATEGORICAL], categories=categories).codes
    hot = np.zeros((len(df), len(categories)), dtype=np.float32)
    hot[np.arange(len(df)), codes] = 1.0  # every code is known: no -1 after dropna
    return pd.DataFrame(np.hstack([z, hot]), columns=numeric + [f"{CATEGORICAL}={c}" for c in categories])


class sampler:
    """Collects every `every`-th output row, counted across chunks."""

    def __init__(self, path, every):
        self.path, self.every, self.seen, self.parts = path, every, 0, []

    def add(self, df):
        if self.path:
            first = (-self.seen) % self.every  # the first row of df at a multiple of every
            self.parts.append(df.iloc[first::self.every])
        self.seen += len(df)

    def write(self):
        if self.path:
            pd.concat(self.parts).to_csv(self.path, index=False)


def plain(path, sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = pd.read_csv(path, on_bad_lines="skip", dtype={CATEGORICAL: "category"})
    rows_read = len(df)
    num = [c for c in df.columns if c != CATEGORICAL]
    for c in num:
        if df[c].dtype == object:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df.dropna()
    df[num] = df[num].astype("float32")
    df[num] = (df[num] - df[num].mean()) / df[num].std(ddof=0)
    df = one_hot(df, sorted(df[CATEGORICAL].unique()))
    sample.add(df)
    return rows_read, len(df), len(df.columns)


def typed(path, sample):
    numeric, options = typed_options(path)
    df = pd.read_csv(path, **options)
    rows_read = len(df)
    df = df.dropna()
    x = df[numeric].to_numpy(dtype=np.float32)
    mean, sd = x.mean(axis=0, dtype=np.float64), x.std(axis=0, dtype=np.float64)
    sd[sd == 0] = 1.0
    df = transform(df, numeric, mean, sd, sorted(df[CATEGORICAL].unique()), z=x)
    sample.add(df)
    return rows_read, len(df), len(df.columns)


def chunked(path, sample):
    numeric, options = typed_options(path)
    # Pass 1: per-chunk count, mean and M2 merged in float64 (Chan et al.), city values.
    n = 0
    mean = np.zeros(len(numeric))
    m2 = np.zeros(len(numeric))
    cities = set()
    rows_read = 0
    for chunk in pd.read_csv(path, chunksize=CHUNK_ROWS, **options):
        rows_read += len(chunk)
        chunk = chunk.dropna()
        if chunk.empty:
            continue
        x = chunk[numeric].to_numpy(dtype=np.float64)
        k = len(x)
        cm = x.mean(axis=0)
        cm2 = ((x - cm) ** 2).sum(axis=0)
        delta = cm - mean
        mean += delta * k / (n + k)
        m2 += cm2 + delta ** 2 * n * k / (n + k)
        n += k
        cities.update(chunk[CATEGORICAL].unique())
    sd = np.sqrt(m2 / n) if n else np.ones(len(numeric))
    sd[sd == 0] = 1.0
    categories = sorted(cities)
    # Pass 2: transform each chunk with the whole file's statistics.
    rows_out = 0
    columns = len(numeric) + len(categories)
    for chunk in pd.read_csv(path, chunksize=CHUNK_ROWS, **options):
        chunk = transform(chunk.dropna(), numeric, mean, sd, categories)
        rows_out += len(chunk)
        sample.add(chunk)
    return rows_read, rows_out, columns


def main():
    p = argparse.ArgumentParser(description="pandas peer of csv_clean.flow")
    p.add_argument("file")
    p.add_argument("--mode", choices=("plain", "typed", "chunked"), default="plain")
    p.add_argument("--sample", help="write every K-th output row here (with --every)")
    p.add_argument("--every", type=int, default=0)
    a = p.parse_args()
    if bool(a.sample) != (a.every > 0):
        p.error("--sample and --every K (K >= 1) go together")
    sample = sampler(a.sample, a.every)
    rows_read, rows_out, columns = {"plain": plain, "typed": typed, "chunked": chunked}[a.mode](a.file, sample)
    sample.write()
    print(json.dumps({"rows_read": rows_read, "rows_out": rows_out, "columns": columns}))


if __name__ == "__main__":
    sys.exit(main())
