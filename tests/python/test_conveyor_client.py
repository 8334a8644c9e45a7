"""Tests of examples/python/conveyor_client.py against a real inference server process.

Run from the repository root:

    /usr/bin/python3 -m unittest discover -s tests/python -v

By default the server is the Python peer (bench/serving/python_peer_server.py), started
on a free 127.0.0.1 port with tiny model files these tests write themselves (following
docs/model-format.md byte for byte, CRC-32 trailer included). To point the same tests at
another server, set CONVEYOR_TEST_SERVER to a command template; the placeholders
{model_path} {model_dir} {registry} {model_name} {endpoint} {port} are filled in
(the model is filed as REGISTRY/NAME/1.model), e.g.

    CONVEYOR_TEST_SERVER='build/conveyor run examples/serve.flow --set registry={registry} --set endpoint={endpoint}'

The server counts as started once it answers `health` with "serving". Tests that check
behaviour of the Python peer itself (its start-up refusals) are skipped then.
"""

from __future__ import annotations

import math
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import msgpack
import numpy as np
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))

from conveyor_client import Client, ServerError, load_key_file  # noqa: E402

PEER = os.path.join(ROOT, "bench", "serving", "python_peer_server.py")
SERVER_TEMPLATE = os.environ.get("CONVEYOR_TEST_SERVER")
CONVEYOR_BINARY = os.environ.get("CONVEYOR_BINARY")


# ---- the model file writer (docs/model-format.md, version 1) ----

def encode_model_file(*, kind, layers, weights, classes, input_columns, feature_columns,
                      preprocessing, activation="relu", task="classification", seed=1,
                      weight_decay=0.0, metrics=None, provenance=None) -> bytes:
    """The bytes of a conveyor model file: a 12-entry map (fixmap 0x8c) with the keys in
    the writer's order, `weights` as little-endian float32 bin, and the trailer
    a8 "checksum" ce + big-endian CRC-32 of every byte before it."""
    flat = np.ascontiguousarray(weights, dtype="<f4").ravel()
    need = sum(i * o + o for i, o in zip(layers, layers[1:]))
    assert flat.size == need, f"{flat.size} weights, the spec implies {need}"
    pk = msgpack.Packer(use_bin_type=True, use_single_float=False)
    entries = [
        ("format", "conveyor-model"),
        ("format_version", 1),
        ("kind", kind),
        ("spec", {"layers": [int(w) for w in layers], "activation": activation, "task": task,
                  "seed": int(seed), "weight_decay": float(weight_decay)}),
        ("classes", int(classes)),
        ("input_columns", list(input_columns)),
        ("feature_columns", list(feature_columns)),
        ("preprocessing", [{"op": op["op"], "column": op["column"], "a": float(op.get("a", 0.0)),
                            "b": float(op.get("b", 0.0)), "categories": list(op.get("categories", []))}
                           for op in preprocessing]),
        ("metrics", {k: float(v) for k, v in (metrics or {}).items()}),
        ("provenance", {"graph": "tests", "step": "writer", "data_source": "synthetic",
                        "created_unix": 1_700_000_000, "conveyor_version": "test",
                        **(provenance or {})}),
        ("weights", flat.tobytes()),
    ]
    body = bytearray(b"\x8c")  # fixmap, 12 entries: the 11 above and the checksum
    for key, value in entries:
        body += pk.pack(key)
        body += pk.pack(value)
    crc = zlib.crc32(bytes(body)) & 0xFFFFFFFF
    return bytes(body) + b"\xa8checksum\xce" + crc.to_bytes(4, "big")


def write_model_file(path: str, **fields) -> None:
    with open(path, "wb") as f:
        f.write(encode_model_file(**fields))


