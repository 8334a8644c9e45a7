"""Driver for bench/cluster, all in one run on this machine (127.0.0.1):

1. Cross-node throughput. A `generate` source makes ROWS x COLS numbers in memory in
   batches of BATCH rows on node a, and a counter on node b receives them (two `conveyor
   node` processes, `conveyor run --cluster`; the counter grants BUFFER credits); the
   same graph in one process (`conveyor run`); and raw ZeroMQ PUSH/PULL (zmq_pushpull,
   high-water mark BUFFER) moving as many messages of the same size as the batches the
   counter received. A round runs the cluster graph twice, each run followed by a raw one:
   first with glibc's default allocator settings, then with those `conveyor node` sets,
   through GLIBC_TUNABLES; the raw figure is the better of the two, and so is the
   cluster's, so that neither side gains from having more runs to pick from. Each figure
   is MB/s of batch payload at the receiver, from its first batch (message) to its last
   (the counter reports that time in its metrics), so start-up and the run's end are not
   counted. Prints each and the ratios cluster/zeromq (goal 0.8) and cluster/one-process,
   and per run the CPU seconds of each process and the CPU microseconds per batch. Best of
   N takes each figure's best run; on a noisy machine the median of the per-round ratios
   (each round's better cluster run against its better raw run) moves less, and is
   printed too.
2. Failover. A slow pipeline (reader and counter on a, chaos with delay placed on b);
   node b gets SIGKILL (a closed connection) or SIGSTOP (silence: heartbeats every
   100 ms, timeout 500 ms); prints the time from the signal to the coordinator's log
   lines "lost node 'b'" (detection) and "slow running again on node 'a'" (the step
   moved and deployed again; its restart backoff does not apply to a move). The run
   then completes on node a.

Usage: bench/cluster/run.sh [--rows N] [--cols N] [--batch N] [--buffer N] [--repeat N]
                            [--skip-failover]
Environment: CONVEYOR (default build/conveyor), ZMQ_PUSHPULL (default
build/bench/cluster/zmq_pushpull)."""
import argparse, json, os, re, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONVEYOR = os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor"))
PUSHPULL = os.environ.get("ZMQ_PUSHPULL", os.path.join(ROOT, "build", "bench", "cluster",
                                                       "zmq_pushpull"))
TIMING = ["--heartbeat-interval-ms", "100", "--connection-timeout-ms", "500"]


def start_nodes(workdir, names):
    nodes = {}
    for n in names:
        out = open(os.path.join(workdir, f"{n}.out"), "w")
        err = open(os.path.join(workdir, f"{n}.err"), "w")
        p = subprocess.Popen([CONVEYOR, "node", "--listen", "127.0.0.1:0", "--name", n,
                              "--labels", n] + TIMING, stdout=out, stderr=err, cwd=workdir)
        nodes[n] = p
    addresses = {}
    deadline = time.time() + 30
    for n in names:
        while n not in addresses:
            m = re.search(r"listening on (127\.0\.0\.1:\d+)",
                          open(os.path.join(workdir, f"{n}.out")).read())
            if m:
                addresses[n] = m.group(1)
            elif time.time() > deadline:
                sys.exit(f"node {n} did not start")
            else:
                time.sleep(0.02)
    toml = "[cluster]\nheartbeat_interval_ms = 100\nconnection_timeout_ms = 500\n"
    for n in names:
        toml += f'[[node]]\nname = "{n}"\naddress = "{addresses[n]}"\n'
    path = os.path.join(workdir, "cluster.toml")
    open(path, "w").write(toml)
    return nodes, path


def stop_nodes(nodes):
    for p in nodes.values():
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
    for p in nodes.values():
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds a live process has used so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def waited(p, timeout=600):
    """Waits for child `p` (a Popen); returns (exit status, its user + system CPU seconds)."""
    deadline = time.time() + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, usage.ru_utime + usage.ru_stime
        if time.time() > deadline:
            p.kill()
            sys.exit(f"timed out: {' '.join(p.args)}")
        time.sleep(0.005)


