#!/usr/bin/python3
"""Fits the polynomial coefficients of the vector math kernels (vmath_gen.go).

Run with Debian's Python (numpy and mpmath):
    /usr/bin/python3 internal/cpu/vmath_fit.py
It prints each table as float32 hex literals, the form vmath_gen.go holds.

Each fit is a near-minimax polynomial found by Lawson's iteratively
reweighted least squares on Chebyshev nodes, against mpmath at 40 digits.
The coefficients are then rounded to float32 one at a time, from the highest
degree down, refitting the lower ones after each rounding. The printed error
is that of the rounded polynomial evaluated in float64; the kernels' errors
in float32 (a few ulp) are measured by vmath_test.go.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def lawson(xs, fx, w, basis, iters=60):
    """Minimise max |w·(f − Σ c_k basis_k)|."""
    A = np.array([[b(x) for b in basis] for x in xs], dtype=float)
    lam = np.ones(len(xs)) / len(xs)
    c = None
    for _ in range(iters):
        sw = np.sqrt(lam) * w
        c, *_ = np.linalg.lstsq(A * sw[:, None], fx * sw, rcond=None)
        e = np.abs(w * (fx - A @ c))
        lam = lam * e
        lam /= lam.sum()
    return c


def f32(v):
    return float(np.float32(v))


def round_refit(xs, fx, w, basis):
    n = len(basis)
    coefs = [None] * n
    for k in range(n - 1, -1, -1):
        resid = fx.copy()
        for j in range(k + 1, n):
            resid -= coefs[j] * np.array([basis[j](x) for x in xs])
        c = lawson(xs, resid, w, basis[:k + 1])
        coefs[k] = f32(c[k])
    A = np.array([[b(x) for b in basis] for x in xs])
    return coefs, np.max(np.abs(w * (fx - A @ np.array(coefs))))


def cheb(a, b, m):
    k = np.arange(m)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / m)


def monomials(deg):
    return [lambda x, k=k: x ** k for k in range(deg + 1)]


def show(name, coefs, err):
    print("%s: max weighted error %.3g" % (name, err))
    print("    " + ", ".join('hexf("%s")' % float.hex(c) for c in coefs))


def fit_exp():
    """expP: (e^r − 1 − r)/r² on [−ln2/2, ln2/2], relative error."""
    a = float(mp.log(2) / 2)
    xs = cheb(-a, a, 400)
    fx = np.array([float((mp.exp(mp.mpf(x)) - 1 - x) / mp.mpf(x) ** 2) for x in xs])
    show("expP", *round_refit(xs, fx, 1 / np.abs(fx), monomials(4)))


def fit_tanh():
    """tanhT: (tanh x − x)/x³ in z = x² on [0, 0.625²], weighted to the
    relative error of tanh."""
    zs = cheb(1e-6, 0.625 ** 2, 400)
    fx = np.array([float((mp.tanh(mp.sqrt(z)) - mp.sqrt(z)) / mp.sqrt(z) ** 3) for z in zs])
    wt = np.array([float(z * mp.sqrt(z) / mp.tanh(mp.sqrt(z))) for z in zs])
    show("tanhT", *round_refit(zs, fx, wt, monomials(4)))


def fit_erf():
    """erfQ: erf(x)/x − 1 in z = x² on [0, 0.927734375²], relative to erf."""
    zs = cheb(1e-8, 0.927734375 ** 2, 400)
    r = [mp.erf(mp.sqrt(z)) / mp.sqrt(z) for z in zs]
    fx = np.array([float(v - 1) for v in r])
    show("erfQ", *round_refit(zs, fx, 1 / np.array([float(v) for v in r]), monomials(6)))


def fit_erfc():
    """erfcG: erfc(t)·t·e^(t²) for t in [0.927734375, 10.5], in
    v = erfcA·(1/t) + erfcB in [−1, 1] (A, B rounded to float32, v rounded
    as the kernel rounds it), relative error."""
    lo, hi = 0.927734375, 10.5
    ulo, uhi = 1 / hi, 1 / lo
    A = f32(2 / (uhi - ulo))
    B = f32(-(uhi + ulo) / (uhi - ulo))
    us = cheb(ulo, uhi, 600)
    vs = np.array([f32(f32(u) * A + B) for u in us])

    def G(u):
        t = 1 / mp.mpf(u)
        return mp.erfc(t) * t * mp.exp(t * t)
    fx = np.array([float(G(u)) for u in us])
    print("erfcA %s, erfcB %s" % (float.hex(A), float.hex(B)))
    show("erfcG", *round_refit(vs, fx, 1 / fx, monomials(11)))


def fit_log():
    """logL: (log(1+f) − f + f²/2)/f³ on [√½−1, √2−1], relative to log1p."""
    lo, hi = float(mp.sqrt(0.5) - 1), float(mp.sqrt(2) - 1)
    fs = cheb(lo, hi, 600)
    fs = fs[np.abs(fs) > 1e-7]
    fx = np.array([float((mp.log1p(mp.mpf(f)) - f + mp.mpf(f) ** 2 / 2) / mp.mpf(f) ** 3) for f in fs])
    wt = np.array([float(mp.mpf(f) ** 3 / mp.log1p(mp.mpf(f))) for f in fs])
    show("logL", *round_refit(fs, fx, np.abs(wt), monomials(7)))


if __name__ == "__main__":
    fit_exp()
    fit_tanh()
    fit_erf()
    fit_erfc()
    fit_log()
