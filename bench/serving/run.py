"""Driver for bench/serving/run.sh: serves the Fashion-MNIST MLP four ways and drives each
with the same load generator (bench/serving/loadgen: DEALER, N requests in flight, one
image per request as a float32 tensor, labels checked against t10k) at 1, 32 and 128 in
flight, in the same run:
  conveyor batching   examples/serve.flow, max_batch 64, max_delay 500us, 2 workers
  conveyor no batch   the same with max_batch 1
  ceiling             bench/serving/ceiling_server: decodes each request, answers zeros
  python peer         bench/serving/python_peer_server.py: pyzmq + numpy, same weights,
                      each request computed alone
Prints req/s, p50/p99 latency and the accuracy of the answers, then the ratios the goals
name. Usage: bench/serving/run.sh [SECONDS per point, default 5]."""
import json, os, shutil, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONCURRENCY = (1, 32, 128)


def free_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def latest_model(registry):
    d = os.path.join(registry, "fashion")
    versions = sorted(int(f[:-6]) for f in os.listdir(d) if f.endswith(".model") and f[:-6].isdigit())
    return os.path.join(d, f"{versions[-1]}.model")


def train_model(binary, workdir):
    registry = os.path.join(workdir, "models")
    subprocess.run([binary, "--log-level", "warn", "run", os.path.join(HERE, "fashion_model.flow"),
                    "--set", f"registry={registry}"], check=True, cwd=workdir)
    return registry


class server:
    """A server process, ready once its health answers (or it prints "ready")."""

    def __init__(self, cmd, endpoint, loadgen):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: {' '.join(cmd)}\n{self.proc.stderr.read().decode()[-2000:]}")
            probe = subprocess.run([loadgen, "--endpoint", endpoint, "-n", "1", "--warmup", "0",
                                    "--timeout-ms", "300", "--json"], capture_output=True, text=True)
            if probe.returncode == 0 and json.loads(probe.stdout)["ok"] == 1:
                return
            time.sleep(0.2)
        self.stop()
        sys.exit(f"server not answering: {' '.join(cmd)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drive(loadgen, endpoint, concurrency, seconds):
    p = subprocess.run([loadgen, "--endpoint", endpoint, "-c", str(concurrency), "-d", str(seconds),
                        "--warmup", "500", "--json"], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"loadgen failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    tools = os.path.join(os.path.dirname(binary), "bench", "serving")
    loadgen, ceiling = os.path.join(tools, "loadgen"), os.path.join(tools, "ceiling_server")
    for path in (binary, loadgen, ceiling):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build first (scripts/setup.sh) or set CONVEYOR")
    workdir = tempfile.mkdtemp(prefix="conveyor-bench-serving-")
    try:
        print("training the model (examples' MLP, 10 epochs) ...", flush=True)
        registry = train_model(binary, workdir)
        model_file = latest_model(registry)

        def conveyor(max_batch):
            return lambda e: [binary, "--log-level", "warn", "run", os.path.join(ROOT, "examples", "serve.flow"),
                              "--set", f"registry={registry}", "--set", f"endpoint={e}",
                              "--set", f"max_batch={max_batch}", "--set", "max_delay=500us",
                              "--set", "workers=2"]

        servers = {
            "conveyor batching": conveyor(64),
            "conveyor no batch": conveyor(1),
            "ceiling": lambda e: [ceiling, "--endpoint", e, "--model", "fashion"],
            "python peer": lambda e: ["/usr/bin/python3", os.path.join(HERE, "python_peer_server.py"), model_file,
                                      "--endpoint", e, "--model-name", "fashion"],
        }
        results = {}
        for name, command in servers.items():
            endpoint = free_endpoint()
            s = server(command(endpoint), endpoint, loadgen)
            try:
                for c in CONCURRENCY:
                    results[(name, c)] = drive(loadgen, endpoint, c, seconds)
            finally:
                s.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nFashion-MNIST MLP 784-256-128-10, one image per request (float32 tensor), "
          f"{seconds:g} s per point, loadgen and server on the same {os.cpu_count()} cores")
    print(f"{'server':<18} {'in flight':>9} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'accuracy':>9}")
    for (name, c), r in results.items():
        acc = "-" if name == "ceiling" else f"{r['accuracy']:.4f}"
        print(f"{name:<18} {c:>9} {r['requests_per_s']:>10,.0f} {r['latency_ms']['p50']:>8.3f} "
              f"{r['latency_ms']['p99']:>8.3f} {r['failed']:>7} {acc:>9}")
    rate = lambda name, c: results[(name, c)]["requests_per_s"]
    print(f"\nconveyor batching / python peer at 32 in flight: "
          f"{rate('conveyor batching', 32) / rate('python peer', 32):.1f}x (goal 10x)")
    for c in CONCURRENCY:
        print(f"conveyor batching / ceiling at {c} in flight: "
              f"{rate('conveyor batching', c) / rate('ceiling', c):.2f} (goal >= 0.5)")
    print(f"conveyor batching p99 at 32 in flight: "
          f"{results[('conveyor batching', 32)]['latency_ms']['p99']:.3f} ms (goal < 2 ms)")
    print(f"batching gain at 32 in flight: {rate('conveyor batching', 32) / rate('conveyor no batch', 32):.1f}x")
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "serving.json"), "w") as f:
        json.dump({f"{n} @ {c}": r for (n, c), r in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
