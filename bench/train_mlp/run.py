"""Driver: trains the Fashion-MNIST MLP with conveyor (cpu:1 and cpu:2) and with PyTorch
(2 threads) at the same hyperparameters, in the same run, and prints samples/s, test
accuracy, peak memory and the ratios. Usage: bench/train_mlp/run.sh [EPOCHS]
(CONVEYOR=path/to/conveyor, default build/conveyor)."""
import json, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def timed(cmd, **kw):
    """Runs cmd under GNU time; returns (completed process, peak RSS MiB, wall s)."""
    with tempfile.NamedTemporaryFile() as t:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd, capture_output=True,
                           text=True, **kw)
        wall = time.perf_counter() - start
        rss = int(open(t.name).read().strip().splitlines()[-1]) / 1024
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p, rss, wall


def conveyor(binary, epochs, devices):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        _, rss, wall = timed([binary, "--log-level", "warn", "run", os.path.join(HERE, "fashion_bench.flow"),
                              "--set", f"epochs={epochs}", "--set", f"devices={devices}",
                              "--report", report], cwd=d)
        r = json.load(open(report))
    steps = {s["step"]: s for s in r["steps"]}
    return {"samples_per_second": steps["train"]["metrics"]["samples_per_second"],
            "test_accuracy": steps["check"]["metrics"]["accuracy"], "peak_rss_mib": rss, "wall_seconds": wall}


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    if not os.path.exists(binary):
        sys.exit(f"no conveyor binary at {binary}: build first or set CONVEYOR")
    rows = {}
    rows["conveyor cpu:1"] = conveyor(binary, epochs, "cpu:1")
    rows["conveyor cpu:2"] = conveyor(binary, epochs, "cpu:2")
    p, rss, wall = timed(["/usr/bin/python3", os.path.join(HERE, "torch_mlp.py"), "--epochs", str(epochs),
                          "--threads", "2"])
    torch = json.loads(p.stdout.strip().splitlines()[-1])
    torch["peak_rss_mib"] = rss
    torch["wall_seconds"] = wall
    rows["pytorch 2 threads"] = torch
    print(f"Fashion-MNIST MLP 784-256-128-10, SGD lr 0.05 momentum 0.9, batch 128, {epochs} epochs")
    print(f"{'run':<20} {'samples/s':>12} {'test acc':>9} {'peak MiB':>9} {'wall s':>8}")
    for name, r in rows.items():
        print(f"{name:<20} {r['samples_per_second']:>12,.0f} {r['test_accuracy']:>9.4f} "
              f"{r['peak_rss_mib']:>9.0f} {r['wall_seconds']:>8.1f}")
    base = rows["pytorch 2 threads"]["samples_per_second"]
    for name in ("conveyor cpu:1", "conveyor cpu:2"):
        print(f"ratio {name} / pytorch: {rows[name]['samples_per_second'] / base:.2f}x")
    print(f"scaling cpu:2 / cpu:1: {rows['conveyor cpu:2']['samples_per_second'] / rows['conveyor cpu:1']['samples_per_second']:.2f}x")


if __name__ == "__main__":
    main()
