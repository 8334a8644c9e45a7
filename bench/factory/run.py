#!/usr/bin/python3
"""Driver: the factory example (examples/factory.flow) under a transaction stream whose
per-segment rule shifts abruptly midway (scripts/factory_stream.py), with a real
nats-server, while a load generator asks the served fleet by key.

It measures
- the time from the shift (the generator's first shifted row) to a better fleet being
  served (the first probe round after the shift whose accuracy on shifted rows reaches
  --recovered), and the served accuracy over time, plotted to accuracy.svg (the probe asks
  the fleet for 400 fixed rows of the current regime every --interval seconds);
- the headline: models retrained while serving, with the load generator's requests/s and
  p99 over the same span (goal on the 2-core development machine: >= 100 models retrained
  while serving >= 10,000 requests/s with p99 < 5 ms). Models retrained = retrains x
  (segments with their own model + the shared one), from the run's report.

Usage: bench/factory/run.py [--rows 40000] [--shift-at 20000] [--rate 2000] [--segments 20]
       [--window 2000] [--retrain-rows 2000] [--sockets 2] [--in-flight 32] [--out DIR]
Small check: bench/factory/run.py --rows 8000 --shift-at 4000 --rate 1000 --segments 4
Environment: CONVEYOR (default build/conveyor), KEYED_LOAD (build/bench/factory/keyed_load),
NATS_SERVER (nats-server on PATH, else /usr/sbin/nats-server). Writes results.json,
accuracy.svg and the logs into --out."""
import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from machine import invocation, machine_lines  # noqa: E402
from factory_stream import transaction  # noqa: E402

PY = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    sys.exit(f"factory bench: timed out waiting for {what}")