def reference_predict(m: dict, x) -> tuple[np.ndarray, np.ndarray | None]:
    """An independent float64 reading of the model semantics: preprocessing ops in order
    on the raw columns, feature_columns order, dense layers, softmax/sigmoid head."""
    x = np.array(x, dtype=np.float64)
    cols = list(m["input_columns"])
    for op in m["preprocessing"]:
        j = cols.index(op["column"])
        a, b, v = op.get("a", 0.0), op.get("b", 0.0), x[:, j]
        if op["op"] == "scale":
            v = v * a
        elif op["op"] == "standardize":
            v = (v - a) / b
        elif op["op"] == "min_max":
            v = (v - a) / (b - a)
        elif op["op"] == "clip":
            v = np.clip(v, a, b)
        elif op["op"] == "impute":
            v = np.where(np.isnan(v), a, v)
        x[:, j] = v
    if m["feature_columns"]:
        x = x[:, [cols.index(f) for f in m["feature_columns"]]]
    w = np.asarray(m["weights"], dtype=np.float64).ravel()
    layers, at = m["layers"], 0
    for k, (i, o) in enumerate(zip(layers, layers[1:])):
        W = w[at:at + i * o].reshape(i, o)
        b = w[at + i * o:at + i * o + o]
        at += i * o + o
        x = x @ W + b
        if k < len(layers) - 2:
            act = m.get("activation", "relu")
            x = np.maximum(x, 0) if act == "relu" else np.tanh(x) if act == "tanh" else 1 / (1 + np.exp(-x))
    if m["classes"] == 0:
        return x, None
    if layers[-1] == 1:
        p = 1 / (1 + np.exp(-x))
        return p, (p[:, 0] >= 0.5).astype(int)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p, p.argmax(axis=1)


# ---- the server process ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(model_path: str, model_name: str, endpoint: str, port: int) -> list[str]:
    """The command that serves `model_path` as `model_name` on `endpoint`: the Python peer,
    or CONVEYOR_TEST_SERVER's template when set."""
    if SERVER_TEMPLATE:
        return shlex.split(SERVER_TEMPLATE.format(
            model_path=model_path, model_dir=os.path.dirname(model_path),
            registry=os.path.dirname(os.path.dirname(model_path)), model_name=model_name,
            endpoint=endpoint, port=port))
    return [sys.executable, PEER, model_path, "--endpoint", endpoint, "--model-name", model_name]


