#!/usr/bin/python3
"""The Python peer for the serving benchmark: a pyzmq + numpy inference server that
speaks conveyor's inference protocol v1 and serves one conveyor model file.

    python3 bench/serving/python_peer_server.py MODEL_FILE [--endpoint tcp://127.0.0.1:5556]
                                                [--model-name NAME] [--model-version N]

What it is meant to be: the straightforward, reasonably efficient way to serve the same
model from Python, to compare conveyor's server against. Each request is computed alone,
as soon as it is read (no batching across requests, one thread): the model's own
preprocessing on the raw columns, then the dense layers with numpy (BLAS) matmuls.
BLAS runs on one thread (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS
default to 1; set them to override): a one-row product gains nothing from more, and
idle BLAS threads spinning beside the server's own thread only take cores from it.
python_batching_peer.py serves the same model with requests batched.

Contracts:
- The model file is read per docs/model-format.md: the CRC-32 trailer is verified, the
  map decoded with duplicate keys rejected, the spec and weight count checked. Files the
  peer cannot serve (one_hot or categorical impute: categorical inputs have no place in
  a numeric request) are refused at start with a message and exit status 2.
- Requests and replies follow the protocol: predict with `inputs` or `tensor`+`shape`,
  models, health; `version` absent or 0 means the one version served (`--model-version`,
  default 1), any other value is `unknown_version`. Malformed requests get `ok: false`
  with `bad_request` (id 0 when no id could be read; ragged `inputs` rows, a zero in
  `shape` or a tensor whose size disagrees with its shape are malformed too), uniform
  rows of the wrong width `shape_mismatch`, more than `--max-rows` rows or
  `--max-bytes` bytes `too_large`; an unexpected failure while computing `internal`.
  The checks run in the C++ server's order: the request's form, then model and
  version, then width. Nothing a client sends stops the
  server or affects other clients.
- `deadline_ms` is validated; since nothing waits in a queue here (each request is
  computed when read), it never expires.
- Prints "ready" on stdout (flushed) once the socket is bound and the model loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib

for _blas_threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas_threads, "1")  # read when numpy loads BLAS, just below

import msgpack  # noqa: E402
import numpy as np  # noqa: E402
import zmq  # noqa: E402

# ---- the model file ----

TRAILER_PREFIX = b"\xa8checksum\xce"
TRAILER_BYTES = len(TRAILER_PREFIX) + 4
ELEMENTWISE_OPS = ("impute", "standardize", "min_max", "scale", "clip")
KNOWN_OPS = ELEMENTWISE_OPS + ("drop", "one_hot")
ACTIVATIONS = ("relu", "tanh", "sigmoid")


class ModelFileError(Exception):
    pass


def _no_duplicates(pairs):
    """object_pairs_hook: a map with a repeated key is an error, as in the C++ reader."""
    d = {}
    for k, v in pairs:
        if k in d:
            raise ModelFileError(f"duplicate key {k!r}")
        d[k] = v
    return d


def read_model_file(path: str) -> dict:
    """Reads, verifies and decodes a conveyor model file into its map (insertion-ordered
    as on disk). Raises ModelFileError with the reason."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ModelFileError("empty input")
    if len(data) < TRAILER_BYTES + 1 or data[-TRAILER_BYTES:-4] != TRAILER_PREFIX:
        raise ModelFileError("truncated or not a conveyor model (no checksum at the end)")
    if zlib.crc32(data[:-TRAILER_BYTES]) != int.from_bytes(data[-4:], "big"):
        raise ModelFileError("checksum mismatch")
    try:
        m = msgpack.unpackb(data, raw=False, object_pairs_hook=_no_duplicates)
    except ModelFileError:
        raise
    except Exception as e:
        raise ModelFileError(f"malformed MessagePack: {e}") from None
    if not isinstance(m, dict):
        raise ModelFileError("not a map")
    if m.get("format") != "conveyor-model":
        raise ModelFileError(f"not a conveyor model (format {m.get('format')!r})")
    for key in ("format_version", "kind", "spec", "classes", "input_columns", "feature_columns",
                "preprocessing", "metrics", "provenance", "weights", "checksum"):
        if key not in m:
            raise ModelFileError(f"missing key '{key}'")
    if list(m)[-1] != "checksum":
        raise ModelFileError("checksum is not the last key")
    if m["format_version"] != 1:
        raise ModelFileError(f"unsupported format_version {m['format_version']} (this peer reads 1)")
    return m


