"""Golden values for the SSVEP filter bank (models/ssvep/filter_test.go).

Run with Debian's SciPy:  /usr/bin/python3 gen_filter.py  (writes filter.json)

For each design: SciPy's cheby1 band-pass (the design MATLAB's designfilt
'bandpassiir' with 'cheby1' makes), its zero-phase gains in dB at a few
frequencies, and the zero-phase filtered output of a fixed random signal
with the padding MATLAB's filtfilt uses (odd reflection of 3 x filter order
samples; filtfilt for one section, sosfiltfilt for several).
"""
import json

import numpy as np
from scipy import signal

FS = 250.0
rng = np.random.default_rng(20240607)
x = rng.standard_normal(100)
x += 3.0  # a DC offset exercises the initial conditions

designs = []
for order, ripple, lo, hi in [(1, 1.0, 8, 90), (1, 1.0, 16, 90), (1, 1.0, 24, 90),
                              (3, 0.5, 8, 90), (4, 0.5, 14, 88), (2, 1.0, 30, 60)]:
    b, a = signal.cheby1(order, ripple, [lo, hi], btype="bandpass", fs=FS)
    sos = signal.cheby1(order, ripple, [lo, hi], btype="bandpass", fs=FS, output="sos")
    freqs = [1.0, 8.0, 10.0, 12.0, 15.8, 16.0, 24.0, 40.0, 60.0, 90.0, 110.0]
    _, h = signal.freqz(b, a, worN=freqs, fs=FS)
    gains = (40 * np.log10(np.abs(h))).tolist()
    padlen = 3 * 2 * order
    if order == 1:
        y = signal.filtfilt(b, a, x, padtype="odd", padlen=padlen)
    else:
        y = signal.sosfiltfilt(sos, x, padtype="odd", padlen=padlen)
    designs.append(dict(order=order, ripple=ripple, lo=lo, hi=hi,
                        b=b.tolist(), a=a.tolist(), freqs=freqs,
                        gains_db=gains, filtfilt=y.tolist()))

with open("filter.json", "w") as f:
    json.dump(dict(fs=FS, x=x.tolist(), designs=designs), f, indent=1)