def run_graph(workdir, graph, nodes=None, cluster=None):
    """Runs `graph` (on the nodes with `cluster`); returns the counter's figures and the
    CPU seconds each process used during the run (the coordinator, or the one process,
    as "run"; each node by name)."""
    report = os.path.join(workdir, "report.json")
    cmd = [CONVEYOR, "--log-level", "warn", "run", graph, "--report", report]
    if cluster:
        cmd += ["--cluster", cluster]
    before = {n: cpu_seconds(p.pid) for n, p in (nodes or {}).items()}
    err_path = os.path.join(workdir, "run.err")
    with open(err_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=workdir)
        rc, cpu = waited(p)
    if rc != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{open(err_path).read()[-3000:]}")
    cpu = {"run": cpu}
    for n, p in (nodes or {}).items():
        cpu[n] = cpu_seconds(p.pid) - before[n]
    r = json.load(open(report))
    m = next(s for s in r["steps"] if s["step"] == "count")["metrics"]
    return m["first_to_last_seconds"], m["bytes_received"], int(m["batches_received"]), cpu


# What `conveyor node` sets with mallopt at its start (runtime/node_daemon.cpp), for the
# raw ZeroMQ processes through glibc's tunables: a baseline with the same allocator.
NODE_MALLOC = "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432"