class Model:
    """A loaded model: raw input rows (float32, `input_width` columns) -> outputs.

    Preprocessing is compiled at load into vectorised stages: ops on different columns
    commute, so the k-th op of every column forms one level, and a level's ops of one
    kind run as one numpy expression over the columns they touch. Arithmetic is float32
    with the same formulas as data/apply_preprocessing.cpp and the C++ forward pass.
    """

    def __init__(self, m: dict):
        self.kind = m["kind"]
        if self.kind not in ("linear", "logistic", "softmax", "mlp"):
            raise ModelFileError(f"unknown model kind '{self.kind}'")
        spec = m["spec"]
        layers = [int(w) for w in spec["layers"]]
        if self.kind == "logistic" and len(layers) == 1:
            layers.append(1)
        if len(layers) < 2 or not all(1 <= w <= 1_000_000 for w in layers):
            raise ModelFileError(f"invalid spec: layers {layers}")
        self.layers = layers
        self.activation = spec.get("activation", "relu")
        if self.activation not in ACTIVATIONS:
            raise ModelFileError(f"unknown activation '{self.activation}'")
        task = spec.get("task", "classification")
        if self.kind == "linear":
            task = "regression"
        elif self.kind in ("logistic", "softmax"):
            task = "classification"
        self.classifier = task == "classification"
        self.classes = int(m["classes"])
        expected = (0 if not self.classifier else 2 if layers[-1] == 1 else layers[-1])
        if self.classes != expected:
            raise ModelFileError(f"classes is {self.classes}, the spec implies {expected}")

        # weights: per layer W (in x out, row-major) then b (out), little-endian float32
        w = m["weights"]
        if not isinstance(w, bytes) or len(w) % 4:
            raise ModelFileError("weights is not a float32 buffer")
        flat = np.frombuffer(w, dtype="<f4").astype(np.float32)  # native-order copy
        need = sum(i * o + o for i, o in zip(layers, layers[1:]))
        if flat.size != need:
            raise ModelFileError(f"weights hold {flat.size} floats, the spec implies {need}")
        if not np.isfinite(flat).all():
            raise ModelFileError("weights contain NaN or infinity")
        self.dense = []
        at = 0
        for i, o in zip(layers, layers[1:]):
            W = flat[at:at + i * o].reshape(i, o)
            at += i * o
            b = flat[at:at + o]
            at += o
            self.dense.append((W, b))

        self._compile_preprocessing(list(m["input_columns"]), list(m["feature_columns"]),
                                    list(m["preprocessing"]))
        self.output_width = layers[-1]

    def _compile_preprocessing(self, inputs, features, ops):
        if not inputs:  # as the C++ server: the feature names, or none at all
            inputs = list(features)
        if not inputs:  # no names: the raw row is the model's input
            if ops:
                raise ModelFileError("preprocessing ops but no input_columns")
            inputs = [str(i) for i in range(self.layers[0])]
        self.input_width = len(inputs)
        index = {}
        for i, name in enumerate(inputs):
            index.setdefault(name, i)  # first of duplicate names wins, as in C++
        present = list(inputs)  # column names after the ops so far (drop removes)
        per_column = {}         # raw column index -> its elementwise ops, in order
        for op in ops:
            kind, col = op.get("op"), op.get("column")
            if kind not in KNOWN_OPS:
                raise ModelFileError(f"unknown preprocessing op '{kind}'")
            if kind == "one_hot" or op.get("categories"):
                raise ModelFileError(f"{kind} on column '{col}': categorical inputs are not "
                                     "supported by the Python peer (numeric requests only)")
            if kind == "drop":
                if col in present:
                    present.remove(col)
                continue
            if col not in present:
                raise ModelFileError(f"preprocessing: column '{col}': not in the input")
            a, b = float(op.get("a", 0.0)), float(op.get("b", 0.0))
            per_column.setdefault(index[col], []).append((kind, a, b))

        # levels: the k-th op of each column; within a level, group by kind
        self.stages = []  # (kind, column indices or None for all, a vector, b vector)
        depth = max((len(v) for v in per_column.values()), default=0)
        for k in range(depth):
            groups = {}
            for c, seq in per_column.items():
                if k < len(seq):
                    kind, a, b = seq[k]
                    groups.setdefault(kind, []).append((c, a, b))
            for kind, entries in groups.items():
                entries.sort()
                cols = np.array([c for c, _, _ in entries], dtype=np.intp)
                a = np.array([e[1] for e in entries], dtype=np.float64)
                b = np.array([e[2] for e in entries], dtype=np.float64)
                if kind == "standardize":    # (x - mean) * float(1 / sd)
                    a, b = a, 1.0 / np.where(b > 0, b, 1.0)
                elif kind == "min_max":      # (x - lo) * float(1 / (hi - lo))
                    a, b = a, 1.0 / np.where(b > a, b - a, 1.0)
                whole = cols.size == self.input_width and (cols == np.arange(cols.size)).all()
                self.stages.append((kind, None if whole else cols,
                                    a.astype(np.float32), b.astype(np.float32)))

        if features:
            if len(features) != self.layers[0]:
                raise ModelFileError(f"{len(features)} feature columns for {self.layers[0]} model inputs")
            missing = [f for f in features if f not in present]
            if missing:
                raise ModelFileError(f"feature column '{missing[0]}' is not produced by the preprocessing")
            select = [index[f] for f in features]
        else:
            if len(present) != self.layers[0]:
                raise ModelFileError(f"{len(present)} columns after preprocessing for "
                                     f"{self.layers[0]} model inputs")
            select = [index[f] for f in present]
        self.select = None if select == list(range(self.input_width)) else np.array(select, np.intp)

    def predict(self, x: np.ndarray):
        """x: float32 (rows x input_width). Returns (outputs float32 rows x output_width,
        labels int array or None)."""
        if self.stages and not x.flags.writeable:
            x = x.copy()
        for kind, cols, a, b in self.stages:
            v = x if cols is None else x[:, cols]
            if kind == "scale":
                v = v * a
            elif kind in ("standardize", "min_max"):
                v = (v - a) * b
            elif kind == "clip":
                v = np.minimum(np.maximum(v, a), b)  # NaN stays NaN
            elif kind == "impute":
                v = np.where(np.isnan(v), a, v)
            if cols is None:
                x = v
            else:
                x[:, cols] = v
        if self.select is not None:
            x = x[:, self.select]
        last = len(self.dense) - 1
        for i, (W, b) in enumerate(self.dense):
            x = x @ W
            x += b
            if i < last:
                if self.activation == "relu":
                    np.maximum(x, 0.0, out=x)
                elif self.activation == "tanh":
                    np.tanh(x, out=x)
                else:
                    x = 1.0 / (1.0 + np.exp(-x))
        if not self.classifier:
            return x, None
        if self.output_width == 1:
            p = (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
            return p, (p[:, 0] >= 0.5).astype(np.int64)
        x -= x.max(axis=1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=1, keepdims=True)
        return x, x.argmax(axis=1)


# ---- the protocol ----

class RequestError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _is_uint(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 64


_NUMBER_TYPES = {int, float}


class Predict:
    """A checked predict request: its id and its rows (float32, model width)."""
    __slots__ = ("rid", "x")

    def __init__(self, rid, x):
        self.rid, self.x = rid, x


def error_reply(rid, code, message) -> dict:
    return {"id": rid, "ok": False, "error": {"code": code, "message": message}}


class Server:
    """Serves one Model under `name`/`version` on a ROUTER socket."""

    def __init__(self, model: Model, name: str, version: int, max_rows: int, max_bytes: int):
        self.model, self.name, self.version = model, name, version
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.packer = msgpack.Packer(use_bin_type=True, use_single_float=True)

    def handle(self, payload: bytes) -> dict:
        """One request message -> one reply map. Never raises."""
        request = self.decode(payload)
        if not isinstance(request, Predict):
            return request
        try:
            outputs, labels = self.model.predict(request.x)
        except Exception as e:  # a bug here must not take the server down
            return error_reply(request.rid, "internal", repr(e))
        return self.predict_reply(request.rid, outputs, labels)

    def decode(self, payload: bytes):
        """One request message -> a Predict to compute, or the reply map of any other
        request (models, health, every error). Never raises."""
        rid = 0
        try:
            try:
                req = msgpack.unpackb(payload, raw=False)
            except Exception as e:
                raise RequestError("bad_request", f"not a MessagePack message: {e}") from None
            if not isinstance(req, dict):
                raise RequestError("bad_request", "the request is not a map")
            if not _is_uint(req.get("id")):
                raise RequestError("bad_request", "missing or mistyped 'id' (an unsigned int)")
            rid = req["id"]
            if len(payload) > self.max_bytes:
                raise RequestError("too_large", f"{len(payload)} bytes, the limit is {self.max_bytes}")
            op = req.get("op")
            if op == "predict":
                return Predict(rid, self.predict_rows(req))
            if op == "models":
                return {"id": rid, "ok": True, "models": [
                    {"name": self.name, "version": self.version,
                     "inputs": self.model.input_width, "outputs": self.model.output_width}]}
            if op == "health":
                return {"id": rid, "ok": True, "status": "serving"}
            raise RequestError("bad_request", f"unknown op {op!r}" if op is not None else "missing 'op'")
        except RequestError as e:
            return error_reply(rid, e.code, e.message)
        except Exception as e:  # a bug here must not take the server down
            return error_reply(rid, "internal", repr(e))

    def predict_reply(self, rid: int, outputs, labels) -> dict:
        """The reply to predict `rid` from its rows' outputs (and labels, or None)."""
        reply = {"id": rid, "ok": True, "model": self.name, "version": self.version,
                 "outputs": outputs.tolist()}
        if labels is not None:
            reply["labels"] = labels.tolist()
        return reply

    def predict_rows(self, req: dict) -> np.ndarray:
        """The rows of predict request `req`, float32 (rows x model width); raises
        RequestError for a request the protocol refuses."""
        # Checks in the C++ server's order: the request's own form (bad_request,
        # too_large), then the model and version, then the column count.
        model = req.get("model")
        if not isinstance(model, str):
            raise RequestError("bad_request", "predict needs 'model' (a string)")
        version = req.get("version", 0)
        if not _is_uint(version):
            raise RequestError("bad_request", "'version' is not an unsigned int")
        if "deadline_ms" in req and not _is_uint(req["deadline_ms"]):
            raise RequestError("bad_request", "'deadline_ms' is not an unsigned int")
        has_inputs, has_tensor = "inputs" in req, "tensor" in req
        if has_inputs == has_tensor:
            raise RequestError("bad_request", "predict needs exactly one of 'inputs' or 'tensor'")
        if has_tensor:
            t, shape = req["tensor"], req.get("shape")
            if not isinstance(t, bytes):
                raise RequestError("bad_request", "'tensor' is not binary")
            if not (isinstance(shape, list) and len(shape) == 2 and all(_is_uint(s) for s in shape)):
                raise RequestError("bad_request", "'tensor' needs 'shape' [rows, cols]")
            rows, cols = shape
            if rows == 0 or cols == 0:
                raise RequestError("bad_request", "'shape' holds a zero")
            if rows > self.max_rows:
                raise RequestError("too_large", f"{rows} rows, the limit is {self.max_rows}")
            if rows * cols * 4 != len(t):
                raise RequestError("bad_request", f"'tensor' holds {len(t)} bytes, shape "
                                   f"[{rows}, {cols}] needs {rows * cols * 4}")
        else:
            if "shape" in req:
                raise RequestError("bad_request", "'shape' goes with 'tensor'")
            inputs = req["inputs"]
            if not isinstance(inputs, list) or not all(isinstance(r, list) for r in inputs):
                raise RequestError("bad_request", "'inputs' is not an array of rows")
            if not inputs or not inputs[0]:
                raise RequestError("bad_request", "'inputs' holds no values")
            if len(inputs) > self.max_rows:
                raise RequestError("too_large", f"{len(inputs)} rows, the limit is {self.max_rows}")
            cols = len(inputs[0])
            for i, r in enumerate(inputs):
                if len(r) != cols:  # ragged rows are malformed, not a width mismatch
                    raise RequestError("bad_request", f"inputs row {i} has {len(r)} values; "
                                       f"row 0 has {cols}")
                if not set(map(type, r)) <= _NUMBER_TYPES:
                    raise RequestError("bad_request", f"inputs row {i} holds a value that is not a number")
        if model != self.name:
            raise RequestError("unknown_model", f"no model named '{model}'")
        if version not in (0, self.version):
            raise RequestError("unknown_version", f"model '{model}' has no version {version}")
        width = self.model.input_width
        if cols != width:
            raise RequestError("shape_mismatch", f"model '{model}' version {self.version} takes rows "
                               f"of {width} values; got {cols}")
        if has_tensor:
            return np.frombuffer(t, dtype="<f4").reshape(rows, cols)
        return np.array(inputs, dtype=np.float32)

    def serve(self, endpoint: str) -> None:
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(endpoint)
        print("ready", flush=True)
        while True:
            frames = sock.recv_multipart()
            # DEALER: [identity, payload]; REQ: [identity, b"", payload]
            if len(frames) >= 3 and frames[1] == b"":
                envelope, body = frames[:2], frames[2:]
            else:
                envelope, body = frames[:1], frames[1:]
            if len(body) == 1:
                reply = self.handle(body[0])
            else:
                reply = {"id": 0, "ok": False, "error": {
                    "code": "bad_request", "message": f"a request is one message part, got {len(body)}"}}
            try:
                sock.send_multipart(envelope + [self.packer.pack(reply)], zmq.NOBLOCK)
            except zmq.Again:
                pass  # the client is gone or not reading: drop the reply, keep serving


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Python peer inference server (protocol v1)")
    p.add_argument("model_file")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5556")
    p.add_argument("--model-name", default=None, help="default: the file name without extension")
    p.add_argument("--model-version", type=int, default=1)
    p.add_argument("--max-rows", type=int, default=65536)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    a = p.parse_args(argv)
    name = a.model_name or os.path.splitext(os.path.basename(a.model_file))[0]
    try:
        model = Model(read_model_file(a.model_file))
    except (OSError, ModelFileError, KeyError, TypeError, ValueError) as e:
        print(f"python_peer_server: {a.model_file}: {e}", file=sys.stderr)
        return 2
    try:
        Server(model, name, a.model_version, a.max_rows, a.max_bytes).serve(a.endpoint)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
