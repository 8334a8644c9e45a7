"""The Fashion-MNIST factory's training (bench/cluster/fashion_train.flow: read, scale,
train an MLP 784-256-128-10 on two data-parallel CPU replicas, evaluate on the test set,
gate at 0.85 and publish) run in one process (`conveyor run`, the embedded default) and
on three `conveyor node` processes on this machine (`conveyor run --cluster`; placement
spreads the steps, so the two replicas land on different nodes and their gradients
cross between processes). Prints, per way of running, the test accuracy, the trainer's
samples/s and the run's wall time (start to the published model), and where each step
ran on the cluster.

All processes share this machine's cores: the three-node figure measures what crossing
process boundaries costs, not what more machines would gain.

Usage: bench/cluster/fashion.sh [--repeat N] [--epochs N]
Environment: CONVEYOR (default build/conveyor)."""
import argparse, json, os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from machine import invocation, machine_lines  # noqa: E402
from run import CONVEYOR, start_nodes, stop_nodes  # noqa: E402

GRAPH = os.path.join(HERE, "fashion_train.flow")


def train(workdir, epochs, cluster=None):
    """One run; returns (accuracy, samples/s, wall seconds)."""
    report = os.path.join(workdir, "report.json")
    cmd = [CONVEYOR, "--log-level", "warn", "run", GRAPH, "--report", report,
           "--set", f"epochs={epochs}", "--set", f"registry={os.path.join(workdir, 'models')}"]
    if cluster:
        cmd += ["--cluster", cluster]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    r = json.load(open(report))
    metrics = {s["step"]: s.get("metrics", {}) for s in r["steps"]}
    return (metrics["check"]["accuracy"], metrics["fit"]["samples_per_second"],
            r["wall_seconds"])


def placement(workdir, names):
    """'node: steps' from each node's `hosting` log lines."""
    lines = []
    for n in names:
        text = open(os.path.join(workdir, f"{n}.out")).read() + \
            open(os.path.join(workdir, f"{n}.err")).read()
        hosted = sorted({s.strip() for m in re.findall(r"hosting (.*)", text)
                         for s in m.split(",")})
        lines.append(f"    node {n}: {', '.join(hosted) or '(nothing)'}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating")
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    if not os.access(CONVEYOR, os.X_OK):
        sys.exit(f"missing {CONVEYOR}: build first (cmake --build build)")
    runs = {"one process": [], "three nodes": []}
    with tempfile.TemporaryDirectory() as d:
        names = ["a", "b", "c"]
        nodes, cluster = start_nodes(d, names)
        try:
            for _ in range(args.repeat):
                runs["one process"].append(train(d, args.epochs))
                runs["three nodes"].append(train(d, args.epochs, cluster))
            where = placement(d, names)
        finally:
            stop_nodes(nodes)
    print(f"Fashion-MNIST training, {args.epochs} epochs, {args.repeat} runs of each "
          "(median wall time; accuracy and samples/s of that run)")
    median = {}
    for way, results in runs.items():
        results.sort(key=lambda r: r[2])
        median[way] = results[len(results) // 2]
        acc, sps, wall = median[way]
        accs = ", ".join(f"{r[0]:.4f}" for r in results)
        print(f"  {way:12s} accuracy {acc:.4f}  {sps:9.0f} samples/s  {wall:6.2f} s  "
              f"(accuracies: {accs})")
    print(f"  three nodes / one process: wall time {median['three nodes'][2] / median['one process'][2]:.2f}x, "
          f"samples/s {median['three nodes'][1] / median['one process'][1]:.2f}x")
    print("  placement on the three nodes:")
    for line in where:
        print(line)
    for line in machine_lines(invocation("bench/cluster/fashion.sh", ["CONVEYOR"])):
        print(line)


if __name__ == "__main__":
    main()
