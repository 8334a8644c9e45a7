#!/usr/bin/python3
"""Publishes the rows of a CSV file to a NATS JetStream subject, one MessagePack map
(column -> value) per message, the way nats_source reads them (docs/kinds.md).

Cells become numbers where they parse as numbers, nil where they are empty (or NA,
NaN, null), strings otherwise; columns named by --categorical stay strings. Each
message is published with JetStream's acknowledgement (at most --window unacknowledged
at a time), so when the script exits 0 every row is stored in the stream.

    scripts/nats_publish.py examples/data/houses.csv --subject houses.in \
        --create-stream HOUSES --categorical city

Needs only Debian's python3-msgpack: it speaks the NATS client protocol itself.
"""
import argparse
import csv
import json
import socket
import sys

import msgpack

MISSING = {"", "NA", "N/A", "NaN", "nan", "null", "NULL"}


class nats_connection:
    """The few parts of the NATS text protocol a publisher needs."""

    def __init__(self, url, timeout):
        host_port = url.split("://", 1)[-1]
        host, _, port = host_port.rpartition(":")
        self.sock = socket.create_connection((host or "127.0.0.1", int(port or 4222)), timeout)
        self.file = self.sock.makefile("rb")
        info = self.file.readline()
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"{url} is not a NATS server (it said {info[:40]!r})")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"lang":"python",'
                          b'"version":"1","headers":false}\r\nPING\r\n')
        self.expect_pong()
        self.inbox = "_INBOX.conveyor_publish"
        self.sock.sendall(f"SUB {self.inbox}.* 1\r\n".encode())
        self.next_id = 0

    def expect_pong(self):
        while True:
            line = self.file.readline()
            if line.startswith(b"PONG"):
                return
            if line.startswith(b"-ERR") or not line:
                raise RuntimeError(f"NATS server refused the connection: {line!r}")

    def publish(self, subject, payload):
        """Sends a message that asks for a reply; returns its reply id."""
        self.next_id += 1
        header = f"PUB {subject} {self.inbox}.{self.next_id} {len(payload)}\r\n".encode()
        self.sock.sendall(header + payload + b"\r\n")
        return self.next_id

    def reply(self):
        """The next reply: (id, decoded JSON)."""
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("the NATS server closed the connection")
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(f"NATS server error: {line.decode().strip()}")
            elif line.startswith(b"MSG "):
                parts = line.split()
                size = int(parts[-1])
                body = self.file.read(size + 2)[:size]
                return int(parts[1].rsplit(b".", 1)[1]), json.loads(body or b"{}")

    def request(self, subject, payload):
        self.publish(subject, payload)
        return self.reply()[1]


def cell(text, keep_string):
    if text.strip() in MISSING:
        return None
    if keep_string:
        return text
    try:
        return float(text)
    except ValueError:
        return text


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", help="CSV file with a header row")
    p.add_argument("--subject", required=True, help="JetStream subject to publish to")
    p.add_argument("--url", default="nats://127.0.0.1:4222")
    p.add_argument("--categorical", action="append", default=[],
                   help="a column kept as strings (repeatable)")
    p.add_argument("--create-stream", metavar="NAME",
                   help="create this stream on the subject first (kept if it exists)")
    p.add_argument("--window", type=int, default=256,
                   help="unacknowledged messages at most")
    p.add_argument("--timeout", type=float, default=10, help="seconds per network wait")
    args = p.parse_args()

    nats = nats_connection(args.url, args.timeout)
    if args.create_stream:
        config = {"name": args.create_stream, "subjects": [args.subject], "storage": "file"}
        answer = nats.request(f"$JS.API.STREAM.CREATE.{args.create_stream}",
                              json.dumps(config).encode())
        error = answer.get("error")
        if error and error.get("err_code") != 10058:  # 10058: the stream exists already
            sys.exit(f"nats_publish: cannot create stream {args.create_stream}: "
                     f"{error.get('description')}")

    published = 0
    pending = set()
    with open(args.csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        for line, record in enumerate(reader, start=2):
            if len(record) != len(header):
                print(f"nats_publish: {args.csv} line {line}: expected {len(header)} fields, "
                      f"got {len(record)}; published as it is", file=sys.stderr)
            row = {name: cell(value, name in args.categorical)
                   for name, value in zip(header, record)}
            pending.add(nats.publish(args.subject, msgpack.packb(row)))
            while len(pending) >= args.window:
                pending.discard(check(nats.reply(), args.subject))
            published += 1
    while pending:
        pending.discard(check(nats.reply(), args.subject))
    print(f"nats_publish: published {published} rows to {args.subject}")


def check(reply, subject):
    reply_id, answer = reply
    if "error" in answer:
        sys.exit(f"nats_publish: the server refused a message on {subject}: "
                 f"{answer['error'].get('description')} (is a stream on this subject?)")
    return reply_id


if __name__ == "__main__":
    try:
        main()
    except socket.timeout:
        sys.exit("nats_publish: no answer from the server in time "
                 "(is a stream listening on the subject?)")
    except (OSError, RuntimeError) as e:
        sys.exit(f"nats_publish: {e}")
