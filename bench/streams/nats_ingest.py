#!/usr/bin/python3
"""nats_source ingest: how fast rows published to NATS JetStream go through conveyor
and are acknowledged.

Starts `nats-server -js` on 127.0.0.1 (a free port, a store under bench/out/), creates
a stream, publishes ROWS rows of 8 numeric columns and one categorical, each one
MessagePack map, with JetStream acknowledgements (scripts/nats_publish.py's client),
then runs `conveyor run` on nats_source -> counter and polls the durable consumer
until its acknowledged floor is the last row. Prints the publish rate, and the ingest
rate from the run's start (process start-up included) to the last acknowledgement; then
drains the run with SIGINT. Each size runs RUNS times with a new stream; medians.

usage: bench/streams/nats_ingest.py [ROWS ...]    (default: 200000)
env:   CONVEYOR=path/to/conveyor  RUNS=3  BATCH=1024 (nats_source's batch)
"""
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import invocation, machine_lines  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "bench", "out", "streams")
spec = importlib.util.spec_from_file_location("nats_publish",
                                              os.path.join(ROOT, "scripts", "nats_publish.py"))
nats_publish = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nats_publish)

COLUMNS = [f"f{i}" for i in range(8)]
WINDOW = 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store):
    port = free_port()
    log = open(os.path.join(store, "nats-server.log"), "w")
    # Debian installs it in /usr/sbin, which a user's PATH often lacks.
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    server = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port),
                               "-sd", store], stdout=log, stderr=log)
    url = f"nats://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            return server, url, nats_publish.nats_connection(url, 10)
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                sys.exit(f"nats_ingest: nats-server did not start on {url}")
            time.sleep(0.02)


def publish(nats, subject, rows):
    rng = random.Random(1)
    pending = set()
    start = time.perf_counter()
    for i in range(rows):
        row = {c: rng.random() for c in COLUMNS}
        row["id"] = i
        row["store"] = f"s{i % 50}"
        pending.add(nats.publish(subject, msgpack.packb(row)))
        while len(pending) >= WINDOW:
            reply_id, answer = nats.reply()
            if "error" in answer:
                sys.exit(f"nats_ingest: publish refused: {answer['error']}")
            pending.discard(reply_id)
    while pending:
        pending.discard(nats.reply()[0])
    return time.perf_counter() - start


def ack_floor(nats, stream, durable):
    answer = nats.request(f"$JS.API.CONSUMER.INFO.{stream}.{durable}", b"")
    return answer.get("ack_floor", {}).get("stream_seq", 0)


def one_run(conveyor, rows, batch, run):
    store = os.path.join(OUT, f"store-{rows}-{run}")
    shutil.rmtree(store, ignore_errors=True)
    os.makedirs(store)
    server, url, nats = start_server(store)
    try:
        answer = nats.request("$JS.API.STREAM.CREATE.BENCH", json.dumps(
            {"name": "BENCH", "subjects": ["bench.rows"], "storage": "file"}).encode())
        if "error" in answer:
            sys.exit(f"nats_ingest: cannot create the stream: {answer['error']}")
        publish_s = publish(nats, "bench.rows", rows)
        graph = os.path.join(store, "ingest.flow")
        columns = ", ".join(f'"{c}"' for c in ["id", "store"] + COLUMNS)
        with open(graph, "w") as f:
            f.write("graph ingest\n"
                    f'node read = nats_source {{ url = "{url}", stream = "BENCH", durable = "bench", '
                    f'subject = "bench.rows", columns = [{columns}], categorical = ["store"], '
                    f"batch = {batch}, max_wait = 50ms }}\n"
                    "node count = counter\n"
                    "read -> count\n")
        log = open(os.path.join(store, "conveyor.log"), "w")
        start = time.perf_counter()
        run_proc = subprocess.Popen([conveyor, "run", graph], stdout=log, stderr=log)
        deadline = time.time() + 600
        while ack_floor(nats, "BENCH", "bench") < rows:
            if run_proc.poll() is not None or time.time() > deadline:
                sys.exit(f"nats_ingest: the run ended or stalled (see {store}/conveyor.log)")
            time.sleep(0.01)
        ingest_s = time.perf_counter() - start
        run_proc.send_signal(signal.SIGINT)
        if run_proc.wait(60) != 0:
            sys.exit(f"nats_ingest: the drain failed (see {store}/conveyor.log)")
        return publish_s, ingest_s
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(store, ignore_errors=True)


def main():
    conveyor = os.path.join(ROOT, os.environ.get("CONVEYOR", "build/conveyor"))
    runs = int(os.environ.get("RUNS", "3"))
    batch = int(os.environ.get("BATCH", "1024"))
    sizes = [int(a) for a in sys.argv[1:]] or [200000]
    os.makedirs(OUT, exist_ok=True)
    for line in machine_lines(invocation("bench/streams/nats_ingest.py", ["CONVEYOR", "RUNS", "BATCH"])):
        print(line)
    print("| rows | publish rows/s (Python, acked) | conveyor ingest rows/s (start-up to last ack) |")
    print("| ---: | ---: | ---: |")
    for rows in sizes:
        results = [one_run(conveyor, rows, batch, r) for r in range(runs)]
        publish_s = statistics.median(r[0] for r in results)
        ingest_s = statistics.median(r[1] for r in results)
        print(f"| {rows} | {rows / publish_s:,.0f} | {rows / ingest_s:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
