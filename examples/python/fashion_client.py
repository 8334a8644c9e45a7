#!/usr/bin/python3
"""The Fashion-MNIST serving demo: classifies the 10,000 test images through a running
conveyor inference server (protocol v1) and checks the answers.

    python3 examples/python/fashion_client.py [--endpoint tcp://127.0.0.1:5555]
        [--model fashion] [--concurrency 32] [--rows-per-request 1] [--min-accuracy 0.88]

What it does:
1. reads the test set (IDX files, gzip) from --data;
2. waits, at most --wait-s seconds (default 120), until the server's `models` reply
   lists --model, and checks that the model takes 784 inputs;
3. sends every image as raw pixels 0..255 (the model carries its own scaling) in the
   packed float32 `tensor` form, --rows-per-request images per request, keeping
   --concurrency requests in flight;
4. prints the model and the version(s) that answered, the accuracy of the served labels
   against the true labels, requests/s and images/s, and the latency p50/p99 (from send
   to reply, per request, with the other in-flight requests queued alongside).

Exit status: 0 on success; 1 when the model never became available, a request failed
or went unanswered, or the accuracy is below --min-accuracy; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conveyor_client import Client, ProtocolError, ServerError  # noqa: E402

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path: str) -> np.ndarray:
    """Reads a gzip'd IDX file (unsigned-byte data) into an array of its dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data for dimensions {dims}")
    return body.reshape(dims)


def wait_for_model(client: Client, model: str, wait_s: float, min_version: int = 0) -> dict:
    """Polls `models` until `model` is listed with a version of at least `min_version`;
    returns its entry. Exits with status 1 and a message when `wait_s` passes first."""
    deadline = time.monotonic() + wait_s
    last = None  # the last models list seen, or None if the server never answered
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            models = client.models(timeout_ms=max(1, int(min(left, 1.0) * 1000)))
            last = models or []
            for m in last:
                if m.get("name") == model and m.get("version", 0) >= min_version:
                    return m
        except (TimeoutError, ProtocolError):
            pass
        except ServerError as e:
            print(f"fashion_client: models request failed: {e.code}: {e.message}", file=sys.stderr)
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    if last is None:
        why = f"no server answered at {client.endpoint}"
    else:
        names = ", ".join(f"{m.get('name')} v{m.get('version')}" for m in last) or "none"
        why = f"the server at {client.endpoint} does not list it (models served: {names})"
    wanted = f"model '{model}'" + (f" version >= {min_version}" if min_version else "")
    sys.exit(f"fashion_client: gave up after {wait_s:g} s waiting for {wanted}: {why}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Fashion-MNIST demo client for conveyor serving")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    p.add_argument("--model", default="fashion")
    p.add_argument("--version", type=int, default=0, help="pin a model version (0: latest)")
    p.add_argument("--data", default=DEFAULT_DATA, help="directory of the t10k IDX files")
    p.add_argument("--rows-per-request", type=int, default=1)
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    p.add_argument("--limit", type=int, default=0, help="send only the first N images (0: all)")
    p.add_argument("--wait-s", type=float, default=120.0, help="how long to wait for the model")
    p.add_argument("--min-version", type=int, default=0,
                   help="wait until the latest served version is at least this (a fresh model)")
    p.add_argument("--timeout-ms", type=int, default=30_000, help="longest wait for any reply")
    p.add_argument("--min-accuracy", type=float, default=0.88)
    a = p.parse_args(argv)
    if a.rows_per_request < 1 or a.concurrency < 1:
        p.error("--rows-per-request and --concurrency must be >= 1")

    images = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = images.reshape(images.shape[0], -1).astype(np.float32)  # raw pixels 0..255
    if a.limit > 0:
        x, labels = x[:a.limit], labels[:a.limit]
    total = x.shape[0]

    with Client(a.endpoint, timeout_ms=a.timeout_ms) as client:
        entry = wait_for_model(client, a.model, a.wait_s, a.min_version)
        if entry.get("inputs") != x.shape[1]:
            sys.exit(f"fashion_client: model '{a.model}' takes {entry.get('inputs')} inputs, "
                     f"the images have {x.shape[1]} pixels")
        print(f"model '{a.model}' is served (latest version {entry.get('version')}); sending "
              f"{total} images, {a.rows_per_request} per request, {a.concurrency} in flight")

        served = np.full(total, -1, dtype=np.int64)  # the label the server gave each image
        versions = collections.Counter()             # (model, version) -> images answered
        latencies_ms = []
        failures = []                                # messages, first few printed
        in_flight = {}                               # id -> (first row, rows, send time)
        next_row = 0
        start = time.perf_counter()
        while next_row < total or in_flight:
            while next_row < total and len(in_flight) < a.concurrency:
                n = min(a.rows_per_request, total - next_row)
                rid = client.send_predict(a.model, tensor=x[next_row:next_row + n], version=a.version)
                in_flight[rid] = (next_row, n, time.perf_counter())
                next_row += n
            try:
                r = client.receive()
            except (TimeoutError, ProtocolError) as e:
                failures.append(f"{e}; {len(in_flight)} request(s) left unanswered")
                break
            now = time.perf_counter()
            if r.id not in in_flight:
                failures.append(f"a reply with unexpected id {r.id}: {r!r}")
                continue
            first, n, sent = in_flight.pop(r.id)
            latencies_ms.append((now - sent) * 1000.0)
            if not r.ok:
                failures.append(f"request {r.id} (images {first}..{first + n - 1}): "
                                f"{r.error_code}: {r.error_message}")
            elif not isinstance(r.labels, list) or len(r.labels) != n:
                failures.append(f"request {r.id}: expected {n} labels, got {r.labels!r:.80}")
            else:
                served[first:first + n] = r.labels
                versions[(r.model, r.version)] += n
        elapsed = max(time.perf_counter() - start, 1e-9)

    answered = int((served >= 0).sum())
    correct = int((served == labels).sum())
    accuracy = correct / total if total else 0.0
    requests = len(latencies_ms)
    names = ", ".join(f"'{m}' version {v} ({k} images)" for (m, v), k in sorted(versions.items()))
    print(f"model: {names or 'none answered'}")
    print(f"accuracy: {accuracy:.4f} ({correct}/{total} images; {answered} answered), "
          f"minimum {a.min_accuracy}")
    print(f"throughput: {requests} requests in {elapsed:.2f} s = {requests / elapsed:.0f} requests/s "
          f"({answered / elapsed:.0f} images/s)")
    if latencies_ms:
        p50, p99 = np.percentile(latencies_ms, [50, 99])
        print(f"latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    for msg in failures[:5]:
        print(f"failed: {msg}", file=sys.stderr)
    if len(failures) > 5:
        print(f"... and {len(failures) - 5} more failures", file=sys.stderr)
    status = 0
    if failures or answered < total:
        print(f"FAIL: {len(failures)} failure(s), {total - answered} image(s) unanswered",
              file=sys.stderr)
        status = 1
    if accuracy < a.min_accuracy:
        print(f"FAIL: accuracy {accuracy:.4f} is below {a.min_accuracy}", file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
