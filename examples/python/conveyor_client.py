#!/usr/bin/python3
"""A small client for conveyor's inference protocol, version 1.

The wire contract is the inference protocol v1 (docs/inference-protocol.md): one
MessagePack map per request and per reply, over ZeroMQ. This module
needs pyzmq and msgpack; numpy only when a request uses the packed `tensor` form.

Synchronous use (one request at a time)::

    from conveyor_client import Client, ServerError
    with Client("tcp://127.0.0.1:5555", timeout_ms=5000) as c:
        print(c.health())                       # "serving"
        print(c.models())                       # [{"name": ..., "version": ..., ...}]
        r = c.predict("fashion", rows=[[0.0] * 784])
        print(r.version, r.labels, r.outputs)

Asynchronous use (many requests in flight; replies may come back in any order)::

    ids = [c.send_predict("fashion", tensor=batch) for batch in batches]
    for _ in ids:
        r = c.receive()            # a Reply; r.id says which request it answers
        if not r.ok: print(r.error_code, r.error_message)

Contracts:
- A `Client` owns one DEALER socket and is meant for one thread.
- Synchronous calls (`predict`, `models`, `health`) return the reply or raise
  `ServerError` when the server answered `ok: false`, `TimeoutError` when no answer
  came within the timeout. A request that timed out is abandoned: its late reply is
  discarded, never returned by a later call.
- `receive()` returns replies to requests sent with `send_*` that are still in flight,
  error replies included (`ok` False, `error_code`, `error_message`); it raises only
  `TimeoutError` (nothing arrived in time) or `ProtocolError` (the server sent bytes
  that are not a reply map).
- Replies that arrive for one request while a synchronous call waits for another are
  kept and handed out by `receive()`, so both styles can be mixed on one client.

Transport security (CurveZMQ, docs/serving.md): pass the server's public key and this
client's secret key (Z85 text or the files `conveyor keys` writes); the client's public
key is derived from its secret. A server that does not list this client's key never
answers: calls raise TimeoutError::

    c = Client(endpoint, curve_server_key=load_key_file("server.pub"),
               curve_secret_key=load_key_file("app.key"))

Command line::

    python3 conveyor_client.py --endpoint tcp://127.0.0.1:5555 health
    python3 conveyor_client.py models
    python3 conveyor_client.py predict --model M --csv rows.csv [--tensor] [--version V]
    (with CurveZMQ: --curve-server-key SERVER.pub --curve-secret-key CLIENT.key)
"""

from __future__ import annotations

import collections
import itertools
import time

import msgpack
import zmq

__all__ = ["Client", "Reply", "ServerError", "ProtocolError", "PROTOCOL_VERSION", "load_key_file"]

PROTOCOL_VERSION = 1


class ServerError(Exception):
    """The server answered `ok: false`. `code` is one of the protocol's error codes
    (bad_request, unknown_model, unknown_version, unknown_key, shape_mismatch, too_large,
    overloaded, deadline_exceeded, internal); `id` is the request's id (0 when the
    server could not read one)."""

    def __init__(self, code: str, message: str, id: int = 0):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.id = id


class ProtocolError(Exception):
    """The server sent something that is not a protocol reply (not a MessagePack map,
    no usable `id` or `ok`)."""


