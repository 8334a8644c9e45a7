"""PyTorch peer for bench/train_mlp: the Fashion-MNIST MLP 784-256-128-10 (relu) with SGD
(lr, momentum), the same batch and epochs as the conveyor graph, on CPU with a fixed
thread count. Prints one JSON line: training samples/s, test accuracy, wall seconds, and
torch.mm's sgemm rate at n = 1024 (the same OpenBLAS as conveyor: run.py gives both the
same OPENBLAS_CORETYPE)."""
import argparse, gzip, json, resource, time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def sgemm_gflops(seconds=1.0, n=1024):
    a = torch.full((n, n), 0.5)
    b = torch.full((n, n), 0.25)
    torch.mm(a, b)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    start = time.perf_counter()
    xtr = torch.from_numpy(idx(f"{DATA}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0)
    ytr = torch.from_numpy(idx(f"{DATA}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    xte = torch.from_numpy(idx(f"{DATA}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0)
    yte = torch.from_numpy(idx(f"{DATA}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    n = xtr.shape[0]
    train_start = time.perf_counter()
    samples = 0
    for _ in range(a.epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, a.batch):
            idx_ = perm[i:i + a.batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx_]), ytr[idx_])
            loss.backward()
            opt.step()
            samples += idx_.shape[0]
    train_seconds = time.perf_counter() - train_start
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"samples_per_second": samples / train_seconds, "test_accuracy": acc,
                      "sgemm_gflops": sgemm_gflops(),
                      "train_seconds": train_seconds, "wall_seconds": time.perf_counter() - start,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
