#!/usr/bin/python3
"""Driver of the csv_clean benchmark: conveyor (csv_reader -> cleaner -> counter, with the
cleaner's default fit_rows and with fit_rows = 0) against DuckDB (all cores) and pandas
(plain, typed, chunked), in the same run, on the same files.

Builds nothing. The conveyor binary is $CONVEYOR (default build/conveyor, relative to
the repository root). Per size: generates the CSV under bench/out/ when missing; checks
values (below); runs every side RUNS times (default 3), interleaved, and `wc -l` over
the file as the read floor; prints the medians of wall time (start-up included) and
peak RSS (the process's own, from wait4), the ratios of each peer to conveyor and of
each side to the floor.

Value check (fails the run, exit 1, before or between timed runs): conveyor's cleaned
rows, written by csv_clean_write.flow with fit_rows = 0 (statistics of all rows, as the
peers compute them), are the reference. Every K-th output row (K = rows / SAMPLE_ROWS)
of each peer must match it cell by cell within PEER_TOLERANCE, with the same header and
row count; conveyor with the default fit_rows must match within FIT_ROWS_TOLERANCE (its
statistics come from the first fit_rows rows only: the largest difference seen is
printed). Every side's rows out must equal conveyor's.

usage: bench/csv_clean/run.py [ROWS ...]      (default: 1000000 3000000)
env:   CONVEYOR=path/to/conveyor  RUNS=3  THREADS=0 (conveyor --threads; 0: all cores)
       SIDES=comma list of sides to run (default all; see SIDES below)
"""
import csv
import json
import os
import signal
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "bench", "csv_clean")
OUT = os.path.join(ROOT, "bench", "out")
PY = "/usr/bin/python3"
CORES = len(os.sched_getaffinity(0))

SAMPLE_ROWS = 2000
# z-scores are O(1): float32 carries about 7 digits, and the sides round differently
# (float32 or float64 statistics, (x - m) / s or (x - m) * (1 / s)). 1e-4 is about a
# thousand float32 ulps of a typical z-score, far below any real error (a wrong row,
# column, mean or standard deviation moves values by 1e-2 or more).
PEER_TOLERANCE = 1e-4
# Fitting on the first 100000 rows instead of all moves the mean by about sd/sqrt(n)
# and the sd by about sd/sqrt(2n): about 0.01 at |z| = 4 here.
FIT_ROWS_TOLERANCE = 0.05

SIDES = ("conveyor", "conveyor fit all", "duckdb", "pandas typed", "pandas chunked", "pandas plain")
PEERS = SIDES[2:]


class check_failed(Exception):
    pass


# ---- child processes: each in its own session, killed with the driver ----

_live = set()


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if the driver dies (even by SIGKILL)."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill_all():
    for p in list(_live):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        _live.discard(p)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def run_child(cmd, stdout, stderr, cwd=ROOT):
    """Runs cmd to completion in its own process group; returns (exit status, peak RSS
    in KiB of the process, from wait4). The group is killed if the driver is
    interrupted."""
    p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=cwd, start_new_session=True,
                         preexec_fn=_die_with_parent)
    _live.add(p)
    try:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        return p.returncode, usage.ru_maxrss
    finally:
        if p.returncode is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        _live.discard(p)


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def timed(name, cmd, stdout_path):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, stdout text). Exits on failure
    with the command's last lines of stderr."""
    with open(stdout_path, "w") as so, open(stdout_path + ".err", "w") as se:
        t0 = time.perf_counter()
        rc, rss_kb = run_child(cmd, so, se)
        wall = time.perf_counter() - t0
    if rc != 0:
        sys.exit(f"csv_clean: {name} failed (exit {rc}): {' '.join(cmd)}\n{tail(stdout_path + '.err')}")
    return wall, rss_kb / 1024.0, open(stdout_path).read()


# ---- what each side needs ----

