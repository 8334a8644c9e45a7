#!/usr/bin/python3
"""Publishes a generated transaction stream to NATS JetStream for examples/factory.flow:
one MessagePack map per transaction (amount, items, hour, segment, fraud), with a
per-segment rule that shifts abruptly midway.

Segment k (s0 .. s{N-1}) labels a transaction fraud = 1 when w_k . z > 0, where z holds
the centred, scaled amount and items and (hour - 12) / 7, and w_k = (cos a_k, sin a_k,
0.5 cos 2a_k) with a_k = 0.3 + 2 pi k / N. From row --shift-at on, the amounts move up by
two standard deviations (N(160, 30) instead of N(100, 30)) and every segment's rule flips
sign. tests/integration/factory_test.cpp uses the same rule.

    scripts/factory_stream.py --create-stream TX --rows 40000 --shift-at 20000 --rate 2000

--rate paces the rows (0: as fast as the server acknowledges them). With --log FILE the
script writes one line per second, `unix_seconds rows_published shifted`, and the time of
the shift as `shift unix_seconds` (bench/factory reads it). Needs only python3-msgpack.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nats_publish import check, nats_connection  # noqa: E402


def transaction(rng, segments, shifted):
    k = rng.randrange(segments)
    za, zi, hour = rng.gauss(0, 1), rng.gauss(0, 1), rng.uniform(0, 24)
    a = 0.3 + 2 * math.pi * k / segments
    score = math.cos(a) * za + math.sin(a) * zi + 0.5 * math.cos(2 * a) * (hour - 12) / 7
    return {"amount": (160 if shifted else 100) + 30 * za, "items": 5 + 2 * zi, "hour": hour,
            "segment": f"s{k}", "fraud": 1.0 if (score > 0) != shifted else 0.0}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="nats://127.0.0.1:4222")
    p.add_argument("--subject", default="tx.in")
    p.add_argument("--create-stream", metavar="NAME",
                   help="create this stream on the subject first (kept if it exists)")
    p.add_argument("--segments", type=int, default=20)
    p.add_argument("--rows", type=int, default=40000)
    p.add_argument("--shift-at", type=int, default=20000, help="the first shifted row")
    p.add_argument("--rate", type=float, default=0, help="rows per second (0: unpaced)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--window", type=int, default=256, help="unacknowledged messages at most")
    p.add_argument("--log", help="write progress lines and the shift's time here")
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()
    if args.segments < 1 or args.rows < 0 or args.rate < 0:
        sys.exit("factory_stream: --segments must be >= 1, --rows and --rate >= 0")

    nats = nats_connection(args.url, args.timeout)
    if args.create_stream:
        config = {"name": args.create_stream, "subjects": [args.subject], "storage": "file"}
        answer = nats.request(f"$JS.API.STREAM.CREATE.{args.create_stream}",
                              json.dumps(config).encode())
        error = answer.get("error")
        if error and error.get("err_code") != 10058:  # the stream exists already
            sys.exit(f"factory_stream: cannot create stream {args.create_stream}: "
                     f"{error.get('description')}")
    log = open(args.log, "w") if args.log else None
    rng = random.Random(args.seed)
    pending = set()
    start = time.time()
    last_log = 0.0
    for i in range(args.rows):
        shifted = i >= args.shift_at
        if i == args.shift_at and log:
            print(f"shift {time.time():.3f}", file=log, flush=True)
        pending.add(nats.publish(args.subject, msgpack.packb(transaction(rng, args.segments,
                                                                          shifted))))
        while len(pending) >= args.window:
            pending.discard(check(nats.reply(), args.subject))
        if args.rate > 0:
            ahead = start + (i + 1) / args.rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        if log and time.time() - last_log >= 1:
            last_log = time.time()
            print(f"{last_log:.3f} {i + 1} {int(shifted)}", file=log, flush=True)
    while pending:
        pending.discard(check(nats.reply(), args.subject))
    print(f"factory_stream: published {args.rows} rows to {args.subject} "
          f"(shift at row {args.shift_at})")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        sys.exit(f"factory_stream: {e}")
    except RuntimeError as e:
        sys.exit(f"factory_stream: {e}")