class ServerProcess:
    """A server started by `command` and ready once `health` at `endpoint` answers
    "serving". `stop()` ends it (terminate, then kill) and is safe to call twice."""

    def __init__(self, command: list[str], endpoint: str, log_path: str, ready_timeout_s: float = 30.0):
        self.endpoint = endpoint
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with Client(self.endpoint, timeout_ms=200) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with status {self.proc.returncode}:\n{self.log()}")
                try:
                    if c.health() == "serving":
                        return
                except TimeoutError:
                    pass
        raise RuntimeError(f"server not serving after {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# ---- the models ----

# softmax 4 -> 3 over raw columns x0..x3, with one op of each elementwise kind
TINY = {
    "name": "tiny",
    "kind": "softmax",
    "layers": [4, 3],
    "classes": 3,
    "input_columns": ["x0", "x1", "x2", "x3"],
    "feature_columns": ["x0", "x1", "x2", "x3"],
    "preprocessing": [
        {"op": "scale", "column": "x0", "a": 0.5},
        {"op": "standardize", "column": "x1", "a": 1.5, "b": 2.0},
        {"op": "min_max", "column": "x2", "a": -1.0, "b": 3.0},
        {"op": "impute", "column": "x3", "a": 0.25},
        {"op": "clip", "column": "x3", "a": -1.0, "b": 1.0},
    ],
    "weights": np.concatenate([
        np.array([[1.0, -0.5, 0.25],
                  [-0.75, 0.5, 1.0],
                  [0.5, 1.5, -1.0],
                  [2.0, -1.0, 0.5]]).ravel(),   # W (4 x 3)
        [0.1, -0.2, 0.05],                      # b (3)
    ]).astype(np.float32),
    "activation": "relu",
    "task": "classification",
}

# mlp 3 -> 5 -> 1 (tanh hidden layer), a binary classifier: outputs P(class 1)
_rng = np.random.default_rng(7)
BINARY = {
    "name": "risk",
    "kind": "mlp",
    "layers": [3, 5, 1],
    "classes": 2,
    "input_columns": ["age", "income", "debt"],
    "feature_columns": ["age", "income", "debt"],
    "preprocessing": [{"op": "standardize", "column": "income", "a": 50.0, "b": 20.0}],
    "weights": _rng.normal(0, 1, size=3 * 5 + 5 + 5 * 1 + 1).astype(np.float32),
    "activation": "tanh",
    "task": "classification",
}


def model_fields(m: dict) -> dict:
    return {k: m[k] for k in ("kind", "layers", "weights", "classes", "input_columns",
                              "feature_columns", "preprocessing", "activation", "task")}


class ServedModelTest(unittest.TestCase):
    """Starts one server for the class, serving MODEL."""

    MODEL: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="conveyor-client-test-")
        cls.addClassCleanup(cls.tmp.cleanup)
        # Filed as a model registry holds it (REGISTRY/NAME/VERSION.model), so that
        # servers that read a registry (conveyor's inference actor) can serve it too.
        registry = os.path.join(cls.tmp.name, "registry")
        os.makedirs(os.path.join(registry, cls.MODEL["name"]))
        path = os.path.join(registry, cls.MODEL["name"], "1.model")
        write_model_file(path, **model_fields(cls.MODEL))
        port = free_port()
        endpoint = f"tcp://127.0.0.1:{port}"
        cls.server = ServerProcess(server_command(path, cls.MODEL["name"], endpoint, port),
                                   endpoint, os.path.join(cls.tmp.name, "server.log"))
        cls.addClassCleanup(cls.server.stop)
        cls.client = Client(endpoint, timeout_ms=5000)
        cls.addClassCleanup(cls.client.close)

    def assertOutputsMatch(self, reply, x):
        want, labels = reference_predict(self.MODEL, x)
        got = np.array(reply.outputs, dtype=np.float64)
        self.assertEqual(got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        if labels is not None:
            self.assertEqual(reply.labels, labels.tolist())


class SoftmaxModelTest(ServedModelTest):
    MODEL = TINY

    def rows(self, n, seed=0):
        return np.random.default_rng(seed).uniform(-3, 3, size=(n, 4)).astype(np.float32)

    def test_model_file_layout(self):
        data = encode_model_file(**model_fields(TINY))
        self.assertEqual(data[0], 0x8C)
        self.assertEqual(data[-14:-4], b"\xa8checksum\xce")
        self.assertEqual(int.from_bytes(data[-4:], "big"), zlib.crc32(data[:-14]))
        m = msgpack.unpackb(data, raw=False)
        self.assertEqual(list(m), ["format", "format_version", "kind", "spec", "classes",
                                   "input_columns", "feature_columns", "preprocessing", "metrics",
                                   "provenance", "weights", "checksum"])
        self.assertEqual(len(m["weights"]), 4 * (4 * 3 + 3))

    def test_health(self):
        self.assertEqual(self.client.health(), "serving")

    def test_models(self):
        ms = self.client.models()
        entry = next(m for m in ms if m["name"] == "tiny")
        self.assertEqual(entry["inputs"], 4)
        self.assertEqual(entry["outputs"], 3)
        self.assertIsInstance(entry["version"], int)
        self.assertGreaterEqual(entry["version"], 1)

    def test_predict_rows(self):
        rows = [[1, 2, 3, 4], [0.5, -1.25, 2.0, -0.5], [-3, 0, 0.0, 0.75]]  # ints and floats
        r = self.client.predict("tiny", rows=rows)
        self.assertTrue(r.ok)
        self.assertEqual(r.model, "tiny")
        latest = next(m for m in self.client.models() if m["name"] == "tiny")["version"]
        self.assertEqual(r.version, latest)
        self.assertOutputsMatch(r, rows)
        for out in r.outputs:
            self.assertAlmostEqual(sum(out), 1.0, places=5)

    def test_predict_tensor(self):
        x = self.rows(50, seed=1)
        r = self.client.predict("tiny", tensor=x)
        self.assertEqual(len(r.outputs), 50)
        self.assertOutputsMatch(r, x)

    def test_rows_and_tensor_agree(self):
        x = self.rows(5, seed=2)
        a = self.client.predict("tiny", rows=x.tolist())
        b = self.client.predict("tiny", tensor=x)
        self.assertEqual(a.outputs, b.outputs)
        self.assertEqual(a.labels, b.labels)

    def test_pinned_version(self):
        latest = next(m for m in self.client.models() if m["name"] == "tiny")["version"]
        r = self.client.predict("tiny", rows=[[1, 2, 3, 4]], version=latest)
        self.assertEqual(r.version, latest)

    def test_missing_value_is_imputed(self):
        r = self.client.predict("tiny", rows=[[1.0, 2.0, 3.0, math.nan], [1.0, 2.0, 3.0, 0.25]])
        self.assertEqual(r.outputs[0], r.outputs[1])
        self.assertOutputsMatch(r, [[1.0, 2.0, 3.0, math.nan], [1.0, 2.0, 3.0, 0.25]])

    def fresh_client(self) -> Client:
        """A client of its own, so that in-flight counts start at zero."""
        c = Client(self.server.endpoint, timeout_ms=5000)
        self.addCleanup(c.close)
        return c

    def test_many_requests_in_flight(self):
        c = self.fresh_client()
        x = self.rows(300, seed=3)
        sent = {}
        for i in range(300):
            if i % 3 == 0:
                rid = c.send_predict("tiny", rows=x[i:i + 1].tolist())
            else:
                rid = c.send_predict("tiny", tensor=x[i:i + 1])
            sent[rid] = i
        bad = c.send_predict("nope", rows=[[1, 2, 3, 4]])
        self.assertEqual(len(set(sent)), 300)
        self.assertEqual(c.in_flight, 301)
        seen = set()
        for _ in range(301):
            r = c.receive()
            self.assertNotIn(r.id, seen)
            seen.add(r.id)
            if r.id == bad:
                self.assertFalse(r.ok)
                self.assertEqual(r.error_code, "unknown_model")
                continue
            self.assertTrue(r.ok, r)
            i = sent[r.id]
            self.assertOutputsMatch(r, x[i:i + 1])
        self.assertEqual(seen, set(sent) | {bad})
        self.assertEqual(c.in_flight, 0)

    def test_sync_call_keeps_other_replies(self):
        c = self.fresh_client()
        a = c.send_predict("tiny", rows=[[1, 2, 3, 4]])
        b = c.send_predict("tiny", rows=[[4, 3, 2, 1]])
        self.assertEqual(c.health(), "serving")  # may read a's and b's replies first
        got = {c.receive().id, c.receive().id}
        self.assertEqual(got, {a, b})
        self.assertEqual(c.in_flight, 0)
        with self.assertRaises(RuntimeError):  # nothing left to receive
            c.receive()

    def test_unknown_model(self):
        with self.assertRaises(ServerError) as cm:
            self.client.predict("nope", rows=[[1.0]])
        self.assertEqual(cm.exception.code, "unknown_model")
        self.assertGreater(cm.exception.id, 0)
        self.assertTrue(cm.exception.message)

    def test_unknown_version(self):
        with self.assertRaises(ServerError) as cm:
            self.client.predict("tiny", rows=[[1, 2, 3, 4]], version=999_999)
        self.assertEqual(cm.exception.code, "unknown_version")

    def test_shape_mismatch(self):
        with self.assertRaises(ServerError) as cm:
            self.client.predict("tiny", rows=[[1, 2, 3]])
        self.assertEqual(cm.exception.code, "shape_mismatch")
        with self.assertRaises(ServerError) as cm:
            self.client.predict("tiny", rows=[[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]])
        self.assertEqual(cm.exception.code, "shape_mismatch")
        with self.assertRaises(ServerError) as cm:
            self.client.predict("tiny", tensor=np.zeros((2, 5), np.float32))
        self.assertEqual(cm.exception.code, "shape_mismatch")
        self.assertEqual(self.client.health(), "serving")

    def test_malformed_requests(self):
        """Raw DEALER messages: each gets a bad_request reply (id 0 when none could be
        read) and the server keeps serving."""
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 5000)
        sock.connect(self.server.endpoint)
        try:
            cases = [
                (b"\xc1", 0),                                                   # never-used byte
                (b"\x93\x01\x02", 0),                                           # truncated array
                (msgpack.packb([1, 2, 3]), 0),                                  # not a map
                (msgpack.packb({"op": "health"}), 0),                           # no id
                (msgpack.packb({"op": "health", "id": "x"}), 0),                # mistyped id
                (msgpack.packb({"id": 5}), 5),                                  # no op
                (msgpack.packb({"op": "explode", "id": 6}), 6),                 # unknown op
                (msgpack.packb({"op": "predict", "id": 7, "inputs": [[1, 2, 3, 4]]}), 7),  # no model
                (msgpack.packb({"op": "predict", "id": 8, "model": "tiny"}), 8),           # no rows
                (msgpack.packb({"op": "predict", "id": 9, "model": "tiny",
                                "inputs": [[1, 2, 3, 4]], "tensor": b"\0" * 16, "shape": [1, 4]}), 9),
                (msgpack.packb({"op": "predict", "id": 10, "model": "tiny", "tensor": b"\0" * 15,
                                "shape": [1, 4]}), 10),                         # short tensor
                (msgpack.packb({"op": "predict", "id": 11, "model": "tiny", "tensor": b"\0" * 16}), 11),
                (msgpack.packb({"op": "predict", "id": 12, "model": "tiny",
                                "inputs": [[1, 2, "x", 4]]}), 12),              # not a number
                (msgpack.packb({"op": "predict", "id": 13, "model": "tiny", "inputs": 3}), 13),
                (msgpack.packb({"op": "predict", "id": 14, "model": "tiny",
                                "inputs": [[1, 2, 3, 4], [1, 2, 3]]}), 14),     # ragged rows
                (msgpack.packb({"op": "predict", "id": 15, "model": "tiny", "tensor": b"",
                                "shape": [0, 4]}), 15),                         # zero rows
                (msgpack.packb({"op": "predict", "id": 16, "model": "tiny", "inputs": []}), 16),
                (msgpack.packb({"op": "predict", "id": 17, "model": "tiny",
                                "inputs": [[1, 2, 3, 4]], "shape": [1, 4]}), 17),  # shape w/o tensor
            ]
            for payload, want_id in cases:
                with self.subTest(payload=payload[:40]):
                    sock.send(payload)
                    reply = msgpack.unpackb(sock.recv(), raw=False)
                    self.assertIs(reply["ok"], False, reply)
                    self.assertEqual(reply["id"], want_id, reply)
                    self.assertEqual(reply["error"]["code"], "bad_request", reply)
                    self.assertIsInstance(reply["error"]["message"], str)
        finally:
            sock.close()
        self.assertEqual(self.client.health(), "serving")

    def test_req_socket(self):
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 5000)
        sock.connect(self.server.endpoint)
        try:
            sock.send(msgpack.packb({"op": "predict", "id": 42, "model": "tiny", "inputs": [[1, 2, 3, 4]]}))
            reply = msgpack.unpackb(sock.recv(), raw=False)
        finally:
            sock.close()
        self.assertEqual(reply["id"], 42)
        self.assertTrue(reply["ok"])
        want, labels = reference_predict(TINY, [[1, 2, 3, 4]])
        np.testing.assert_allclose(reply["outputs"], want, rtol=1e-5, atol=1e-6)


