"""PyTorch eager peer for bench/gpu: the MLP 784-256-128-10 (relu, cross-entropy, SGD
lr 0.05 momentum 0.9) trained as gpu_train_bench trains it, the way a careful user
would: the synthetic dataset on the GPU, a shuffled order per epoch (torch.randperm on
the GPU), each batch indexed out of it, the loss read every 16 steps.
fp32 turns TF32 off; bf16 runs the model under autocast (bf16 products, fp32 weights).
Prints one JSON line per (precision, batch)."""
import argparse, json, os, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nvml import Meter  # noqa: E402


def run(batch, precision, seconds, rows, dev, meter):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.manual_seed(42)
    x = torch.rand(rows, 784, device=dev)
    y = torch.arange(rows, device=dev) % 10
    order = torch.randperm(rows, device=dev)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps_per_epoch = rows // batch
    at = 0

    def step():
        nonlocal at, order
        s = at % steps_per_epoch
        if s == 0:
            order = torch.randperm(rows, device=dev)
        idx = order[s * batch:(s + 1) * batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        at += 1
        return loss

    for _ in range(20):
        step()
    torch.cuda.synchronize()
    joules = meter.joules()
    meter.start()
    start = time.perf_counter()
    samples = 0
    loss = None
    while time.perf_counter() - start < seconds:
        for _ in range(16):
            loss = step()
        loss.item()
        samples += 16 * batch
    elapsed = time.perf_counter() - start
    util = meter.stop()
    r = {"runner": "pytorch", "torch": torch.__version__, "device": torch.cuda.get_device_name(dev),
         "batch": batch, "precision": precision, "samples_per_second": samples / elapsed,
         "seconds": elapsed, "last_loss": loss.item()}
    if joules is not None:
        j = meter.joules() - joules
        r.update(joules=j, joules_per_epoch=j / samples * rows, samples_per_joule=samples / j)
    if util is not None:
        r["gpu_utilisation_percent"] = util
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, action="append")
    p.add_argument("--precision", action="append")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--gpu", type=int, default=0)
    a = p.parse_args()
    dev = torch.device("cuda", a.gpu)
    meter = Meter(a.gpu)
    for precision in a.precision or ["fp32"]:
        for batch in a.batch or [256, 4096]:
            print(json.dumps(run(batch, precision, a.seconds, a.rows, dev, meter)), flush=True)


if __name__ == "__main__":
    main()
