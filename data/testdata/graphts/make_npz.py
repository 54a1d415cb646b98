"""Writes readings.npz and bad.npz for data/graphts_test.go.

Standard library only (no NumPy needed): the .npy files are written in
NumPy's format 1.0 byte for byte as np.save does (magic, version, a
little-endian header length, the header dict padded with spaces to a
multiple of 64 bytes and ended by a newline, then the raw C-order data).
np.load reads them back unchanged. Run: python3 make_npz.py
"""
import struct
import zipfile


def npy(descr, shape, values, fortran=False):
    fmt = {"<f4": "<f", "<f8": "<d", "<i8": "<q", "<i4": "<i", "|u1": "B", ">f4": ">f"}[descr]
    shape_s = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape_s)
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    out = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")
    return out + b"".join(struct.pack(fmt, v) for v in values)


# Readings of 3 sensors over 6 steps, [T, N, 1], zeros where missing.
T, N = 6, 3
speeds = [60.0, 0.0, 55.5,
          61.0, 40.0, 0.0,
          0.0, 41.5, 54.0,
          62.5, 42.0, 53.0,
          63.0, 0.0, 52.5,
          64.0, 44.0, 51.0]
with zipfile.ZipFile("readings.npz", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("data.npy", npy("<f4", (T, N, 1), speeds))
    z.writestr("speeds64.npy", npy("<f8", (T, N), speeds))
    z.writestr("ids.npy", npy("<i8", (N,), [773869, 767541, 767542]))
    z.writestr("small.npy", npy("<i4", (2, 2), [-1, 2, -3, 4]))
    z.writestr("bytes.npy", npy("|u1", (3,), [0, 128, 255]))
with zipfile.ZipFile("bad.npz", "w", zipfile.ZIP_STORED) as z:
    z.writestr("fortran.npy", npy("<f4", (2, 2), [1, 2, 3, 4], fortran=True))
    z.writestr("big.npy", npy(">f4", (2,), [1, 2]))
