#!/usr/bin/python3
"""Reads a genforge .gf file with numpy + json + struct only (no genforge, no safetensors package), printing
its kind, options and every tensor: proves the format is plain safetensors. Used by tests/model_file_test.cpp."""
import json
import struct
import sys

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def main(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__")
    data = blob[8 + n:]
    print("kind", meta["kind"])
    print("options", json.dumps(json.loads(meta["options"])))
    for name in sorted(header):
        e = header[name]
        b, en = e["data_offsets"]
        arr = np.frombuffer(data[b:en], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")).reshape(e["shape"])
        print(name, arr.dtype, list(arr.shape), arr.ravel().tolist())


if __name__ == "__main__":
    main(sys.argv[1])
