"""Driver for bench/serving/run.sh: serves the Fashion-MNIST MLP five ways and drives each
with the same load generator (bench/serving/loadgen: DEALER, N requests in flight, one
image per request as a float32 tensor, labels checked against t10k) at every level of
CONCURRENCY, in the same run, level by level (at each level every server in turn, each
started for its point and stopped after it):
  conveyor batching   examples/serve.flow, max_batch 64, max_delay 500us, 2 workers
  conveyor no batch   the same with max_batch 1
  conveyor curve      conveyor batching with CurveZMQ (bench/serving/serve_curve.flow:
                      keys from `conveyor keys`; the load generator's key is the one allowed)
  ceiling             bench/serving/ceiling_server: decodes each request, answers zeros
                      (no compute): the most any server can do over the same sockets
  python peer         bench/serving/python_peer_server.py: pyzmq + numpy, same weights,
                      each request computed alone, BLAS on one thread
  python batching     bench/serving/python_batching_peer.py: the same, with every queued
                      request drained into one numpy batch
Prints req/s, p50/p99 latency, failures, the accuracy of the answers and the CPU time per
request of the server (all its threads) and of the load generator, then, at every level,
conveyor batching's req/s divided by each other server's, each server's share of the
ceiling, and the serving goals (issue 9) judged on this run: at 32 in flight at least 0.5
of the ceiling's req/s and p99 under 1 ms (next to the ceiling's own p99, the floor for
these sockets), and faster than every Python peer at every level.

Usage: bench/serving/run.sh [SECONDS per point, default 5]
env:   CONVEYOR=path/to/conveyor (default build/conveyor; loadgen and ceiling_server are
       taken from bench/serving/ beside it); SERVERS=comma list (default all, names as
       above); CONCURRENCY=comma list (default 1,32,128)."""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
GOAL_LEVEL, GOAL_SHARE, GOAL_P99_MS = 32, 0.5, 1.0  # issue 9's serving goals
SERVERS = ("conveyor batching", "conveyor no batch", "conveyor curve", "ceiling", "python peer",
           "python batching")
BASE = "conveyor batching"
WARMUP = 500  # requests each point sends first, not counted in its figures


# ---- child processes: each in its own session, killed with the driver ----

_live = set()


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if the driver dies (even by SIGKILL)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(cmd, stdout, stderr, cwd=ROOT):
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=cwd, start_new_session=True,
                         preexec_fn=_die_with_parent)
    _live.add(p)
    return p


