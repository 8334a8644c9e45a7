#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_request (fuzz/corpus/request/): a few valid requests of
each op (inference protocol v1) and a few malformed ones, as binary MessagePack files.
Run from anywhere: /usr/bin/python3 fuzz/make_request_corpus.py (needs python3-msgpack)"""
import os
import struct

import msgpack

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "request")


def tensor(rows):
    flat = [v for r in rows for v in r]
    return struct.pack("<%df" % len(flat), *flat)


def pack(obj, single_float=True):
    return msgpack.packb(obj, use_single_float=single_float, use_bin_type=True)


rows = [[0.0, 12.5, 255.0, 3.0], [1.0, -2.0, 0.25, 128.0]]
seeds = {
    "health": pack({"op": "health", "id": 1}),
    "models": pack({"op": "models", "id": 2}),
    "predict_inputs": pack({"op": "predict", "id": 3, "model": "fashion", "inputs": rows}),
    "predict_inputs_f64_ints": pack(
        {"op": "predict", "id": 4, "model": "m", "inputs": [[1, -2, 3.5], [4, 5, 6.25]]},
        single_float=False),
    "predict_tensor": pack({"op": "predict", "id": 5, "model": "fashion", "version": 3,
                            "deadline_ms": 250, "shape": [2, 4], "tensor": tensor(rows)}),
    "predict_unknown_keys": pack({"trace": {"a": [1, None]}, "op": "predict", "id": 6,
                                  "model": "m", "inputs": [[1.5]]}),
    "predict_key": pack({"op": "predict", "id": 12, "model": "stores", "key": "north",
                         "inputs": rows}),
    "predict_key_tensor": pack({"op": "predict", "id": 13, "model": "stores", "key": "s\u00fcd",
                                "version": 2, "shape": [2, 4], "tensor": tensor(rows)}),
    # malformed
    "key_not_a_string": pack({"op": "predict", "id": 14, "model": "stores", "key": 7,
                              "inputs": rows}),
    "key_too_long": pack({"op": "predict", "id": 15, "model": "stores", "key": "k" * 1025,
                          "inputs": [[1.0]]}),
    "not_a_map": pack([1, 2, 3]),
    "truncated": pack({"op": "predict", "id": 7, "model": "m", "inputs": rows})[:-5],
    "trailing": pack({"op": "health", "id": 8}) + b"\x00",
    "ragged": pack({"op": "predict", "id": 9, "model": "m", "inputs": [[1.0, 2.0], [3.0]]}),
    "shape_mismatch": pack({"op": "predict", "id": 10, "model": "m", "shape": [3, 4],
                            "tensor": tensor(rows)}),
    "too_many_rows": pack({"op": "predict", "id": 11, "model": "m", "inputs": [[1.0]] * 20}),
    "huge_header": b"\x84\xa2op\xa7predict\xa2id\x07\xa5model\xa1m\xa6inputs\xdd\xff\xff\xff\xff",
    "duplicate_key": b"\x83\xa2id\x01\xa2op\xa6health\xa2id\x02",
    # replies: the target runs the client's reply decoder on the same bytes
    "reply_prediction": pack({"id": 3, "ok": True, "model": "fashion", "version": 3,
                              "outputs": [[0.125, 0.875], [0.5, 0.5]], "labels": [1, 0]}),
    "reply_models": pack({"id": 2, "ok": True, "models": [
        {"name": "fashion", "version": 3, "inputs": 784, "outputs": 10}]}),
    "reply_error": pack({"id": 9, "ok": False,
                         "error": {"code": "unknown_model", "message": "no model named 'x'"}}),
}

os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name + ".msgpack"), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), here))
