"""Driver for a GPU machine, in one run on one GPU (under 5 minutes):
1. the GPU tests (test_compute_gpu: every CUDA operation against the CPU backend;
   test_actors_gpu: the trainer on one GPU against one CPU replica, every precision, a
   group of GPUs over NCCL where there are two);
2. training samples/s of the MLP 784-256-128-10 at batch 256 and 4096, fp32 and bf16:
   conveyor (gpu_train_bench) against PyTorch eager (torch_mlp_gpu.py, when python3 has
   torch), with GPU utilisation and joules per epoch where NVML is present;
3. Fashion-MNIST trained to test accuracy (goal >= 0.88) by `conveyor run` on the GPU,
   with its wall time and energy, published to a registry;
4. inference: that model served by `conveyor run bench/gpu/serve_gpu.flow` on the GPU
   (device = "gpu:N") and on the CPU (device = "cpu"), the same server settings
   otherwise (max_batch 64, max_delay 500us, 2 workers), each driven by bench/serving's
   loadgen at 128 requests in flight (one image per request) for --seconds: req/s,
   p50/p99 latency, answers' accuracy, and the GPU's over the CPU's req/s (goal >= 10x).
Prints the machine, the table and the goals' ratios; writes OUT/results.json and
the tests' logs, OUT/test_*_gpu.log (OUT: bench/out/gpu unless --out).

Usage: bench/gpu/run.sh [--bin DIR] [--data DIR] [--seconds S] [--epochs N]
                        [--device cuda:0] [--no-torch] [--out DIR]
  --bin   a folder with bin/ (conveyor, gpu_train_bench, loadgen, test_compute_gpu,
          test_actors_gpu) and lib/ (the CUDA plugin libconveyor_cuda.so and the other
          libraries, added to LD_LIBRARY_PATH): bench/gpu/stage.sh makes one; default:
          build-gpu's binaries (the plugin: build-gpu/libconveyor_cuda.so).
  --data  the Fashion-MNIST idx .gz files; default /usr/share/datasets/fashion-mnist, else
          BIN/fashion-mnist.
  --device cpu checks the script itself on a machine without a GPU (no torch, no NVML)."""
import argparse, json, os, signal, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from machine import invocation, machine_lines  # noqa: E402
from nvml import Meter  # noqa: E402