def stop(p, grace_s=10):
    """SIGTERM (a conveyor server drains), then SIGKILL after grace_s; waits."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            p.wait()
    _live.discard(p)


def run(cmd, log, cwd=ROOT):
    """Runs cmd to completion, output to the file `log`; returns (exit status, stdout)."""
    with open(log, "w") as err, tempfile.TemporaryFile("w+") as out:
        p = spawn(cmd, out, err, cwd)
        try:
            p.wait()
        finally:
            stop(p, grace_s=2)
        out.seek(0)
        return p.returncode, out.read()


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


# ---- the servers ----

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
    log = os.path.join(workdir, "train.log")
    rc, _ = run([binary, "--log-level", "warn", "run", os.path.join(HERE, "fashion_model.flow"),
                 "--set", f"registry={registry}"], log, cwd=workdir)
    if rc != 0:
        sys.exit(f"serving: training the model failed (exit {rc}):\n{tail(log)}")
    return registry


class server:
    """A server process, ready once a one-request probe of the load generator succeeds."""

    def __init__(self, name, cmd, endpoint, loadgen, workdir, client_args=()):
        self.name, self.log = name, os.path.join(workdir, name.replace(" ", "_") + ".log")
        with open(self.log, "w") as log:
            self.proc = spawn(cmd, subprocess.DEVNULL, log)
        deadline = time.monotonic() + 60
        probe_log = os.path.join(workdir, "probe.log")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                sys.exit(f"serving: {name} exited ({self.proc.returncode}) before answering: "
                         f"{' '.join(cmd)}\n{tail(self.log)}")
            rc, out = run([loadgen, "--endpoint", endpoint, "-n", "1", "--warmup", "0",
                           "--timeout-ms", "300", "--json", *client_args], probe_log)
            if rc == 0 and json.loads(out)["ok"] == 1:
                return
            time.sleep(0.2)
        self.stop()
        sys.exit(f"serving: {name} not answering after 60 s: {' '.join(cmd)}\n{tail(self.log)}")

    def stop(self):
        stop(self.proc)


def cpu_seconds(pid):
    """User + system CPU time of process `pid`, all its threads (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def drive(loadgen, endpoint, concurrency, seconds, workdir, server_pid, client_args=()):
    """One point; adds the CPU time per request of the server (`server_cpu_us`: all its
    threads, over the load generator's whole run, warm-up requests counted) and of the
    load generator over its measured phase (`loadgen_cpu_us`), and the load generator's
    share of one core then (`loadgen_cores`)."""
    log = os.path.join(workdir, "loadgen.log")
    server_before = cpu_seconds(server_pid)
    rc, out = run([loadgen, "--endpoint", endpoint, "-c", str(concurrency), "-d", str(seconds),
                   "--warmup", str(WARMUP), "--json", *client_args], log)
    server_cpu = cpu_seconds(server_pid) - server_before
    if rc not in (0, 1):  # 1: the run completed with failed requests (counted in the report)
        sys.exit(f"serving: loadgen failed (exit {rc}) at {concurrency} in flight:\n{tail(log)}")
    r = json.loads(out)
    answered = max(1, r["ok"] + r["failed"])
    r["server_cpu_us"] = server_cpu / (answered + WARMUP) * 1e6
    r["loadgen_cpu_us"] = r["cpu_seconds"] / answered * 1e6
    r["loadgen_cores"] = r["cpu_seconds"] / max(r["seconds"], 1e-9)
    return r


def require(servers, paths):
    problems = [f"missing {p}: build first (cmake --build build) or set CONVEYOR" for p in paths
                if not os.path.exists(p)]
    if any(s.startswith("python") for s in servers):
        r = subprocess.run([PY, "-c", "import numpy, zmq, msgpack"], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"the Python peers need numpy, pyzmq and msgpack for {PY}: run "
                            f"bench/setup.sh serving, or leave them out with SERVERS "
                            f"({r.stderr.strip().splitlines()[-1]})")
    if problems:
        sys.exit("serving: cannot run:\n  " + "\n  ".join(problems))


def main():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        measure()
    finally:
        for p in list(_live):
            stop(p, grace_s=2)


def measure():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    binary = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    names = [s.strip() for s in os.environ.get("SERVERS", ",".join(SERVERS)).split(",") if s.strip()]
    unknown = [s for s in names if s not in SERVERS]
    if unknown or not names:
        sys.exit(f"serving: SERVERS names {unknown or 'nothing'}; the servers: {', '.join(SERVERS)}")
    try:
        levels = [int(c) for c in os.environ.get("CONCURRENCY", "1,32,128").split(",")]
    except ValueError:
        sys.exit("serving: CONCURRENCY must be a comma list of integers")
    tools = os.path.join(os.path.dirname(binary), "bench", "serving")
    loadgen, ceiling = os.path.join(tools, "loadgen"), os.path.join(tools, "ceiling_server")
    require(names, (binary, loadgen, ceiling))
    workdir = tempfile.mkdtemp(prefix="conveyor-bench-serving-")
    try:
        print("training the model (examples' MLP, 10 epochs) ...", file=sys.stderr, flush=True)
        registry = train_model(binary, workdir)
        model_file = latest_model(registry)

        def conveyor(max_batch):
            return lambda e: [binary, "--log-level", "warn", "run", os.path.join(ROOT, "examples", "serve.flow"),
                              "--set", f"registry={registry}", "--set", f"endpoint={e}",
                              "--set", f"max_batch={max_batch}", "--set", "max_delay=500us",
                              "--set", "workers=2"]

        def curve_keys():
            """Server and load generator key pairs; the generator's public key allowed."""
            for who in ("server", "loadgen"):
                rc, _ = run([binary, "keys", "--out", os.path.join(workdir, who)],
                            os.path.join(workdir, "keys.log"))
                if rc != 0:
                    sys.exit(f"serving: conveyor keys failed:\n{tail(os.path.join(workdir, 'keys.log'))}")
            return ["--curve-server-key", os.path.join(workdir, "server.pub"),
                    "--curve-secret-key", os.path.join(workdir, "loadgen.key")]

        def conveyor_curve(e):
            return [binary, "--log-level", "warn", "run", os.path.join(HERE, "serve_curve.flow"),
                    "--set", f"registry={registry}", "--set", f"endpoint={e}",
                    "--set", "max_batch=64", "--set", "max_delay=500us", "--set", "workers=2",
                    "--set", f"secret_key={os.path.join(workdir, 'server.key')}",
                    "--set", f"allowed_clients={os.path.join(workdir, 'loadgen.pub')}"]

        def python(script):
            return lambda e: [PY, os.path.join(HERE, script), model_file, "--endpoint", e,
                              "--model-name", "fashion"]

        commands = {
            "conveyor batching": conveyor(64),
            "conveyor no batch": conveyor(1),
            "conveyor curve": conveyor_curve,
            "ceiling": lambda e: [ceiling, "--endpoint", e, "--model", "fashion"],
            "python peer": python("python_peer_server.py"),
            "python batching": python("python_batching_peer.py"),
        }
        results = {}
        client_args = {"conveyor curve": curve_keys()} if "conveyor curve" in names else {}
        # Level by level, every server in turn (each started for its point and stopped
        # after it): the points compared with each other are measured seconds apart, not
        # minutes, so that a change in what else runs on the machine moves them alike.
        for c in levels:
            for name in names:
                endpoint = free_endpoint()
                args = client_args.get(name, ())
                s = server(name, commands[name](endpoint), endpoint, loadgen, workdir, args)
                try:
                    print(f"  {name}, {c} in flight ...", file=sys.stderr, flush=True)
                    results[(name, c)] = drive(loadgen, endpoint, c, seconds, workdir, s.proc.pid, args)
                finally:
                    s.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, names, levels, seconds)