def require_sides(sides, conveyor):
    problems = []
    if not os.access(conveyor, os.X_OK):
        problems.append(f"no conveyor binary at {conveyor}: build it (cmake --build build) or set CONVEYOR")
    # gen_data.py needs pandas too, whatever the sides
    if subprocess.run([PY, "-c", "import pandas, numpy"], capture_output=True).returncode != 0:
        problems.append(f"pandas is not installed for {PY} (the data generator and the pandas sides "
                        f"need it): run bench/setup.sh csv_clean")
    if "duckdb" in sides:
        if shutil.which("node") is None:
            problems.append("duckdb: node (Node.js >= 18) is not installed: run bench/setup.sh csv_clean, "
                            "or leave duckdb out with SIDES")
        else:
            r = subprocess.run(["node", "-e", "require.resolve('@duckdb/node-api')"], cwd=HERE,
                               capture_output=True, text=True)
            if r.returncode != 0:
                problems.append("duckdb: @duckdb/node-api is not installed under bench/node_modules: run "
                                "bench/setup.sh csv_clean, or leave duckdb out with SIDES")
    if problems:
        sys.exit("csv_clean: cannot run:\n  " + "\n  ".join(problems))


def side_command(side, data, rows, conveyor, threads, sample, every):
    if side.startswith("conveyor"):
        return [conveyor, "--log-level", "warn", "run", os.path.join(HERE, "csv_clean.flow"),
                "--set", f"input={data}",
                "--set", f"quarantine={os.path.join(OUT, f'csv_clean_{rows}.quarantine.csv')}",
                "--set", f"fit_rows={0 if side == 'conveyor fit all' else 100000}",
                "--report", os.path.join(OUT, f"csv_clean_{rows}.{slug(side)}.report.json"),
                "--threads", threads]
    check = ["--sample", sample, "--every", str(every)]
    if side == "duckdb":
        return ["node", os.path.join(HERE, "duckdb_clean.mjs"), data, "--threads", str(CORES)] + check
    mode = side.split()[1]
    return [PY, os.path.join(HERE, "pandas_clean.py"), data, "--mode", mode] + check


def slug(side):
    return side.replace(" ", "_")


# ---- the value check ----