def zeromq(messages, size, port, hwm, tuned_malloc=False):
    endpoint = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    if tuned_malloc:
        env["GLIBC_TUNABLES"] = NODE_MALLOC
    pull = subprocess.Popen([PUSHPULL, "pull", endpoint, str(messages), str(hwm)],
                            stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(0.2)  # the puller binds first; a PUSH connecting early would just wait
    push = subprocess.Popen([PUSHPULL, "push", endpoint, str(messages), str(size), str(hwm)],
                            env=env)
    push_rc, push_cpu = waited(push)
    if push_rc != 0:
        pull.kill()
    out = pull.stdout.read()  # a few bytes: the puller cannot block on its pipe first
    pull_rc, pull_cpu = waited(pull, 300)
    if push_rc != 0 or pull_rc != 0:
        sys.exit("zmq_pushpull failed")
    z = json.loads(out)
    z["cpu"] = {"push": push_cpu, "pull": pull_cpu}
    return z


def cpu_line(label, cpu, batches, seconds):
    """CPU seconds by process and in all, and microseconds of CPU per batch."""
    total = sum(cpu.values())
    parts = ", ".join(f"{n} {s:.2f}" for n, s in cpu.items())
    return (f"  {label:<22}{seconds:6.3f} s first to last; CPU-s {parts}; total {total:.2f} = "
            f"{total / batches * 1e6:6.1f} us/batch")


def detection(workdir, csv, sig, rows):
    nodes, cluster = start_nodes(workdir, ["a", "b"])
    graph = os.path.join(workdir, "slow.flow")
    open(graph, "w").write(
        "graph slow\n"
        f'node read = csv_reader {{ path = "{csv}", batch = 100, on = "a" }}\n'
        'node slow = chaos { delay = 2ms }\n'
        'node count = counter { on = "a" }\n'
        "read -> slow -> count\n")
    err_path = os.path.join(workdir, "coordinator.err")
    with open(err_path, "w") as err:
        run = subprocess.Popen([CONVEYOR, "run", graph, "--cluster", cluster], stderr=err,
                               stdout=subprocess.DEVNULL, cwd=workdir)
        deadline = time.time() + 60
        while "step instance(s) running" not in open(err_path).read():
            if time.time() > deadline or run.poll() is not None:
                sys.exit("the slow run did not start:\n" + open(err_path).read())
            time.sleep(0.01)
        time.sleep(0.5)  # let batches flow
        start = time.perf_counter()
        nodes["b"].send_signal(sig)
        marks = {}
        while len(marks) < 2:
            log = open(err_path).read()
            for key, line in (("lost", "lost node 'b'"), ("again", "slow running again on node")):
                if key not in marks and line in log:
                    marks[key] = time.perf_counter() - start
            if time.perf_counter() - start > 30:
                sys.exit("no failover within 30 s:\n" + log[-3000:])
            time.sleep(0.002)
        # The chaos step holds each batch of 100 rows 2 ms: the run takes rows / 50 ms.
        run.wait(60 + rows / 100 * 0.002 * 3)
    stop_nodes(nodes)
    return marks


def failover(d, rows, cols):
    csv = os.path.join(d, "numbers.csv")
    with open(csv, "w") as f:
        f.write(",".join(f"c{i}" for i in range(cols)) + "\n")
        row = ",".join(str(i * 0.25) for i in range(cols)) + "\n"
        f.write(row * rows)
    kill = detection(d, csv, signal.SIGKILL, rows)
    stop = detection(d, csv, signal.SIGSTOP, rows)
    print(f"SIGKILL to 'lost node' {kill['lost'] * 1000:8.1f} ms, to the step running again "
          f"{kill['again'] * 1000:8.1f} ms")
    print(f"SIGSTOP to 'lost node' {stop['lost'] * 1000:8.1f} ms, to the step running again "
          f"{stop['again'] * 1000:8.1f} ms  (heartbeat 100 ms, timeout 500 ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--buffer", type=int, default=64,
                    help="credits the counter grants (and ZeroMQ's high-water mark)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    ap.add_argument("--skip-failover", action="store_true", help="only the throughput part")
    args = ap.parse_args()
    for path in (CONVEYOR, PUSHPULL):
        if not os.access(path, os.X_OK):
            sys.exit(f"missing {path}: build first (cmake --build build)")
    with tempfile.TemporaryDirectory() as d:
        graph = os.path.join(d, "move.flow")
        open(graph, "w").write(
            "graph move\n"
            f'node read = generate {{ rows = {args.rows}, columns = {args.cols}, '
            f'batch = {args.batch}, on = "a" }}\n'
            f'node count = counter {{ on = "b", buffer = {args.buffer} }}\n'
            "read -> count\n")
        best = {"cluster": 0.0, "local": 0.0, "zeromq": 0.0}
        round_ratios = []  # per round: its better cluster run against its better raw run
        nodes, cluster = start_nodes(d, ["a", "b"])
        print("CPU of each run (user + system, whole processes: the coordinator's and the one "
              "process's include their start and end):")
        try:
            for i in range(args.repeat):
                # Two cluster runs per round, each followed by one of the two raw runs
                # (glibc's default allocator, then the nodes' settings): each side gets as
                # many runs, so the better of each pair is not favoured by its count.
                cluster_mb, raw_mb = 0.0, 0.0
                for tuned in (False, True):
                    seconds, nbytes, batches, cpu = run_graph(d, graph, nodes, cluster)
                    mb = nbytes / 1e6 / seconds
                    cluster_mb = max(cluster_mb, mb)
                    print(cpu_line(f"{i + 1}: two nodes",
                                   {"coordinator": cpu["run"], "a": cpu["a"], "b": cpu["b"]},
                                   batches, seconds))
                    z = zeromq(batches, int(nbytes) // batches, 47000 + os.getpid() % 1000,
                               args.buffer, tuned)
                    key = "zeromq_tuned" if tuned else "zeromq"
                    best[key] = max(best.get(key, 0.0), z["mb_per_s"])
                    raw_mb = max(raw_mb, z["mb_per_s"])
                    print(cpu_line(f"{i + 1}: zeromq" + (", node malloc" if tuned else ""),
                                   z["cpu"], batches, z["seconds"]))
                best["cluster"] = max(best["cluster"], cluster_mb)
                round_ratios.append(cluster_mb / raw_mb)
                seconds, nbytes, batches, cpu = run_graph(d, graph)
                best["local"] = max(best["local"], nbytes / 1e6 / seconds)
                print(cpu_line(f"{i + 1}: one process", {"process": cpu["run"]}, batches,
                               seconds))
        finally:
            stop_nodes(nodes)
        print(f"payload: {args.rows} rows x {args.cols} columns in {batches} batches of "
              f"{args.batch} rows ({int(nbytes) // batches} bytes each), {args.buffer} credits")
        print(f"  conveyor, two nodes   {best['cluster']:9.1f} MB/s")
        print(f"  conveyor, one process {best['local']:9.1f} MB/s")
        raw = max(best["zeromq"], best["zeromq_tuned"])
        print(f"  zeromq push/pull      {best['zeromq']:9.1f} MB/s")
        print(f"  zeromq, node malloc   {best['zeromq_tuned']:9.1f} MB/s  (the nodes' mallopt "
              "settings, as GLIBC_TUNABLES)")
        print(f"  cluster / zeromq      {best['cluster'] / raw:9.2f}  (goal 0.80; against the "
              "better of the two)")
        ratios = sorted(round_ratios)
        median = ratios[len(ratios) // 2] if len(ratios) % 2 else \
            (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        print(f"  per round             {median:9.2f}  (median of {len(ratios)} rounds' ratios: "
              + ", ".join(f"{r:.2f}" for r in round_ratios) + ")")
        print(f"  cluster / one process {best['cluster'] / best['local']:9.2f}")
        if not args.skip_failover:
            failover(d, args.rows, args.cols)
    for line in machine_lines(invocation("bench/cluster/run.sh", ["CONVEYOR", "ZMQ_PUSHPULL"])):
        print(line)


if __name__ == "__main__":
    main()
