"""Driver for bench/serving/fairness.sh: how a well-behaved client fares while a flood from
many connections overloads the server (docs/serving.md, fair queuing and shedding).

Serves the Fashion-MNIST MLP with examples/serve.flow (max_batch 64, max_delay 500us,
2 workers, max_queue 2048), then runs two load generators (bench/serving/loadgen) at once:
  flood   --flood-sockets DEALER sockets keeping --flood-in-flight requests in flight in
          total; every reply, `overloaded` included, is answered with a new request, so
          the flood offers as much as the server's front end takes
  polite  one socket, one request in flight (a client within its share)
and prints the polite client's p50/p99 latency and failures next to the flood's served
and shed rates. Goal: the polite client is never shed and its p99 stays under 10 ms while
the flood is shed. The flood starts a second early and ends a second late; the polite
client's warm-up (100 requests) is not counted.

With --server ceiling the same two load generators drive bench/serving/ceiling_server
(decode, answer zeros, no queue, no compute) instead: what the polite client's latency
is on this machine when only the sockets, the codec and the CPU scheduler are involved.
On a machine whose cores the load generators share with the server, that is the floor
under conveyor's figure.

Usage: bench/serving/fairness.sh [--seconds 10] [--flood-sockets 64]
       [--flood-in-flight 8192] [--registry DIR (a trained one: skips training)]
       [--server conveyor|ceiling]"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import run as serving_bench  # noqa: E402 (the same training, server start and endpoints)
from machine import invocation, machine_lines  # noqa: E402

ROOT = serving_bench.ROOT


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="the polite client's measured run")
    ap.add_argument("--flood-sockets", type=int, default=64)
    ap.add_argument("--flood-in-flight", type=int, default=8192)
    ap.add_argument("--registry", help="a registry holding a trained 'fashion' model")
    ap.add_argument("--server", choices=("conveyor", "ceiling"), default="conveyor")
    args = ap.parse_args()

    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    loadgen = os.path.join(os.path.dirname(binary), "bench", "serving", "loadgen")
    ceiling = os.path.join(os.path.dirname(binary), "bench", "serving", "ceiling_server")
    for path in (binary, loadgen, ceiling):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build first (scripts/setup.sh) or set CONVEYOR")
    workdir = tempfile.mkdtemp(prefix="conveyor-bench-fairness-")
    try:
        endpoint = serving_bench.free_endpoint()
        if args.server == "ceiling":
            server = serving_bench.server(
                "ceiling", [ceiling, "--endpoint", endpoint, "--model", "fashion"],
                endpoint, loadgen, workdir)
        else:
            registry = args.registry
            if not registry:
                print("training the model (examples' MLP, 10 epochs) ...", flush=True)
                registry = serving_bench.train_model(binary, workdir)
            server = serving_bench.server(
                "conveyor batching",
                [binary, "--log-level", "warn", "run", os.path.join(ROOT, "examples", "serve.flow"),
                 "--set", f"registry={registry}", "--set", f"endpoint={endpoint}",
                 "--set", "max_batch=64", "--set", "max_delay=500us", "--set", "workers=2"],
                endpoint, loadgen, workdir)
        try:
            flood = subprocess.Popen(
                [loadgen, "--endpoint", endpoint, "-c", str(args.flood_in_flight),
                 "--sockets", str(args.flood_sockets), "-d", str(args.seconds + 2), "--warmup", "0",
                 "--timeout-ms", "30000", "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1)  # the flood fills the queue first
            polite = subprocess.run(
                [loadgen, "--endpoint", endpoint, "-c", "1", "--sockets", "1", "-d", str(args.seconds),
                 "--warmup", "100", "--timeout-ms", "5000", "--json"],
                capture_output=True, text=True)
            flood_out, flood_err = flood.communicate(timeout=args.seconds + 120)
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if polite.returncode not in (0, 1) or flood.returncode not in (0, 1):
        sys.exit(f"loadgen failed:\n{polite.stderr[-2000:]}\n{flood_err[-2000:]}")
    p, f = json.loads(polite.stdout), json.loads(flood_out)

    offered = (f["ok"] + f["failed"]) / f["seconds"]
    served = f["requests_per_s"]
    shed = f["failures"].get("overloaded", 0)
    print()
    for line in machine_lines(invocation("bench/serving/fairness.sh", ("CONVEYOR",))):
        print(line)
    what = "the ceiling server (no compute)" if args.server == "ceiling" else "conveyor"
    print(f"{what}, Fashion-MNIST images, one per request, {os.cpu_count()} cores shared by the "
          f"server and both load generators")
    print(f"flood:  {args.flood_sockets} sockets, {args.flood_in_flight} in flight: offered "
          f"{offered:,.0f} req/s, served {served:,.0f} req/s, shed {shed / f['seconds']:,.0f} req/s "
          f"(offered / served: {offered / served if served else float('inf'):.1f}x); "
          f"other failures: {f['failed'] - shed}")
    print(f"polite: 1 socket, 1 in flight: {p['ok']} ok, {p['failed']} failed "
          f"{dict(p['failures']) if p['failed'] else ''}; latency ms p50 {p['latency_ms']['p50']:.3f} "
          f"p99 {p['latency_ms']['p99']:.3f} max {p['latency_ms']['max']:.3f}")
    print(f"goal: polite never shed ({'met' if p['failed'] == 0 else 'NOT met'}), "
          f"polite p99 < 10 ms ({'met' if p['latency_ms']['p99'] < 10 else 'NOT met'})")
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"serving_fairness_{args.server}.json"), "w") as fh:
        json.dump({"flood": f, "polite": p}, fh, indent=2)


if __name__ == "__main__":
    main()
