#!/usr/bin/python3
"""pandas peer of csv_clean.flow: the same cleaning work, in one process.

read_csv (on_bad_lines='skip' drops rows with too many fields; rows with too few would
be padded with NaN and dropped by dropna), pd.to_numeric(errors='coerce') turns the
unparsable numbers into NaN (only on columns that did not parse as float), dropna
drops every row with a missing value, the 16 numeric columns are z-scored with the
full-file mean/std (conveyor fits them on the first 100000 rows) and 'city' is
one-hot encoded with get_dummies. Prints one JSON line: rows kept and columns.

usage: pandas_clean.py FILE.csv
"""
import json
import sys
import warnings

import pandas as pd


def main():
    path = sys.argv[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = pd.read_csv(path, on_bad_lines="skip", dtype={"city": "category"})
    rows_read = len(df)
    num = [c for c in df.columns if c != "city"]
    for c in num:
        if df[c].dtype == object:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df.dropna()
    df[num] = df[num].astype("float32")
    df[num] = (df[num] - df[num].mean()) / df[num].std(ddof=0)
    df = pd.get_dummies(df, columns=["city"], dtype="float32")
    print(json.dumps({"rows_read": rows_read, "rows_out": len(df), "columns": len(df.columns)}))


if __name__ == "__main__":
    main()
