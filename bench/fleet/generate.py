"""Writes the fleet benchmark's data: SEGMENTS segments of ROWS rows of FEATURES features,
each segment with its own linear rule (weights drawn per segment, a bias near zero), labels
flipped with probability NOISE, split 80/20 per segment (every fifth row of a segment is
held out). Same seed, same files.

Usage: generate.py OUT_DIR [--segments 1000] [--rows 1000] [--features 20] [--noise 0.05]
       [--seed 7]
Writes OUT_DIR/train.csv and OUT_DIR/test.csv: columns segment, x0..x{F-1}, label."""
import argparse
import os

import numpy as np


def generate(segments, rows, features, noise, seed):
    """(segment index per row, x, y, held-out mask), rows grouped by segment."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(segments, features)).astype(np.float32)
    b = rng.normal(scale=0.3, size=segments).astype(np.float32)
    x = rng.normal(size=(segments, rows, features)).astype(np.float32)
    logits = np.einsum("srf,sf->sr", x, w) + b[:, None]
    y = (logits > 0).astype(np.int64)
    flip = rng.random(size=y.shape) < noise
    y = np.where(flip, 1 - y, y)
    held_out = np.zeros((segments, rows), dtype=bool)
    held_out[:, 4::5] = True
    seg = np.repeat(np.arange(segments), rows)
    return seg, x.reshape(-1, features), y.reshape(-1), held_out.reshape(-1)


def write_csv(path, names, seg, x, y):
    features = x.shape[1]
    header = "segment," + ",".join(f"x{j}" for j in range(features)) + ",label\n"
    with open(path, "w") as f:
        f.write(header)
        block = 20000
        for at in range(0, len(y), block):
            lines = []
            for i in range(at, min(len(y), at + block)):
                lines.append(names[seg[i]] + "," + ",".join(f"{v:.5g}" for v in x[i]) + f",{y[i]}\n")
            f.write("".join(lines))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("out")
    a.add_argument("--segments", type=int, default=1000)
    a.add_argument("--rows", type=int, default=1000)
    a.add_argument("--features", type=int, default=20)
    a.add_argument("--noise", type=float, default=0.05)
    a.add_argument("--seed", type=int, default=7)
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    seg, x, y, held_out = generate(args.segments, args.rows, args.features, args.noise, args.seed)
    names = [f"s{i:05d}" for i in range(args.segments)]
    write_csv(os.path.join(args.out, "train.csv"), names, seg[~held_out], x[~held_out], y[~held_out])
    write_csv(os.path.join(args.out, "test.csv"), names, seg[held_out], x[held_out], y[held_out])


if __name__ == "__main__":
    main()