def binaries(folder):
    if folder:
        return {n: os.path.join(folder, "bin", n)
                for n in ("conveyor", "gpu_train_bench", "loadgen", "test_compute_gpu",
                          "test_actors_gpu")}
    b = os.path.join(ROOT, "build-gpu")
    return {"conveyor": os.path.join(b, "conveyor"),
            "gpu_train_bench": os.path.join(b, "bench", "gpu", "gpu_train_bench"),
            "loadgen": os.path.join(b, "bench", "serving", "loadgen"),
            "test_compute_gpu": os.path.join(b, "tests", "compute", "test_compute_gpu"),
            "test_actors_gpu": os.path.join(b, "tests", "actors", "test_actors_gpu")}


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def run(cmd, env, timeout, **kw):
    """Runs cmd; a run past `timeout` seconds is killed and reported (exit code 124) with
    what it printed, so one hung part does not cost the others' figures."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        p = subprocess.CompletedProcess(cmd, 124, out, err + f"\n(killed after {timeout} s)")
    if p.returncode != 0:
        print(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p


def fashion(conveyor, env, data, epochs, device, precision, meter, registry):
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        joules = meter.joules()
        meter.start()
        start = time.perf_counter()
        p = run([conveyor, "--log-level", "warn", "run", os.path.join(HERE, "fashion_gpu.flow"),
                 "--set", f"data={data}", "--set", f"epochs={epochs}", "--set", f"devices={device}",
                 "--set", f"precision={precision}", "--set", f"registry={registry}",
                 "--report", report], env, 150, cwd=d)
        wall = time.perf_counter() - start
        util = meter.stop()
        if p.returncode != 0:
            return None
        r = json.load(open(report))
    steps = {s["step"]: s for s in r["steps"]}
    out = {"runner": "conveyor run", "devices": device, "precision": precision, "epochs": epochs,
           "test_accuracy": steps["check"]["metrics"]["accuracy"],
           "samples_per_second": steps["train"]["metrics"]["samples_per_second"],
           "wall_seconds": wall}
    if "gpu_joules" in steps["train"]["metrics"]:  # the trainer's own NVML reading
        out["trainer_gpu_joules"] = steps["train"]["metrics"]["gpu_joules"]
    if joules is not None:
        out["joules"] = meter.joules() - joules
    if util is not None:
        out["gpu_utilisation_percent"] = util
    return out


def free_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def serve_and_drive(bins, env, data, registry, device, seconds, out):
    """Serves `registry` on `device` with serve_gpu.flow and drives it at 128 in flight;
    the loadgen report (req/s, latency, accuracy) or None."""
    endpoint = free_endpoint()
    log_path = os.path.join(out, f"serve_{device.replace(':', '')}.log")
    images = os.path.join(data, "t10k-images-idx3-ubyte.gz")
    labels = os.path.join(data, "t10k-labels-idx1-ubyte.gz")
    client = [bins["loadgen"], "--endpoint", endpoint, "--model", "fashion", "--images", images,
              "--labels", labels, "--json"]
    with open(log_path, "w") as log:
        server = subprocess.Popen([bins["conveyor"], "run", os.path.join(HERE, "serve_gpu.flow"),
                                   "--set", f"registry={registry}", "--set", f"endpoint={endpoint}",
                                   "--set", f"device={device}"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # ready once one request is answered
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"the {device} server did not answer; its log:\n"
                      + open(log_path).read()[-3000:])
                return None
            probe = subprocess.run(client + ["-n", "1", "--warmup", "0", "--timeout-ms", "300"],
                                   capture_output=True, text=True, env=env, timeout=30)
            if probe.returncode == 0 and json.loads(probe.stdout)["ok"] == 1:
                break
            time.sleep(0.2)
        p = run(client + ["-c", "128", "-d", str(seconds), "--warmup", "500"], env, seconds + 60)
        if p.returncode not in (0, 1):  # 1: completed with failed requests, counted
            return None
        r = json.loads(p.stdout)
        r["runner"], r["device"] = "conveyor serve", device
        return r
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--bin", default="")
    a.add_argument("--data", default="")
    a.add_argument("--seconds", type=float, default=5)
    a.add_argument("--epochs", type=int, default=20)
    a.add_argument("--device", default="cuda:0")
    a.add_argument("--no-torch", action="store_true")
    a.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "gpu"))
    args = a.parse_args()
    bins = binaries(os.path.abspath(args.bin) if args.bin else "")
    for b in bins.values():
        if not os.path.exists(b):
            sys.exit(f"no binary at {b}: build build-gpu first, or pass --bin (bench/gpu/stage.sh)")
    env = dict(os.environ)
    # the bundle's libraries, then cuBLAS where CUDA installs it (NCCL is on the default path)
    libs = [os.path.join(os.path.abspath(args.bin), "lib")] if args.bin else []
    libs += [d for d in ("/usr/local/cuda-13.0/targets/x86_64-linux/lib", "/usr/local/cuda/lib64")
             if os.path.isdir(d)]
    env["LD_LIBRARY_PATH"] = ":".join(libs + [p for p in [env.get("LD_LIBRARY_PATH", "")] if p])
    if not args.bin:  # the build folder's plugin; the bundle's is in lib/, on the path above
        env.setdefault("CONVEYOR_CUDA_PLUGIN", os.path.join(ROOT, "build-gpu", "libconveyor_cuda.so"))
    data = args.data or next((d for d in ("/usr/share/datasets/fashion-mnist",
                                          os.path.join(args.bin, "fashion-mnist"))
                              if os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))), "")
    gpu = args.device.startswith("cuda:")
    gpu_index = int(args.device.split(":")[1]) if gpu else -1
    meter = Meter(gpu_index) if gpu else Meter(-1)
    results = {"machine": machine_lines(invocation("bench/gpu/run.sh")), "rows": []}
    commit = os.path.join(args.bin, "COMMIT") if args.bin else ""
    if commit and os.path.exists(commit):
        results["machine"].append(f"binaries: built from commit {open(commit).read().strip()}")
    if gpu:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,power.limit",
                              "--format=csv,noheader"], capture_output=True, text=True)
        results["gpu"] = smi.stdout.strip() or "nvidia-smi not available"

    # 1. GPU tests
    os.makedirs(args.out, exist_ok=True)
    results["gpu_tests"] = {}
    for name in ("test_compute_gpu", "test_actors_gpu"):
        t = run([bins[name], "--log_level=test_suite", "--report_level=short",
                 "--color_output=false"], env, 90)
        results["gpu_tests"][name] = {"exit_code": t.returncode,
                                      "summary": (t.stdout + t.stderr).strip().splitlines()[-3:]}
        with open(os.path.join(args.out, f"{name}.log"), "w") as f:
            f.write(t.stdout + t.stderr)

    # 2. samples/s, conveyor then PyTorch, the same configurations
    precisions = ["fp32", "bf16"] if gpu else ["fp32"]
    conf = sum((["--precision", p] for p in precisions), []) + ["--batch", "256", "--batch", "4096",
                                                               "--seconds", str(args.seconds)]
    runs = 2 * len(precisions)
    p = run([bins["gpu_train_bench"], "--device", args.device] + conf, env,
            60 + runs * (args.seconds + 10))
    results["rows"] += json_lines(p.stdout)
    if gpu:
        # the same steps launched kernel by kernel, and with the dataset in host memory
        # (uploads overlapping the previous step), fp32: what CUDA graphs and the
        # overlap are worth
        for variant in (["--graphs", "off"], ["--data", "host"], ["--data", "host", "--graphs", "off"]):
            seconds = min(args.seconds, 3)
            p = run([bins["gpu_train_bench"], "--device", args.device, "--precision", "fp32",
                     "--batch", "256", "--batch", "4096", "--seconds", str(seconds)] + variant,
                    env, 60 + 2 * (seconds + 10))
            results["rows"] += json_lines(p.stdout)
    if gpu and not args.no_torch:
        # the machine's own environment: the bundle's libraries are for conveyor's binaries
        p = run(["python3", os.path.join(HERE, "torch_mlp_gpu.py"), "--gpu", str(gpu_index)] + conf,
                dict(os.environ), 120)
        results["rows"] += json_lines(p.stdout)

    # 3. Fashion-MNIST to accuracy, published for 4.
    registry = os.path.join(os.path.abspath(args.out), "registry")
    results["serving"] = []
    if data:
        device = f"gpu:{gpu_index}" if gpu else "cpu:1"
        for precision in precisions:
            f = fashion(bins["conveyor"], env, data, args.epochs, device, precision, meter, registry)
            if f:
                results["rows"].append(f)
        # 4. inference at 128 in flight: the GPU server against the CPU server
        for device in ([f"gpu:{gpu_index}"] if gpu else []) + ["cpu"]:
            r = serve_and_drive(bins, env, data, registry, device, args.seconds, args.out)
            if r:
                results["serving"].append(r)
    else:
        print("no Fashion-MNIST data found: pass --data DIR")

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\n".join(results["machine"]))
    if "gpu" in results:
        print(f"gpu: {results['gpu']}")
    for name, t in results["gpu_tests"].items():
        print(f"{name}: exit {t['exit_code']}: {' | '.join(l.strip() for l in t['summary'] if l.strip())}")
    print(f"{'runner':<13} {'batch':>5} {'prec':>5} {'samples/s':>12} {'util %':>7} {'J/epoch':>8} "
          f"{'test acc':>8} {'wall s':>7} {'J':>7}")
    for r in results["rows"]:
        def f(k, fmt):
            return format(r[k], fmt) if k in r else "-"
        print(f"{r['runner']:<13} {r.get('batch', '-'):>5} {r['precision']:>5} "
              f"{f('samples_per_second', ',.0f'):>12} {f('gpu_utilisation_percent', '.0f'):>7} "
              f"{f('joules_per_epoch', '.1f'):>8} {f('test_accuracy', '.4f'):>8} "
              f"{f('wall_seconds', '.1f'):>7} {f('joules', '.0f'):>7}")
    by = {(r["runner"], r.get("batch"), r["precision"]): r["samples_per_second"]
          for r in results["rows"] if "batch" in r}
    for (runner, batch, precision), sps in sorted(by.items()):
        peer = by.get(("pytorch", batch, precision))
        if runner == "conveyor" and peer:
            goal = 5 if batch == 256 else 1.5
            print(f"conveyor / pytorch at batch {batch} {precision}: {sps / peer:.2f}x (goal {goal}x)")
    for (runner, batch, precision), sps in sorted(by.items()):
        eager = by.get((runner + "-eager", batch, precision))
        if eager:
            print(f"{runner} with / without CUDA graphs at batch {batch} {precision}: "
                  f"{sps / eager:.2f}x")
    for r in results["serving"]:
        print(f"serving on {r['device']:<6} at 128 in flight: {r['requests_per_s']:,.0f} req/s, "
              f"p50 {r['latency_ms']['p50']:.2f} ms, p99 {r['latency_ms']['p99']:.2f} ms, "
              f"failed {r['failed']}, accuracy {r['accuracy'] or 0:.4f}")
    rps = {r["device"]: r["requests_per_s"] for r in results["serving"]}
    if rps.get("cpu") and len(rps) > 1:
        g = next(d for d in rps if d != "cpu")
        print(f"serving {g} / cpu at 128 in flight: {rps[g] / rps['cpu']:.2f}x (goal 10x)")
    for r in results["rows"]:
        if "test_accuracy" in r:
            ok = "meets" if r["test_accuracy"] >= 0.88 else "MISSES"
            print(f"fashion {r['precision']}: accuracy {r['test_accuracy']:.4f} {ok} 0.88 in "
                  f"{r['wall_seconds']:.1f} s")


if __name__ == "__main__":
    main()
