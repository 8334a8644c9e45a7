#!/usr/bin/python3
"""The batching Python peer for the serving benchmark: the same model, protocol and
checks as python_peer_server.py, with requests batched across clients.

    python3 bench/serving/python_batching_peer.py MODEL_FILE [--endpoint tcp://127.0.0.1:5556]
                                                  [--model-name NAME] [--model-version N]
                                                  [--max-batch ROWS]

What it is meant to be: the best a careful Python team would write without leaving
Python: one thread, a ROUTER loop that waits for a request, then drains every request
already queued (up to --max-batch rows, default 256), decodes and checks each, stacks
the rows of the valid predicts into one float32 array, runs the model once (one numpy
matmul chain) and answers each request with its own rows. Nothing waits for more
requests to arrive: a batch is what came in while the previous one was computed, so a
lone request is answered at once. BLAS runs on one thread by default, as in
python_peer_server.py (OPENBLAS_NUM_THREADS and the like override it).

Contracts as in python_peer_server.py, plus: a request whose rows alone exceed
--max-batch is computed in a batch of its own; if computing a batch fails, each of its
requests gets `internal`. Prints "ready" on stdout once the socket is bound.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# Sets the BLAS thread defaults before numpy loads.
from python_peer_server import Model, ModelFileError, Predict, Server, error_reply, read_model_file  # noqa: E402

import numpy as np  # noqa: E402
import zmq  # noqa: E402


def split_envelope(frames):
    """ROUTER frames -> (envelope, body parts). DEALER: [identity, payload]; REQ:
    [identity, b"", payload]."""
    if len(frames) >= 3 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]


class BatchingServer(Server):
    def __init__(self, *args, max_batch: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_batch = max_batch

    def serve(self, endpoint: str) -> None:
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(endpoint)
        print("ready", flush=True)
        pack = self.packer.pack

        def send(envelope, reply):
            try:
                sock.send_multipart(envelope + [pack(reply)], zmq.NOBLOCK)
            except zmq.Again:
                pass  # the client is gone or not reading: drop the reply, keep serving

        while True:
            batch, rows = [], 0  # (envelope, Predict)
            frames = sock.recv_multipart()
            while True:
                envelope, body = split_envelope(frames)
                if len(body) != 1:
                    send(envelope, error_reply(0, "bad_request",
                                               f"a request is one message part, got {len(body)}"))
                else:
                    request = self.decode(body[0])
                    if isinstance(request, Predict):
                        batch.append((envelope, request))
                        rows += request.x.shape[0]
                    else:
                        send(envelope, request)
                if rows >= self.max_batch:
                    break
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
            if batch:
                self.compute(batch, send)

    def compute(self, batch, send) -> None:
        """Runs the model once over every row of `batch` and answers each request."""
        try:
            x = batch[0][1].x if len(batch) == 1 else np.concatenate([r.x for _, r in batch])
            outputs, labels = self.model.predict(x)
        except Exception as e:  # a bug here must not take the server down
            for envelope, r in batch:
                send(envelope, error_reply(r.rid, "internal", repr(e)))
            return
        at = 0
        for envelope, r in batch:
            n = r.x.shape[0]
            send(envelope, self.predict_reply(r.rid, outputs[at:at + n],
                                              None if labels is None else labels[at:at + n]))
            at += n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="batching Python peer inference server (protocol v1)")
    p.add_argument("model_file")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5556")
    p.add_argument("--model-name", default=None, help="default: the file name without extension")
    p.add_argument("--model-version", type=int, default=1)
    p.add_argument("--max-rows", type=int, default=65536)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    p.add_argument("--max-batch", type=int, default=256, help="rows drained into one batch")
    a = p.parse_args(argv)
    if a.max_batch < 1:
        p.error("--max-batch must be >= 1")
    name = a.model_name or os.path.splitext(os.path.basename(a.model_file))[0]
    try:
        model = Model(read_model_file(a.model_file))
    except (OSError, ModelFileError, KeyError, TypeError, ValueError) as e:
        print(f"python_batching_peer: {a.model_file}: {e}", file=sys.stderr)
        return 2
    try:
        BatchingServer(model, name, a.model_version, a.max_rows, a.max_bytes,
                       max_batch=a.max_batch).serve(a.endpoint)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