class Reply:
    """One decoded reply. Fields absent from the wire map are None.

    - always: `id` (int), `ok` (bool), `raw` (the whole decoded map)
    - predict: `model` (str), `version` (int), `outputs` (list of rows of floats),
      `labels` (list of int, classifiers only)
    - models: `models` (list of maps {name, version, inputs, outputs})
    - health: `status` ("serving")
    - errors: `error_code`, `error_message`
    """

    __slots__ = ("id", "ok", "model", "version", "outputs", "labels", "models", "status",
                 "error_code", "error_message", "raw")

    def __init__(self, m: dict):
        self.raw = m
        self.id = m.get("id")
        self.ok = m.get("ok")
        self.model = m.get("model")
        self.version = m.get("version")
        self.outputs = m.get("outputs")
        self.labels = m.get("labels")
        self.models = m.get("models")
        self.status = m.get("status")
        err = m.get("error")
        if isinstance(err, dict):
            self.error_code = err.get("code")
            self.error_message = err.get("message")
        else:
            self.error_code = self.error_message = None

    @classmethod
    def decode(cls, payload: bytes) -> "Reply":
        """Decodes one reply message; raises ProtocolError when it is not a reply map."""
        try:
            m = msgpack.unpackb(payload, raw=False)
        except Exception as e:  # any malformed MessagePack
            raise ProtocolError(f"reply is not valid MessagePack: {e}") from None
        if not isinstance(m, dict):
            raise ProtocolError(f"reply is not a map but {type(m).__name__}")
        rid, ok = m.get("id"), m.get("ok")
        if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0 or not isinstance(ok, bool):
            raise ProtocolError(f"reply lacks a valid id or ok: {m!r:.200}")
        return cls(m)

    def raise_for_error(self) -> "Reply":
        """Returns self when ok, else raises the matching ServerError."""
        if not self.ok:
            raise ServerError(self.error_code or "internal", self.error_message or "", self.id)
        return self

    def __repr__(self) -> str:
        if not self.ok:
            return f"Reply(id={self.id}, ok=False, error={self.error_code}: {self.error_message})"
        fields = ", ".join(f"{k}={getattr(self, k)!r:.80}" for k in
                           ("model", "version", "labels", "outputs", "models", "status")
                           if getattr(self, k) is not None)
        return f"Reply(id={self.id}, ok=True, {fields})"


_Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def load_key_file(path: str) -> bytes:
    """The one Z85 key (40 characters) of a key file as `conveyor keys` writes it: a key is
    the first word of its line, optionally followed by a `#` comment; other lines starting
    with `#` are comments. Raises ValueError naming the file and line otherwise."""
    keys = []
    with open(path, encoding="ascii", errors="replace") as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words:
                continue
            word = words[0]
            if len(word) != 40:
                if word.startswith("#"):
                    continue
                raise ValueError(f"{path}:{n}: expected a key of 40 Z85 characters, found {len(word)}")
            if not set(word) <= _Z85:
                raise ValueError(f"{path}:{n}: not a Z85 key")
            if len(words) > 1 and not words[1].startswith("#"):
                raise ValueError(f"{path}:{n}: text after the key (a comment starts with #)")
            keys.append(word.encode("ascii"))
    if len(keys) != 1:
        raise ValueError(f"{path} holds {len(keys)} keys; it must hold exactly one")
    return keys[0]