class BinaryMlpTest(ServedModelTest):
    MODEL = BINARY

    def test_predict_tensor(self):
        x = np.random.default_rng(4).normal([40, 50, 2], [10, 20, 2], size=(64, 3)).astype(np.float32)
        r = self.client.predict("risk", tensor=x)
        self.assertEqual(len(r.outputs[0]), 1)  # one column: P(class 1)
        self.assertOutputsMatch(r, x)
        self.assertTrue(set(r.labels) <= {0, 1})

    def test_models(self):
        entry = next(m for m in self.client.models() if m["name"] == "risk")
        self.assertEqual((entry["inputs"], entry["outputs"]), (3, 1))


class ClientWithoutServerTest(unittest.TestCase):
    def test_timeout(self):
        with Client(f"tcp://127.0.0.1:{free_port()}", timeout_ms=200) as c:
            start = time.monotonic()
            with self.assertRaises(TimeoutError):
                c.health()
            self.assertLess(time.monotonic() - start, 2.0)
            self.assertEqual(c.in_flight, 0)  # the timed-out request was abandoned

    def test_exactly_one_of_rows_or_tensor(self):
        with Client("tcp://127.0.0.1:1", timeout_ms=100) as c:
            with self.assertRaises(ValueError):
                c.send_predict("m")
            with self.assertRaises(ValueError):
                c.send_predict("m", rows=[[1.0]], tensor=np.zeros((1, 1), np.float32))


