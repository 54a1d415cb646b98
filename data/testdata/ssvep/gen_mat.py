"""Small MAT-files for data/mat_test.go and data/ssvep_test.go.

Run with Debian's SciPy:  /usr/bin/python3 gen_mat.py

benchmark/S1.mat, S2.mat: the Tsinghua Benchmark layout, a variable `data`
    of size [64, 4, 40, 6] (channels, samples, targets, blocks; the real
    files have 1500 samples). The nine channels of Guney et al. (0-based
    47 53 54 55 56 57 60 61 62) hold codes, every other channel 0:
    value(c, t, k, b) = subject*100000 + ((b*40 + k)*4 + t)*9 + i + 1 with
    i the channel's position among the nine.
beta/S1.mat: the BETA layout, a struct `data` with EEG [64, 5, 4, 40]
    (channels, samples, blocks, targets; the real files have 750 or 1000
    samples) coded as ((k*4 + b)*5 + t)*9 + i + 1, and suppl_info with
    sub, age, gender, chan (a 64x4 cell: index, x, y, name), freqs,
    phases, bci_quotient, wide_snr, narrow_snr and srate.
misc.mat / misc_v6.mat: every supported kind of array, compressed (-v7)
    and uncompressed (-v6).
complex.mat, sparse.mat: unsupported content, for the error messages.
"""
import os

import numpy as np
from scipy import io, sparse

CH = [47, 53, 54, 55, 56, 57, 60, 61, 62]
os.makedirs("benchmark", exist_ok=True)
os.makedirs("beta", exist_ok=True)

for subject in (1, 2):
    d = np.zeros((64, 4, 40, 6))
    for b in range(6):
        for k in range(40):
            for t in range(4):
                for i, c in enumerate(CH):
                    d[c, t, k, b] = subject * 100000 + ((b * 40 + k) * 4 + t) * 9 + i + 1
    io.savemat(f"benchmark/S{subject}.mat", {"data": d}, do_compression=True)

eeg = np.zeros((64, 5, 4, 40))
for k in range(40):
    for b in range(4):
        for t in range(5):
            for i, c in enumerate(CH):
                eeg[c, t, b, k] = ((k * 4 + b) * 5 + t) * 9 + i + 1
chan = np.empty((64, 4), dtype=object)
for c in range(64):
    chan[c, 0] = float(c + 1)
    chan[c, 1] = 0.5
    chan[c, 2] = -0.25
    chan[c, 3] = f"CH{c + 1}"
for i, name in enumerate(["PZ", "PO3", "PO5", "PO4", "PO6", "POZ", "O1", "OZ", "O2"]):
    chan[CH[i], 3] = name
freqs = np.array([8.6 + 0.2 * k for k in range(40)])
phases = np.array([(k % 4) * np.pi / 2 for k in range(40)])
suppl = {"sub": "S1", "age": 25.0, "gender": "male", "chan": chan,
         "freqs": freqs.reshape(1, 40), "phases": phases.reshape(1, 40),
         "bci_quotient": 0.5, "wide_snr": -12.5, "narrow_snr": 1.5, "srate": 250.0}
io.savemat("beta/S1.mat", {"data": {"EEG": eeg, "suppl_info": suppl}}, do_compression=True)

cell = np.empty((1, 3), dtype=object)
cell[0, 0] = 1.5
cell[0, 1] = "abc"
cell[0, 2] = np.array([[1.0, 2.0, 3.0]])
sarr = np.zeros((1, 2), dtype=[("a", object), ("b", object)])
sarr[0, 0] = (1.0, "x")
sarr[0, 1] = (np.array([[2.0, 3.0]]), "yz")
misc = {
    "dbl": np.arange(6, dtype=np.float64).reshape(2, 3) + 0.5,  # [[0.5 1.5 2.5] [3.5 4.5 5.5]]
    "sgl": np.array([[1.25, -2.5]], dtype=np.float32),
    "i16": np.array([[-3, 7, 300]], dtype=np.int16),
    "u8": np.array([[1, 2, 255]], dtype=np.uint8),
    "i64": np.array([[-(2**40)]], dtype=np.int64),
    "flag": np.array([[True, False, True]]),
    "scalar": 42.0,
    "txt": "héllo",
    "chars": np.array(["ab", "cd"]),
    "cel": cell,
    "st": {"x": 1.0, "inner": {"y": np.array([[4.0, 5.0]]), "name": "deep"}},
    "sarr": sarr,
    "empty": np.zeros((0, 0)),
    "cube": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
}
io.savemat("misc.mat", misc, do_compression=True)
io.savemat("misc_v6.mat", misc, do_compression=False)
io.savemat("complex.mat", {"ok": 1.0, "z": np.array([[1 + 2j, 3 - 1j]])}, do_compression=True)
io.savemat("sparse.mat", {"sp": sparse.csc_matrix(np.eye(3))}, do_compression=False)
