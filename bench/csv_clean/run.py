#!/usr/bin/python3
"""Driver of the csv_clean benchmark: conveyor (csv_reader -> cleaner -> counter)
against pandas (read_csv, to_numeric, dropna, z-score, get_dummies).

Builds nothing. The conveyor binary is $CONVEYOR (default build/conveyor, relative to
the repository root). Generates the CSVs under bench/out/ when missing, runs each side
RUNS times (default 3) per size, takes the median wall time and peak RSS (from
/usr/bin/time -v when installed, else getrusage of the single child), cross-checks the
cleaner's rows_out (--report JSON) against pandas' row count after dropna, and prints a
table with the conveyor/pandas ratio.

usage: bench/csv_clean/run.py [ROWS ...]      (default: 3000000 6000000)
env:   CONVEYOR=path/to/conveyor  RUNS=3  THREADS=0 (conveyor --threads)
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "bench", "csv_clean")
OUT = os.path.join(ROOT, "bench", "out")
PY = "/usr/bin/python3"
TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def timed(cmd, stdout_path):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, stdout text)."""
    tfile = os.path.join(OUT, "time.txt")
    full = ([TIME, "-f", "%M", "-o", tfile] if TIME else []) + cmd
    with open(stdout_path, "w") as so, open(stdout_path + ".err", "w") as se:
        t0 = time.perf_counter()
        if TIME:
            p = subprocess.run(full, stdout=so, stderr=se)
            wall = time.perf_counter() - t0
            rss_kb = int(open(tfile).read().strip().splitlines()[-1])
        else:
            # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far, so fork a
            # fresh middle process per run to keep the figure per run.
            pid = os.fork()
            if pid == 0:
                q = subprocess.run(full, stdout=so, stderr=se)
                os._exit(q.returncode if q.returncode >= 0 else 1)
            _, status, ru = os.wait4(pid, 0)
            wall = time.perf_counter() - t0
            rss_kb = ru.ru_maxrss
            p = subprocess.CompletedProcess(full, os.waitstatus_to_exitcode(status))
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}; see {stdout_path}.err")
    return wall, rss_kb / 1024.0, open(stdout_path).read()


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [3_000_000, 6_000_000]
    runs = int(os.environ.get("RUNS", "3"))
    conveyor = os.environ.get("CONVEYOR", os.path.join(ROOT, "build", "conveyor"))
    threads = os.environ.get("THREADS", "0")
    if not os.access(conveyor, os.X_OK):
        sys.exit(f"no conveyor binary at {conveyor}; build it and/or set CONVEYOR=path/to/conveyor")
    os.makedirs(OUT, exist_ok=True)
    results = []
    for rows in sizes:
        data = os.path.join(OUT, f"csv_clean_{rows}.csv")
        if not os.path.exists(data):
            subprocess.run([PY, os.path.join(HERE, "gen_data.py"), str(rows), data], check=True)
        mb = os.path.getsize(data) / 1e6
        report = os.path.join(OUT, f"csv_clean_{rows}.report.json")
        conv_cmd = [conveyor, "--log-level", "warn", "run", os.path.join(HERE, "csv_clean.flow"),
                    "--set", f"input={data}",
                    "--set", f"quarantine={os.path.join(OUT, f'csv_clean_{rows}.quarantine.csv')}",
                    "--report", report, "--threads", threads]
        pd_cmd = [PY, os.path.join(HERE, "pandas_clean.py"), data]
        cw, cr, pw, pr = [], [], [], []
        for i in range(runs):  # interleaved so drift hits both sides alike
            w, r, _ = timed(conv_cmd, os.path.join(OUT, "conveyor.stdout"))
            cw.append(w); cr.append(r)
            w, r, out = timed(pd_cmd, os.path.join(OUT, "pandas.stdout"))
            pw.append(w); pr.append(r)
            print(f"  {rows} rows run {i + 1}: conveyor {cw[-1]:.2f} s {cr[-1]:.0f} MiB, "
                  f"pandas {pw[-1]:.2f} s {pr[-1]:.0f} MiB", file=sys.stderr)
        steps = {s["step"]: s for s in json.load(open(report))["steps"]}
        pdres = json.loads(out.strip().splitlines()[-1])
        results.append(dict(rows=rows, mb=mb, cw=statistics.median(cw), cr=statistics.median(cr),
                            pw=statistics.median(pw), pr=statistics.median(pr),
                            read_out=steps["read"]["rows_out"], read_rej=steps["read"]["rows_rejected"],
                            clean_out=steps["clean"]["rows_out"], count_in=steps["count"]["rows_in"],
                            pd_read=pdres["rows_read"], pd_out=pdres["rows_out"]))

    print(f"csv_clean: csv_reader -> cleaner -> counter vs pandas; median of {runs} runs; "
          f"conveyor={conveyor} --threads {threads}")
    hdr = f"{'rows':>9} {'MB':>7} | {'side':8} {'wall s':>7} {'rows/s':>11} {'MB/s':>7} {'peak RSS MiB':>12} | {'rows out':>9}"
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        for side, w, rss, n in (("conveyor", r["cw"], r["cr"], r["clean_out"]),
                                ("pandas", r["pw"], r["pr"], r["pd_out"])):
            print(f"{r['rows']:>9} {r['mb']:>7.1f} | {side:8} {w:>7.2f} {r['rows'] / w:>11,.0f} "
                  f"{r['mb'] / w:>7.1f} {rss:>12.0f} | {n:>9}")
        ok = "equal" if r["clean_out"] == r["pd_out"] else "DIFFER"
        print(f"{'':>17} ratio conveyor/pandas: {r['pw'] / r['cw']:.2f}x throughput, "
              f"peak RSS conveyor/pandas {r['cr'] / r['pr']:.3f} (pandas {r['pr'] / r['cr']:.0f}x more); rows out {ok} "
              f"(conveyor read {r['read_out']} + {r['read_rej']} quarantined, cleaner {r['clean_out']}, "
              f"counter {r['count_in']}; pandas read {r['pd_read']}, after dropna {r['pd_out']})")


if __name__ == "__main__":
    main()