class Client:
    """A protocol-v1 client over one ZeroMQ DEALER socket connected to `endpoint`.

    `timeout_ms` bounds every wait: a send that cannot be queued and a synchronous
    call's (or `receive()`'s) wait for a reply. Ids are chosen here, 1, 2, 3, ...
    """

    def __init__(self, endpoint: str, timeout_ms: int = 10_000, context: zmq.Context | None = None,
                 curve_server_key: bytes | str | None = None,
                 curve_secret_key: bytes | str | None = None):
        if (curve_server_key is None) != (curve_secret_key is None):
            raise ValueError("curve_server_key and curve_secret_key go together")
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
        if curve_server_key is not None:
            as_bytes = lambda k: k.encode("ascii") if isinstance(k, str) else k  # noqa: E731
            secret = as_bytes(curve_secret_key)
            self._sock.curve_serverkey = as_bytes(curve_server_key)
            self._sock.curve_secretkey = secret
            self._sock.curve_publickey = zmq.curve_public(secret)
        self._sock.connect(endpoint)
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._packer = msgpack.Packer(use_bin_type=True)
        self._ids = itertools.count(1)
        self._in_flight: set[int] = set()   # ids sent and not yet answered or abandoned
        self._ready: collections.OrderedDict[int, Reply] = collections.OrderedDict()
        self._orphans: collections.deque[Reply] = collections.deque()  # id-0 replies

    # ---- lifecycle ----
    def close(self) -> None:
        self._sock.close(linger=0)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_flight(self) -> int:
        """How many requests were sent and neither answered nor abandoned yet."""
        return len(self._in_flight)

    # ---- asynchronous API ----
    def send_predict(self, model: str, rows=None, tensor=None, version: int = 0,
                     deadline_ms: int | None = None, key: str | None = None) -> int:
        """Sends a predict request and returns its id. Give exactly one of `rows` (a
        sequence of rows of numbers; a numpy array is converted) or `tensor` (a 2-D
        numpy array, sent as little-endian float32 `tensor` bytes with its `shape`).
        `key`: which model of a fleet answers (a fleet needs one; a single model none)."""
        if (rows is None) == (tensor is None):
            raise ValueError("give exactly one of rows or tensor")
        req = {"op": "predict", "model": model}
        if version:
            req["version"] = int(version)
        if rows is not None:
            req["inputs"] = rows.tolist() if hasattr(rows, "tolist") else rows
        else:
            import numpy as np  # only the tensor path needs numpy
            t = np.ascontiguousarray(tensor, dtype="<f4")
            if t.ndim != 2:
                raise ValueError(f"tensor must be 2-D (rows x columns), got shape {t.shape}")
            req["tensor"] = t.tobytes()
            req["shape"] = [int(t.shape[0]), int(t.shape[1])]
        if deadline_ms is not None:
            req["deadline_ms"] = int(deadline_ms)
        if key is not None:
            req["key"] = str(key)
        return self._send(req)

    def send_models(self) -> int:
        """Sends a `models` request; returns its id."""
        return self._send({"op": "models"})

    def send_health(self) -> int:
        """Sends a `health` request; returns its id."""
        return self._send({"op": "health"})

    def receive(self, timeout_ms: int | None = None) -> Reply:
        """Returns the next reply to a request in flight (in arrival order, which need
        not be the send order), or a reply with id 0 (the server could not read some
        request). Raises TimeoutError when none arrives within the timeout, and
        RuntimeError when nothing is in flight or waiting."""
        if self._ready:
            return self._ready.popitem(last=False)[1]
        if self._orphans:
            return self._orphans.popleft()
        if not self._in_flight:
            raise RuntimeError("receive() with no request in flight")
        deadline = self._deadline(timeout_ms)
        while True:
            r = self._recv_one(deadline)
            if r.id in self._in_flight:
                self._in_flight.discard(r.id)
                return r
            if r.id == 0:
                return r
            # else: a late reply to an abandoned request; drop it

    # ---- synchronous API ----
    def predict(self, model: str, rows=None, tensor=None, version: int = 0,
                deadline_ms: int | None = None, timeout_ms: int | None = None,
                key: str | None = None) -> Reply:
        """Predicts and returns the ok Reply (`model`, `version`, `outputs`, `labels`);
        raises ServerError or TimeoutError."""
        rid = self.send_predict(model, rows=rows, tensor=tensor, version=version,
                                deadline_ms=deadline_ms, key=key)
        return self._wait_for(rid, timeout_ms)

    def models(self, timeout_ms: int | None = None) -> list:
        """The models served: a list of maps {name, version, inputs, outputs}."""
        return self._wait_for(self.send_models(), timeout_ms).models

    def health(self, timeout_ms: int | None = None) -> str:
        """The server's status string ("serving")."""
        return self._wait_for(self.send_health(), timeout_ms).status

    # ---- internals ----
    def _deadline(self, timeout_ms: int | None) -> float:
        return time.monotonic() + (self.timeout_ms if timeout_ms is None else timeout_ms) / 1000.0

    def _send(self, req: dict) -> int:
        rid = next(self._ids)
        req["id"] = rid
        try:
            self._sock.send(self._packer.pack(req), copy=False)
        except zmq.Again:
            raise TimeoutError(f"could not queue request {rid} to {self.endpoint} "
                               f"within {self.timeout_ms} ms") from None
        self._in_flight.add(rid)
        return rid

    def _recv_one(self, deadline: float) -> Reply:
        """Waits until `deadline` for one message and decodes it."""
        while True:
            left_ms = (deadline - time.monotonic()) * 1000.0
            if left_ms <= 0:
                raise TimeoutError(f"no reply from {self.endpoint} in time "
                                   f"({len(self._in_flight)} request(s) in flight)")
            if self._poller.poll(max(1, int(left_ms))):
                return Reply.decode(self._sock.recv())

    def _wait_for(self, rid: int, timeout_ms: int | None) -> Reply:
        """Waits for the reply to `rid`, keeping other replies for receive(). On
        timeout the request is abandoned. Raises ServerError for an error reply (and
        for an id-0 reply, which cannot be matched to any request)."""
        deadline = self._deadline(timeout_ms)
        try:
            while True:
                r = self._recv_one(deadline)
                if r.id == rid:
                    self._in_flight.discard(rid)
                    return r.raise_for_error()
                if r.id == 0:
                    r.raise_for_error()  # an unreadable-request error: surface it here
                    self._orphans.append(r)
                elif r.id in self._in_flight:
                    self._in_flight.discard(r.id)
                    self._ready[r.id] = r
        except TimeoutError:
            self._in_flight.discard(rid)
            raise TimeoutError(f"no reply to request {rid} from {self.endpoint} within "
                               f"{self.timeout_ms if timeout_ms is None else timeout_ms} ms") from None


