"""Driver: trains the Fashion-MNIST MLP with conveyor (cpu:1 and cpu:N) and with PyTorch
(N threads) at the same hyperparameters, in the same run, pinned to the same N cores and
with the same OpenBLAS kernel (Debian's PyTorch calls the same OpenBLAS), and measures
the machine's sgemm peak on those cores first (sgemm_peak). Prints samples/s, the
training step's GFLOP/s and their share of the sgemm peak, test accuracy, peak memory,
CPU seconds (user + system of the whole process: loading and evaluation included), the
ratios and the goal (half the sgemm peak).

Usage: bench/train_mlp/run.sh [EPOCHS] [--cores N] [--coretype NAME] [--no-torch]
  --coretype  force an OpenBLAS kernel (e.g. Prescott, the fallback on CPUs OpenBLAS
              does not know); default: the one conveyor's CPU backend picks.
Environment: CONVEYOR (default build/conveyor), SGEMM_PEAK (default
build/bench/train_mlp/sgemm_peak)."""
import argparse, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAYERS = [784, 256, 128, 10]


def flops_per_sample(layers):
    """Multiply-adds x 2 of one training step per row: the forward product of every
    layer, the weight gradient of every layer, and the input gradient of every layer but
    the first (the data needs none). Elementwise work (bias, relu, softmax, update) is
    not counted."""
    products = [i * o for i, o in zip(layers, layers[1:])]
    return 2 * (2 * sum(products) + sum(products[1:]))


def timed(cmd, env, **kw):
    """Runs cmd under GNU time; returns (completed process, peak RSS MiB, wall s, CPU s:
    user + system of the whole process)."""
    with tempfile.NamedTemporaryFile() as t:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", t.name] + cmd,
                           capture_output=True, text=True, env=env, **kw)
        wall = time.perf_counter() - start
        rss_kib, user, system = open(t.name).read().strip().splitlines()[-1].split()
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p, int(rss_kib) / 1024, wall, float(user) + float(system)


def sgemm_peak(binary, pin, env, threads):
    p = subprocess.run(pin + [binary, "--threads", str(threads), "--seconds", "1.5"],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"sgemm_peak failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def conveyor(binary, pin, env, epochs, devices):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        _, rss, wall, cpu = timed(pin + [binary, "--log-level", "warn", "run",
                                    os.path.join(HERE, "fashion_bench.flow"),
                                    "--set", f"epochs={epochs}", "--set", f"devices={devices}",
                                    "--report", report], env, cwd=d)
        r = json.load(open(report))
    steps = {s["step"]: s for s in r["steps"]}
    return {"samples_per_second": steps["train"]["metrics"]["samples_per_second"],
            "test_accuracy": steps["check"]["metrics"]["accuracy"], "peak_rss_mib": rss,
            "wall_seconds": wall, "cpu_seconds": cpu}