def read_sample(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        return header, [[float(v) for v in row] for row in r]


def conveyor_sample(conveyor, data, rows, fit_rows, every):
    """Runs csv_clean_write.flow; returns (header, every K-th row, rows out)."""
    cleaned = os.path.join(OUT, f"csv_clean_{rows}.cleaned.csv")
    report = os.path.join(OUT, f"csv_clean_{rows}.check.report.json")
    cmd = [conveyor, "--log-level", "warn", "run", os.path.join(HERE, "csv_clean_write.flow"),
           "--set", f"input={data}", "--set", f"output={cleaned}", "--set", f"fit_rows={fit_rows}",
           "--set", f"quarantine={os.path.join(OUT, f'csv_clean_{rows}.quarantine.csv')}",
           "--report", report]
    log = os.path.join(OUT, "conveyor_check.log")
    with open(log, "w") as so:
        rc, _ = run_child(cmd, so, subprocess.STDOUT)
    if rc != 0:
        sys.exit(f"csv_clean: conveyor (value check run) failed (exit {rc}): {' '.join(cmd)}\n{tail(log)}")
    try:
        with open(cleaned, newline="") as f:
            r = csv.reader(f)
            header = next(r)
            sample, n = [], 0
            for n, row in enumerate(r, 1):
                if (n - 1) % every == 0:
                    sample.append([float(v) for v in row])
    finally:
        os.remove(cleaned)
    steps = {s["step"]: s for s in json.load(open(report))["steps"]}
    if steps["write"]["rows_in"] != n:
        raise check_failed(f"conveyor wrote {n} rows, its report says {steps['write']['rows_in']}")
    return header, sample, n


def compare(name, header, sample, ref_header, ref, every, tolerance):
    """Returns the largest absolute difference; raises check_failed past `tolerance`."""
    if header != ref_header:
        raise check_failed(f"{name}: columns differ from conveyor's:\n  {name}: {header}\n  conveyor: {ref_header}")
    if len(sample) != len(ref):
        raise check_failed(f"{name}: {len(sample)} sampled rows, conveyor {len(ref)}")
    worst = 0.0
    for i, (a, b) in enumerate(zip(sample, ref)):
        for j, (x, y) in enumerate(zip(a, b)):
            d = abs(x - y)
            if not d <= tolerance:  # NaN fails too
                raise check_failed(f"{name}: output row {i * every}, column {header[j]}: {x!r}, "
                                   f"conveyor (fitted on all rows) {y!r}: differs by {d:.3g}, "
                                   f"tolerance {tolerance:g}")
            worst = max(worst, d)
    return worst


# ---- the run ----

def main():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        return measure()
    except check_failed as e:
        print(f"\ncsv_clean: VALUE CHECK FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        _kill_all()


def measure():
    try:
        sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 3_000_000]
        runs = int(os.environ.get("RUNS", "3"))
    except ValueError:
        sys.exit("csv_clean: usage: run.sh [ROWS ...] (integers); RUNS must be an integer")
    if runs < 1 or any(r < 1 for r in sizes):
        sys.exit("csv_clean: RUNS and every ROWS must be >= 1")
    conveyor = os.path.abspath(os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor")))
    threads = os.environ.get("THREADS", "0")
    sides = [s.strip() for s in os.environ.get("SIDES", ",".join(SIDES)).split(",") if s.strip()]
    unknown = [s for s in sides if s not in SIDES]
    if unknown:
        sys.exit(f"csv_clean: unknown side(s) {unknown} in SIDES; the sides: {', '.join(SIDES)}")
    if not sides:
        sys.exit("csv_clean: SIDES names no side")
    require_sides(sides, conveyor)
    os.makedirs(OUT, exist_ok=True)
    results = []
    for rows in sizes:
        data = os.path.join(OUT, f"csv_clean_{rows}.csv")
        if not os.path.exists(data):
            print(f"generating {data} ...", file=sys.stderr, flush=True)
            log = os.path.join(OUT, "gen_data.log")
            with open(log, "w") as so:
                if run_child([PY, os.path.join(HERE, "gen_data.py"), str(rows), data], so, subprocess.STDOUT)[0]:
                    sys.exit(f"csv_clean: generating {data} failed:\n{tail(log)}")
        mb = os.path.getsize(data) / 1e6
        every = max(1, rows // SAMPLE_ROWS)

        print(f"{rows} rows: value check, reference: conveyor fit_rows = 0 ...", file=sys.stderr, flush=True)
        ref_header, ref, ref_rows = conveyor_sample(conveyor, data, rows, 0, every)
        check = {}
        if "conveyor" in sides:
            h, s, n = conveyor_sample(conveyor, data, rows, 100000, every)
            if n != ref_rows:
                raise check_failed(f"conveyor: {n} rows out with fit_rows 100000, {ref_rows} with fit_rows 0")
            check["conveyor"] = compare("conveyor (fit_rows 100000)", h, s, ref_header, ref, every,
                                        FIT_ROWS_TOLERANCE)
        if "conveyor fit all" in sides:
            check["conveyor fit all"] = 0.0  # the reference

        wall = {s: [] for s in sides}
        rss = {s: [] for s in sides}
        info = {}
        floor = []
        for i in range(runs):  # interleaved so drift hits every side alike
            t0 = time.perf_counter()
            if run_child(["wc", "-l", data], subprocess.DEVNULL, subprocess.DEVNULL)[0] != 0:
                sys.exit(f"csv_clean: wc -l {data} failed")
            floor.append(time.perf_counter() - t0)
            for side in sides:
                sample = os.path.join(OUT, f"csv_clean_{rows}.{slug(side)}.sample.csv")
                cmd = side_command(side, data, rows, conveyor, threads, sample, every)
                for stale in (sample, cmd[cmd.index("--report") + 1] if "--report" in cmd else None):
                    if stale and os.path.exists(stale):
                        os.remove(stale)  # what is read back must be this run's
                w, r, out = timed(side, cmd, os.path.join(OUT, f"{slug(side)}.stdout"))
                wall[side].append(w)
                rss[side].append(r)
                if side.startswith("conveyor"):
                    report = cmd[cmd.index("--report") + 1]
                    steps = {s["step"]: s for s in json.load(open(report))["steps"]}
                    info[side] = dict(rows_out=steps["clean"]["rows_out"], read=steps["read"]["rows_out"],
                                      quarantined=steps["read"]["rows_rejected"],
                                      counted=steps["count"]["rows_in"])
                else:
                    info[side] = json.loads(out.strip().splitlines()[-1])
                    if i == 0:  # the peer's values, checked before spending more time on it
                        h, s = read_sample(sample)
                        check[side] = compare(side, h, s, ref_header, ref, every, PEER_TOLERANCE)
                if info[side]["rows_out"] != ref_rows:
                    raise check_failed(f"{side}: {info[side]['rows_out']} rows out, conveyor {ref_rows}")
            print(f"  {rows} rows run {i + 1}: " + ", ".join(
                f"{s} {wall[s][-1]:.2f} s {rss[s][-1]:.0f} MiB" for s in sides), file=sys.stderr, flush=True)
        results.append(dict(rows=rows, mb=mb, every=every, ref_rows=ref_rows, check=check, info=info,
                            floor=statistics.median(floor),
                            wall={s: statistics.median(v) for s, v in wall.items()},
                            rss={s: statistics.median(v) for s, v in rss.items()}))
    print_table(results, sides, runs, conveyor, threads)
    return 0


def print_table(results, sides, runs, conveyor, threads):
    print()
    print("\n".join(machine_lines(invocation("bench/csv_clean/run.sh",
                                                ("CONVEYOR", "RUNS", "THREADS", "SIDES")))))
    print(f"csv_clean: csv_reader -> cleaner -> counter vs DuckDB and pandas; median of {runs} runs; "
          f"conveyor={conveyor} --threads {threads}; duckdb --threads {CORES}")
    base = "conveyor" if "conveyor" in sides else sides[0]
    hdr = (f"{'rows':>9} {'MB':>7} | {'side':16} {'wall s':>7} {'rows/s':>11} {'MB/s':>7} {'peak MiB':>9} | "
           f"{'rows out':>9} | {'time/' + base:>16} {'RSS/' + base:>15} | {'time/floor':>10}")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        for side in sides:
            w, m = r["wall"][side], r["rss"][side]
            print(f"{r['rows']:>9} {r['mb']:>7.1f} | {side:16} {w:>7.2f} {r['rows'] / w:>11,.0f} "
                  f"{r['mb'] / w:>7.1f} {m:>9.0f} | {r['info'][side]['rows_out']:>9} | "
                  f"{w / r['wall'][base]:>16.2f} {m / r['rss'][base]:>15.2f} | {w / r['floor']:>10.1f}")
        print(f"{'':>17} | {'read floor':16} {r['floor']:>7.2f} {r['rows'] / r['floor']:>11,.0f} "
              f"{r['mb'] / r['floor']:>7.1f}   (wc -l over the file from the page cache, one core)")
        c = r["info"].get("conveyor") or r["info"].get("conveyor fit all")
        counts = [f"conveyor read {c['read']} + {c['quarantined']} quarantined, cleaner {c['rows_out']}, "
                  f"counter {c['counted']}"] if c else []
        counts += [f"{s} read {r['info'][s]['rows_read']}" for s in sides if "rows_read" in r["info"][s]]
        print(f"{'':>17}   rows: " + "; ".join(counts))
        print(f"{'':>17}   values (every {r['every']}th output row, {-(-r['ref_rows'] // r['every'])} rows, "
              f"against conveyor fitted on all rows): " + "; ".join(
                  f"{s} max |diff| {d:.2g}" for s, d in r["check"].items() if s != "conveyor fit all")
              + f" (tolerance {PEER_TOLERANCE:g} for peers, {FIT_ROWS_TOLERANCE:g} for conveyor's "
                f"default fit_rows)")


if __name__ == "__main__":
    sys.exit(main())
