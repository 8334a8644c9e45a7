"""The fleet benchmark's peers, on the same CSV files as conveyor (bench/fleet/generate.py):

  peers.py sklearn DATA_DIR   one scikit-learn LogisticRegression (lbfgs, C = 1) per
                              segment, fitted in a Python loop
  peers.py torch DATA_DIR [--epochs 20 --lr 0.02 --batch 32 --threads N]
                              every segment's logistic model at once: weights [S, F, 1],
                              torch.bmm over minibatches of `batch` rows per segment, Adam
                              (segments padded to the longest; padding rows weigh 0)

Reading the CSV is not timed (on any side); fitting is. Prints one JSON line: models,
train_seconds, models_per_second, test_accuracy (held-out rows right / held-out rows,
each row predicted by its segment's model)."""
import argparse
import json
import time

import numpy as np
import pandas as pd


def load(path):
    d = pd.read_csv(path)
    seg = d["segment"].str[1:].astype(np.int64).to_numpy()
    x = d[[c for c in d.columns if c.startswith("x")]].to_numpy(dtype=np.float32)
    y = d["label"].to_numpy(dtype=np.int64)
    return seg, x, y


def by_segment(seg, *arrays):
    order = np.argsort(seg, kind="stable")
    seg = seg[order]
    arrays = [a[order] for a in arrays]
    keys, starts = np.unique(seg, return_index=True)
    bounds = list(starts) + [len(seg)]
    return keys, [[a[bounds[i]:bounds[i + 1]] for a in arrays] for i in range(len(keys))]


def sklearn_loop(data):
    from sklearn.linear_model import LogisticRegression
    tr_keys, train = by_segment(*load(f"{data}/train.csv"))
    te_keys, test = by_segment(*load(f"{data}/test.csv"))
    assert list(tr_keys) == list(te_keys)
    start = time.perf_counter()
    models = [LogisticRegression().fit(x, y) for x, y in train]
    seconds = time.perf_counter() - start
    right = sum(int((m.predict(x) == y).sum()) for m, (x, y) in zip(models, test))
    total = sum(len(y) for _, y in test)
    return len(models), seconds, right / total


def torch_bmm(data, epochs, lr, batch, threads):
    import torch
    torch.set_num_threads(threads)
    tr_keys, train = by_segment(*load(f"{data}/train.csv"))
    te_keys, test = by_segment(*load(f"{data}/test.csv"))
    assert list(tr_keys) == list(te_keys)
    s, f = len(train), train[0][0].shape[1]
    n = max(len(y) for _, y in train)
    x = np.zeros((s, n, f), np.float32)
    y = np.zeros((s, n, 1), np.float32)
    w8 = np.zeros((s, n, 1), np.float32)
    for i, (xs, ys) in enumerate(train):
        x[i, :len(ys)], y[i, :len(ys), 0], w8[i, :len(ys), 0] = xs, ys, 1.0
    x, y, w8 = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w8)
    g = torch.Generator().manual_seed(42)
    start = time.perf_counter()
    w = torch.zeros((s, f, 1), requires_grad=True)
    b = torch.zeros((s, 1, 1), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for at in range(0, n, batch):
            idx = perm[at:at + batch]
            xb, yb, mb = x[:, idx], y[:, idx], w8[:, idx]
            logits = torch.bmm(xb, w) + b
            per_row = loss_fn(logits, yb) * mb
            loss = (per_row.sum(dim=(1, 2)) / mb.sum(dim=(1, 2)).clamp(min=1)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    right = total = 0
    with torch.no_grad():
        for i, (xs, ys) in enumerate(test):
            p = torch.from_numpy(xs) @ w[i] + b[i]
            right += int(((p[:, 0] > 0).numpy().astype(np.int64) == ys).sum())
            total += len(ys)
    return s, seconds, right / total


def main():
    a = argparse.ArgumentParser()
    a.add_argument("peer", choices=["sklearn", "torch"])
    a.add_argument("data")
    a.add_argument("--epochs", type=int, default=20)
    a.add_argument("--lr", type=float, default=0.02)
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--threads", type=int, default=1)
    args = a.parse_args()
    if args.peer == "sklearn":
        models, seconds, acc = sklearn_loop(args.data)
    else:
        models, seconds, acc = torch_bmm(args.data, args.epochs, args.lr, args.batch, args.threads)
    print(json.dumps({"models": models, "train_seconds": seconds,
                      "models_per_second": models / seconds, "test_accuracy": acc}))


if __name__ == "__main__":
    main()