@unittest.skipUnless(CONVEYOR_BINARY, "needs CONVEYOR_BINARY (the conveyor executable)")
class CurveTest(unittest.TestCase):
    """CurveZMQ against conveyor's own server: keys from `conveyor keys`."""

    def test_listed_key_is_served_and_an_unlisted_one_gets_no_answer(self):
        with tempfile.TemporaryDirectory() as d:
            for name in ("server", "app", "stranger"):
                subprocess.run([CONVEYOR_BINARY, "keys", "--out", os.path.join(d, name)],
                               check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(d, "clients.txt"), "w") as f:
                f.write(load_key_file(os.path.join(d, "app.pub")).decode() + "  # the app\n")
            endpoint = f"tcp://127.0.0.1:{free_port()}"
            with open(os.path.join(d, "g.flow"), "w") as f:
                f.write(f'graph secure\nnode api = inference {{ endpoint = "{endpoint}", '
                        f'curve_secret_key_file = "{d}/server.key", '
                        f'curve_allowed_clients_file = "{d}/clients.txt" }}\n')
            server_key = load_key_file(os.path.join(d, "server.pub"))
            log = open(os.path.join(d, "log.txt"), "wb")
            proc = subprocess.Popen([CONVEYOR_BINARY, "run", os.path.join(d, "g.flow")],
                                    stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 30
                served = None
                with Client(endpoint, timeout_ms=200, curve_server_key=server_key,
                            curve_secret_key=load_key_file(os.path.join(d, "app.key"))) as c:
                    while served is None and time.monotonic() < deadline:
                        try:
                            served = c.health()
                        except TimeoutError:
                            pass
                self.assertEqual(served, "serving")
                with Client(endpoint, timeout_ms=500, curve_server_key=server_key,
                            curve_secret_key=load_key_file(os.path.join(d, "stranger.key"))) as c:
                    with self.assertRaises(TimeoutError):
                        c.health()
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                log.close()

    def test_a_malformed_key_file_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.key")
            with open(path, "w") as f:
                f.write("# comment\nshort\n")
            with self.assertRaisesRegex(ValueError, "bad.key:2:"):
                load_key_file(path)


class FleetKeyTest(unittest.TestCase):
    """The client sends a fleet's `key` only when given one, and passes `unknown_key` on
    (against a stand-in ROUTER that answers with the key it read as the model name)."""

    def test_key_is_sent_and_unknown_key_raised(self):
        import threading
        ctx = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        seen = []

        def serve():
            for _ in range(3):
                ident, payload = router.recv_multipart()
                req = msgpack.unpackb(payload, raw=False)
                seen.append(req)
                if req.get("key") == "nowhere":
                    reply = {"id": req["id"], "ok": False,
                             "error": {"code": "unknown_key", "message": "no model for 'nowhere'"}}
                else:
                    reply = {"id": req["id"], "ok": True, "model": req.get("key", "no key"),
                             "version": 1, "outputs": [[1.0]]}
                router.send_multipart([ident, msgpack.packb(reply, use_bin_type=True)])

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            with Client(f"tcp://127.0.0.1:{port}", timeout_ms=5000) as c:
                self.assertEqual(c.predict("stores", rows=[[1.0, 2.0]], key="north").model, "north")
                self.assertEqual(c.predict("stores", rows=[[1.0, 2.0]]).model, "no key")
                with self.assertRaises(ServerError) as cm:
                    c.predict("stores", rows=[[1.0, 2.0]], key="nowhere")
                self.assertEqual(cm.exception.code, "unknown_key")
            t.join(timeout=10)
            self.assertNotIn("key", seen[1])
            self.assertEqual(seen[0]["key"], "north")
        finally:
            router.close()


@unittest.skipIf(SERVER_TEMPLATE, "checks the Python peer's own start-up")
class PeerStartupTest(unittest.TestCase):
    def start(self, data: bytes):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.model")
            with open(path, "wb") as f:
                f.write(data)
            return subprocess.run([sys.executable, PEER, path, "--endpoint",
                                   f"tcp://127.0.0.1:{free_port()}"],
                                  capture_output=True, text=True, timeout=30)

    def test_corrupt_file_is_refused(self):
        data = bytearray(encode_model_file(**model_fields(TINY)))
        data[40] ^= 0x01
        p = self.start(bytes(data))
        self.assertEqual(p.returncode, 2)
        self.assertIn("checksum mismatch", p.stderr)

    def test_truncated_file_is_refused(self):
        p = self.start(encode_model_file(**model_fields(TINY))[:-3])
        self.assertEqual(p.returncode, 2)
        self.assertIn("no checksum at the end", p.stderr)


if __name__ == "__main__":
    unittest.main()