# ---- command line ----

def _read_csv(path: str) -> list:
    """Rows of floats from a CSV file ('-' for stdin). A first line that is not all
    numbers is taken as a header and skipped; an empty cell is a missing value (NaN), which
    the server accepts only in columns the model imputes (bad_request elsewhere)."""
    import csv
    import sys

    f = sys.stdin if path == "-" else open(path, newline="")
    try:
        rows = []
        for n, rec in enumerate(csv.reader(f)):
            if not rec or all(not c.strip() for c in rec):
                continue
            try:
                rows.append([float(c) if c.strip() else float("nan") for c in rec])
            except ValueError:
                if n == 0 and not rows:
                    continue  # header
                raise SystemExit(f"{path}:{n + 1}: not a number in {rec!r:.120}")
        return rows
    finally:
        if f is not sys.stdin:
            f.close()


def main(argv=None) -> int:
    import argparse
    import sys

    p = argparse.ArgumentParser(description="conveyor inference protocol v1 client")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    p.add_argument("--timeout-ms", type=int, default=10_000)
    p.add_argument("--curve-server-key", help="CurveZMQ: the server's public key file")
    p.add_argument("--curve-secret-key", help="CurveZMQ: this client's secret key file")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("health", help="print the server's status")
    sub.add_parser("models", help="list the models served")
    pp = sub.add_parser("predict", help="predict the rows of a CSV file")
    pp.add_argument("--model", required=True)
    pp.add_argument("--csv", required=True, help="CSV of raw feature rows ('-' for stdin)")
    pp.add_argument("--version", type=int, default=0, help="pin a version (0: latest)")
    pp.add_argument("--deadline-ms", type=int, default=None)
    pp.add_argument("--key", default=None, help="a fleet's key (which model answers)")
    pp.add_argument("--tensor", action="store_true", help="send packed float32 (needs numpy)")
    a = p.parse_args(argv)
    if (a.curve_server_key is None) != (a.curve_secret_key is None):
        p.error("--curve-server-key and --curve-secret-key go together")
    curve = {}
    if a.curve_server_key:
        try:
            curve = {"curve_server_key": load_key_file(a.curve_server_key),
                     "curve_secret_key": load_key_file(a.curve_secret_key)}
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2

    with Client(a.endpoint, timeout_ms=a.timeout_ms, **curve) as c:
        try:
            if a.command == "health":
                print(c.health())
            elif a.command == "models":
                ms = c.models()
                print(f"{'name':<24} {'version':>7} {'inputs':>7} {'outputs':>7}")
                for m in ms:
                    print(f"{m.get('name')!s:<24} {m.get('version')!s:>7} "
                          f"{m.get('inputs')!s:>7} {m.get('outputs')!s:>7}")
            else:
                rows = _read_csv(a.csv)
                if a.tensor:
                    import numpy as np
                    r = c.predict(a.model, tensor=np.asarray(rows, dtype=np.float32),
                                  version=a.version, deadline_ms=a.deadline_ms, key=a.key)
                else:
                    r = c.predict(a.model, rows=rows, version=a.version, deadline_ms=a.deadline_ms,
                                  key=a.key)
                print(f"model {r.model} version {r.version}: {len(r.outputs)} row(s)")
                for i, out in enumerate(r.outputs):
                    label = f"label {r.labels[i]}  " if r.labels is not None else ""
                    print(f"{i}: {label}[{', '.join(f'{v:.6g}' for v in out)}]")
        except ServerError as e:
            print(f"error: {e.code}: {e.message}", file=sys.stderr)
            return 1
        except (TimeoutError, ProtocolError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