def main():
    a = argparse.ArgumentParser()
    a.add_argument("epochs", nargs="?", type=int, default=10)
    a.add_argument("--cores", type=int, default=2)
    a.add_argument("--coretype", default="")
    a.add_argument("--no-torch", action="store_true")
    args = a.parse_args()
    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    peak_binary = os.path.abspath(os.environ.get(
        "SGEMM_PEAK", os.path.join(ROOT, "build", "bench", "train_mlp", "sgemm_peak")))
    for b in (binary, peak_binary):
        if not os.path.exists(b):
            sys.exit(f"no binary at {b}: build first (or set CONVEYOR / SGEMM_PEAK)")
    pin = ["taskset", "-c", f"0-{args.cores - 1}"]
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if args.coretype:
        env["OPENBLAS_CORETYPE"] = args.coretype
    peak = sgemm_peak(peak_binary, pin, env, args.cores)
    peak1 = sgemm_peak(peak_binary, pin, env, 1)
    # every program of this run gets the kernel conveyor's backend chose, by name
    env["OPENBLAS_CORETYPE"] = peak["kernel"]

    rows = {}
    rows["conveyor cpu:1"] = conveyor(binary, pin, env, args.epochs, "cpu:1")
    rows[f"conveyor cpu:{args.cores}"] = conveyor(binary, pin, env, args.epochs, f"cpu:{args.cores}")
    torch_name = f"pytorch {args.cores} threads"
    if not args.no_torch:
        # Debian's PyTorch runs OpenMP threads beside OpenBLAS's own: spinning OpenMP
        # waiters starve OpenBLAS (measured 4.4k samples/s against 21.9k with passive
        # waits on 2 cores), so the peer gets passive waits.
        torch_env = dict(env, OMP_WAIT_POLICY="PASSIVE")
        p, rss, wall, cpu = timed(pin + ["/usr/bin/python3", os.path.join(HERE, "torch_mlp.py"),
                                    "--epochs", str(args.epochs), "--threads", str(args.cores)],
                             torch_env)
        torch = json.loads(p.stdout.strip().splitlines()[-1])
        torch["peak_rss_mib"] = rss
        torch["wall_seconds"] = wall
        torch["cpu_seconds"] = cpu
        rows[torch_name] = torch

    fps = flops_per_sample(LAYERS)
    print("\n".join(machine_lines(invocation("bench/train_mlp/run.sh", ("CONVEYOR",)))))
    print(f"Fashion-MNIST MLP {'-'.join(map(str, LAYERS))}, SGD lr 0.05 momentum 0.9, batch 128, "
          f"{args.epochs} epochs, cores 0-{args.cores - 1}")
    print(f"OpenBLAS kernel {peak['kernel']} ({peak['reason']}); sgemm peak {peak['gflops']:.1f} "
          f"GFLOP/s on {args.cores} threads (n = {peak['n']}), {peak1['gflops']:.1f} on 1; "
          f"{fps / 1e6:.3f} MFLOP per training sample")
    print(f"{'run':<22} {'samples/s':>11} {'GFLOP/s':>8} {'of peak':>8} {'test acc':>9} "
          f"{'peak MiB':>9} {'wall s':>7} {'CPU s':>7}")
    for name, r in rows.items():
        gflops = r["samples_per_second"] * fps / 1e9
        print(f"{name:<22} {r['samples_per_second']:>11,.0f} {gflops:>8.1f} "
              f"{gflops / peak['gflops']:>8.2f} {r['test_accuracy']:>9.4f} "
              f"{r['peak_rss_mib']:>9.0f} {r['wall_seconds']:>7.1f} {r['cpu_seconds']:>7.1f}")
    if torch_name in rows:
        t = rows[torch_name]
        print(f"pytorch's own sgemm (torch.mm, n = 1024): {t['sgemm_gflops']:.1f} GFLOP/s")
        base = t["samples_per_second"]
        for name in ("conveyor cpu:1", f"conveyor cpu:{args.cores}"):
            print(f"ratio {name} / pytorch: {rows[name]['samples_per_second'] / base:.2f}x")
    best = max(("conveyor cpu:1", f"conveyor cpu:{args.cores}"),
               key=lambda n: rows[n]["samples_per_second"])
    share = rows[best]["samples_per_second"] * fps / 1e9 / peak["gflops"]
    print(f"goal: training at >= 0.50 of the {args.cores}-thread sgemm peak with test accuracy "
          f">= 0.88 after 10 epochs: {best} {share:.2f}, accuracy "
          f"{rows[best]['test_accuracy']:.4f}" + ("" if args.epochs == 10 else
                                                   f" (after {args.epochs} epochs)"))
    many = rows[f"conveyor cpu:{args.cores}"]["samples_per_second"]
    print(f"scaling cpu:{args.cores} / cpu:1: {many / rows['conveyor cpu:1']['samples_per_second']:.2f}x")


if __name__ == "__main__":
    main()