def probe_file(path, segments, shifted, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        print("amount,items,hour,segment,fraud", file=f)
        for _ in range(400):
            t = transaction(rng, segments, shifted)
            print(f"{t['amount']},{t['items']},{t['hour']},{t['segment']},{int(t['fraud'])}",
                  file=f)


def svg(points, shift, versions, path, recovered):
    """Served accuracy over time: a line, the shift as a vertical rule, new versions as ticks."""
    w, h, left, bottom, top, right = 720, 360, 60, 40, 20, 20
    if not points:
        return
    t0 = points[0][0]
    t_max = max(p[0] for p in points) - t0 or 1
    x = lambda t: left + (t - t0) / t_max * (w - left - right)  # noqa: E731
    y = lambda a: top + (1 - a) * (h - top - bottom)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>']
    for a in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(a):.1f}" y2="{y(a):.1f}" '
                   f'stroke="#ddd"/><text x="{left - 8}" y="{y(a) + 4:.1f}" '
                   f'text-anchor="end">{a:.2f}</text>')
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(recovered):.1f}" '
               f'y2="{y(recovered):.1f}" stroke="#8c8" stroke-dasharray="4 3"/>')
    if shift is not None:
        out.append(f'<line x1="{x(shift):.1f}" x2="{x(shift):.1f}" y1="{top}" y2="{h - bottom}" '
                   f'stroke="#c33"/><text x="{x(shift) + 4:.1f}" y="{top + 12}" '
                   f'fill="#c33">shift</text>')
    for t, v in versions:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{h - bottom}" '
                   f'y2="{h - bottom - 8}" stroke="#36c"/><text x="{x(t):.1f}" '
                   f'y="{h - bottom - 11}" text-anchor="middle" fill="#36c">v{v}</text>')
    path_d = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(a):.1f}"
                      for i, (t, a) in enumerate(points))
    out.append(f'<path d="{path_d}" fill="none" stroke="#222" stroke-width="1.5"/>')
    out.append(f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">seconds since the first '
               f'probe ({t_max:.0f} s); accuracy of the served fleet on the current regime</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=40000)
    ap.add_argument("--shift-at", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=2000, help="rows per second published")
    ap.add_argument("--segments", type=int, default=20)
    ap.add_argument("--window", type=int, default=2000, help="the trainer's window_rows")
    ap.add_argument("--retrain-rows", type=int, default=2000,
                    help="the trainer's retrain_every_rows (0: on drift only)")
    ap.add_argument("--sockets", type=int, default=2, help="load generator sockets")
    ap.add_argument("--in-flight", type=int, default=32, help="requests in flight per socket")
    ap.add_argument("--no-load", action="store_true", help="probe only, no load generator")
    ap.add_argument("--interval", type=float, default=0.5, help="probe period, seconds")
    ap.add_argument("--recovered", type=float, default=0.85,
                    help="accuracy on shifted rows that counts as recovered")
    ap.add_argument("--out", help="keep results and logs here (default: a temporary directory)")
    args = ap.parse_args()

    conveyor = os.environ.get("CONVEYOR", os.path.join(ROOT, "build/conveyor"))
    keyed_load = os.environ.get("KEYED_LOAD", os.path.join(ROOT, "build/bench/factory/keyed_load"))
    nats = os.environ.get("NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"
    for b in (conveyor, keyed_load, nats):
        if not os.access(b, os.X_OK):
            sys.exit(f"factory bench: {b} is missing (build with -DCONVEYOR_BENCH=ON)")
    out = args.out or tempfile.mkdtemp(prefix="conveyor-factory-")
    os.makedirs(out, exist_ok=True)
    port, api_port = free_port(), free_port()
    url, endpoint = f"nats://127.0.0.1:{port}", f"tcp://127.0.0.1:{api_port}"
    procs = []

    def start(cmd, name, **kw):
        p = subprocess.Popen(cmd, stdout=open(os.path.join(out, name + ".out"), "w"),
                             stderr=open(os.path.join(out, name + ".err"), "w"), **kw)
        procs.append(p)
        return p

    try:
        start([nats, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", os.path.join(out, "nats")],
              "nats")
        gen = [PY, os.path.join(ROOT, "scripts/factory_stream.py"), "--url", url,
               "--segments", str(args.segments)]
        wait_for("nats-server", lambda: subprocess.run(
            gen + ["--rows", "0", "--create-stream", "TX"], capture_output=True).returncode == 0, 30)
        shutil.rmtree(os.path.join(out, "models"), ignore_errors=True)
        run = start([conveyor, "run", os.path.join(ROOT, "examples/factory.flow"),
                     "--set", f"url={url}", "--set", f"out={out}", "--set", f"endpoint={endpoint}",
                     "--set", f"window={args.window}", "--set", f"retrain_rows={args.retrain_rows}",
                     "--report", os.path.join(out, "report.json")], "conveyor")
        before, after = os.path.join(out, "probe_before.csv"), os.path.join(out, "probe_after.csv")
        probe_file(before, args.segments, False, 101)
        probe_file(after, args.segments, True, 102)
        # First the unshifted half, until a fleet is served.
        stream = start(gen + ["--rows", str(args.rows), "--shift-at", str(args.shift_at),
                              "--rate", str(args.rate), "--log", os.path.join(out, "stream.log")],
                       "stream")
        expected = args.rows / args.rate if args.rate > 0 else 60
        probes = [start([keyed_load, "--endpoint", endpoint, "--probe", f, "--columns", "3",
                         "--seconds", str(expected + 20), "--interval", str(args.interval)],
                        name) for f, name in ((before, "probe_before"), (after, "probe_after"))]
        load = None
        if not args.no_load:  # from the first served fleet to the end of the stream
            began = time.time()
            wait_for("a served fleet", lambda: any(
                line.startswith("{") and json.loads(line)["accuracy"] >= 0
                for line in open(os.path.join(out, "probe_before.out"))), expected + 120)
            load = start([keyed_load, "--endpoint", endpoint, "--keys", str(args.segments),
                          "--columns", "3", "--sockets", str(args.sockets),
                          "--in-flight", str(args.in_flight),
                          "--seconds", str(max(1.0, expected - (time.time() - began)))], "load")
        stream.wait()
        if load:
            load.wait()
        for p in probes:
            p.wait()
        run.send_signal(2)
        run.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    shift = None
    for line in open(os.path.join(out, "stream.log")):
        if line.startswith("shift "):
            shift = float(line.split()[1])
    rounds = {}
    for name in ("probe_before", "probe_after"):
        rounds[name] = [json.loads(line) for line in open(os.path.join(out, name + ".out"))
                        if line.startswith("{")]
    # The current regime's accuracy: unshifted rows before the shift, shifted ones after.
    points, versions, seen = [], [], set()
    for r_before, r_after in zip(rounds["probe_before"], rounds["probe_after"]):
        r = r_after if shift is not None and r_after["t"] >= shift else r_before
        if r["accuracy"] >= 0:
            points.append((r["t"], r["accuracy"]))
        for v in r["versions"]:
            if v not in seen:
                seen.add(v)
                versions.append((r["t"], v))
    recovered_at = next((t for t, a in points
                         if shift is not None and t >= shift and a >= args.recovered), None)
    report = json.load(open(os.path.join(out, "report.json")))
    fit = next((s for s in report.get("steps", []) if s.get("step") == "fit"), {})
    metrics = fit.get("metrics", {})
    retrains = metrics.get("retrains", 0)
    models = retrains * (metrics.get("own_models", 0) + 1)
    load_result = None
    if not args.no_load:
        lines = [line for line in open(os.path.join(out, "load.out")) if line.startswith("{")]
        load_result = json.loads(lines[-1]) if lines else None
    results = {
        "rows": args.rows, "shift_at": args.shift_at, "rate": args.rate,
        "segments": args.segments, "window": args.window, "retrain_rows": args.retrain_rows,
        "shift_to_better_fleet_seconds": (recovered_at - shift) if recovered_at and shift else None,
        "accuracy_before_shift": max((a for t, a in points if shift and t < shift), default=None),
        "accuracy_at_end": points[-1][1] if points else None,
        "versions_served": len(seen),
        "retrains": retrains, "models_retrained": models,
        "load": load_result,
        "machine": machine_lines(invocation("bench/factory/run.py", ("CONVEYOR", "KEYED_LOAD"))),
    }
    svg(points, shift, versions, os.path.join(out, "accuracy.svg"), args.recovered)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    print(f"factory bench: results, accuracy.svg and logs in {out}")


if __name__ == "__main__":
    main()