def report(results, names, levels, seconds):
    print()
    print("\n".join(machine_lines(invocation("bench/serving/run.sh",
                                                ("CONVEYOR", "SERVERS", "CONCURRENCY")))))
    print(f"Fashion-MNIST MLP 784-256-128-10, one image per request (float32 tensor), "
          f"{seconds:g} s per point, loadgen and server on the same {len(os.sched_getaffinity(0))} cores")
    print(f"{'server':<18} {'in flight':>9} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'accuracy':>9}"
          f" {'server CPU us/req':>18} {'loadgen CPU us/req':>19}")
    for name, c in ((n, c) for n in names for c in levels):
        r = results[(name, c)]
        acc = "-" if name == "ceiling" else f"{r['accuracy']:.4f}"
        print(f"{name:<18} {c:>9} {r['requests_per_s']:>10,.0f} {r['latency_ms']['p50']:>8.3f} "
              f"{r['latency_ms']['p99']:>8.3f} {r['failed']:>7} {acc:>9} {r['server_cpu_us']:>18.1f} "
              f"{r['loadgen_cpu_us']:>19.1f}")
    busy = sorted(((r["loadgen_cores"], n, c) for (n, c), r in results.items() if r["loadgen_cores"] >= 0.9),
                  reverse=True)
    if busy:
        print("the load generator (one sender thread and ZeroMQ's I/O thread) used "
              + ", ".join(f"{cores:.2f} of a core for {n} at {c}" for cores, n, c in busy)
              + ": there it may be what limits req/s")
    rate = lambda name, c: results[(name, c)]["requests_per_s"]
    others = [n for n in names if n not in (BASE, "ceiling")]
    if BASE in names and others:
        print(f"\n{BASE} req/s divided by each other server's:")
        print(f"{'in flight':>9} " + " ".join(f"{n:>18}" for n in others))
        for c in levels:
            print(f"{c:>9} " + " ".join(f"{rate(BASE, c) / rate(n, c):>17.2f}x" for n in others))
    if "ceiling" in names and len(names) > 1:
        print("\nshare of the ceiling's req/s (the machine's limit for these sockets and codec):")
        shown = [n for n in names if n != "ceiling"]
        print(f"{'in flight':>9} " + " ".join(f"{n:>18}" for n in shown))
        for c in levels:
            print(f"{c:>9} " + " ".join(f"{rate(n, c) / rate('ceiling', c):>18.2f}" for n in shown))
    goals(results, names, levels)
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "serving.json"), "w") as f:
        json.dump({f"{n} @ {c}": r for (n, c), r in results.items()}, f, indent=2)


def goals(results, names, levels):
    """The serving goals judged on this run's figures (what the run measured; nothing else)."""
    if BASE not in names:
        return
    lines = []
    if GOAL_LEVEL in levels:
        r = results[(BASE, GOAL_LEVEL)]
        p99 = r["latency_ms"]["p99"]
        if "ceiling" in names:
            ceiling = results[("ceiling", GOAL_LEVEL)]
            share = r["requests_per_s"] / ceiling["requests_per_s"]
            lines.append(f"share of the ceiling at {GOAL_LEVEL} in flight >= {GOAL_SHARE}: {share:.2f}  "
                         f"{'met' if share >= GOAL_SHARE else 'NOT MET'}")
            floor = f" (the ceiling's own p99: {ceiling['latency_ms']['p99']:.3f} ms)"
        else:
            floor = ""
        lines.append(f"p99 at {GOAL_LEVEL} in flight < {GOAL_P99_MS:g} ms: {p99:.3f} ms  "
                     f"{'met' if p99 < GOAL_P99_MS else 'NOT MET'}{floor}")
    peers = [n for n in names if n.startswith("python")]
    if peers:
        slowest = min((results[(BASE, c)]["requests_per_s"] / results[(n, c)]["requests_per_s"], n, c)
                      for n in peers for c in levels)
        lines.append(f"faster than every Python peer at every level: lowest ratio {slowest[0]:.2f}x "
                     f"({slowest[1]} at {slowest[2]})  {'met' if slowest[0] > 1 else 'NOT MET'}")
    if lines:
        print(f"\ngoals ({BASE}, this run):")
        print("\n".join("  " + l for l in lines))


if __name__ == "__main__":
    main()
