"""Driver: a fleet of per-segment logistic models, trained by conveyor (one trainer with
by = "segment": batched kernels over all segments), by scikit-learn's LogisticRegression in
a Python loop, and by PyTorch batched (torch.bmm), on the same generated data (1,000
segments x 1,000 rows x 20 features by default, a per-segment linear rule, 5% label
noise, 80/20 split per segment), pinned to the same cores. Prints per side the models per
second (fitting only: reading the CSV is not counted on any side) and the held-out
accuracy, then the ratios (conveyor runs three times: as the PyTorch peer, Adam for every
segment all epochs on all its rows; the same with per-segment early stopping on 10%
held-out rows; and with optimizer = "newton", each segment by Newton's method to the
optimum of scikit-learn's own objective, at most --epochs iterations). Goal: conveyor at
>= 20x the scikit-learn loop's models/s at equal accuracy.

Usage: bench/fleet/run.py [--segments 1000] [--rows 1000] [--features 20] [--epochs 20]
       [--lr 0.02] [--cores 2] [--no-torch] [--data DIR]
--data keeps the generated CSV files there (generated once per size and seed).
Environment: CONVEYOR (default build/conveyor)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
BATCH = 32  # conveyor and pytorch: minibatches of this many rows per segment


def run(cmd, env=None, **kw):
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p, time.perf_counter() - start


def conveyor(binary, pin, data, args, early_stopping=False, newton=False):
    extra = ["--set", "validation=0.1", "--set", "patience=3"] if early_stopping else []
    if newton:
        # scikit-learn's objective: C = 1 on the segment's training rows is an L2 penalty
        # of 1 / (2 n) |w|^2 on the row-averaged loss
        train_rows = args.rows - args.rows // 5
        extra += ["--set", "optimizer=newton", "--set", f"weight_decay={1.0 / train_rows}"]
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        _, wall = run(pin + [binary, "--log-level", "warn", "run", os.path.join(HERE, "fleet_bench.flow"),
                             "--set", f"data={data}", "--set", f"epochs={args.epochs}",
                             "--set", f"lr={args.lr}", "--set", f"batch={BATCH}"] + extra +
                      ["--report", report], cwd=d)
        r = json.load(open(report))
    steps = {s["step"]: s for s in r["steps"]}
    m = steps["train"]["metrics"]
    # the segments' models, as on the other sides; the shared model's time counts too
    return {"models": m["own_models"], "train_seconds": m["train_seconds"],
            "models_per_second": m["own_models"] / m["train_seconds"],
            "test_accuracy": steps["check"]["metrics"]["accuracy"], "wall_seconds": wall,
            "stopped_early": m["stopped_early"]}


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--segments", type=int, default=1000)
    a.add_argument("--rows", type=int, default=1000)
    a.add_argument("--features", type=int, default=20)
    a.add_argument("--epochs", type=int, default=20)
    a.add_argument("--lr", type=float, default=0.02, help="Adam's rate (conveyor and pytorch)")
    a.add_argument("--cores", type=int, default=2)
    a.add_argument("--seed", type=int, default=7)
    a.add_argument("--no-torch", action="store_true")
    a.add_argument("--data", default="")
    args = a.parse_args()
    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    if not os.path.exists(binary):
        sys.exit(f"no binary at {binary}: build first (or set CONVEYOR)")
    pin = ["taskset", "-c", f"0-{args.cores - 1}"]
    tmp = None
    if args.data:
        data = os.path.abspath(os.path.join(
            args.data, f"s{args.segments}_r{args.rows}_f{args.features}_seed{args.seed}"))
    else:
        tmp = tempfile.TemporaryDirectory()
        data = tmp.name
    if not os.path.exists(os.path.join(data, "test.csv")):
        run([PY, os.path.join(HERE, "generate.py"), data, "--segments", str(args.segments),
             "--rows", str(args.rows), "--features", str(args.features), "--seed", str(args.seed)])

    rows = {"conveyor fleet": conveyor(binary, pin, data, args),
            "conveyor, early stop": conveyor(binary, pin, data, args, early_stopping=True),
            "conveyor, newton": conveyor(binary, pin, data, args, newton=True)}
    p, _ = run(pin + [PY, os.path.join(HERE, "peers.py"), "sklearn", data])
    rows["scikit-learn loop"] = json.loads(p.stdout.strip().splitlines()[-1])
    if not args.no_torch:
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        p, _ = run(pin + [PY, os.path.join(HERE, "peers.py"), "torch", data, "--epochs",
                          str(args.epochs), "--lr", str(args.lr), "--batch", str(BATCH),
                          "--threads", str(args.cores)], env)
        rows["pytorch bmm"] = json.loads(p.stdout.strip().splitlines()[-1])

    print("\n".join(machine_lines(invocation("bench/fleet/run.py", ("CONVEYOR",)))))
    print(f"fleet: {args.segments} segments x {args.rows} rows x {args.features} features, "
          f"5% label noise, 80/20 split per segment; conveyor and pytorch: logistic, Adam lr "
          f"{args.lr}, batch {BATCH}, {args.epochs} epochs (\"early stop\": 10% of each segment held "
          f"out, patience 3); \"newton\": Newton's method per segment to the optimum of "
          f"scikit-learn's objective; scikit-learn: LogisticRegression() (lbfgs, C = 1); "
          f"cores 0-{args.cores - 1}")
    print(f"{'run':<22} {'models':>7} {'fit s':>8} {'models/s':>10} {'held-out acc':>13}")
    for name, r in rows.items():
        print(f"{name:<22} {r['models']:>7.0f} {r['train_seconds']:>8.2f} "
              f"{r['models_per_second']:>10,.0f} {r['test_accuracy']:>13.4f}")
    n = rows["conveyor, newton"]
    c = rows["conveyor fleet"]
    print(f"conveyor: the whole run (reading the CSVs, training, evaluating) took "
          f"{c['wall_seconds']:.1f} s; with early stopping "
          f"{rows['conveyor, early stop']['stopped_early']:.0f} segments stopped early")
    for name in ("scikit-learn loop", "pytorch bmm"):
        if name in rows:
            r = rows[name]
            for label, mine in (("conveyor", c), ("conveyor newton", n)):
                print(f"ratio {label} / {name}: "
                      f"{mine['models_per_second'] / r['models_per_second']:.1f}x models/s, "
                      f"accuracy {mine['test_accuracy'] - r['test_accuracy']:+.4f}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
