#!/usr/bin/python3
"""Writes the safetensors files that nn's interop tests load.

Run with Debian's PyTorch (python3-torch):

    /usr/bin/python3 nn/testdata/gen_safetensors.py

The `safetensors` Python package is not needed: the format (an 8-byte
little-endian header length, a JSON header, raw little-endian data) is
written by hand below, the same way safetensors.torch.save_file lays it out.

Files (in nn/testdata/):

  mlp.safetensors      state_dict of Sequential(Linear(4,8), ReLU, Linear(8,3))
                       made with torch.manual_seed(0), as F32, with metadata
                       {"format": "pt"}
  mlp_f64.safetensors  the same state_dict as F64
  mlp_io.safetensors   "input" (5×4, randn) and "output" (the model's output
                       on it, computed in float32)
  dtypes.safetensors   one small tensor in each of F16, BF16, F64, I64, BOOL,
                       plus "<name>.expect": its value converted to float32 by
                       torch, as F32
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: take the upper halves of the float32 bits.
        return (t.float().view(torch.int32) >> 16).to(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().tobytes()  # native order, little-endian (checked in main)


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} in safetensors format, in dict order."""
    header = {}
    blobs = []
    off = 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def main():
    assert sys.byteorder == "little", "safetensors data is little-endian; run on a little-endian machine"
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = model(x)
    sd = model.state_dict()
    save_file(dict(sd), os.path.join(HERE, "mlp.safetensors"), {"format": "pt"})
    save_file({k: v.double() for k, v in sd.items()}, os.path.join(HERE, "mlp_f64.safetensors"))
    save_file({"input": x, "output": y}, os.path.join(HERE, "mlp_io.safetensors"))

    vals = torch.tensor([0.0, -1.5, 3.14159, 65504.0, 1e-7, -2.5e-5, 1e10, 0.1])
    small = torch.tensor([[1.0, -0.333], [2.0e-8, 7.5]])
    cases = {
        "f16": vals.clamp(-65504, 65504).half(),
        "bf16": vals.bfloat16(),
        "f64": torch.tensor([1.0 / 3, -2.0e-40, 1e30, 123456.789], dtype=torch.float64),
        "f16_2d": small.half(),
        "i64": torch.tensor([0, -7, 1 << 20, 3], dtype=torch.int64),
        "bool": torch.tensor([True, False, True]),
    }
    out = {}
    for name, t in cases.items():
        out[name] = t
        out[name + ".expect"] = t.float()
    save_file(out, os.path.join(HERE, "dtypes.safetensors"))
    print("wrote", ", ".join(["mlp.safetensors", "mlp_f64.safetensors", "mlp_io.safetensors", "dtypes.safetensors"]))


if __name__ == "__main__":
    main()
