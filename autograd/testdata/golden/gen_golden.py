# Regenerate with: /usr/bin/python3 autograd/testdata/golden/gen_golden.py
#
# Golden values for autograd/golden_test.go: every differentiable op of
# deepgo's autograd package checked against PyTorch (Debian's python3-torch),
# forward values and gradients. The script writes ops.json beside itself; the
# Go test reads it and never needs Python.
#
# For each case the file holds the op's name as the Go test's table knows it,
# its parameters, the inputs (shape + float32 values, and whether each is
# differentiable), the outputs, a seeded upstream gradient per output, and the
# gradient of each differentiable input of loss = sum_i sum(out_i * upstream_i).
#
# Inputs and upstream gradients are float32 values (rounded to 3 decimals where
# that keeps the file small; such values are still exact float32s). The
# reference is computed by torch in float64 from those very float32 values and
# rounded to float32 only when written: float64 is the more accurate truth, so
# the test measures deepgo's float32 error alone. Inputs keep away from the
# points where an op is not differentiable (|x| away from 0 for abs/relu,
# positive bases for log/sqrt/rsqrt/pow, distinct values for max/min/argmax,
# values away from clamp bounds and softplus thresholds). A few cases named
# *_ties, *_at_zero, *_at_bounds and pow_int_exponents sit on such points on
# purpose: they pin down that deepgo follows torch's conventions there.
#
# Tensor encoding in ops.json: {"shape": [...], "data": [...]} with the
# shortest decimal that rounds to each float32 (parse it as float32), or for
# large tensors "b64" (little-endian float32 bytes, base64), "expand" (a
# tensor with size-1 dims to broadcast to shape) when constant along some
# axes, or "index" + "values" when zero but at a few flat indices; "fill" when
# every element has one value; {"ref": name} for a tensor of the top-level
# "tensors" table that several cases share.

import base64
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20240611)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ops.json")
B64_MIN = 256  # tensors with at least this many elements are stored compactly

cases = []
shared = {}


# ---------------------------------------------------------------- inputs


def q(x, decimals=3):
    """Round a float32 tensor to a few decimals (exact float32s, short text)."""
    s = 10.0 ** decimals
    return (torch.round(x * s) / s).to(torch.float32)


def randn(*shape, scale=1.0, decimals=3):
    return q(torch.randn(list(shape), dtype=torch.float32) * scale, decimals)


def uniform(shape, lo, hi, decimals=3):
    return q(torch.rand(list(shape), dtype=torch.float32) * (hi - lo) + lo, decimals)


def away(shape, points, margin, gen):
    """Values from gen(shape), redrawn until every one is at least margin
    from each of points."""
    x = gen(shape)
    for _ in range(1000):
        bad = torch.zeros(x.shape, dtype=torch.bool)
        for p in points:
            bad |= (x - p).abs() < margin
        if not bad.any():
            return x
        x = torch.where(bad, gen(shape), x)
    raise RuntimeError("could not draw values away from %r" % (points,))


def nonzero(*shape, scale=1.0):
    return away(list(shape), [0.0], 0.05, lambda s: randn(*s, scale=scale))


def signed(*shape, lo=0.5, hi=2.0):
    """Magnitudes in [lo, hi] with random signs (a safe divisor)."""
    mag = uniform(list(shape), lo, hi)
    sign = torch.where(torch.rand(list(shape)) < 0.5, -1.0, 1.0)
    return (mag * sign).to(torch.float32)


def distinct(*shape, scale=1.0):
    """Normal values, all different (no ties for max/min/argmax)."""
    for _ in range(1000):
        x = randn(*shape, scale=scale)
        if x.numel() == len(set(x.flatten().tolist())):
            return x
    raise RuntimeError("could not draw distinct values")


# ---------------------------------------------------------------- encoding


def f32(v):
    s = str(np.float32(v))
    if s in ("inf", "-inf", "nan"):
        raise ValueError("non-finite value in golden data")
    if s.endswith(".0"):
        s = s[:-2]
    return s


def enc_tensor(t):
    a = np.asarray(t.detach().to(torch.float64).numpy(), dtype=np.float32)
    d = {"shape": list(a.shape)}
    flat = a.reshape(-1)
    if flat.size > 1 and np.all(flat == flat[0]):
        d["fill"] = RawNum(f32(flat[0]))
        return d
    if flat.size >= B64_MIN:
        # Constant along some axes (the gradient of a reduction): store the
        # slice and let the reader broadcast it back.
        const = [i for i in range(a.ndim) if a.shape[i] > 1 and np.all(a == a.take([0], axis=i))]
        if const:
            small = a[tuple(slice(0, 1) if i in const else slice(None) for i in range(a.ndim))]
            assert np.array_equal(np.broadcast_to(small, a.shape), a)
            d["expand"] = enc_tensor(torch.from_numpy(np.ascontiguousarray(small)))
            return d
    if flat.size >= B64_MIN and np.count_nonzero(flat) * 10 < flat.size:
        nz = np.nonzero(flat)[0]
        d["index"] = [int(i) for i in nz]
        d["values"] = RawList([f32(v) for v in flat[nz]])
    elif flat.size >= B64_MIN:
        d["b64"] = base64.b64encode(flat.astype("<f4").tobytes()).decode("ascii")
    else:
        d["data"] = RawList([f32(v) for v in flat])
    return d


class RawNum(str):
    pass


class RawList(list):
    pass


def dump(o):
    if isinstance(o, RawNum):
        return str(o)
    if isinstance(o, RawList):
        return "[" + ",".join(o) + "]"
    if isinstance(o, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(v) for k, v in o.items()) + "}"
    if isinstance(o, (list, tuple)):
        return "[" + ",".join(dump(v) for v in o) + "]"
    if isinstance(o, float):
        return f32(o)
    return json.dumps(o)


# ---------------------------------------------------------------- cases


def add(name, op, params, inputs, fn, grad=None, backward=True):
    """Record one case.

    inputs: float32 tensors, or names of shared tensors.
    fn: maps float64 torch tensors (inputs, in order) to one tensor or a list.
    grad: which inputs are differentiable (default all, when backward).
    """
    if any(c["name"] == name for c in cases):
        raise ValueError("duplicate case name " + name)
    xs = [shared[x] if isinstance(x, str) else x for x in inputs]
    for x in xs:
        assert x.dtype == torch.float32
    if grad is None:
        grad = [backward] * len(xs)
    xs64 = [x.to(torch.float64).requires_grad_(g) for x, g in zip(xs, grad)]
    out = fn(*xs64)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    outs = [o if o.is_floating_point() else o.to(torch.float64) for o in outs]
    case = {"name": name, "op": op}
    if params:
        case["params"] = params
    enc_in = []
    for x, src, g in zip(xs, inputs, grad):
        e = {"ref": src} if isinstance(src, str) else enc_tensor(x)
        if g:
            e["grad"] = True
        enc_in.append(e)
    case["inputs"] = enc_in
    case["outputs"] = [enc_tensor(o) for o in outs]
    if backward:
        ups = [randn(*o.shape) for o in outs]
        loss = sum((o * u.to(torch.float64)).sum() for o, u in zip(outs, ups))
        gs = torch.autograd.grad(loss, [x for x, g in zip(xs64, grad) if g], allow_unused=True)
        gs = list(gs)
        grads = []
        for x, g in zip(xs64, grad):
            if not g:
                grads.append(None)
                continue
            gi = gs.pop(0)
            grads.append(enc_tensor(gi if gi is not None else torch.zeros_like(x)))
        case["upstream"] = [enc_tensor(u) for u in ups]
        case["grads"] = grads
    cases.append(case)


def all_axes(x):
    return tuple(range(x.dim()))


def axes_or_all(x, axes):
    return tuple(axes) if axes else all_axes(x)


# ---- binary elementwise ops, with broadcasting and 0-D operands

BCAST = [
    ("same", [2, 3, 4], [2, 3, 4]),
    ("b31", [2, 3, 4], [3, 1]),
    ("a4", [4], [2, 3, 4]),
    ("both", [2, 1, 4], [3, 1]),
    ("mid", [2, 3, 4], [2, 1, 4]),
    ("scalar_b", [2, 3, 4], []),
    ("scalar_a", [], [3, 1]),
    ("scalars", [], []),
]


def binary_inputs(op, sa, sb):
    if op == "Div":
        return randn(*sa), signed(*sb)
    if op == "Pow":
        return uniform(sa, 0.5, 2.0), uniform(sb, -2.0, 2.0)
    if op in ("Maximum", "Minimum"):
        for _ in range(1000):
            a, b = randn(*sa), randn(*sb)
            if ((a - b).abs() > 1e-2).all():
                return a, b
        raise RuntimeError("ties")
    return randn(*sa), randn(*sb)


BINARY = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / b,
    "Pow": lambda a, b: torch.pow(a, b),
    "Maximum": torch.maximum,
    "Minimum": torch.minimum,
}
for op, fn in BINARY.items():
    for tag, sa, sb in BCAST:
        a, b = binary_inputs(op, sa, sb)
        add("%s_%s" % (op.lower(), tag), op, None, [a, b], fn)

# Only some inputs differentiable: the others must get no gradient at all.
add("mul_grad_b_only", "Mul", None, [randn(2, 3, 4), randn(3, 1)], BINARY["Mul"], grad=[False, True])
add("div_grad_b_only", "Div", None, [randn(2, 3, 4), signed(4)], BINARY["Div"], grad=[False, True])
add("div_grad_a_only", "Div", None, [randn(3, 1), signed(2, 3, 4)], BINARY["Div"], grad=[True, False])
add("pow_grad_b_only", "Pow", None, [uniform([2, 3, 4], 0.5, 2.0), uniform([4], -2.0, 2.0)], BINARY["Pow"], grad=[False, True])
add("pow_grad_a_only", "Pow", None, [uniform([3, 1], 0.5, 2.0), uniform([2, 3, 4], -2.0, 2.0)], BINARY["Pow"], grad=[True, False])
# Integer exponents (0 included) and a zero base: torch's conventions, that
# d/da a^0 = 0 and d/db a^b = 0 where a = 0, hold in deepgo too.
add("pow_int_exponents", "Pow", None, [torch.tensor([[0.0, 0.5, 1.5, 2.0], [0.0, 1.25, 0.75, 3.0]]),
                                       torch.tensor([0.0, 1.0, 2.0, 3.0])], BINARY["Pow"])

# Ties and kinks: deepgo follows torch's subgradient conventions there (ties
# split the gradient evenly; relu, abs and sign give 0 at 0; clamp passes the
# gradient at its bounds; leaky_relu and elu take the negative branch at 0).
ties_a = torch.tensor([[1.0, -0.5, 2.0, 0.25], [3.0, 3.0, -1.0, 0.0]])
ties_b = torch.tensor([1.0, 0.5, 2.0, -0.25])
add("maximum_ties", "Maximum", None, [ties_a, ties_b], BINARY["Maximum"])
add("minimum_ties", "Minimum", None, [ties_a, ties_b], BINARY["Minimum"])
ties = torch.tensor([[[1.0, 2.0, 2.0], [0.5, -1.0, 0.5]], [[3.0, 3.0, 3.0], [-2.0, 0.0, -2.0]]])
add("max_ties_axm1", "Max", {"axes": [-1]}, [ties], lambda x: torch.amax(x, -1))
add("min_ties_ax02_keep", "Min", {"axes": [0, 2], "keepdim": True}, [ties], lambda x: torch.amin(x, (0, 2), keepdim=True))
add("max_ties_all", "Max", None, [ties], lambda x: torch.amax(x))
kinks = torch.tensor([[0.0, -0.0, 1.0, -1.0], [-0.5, 0.5, 0.0, 2.0]])
add("relu_at_zero", "Relu", None, [kinks], torch.relu)
add("abs_at_zero", "Abs", None, [kinks], torch.abs)
add("sign_at_zero", "Sign", None, [kinks], torch.sign)
add("leaky_relu_at_zero", "LeakyRelu", {"a": 0.125}, [kinks], lambda x: F.leaky_relu(x, 0.125))
add("elu_at_zero", "Elu", {"a": 0.5}, [kinks], lambda x: F.elu(x, 0.5))
add("clamp_at_bounds", "Clamp", {"lo": -0.5, "hi": 1.0}, [kinks], lambda x: torch.clamp(x, -0.5, 1.0))

# ---- comparisons (forward only); one decimal so that equal pairs occur

COMPARE = {
    "Eq": torch.eq, "Ne": torch.ne, "Lt": torch.lt,
    "Le": torch.le, "Gt": torch.gt, "Ge": torch.ge,
}
for op, fn in COMPARE.items():
    for tag, sa, sb in BCAST[:5]:
        a, b = randn(*sa, decimals=1), randn(*sb, decimals=1)
        add("%s_%s" % (op.lower(), tag), op, None, [a, b], lambda x, y, fn=fn: fn(x, y).to(torch.float64), backward=False)

# ---- Where: mask (not differentiable) broadcast with both branches


def mask(*shape):
    m = (torch.rand(list(shape)) < 0.5).to(torch.float32)
    if m.numel() > 1:
        m.view(-1)[0], m.view(-1)[-1] = 1.0, 0.0  # both branches taken
    return m


def where(m, a, b):
    return torch.where(m != 0, a, b)


add("where_same", "Where", None, [mask(2, 3, 4), randn(2, 3, 4), randn(2, 3, 4)], where, grad=[False, True, True])
add("where_mask31", "Where", None, [mask(3, 1), randn(2, 3, 4), randn()], where, grad=[False, True, True])
add("where_mask4", "Where", None, [mask(4), randn(3, 1), randn(2, 1, 4)], where, grad=[False, True, True])
m = mask(2, 3, 4)
m[m != 0] = torch.tensor([2.0, -1.0, 0.5]).repeat(24)[: int((m != 0).sum())]  # any non-zero is true
add("where_nonzero_mask", "Where", None, [m, randn(3, 4), randn(2, 3, 1)], where, grad=[False, True, True])
add("where_mask_scalar", "Where", None, [torch.tensor(1.0), randn(2, 3, 4), randn(3, 4)], where, grad=[False, True, True])
add("where_grad_a_only", "Where", None, [mask(3, 4), randn(2, 3, 4), randn(4)], where, grad=[False, True, False])
add("where_mask_scalar_false", "Where", None, [torch.tensor(0.0), randn(2, 3), randn(3)], where, grad=[False, True, True])

# ---- unary elementwise ops

S = (2, 3, 4)


def pos(lo=0.2, hi=3.0):
    return uniform(list(S), lo, hi)


UNARY = [
    # name, op, params, input, torch function
    ("neg", "Neg", None, randn(*S), lambda x: -x),
    ("sqrt", "Sqrt", None, pos(), torch.sqrt),
    ("rsqrt", "Rsqrt", None, pos(), torch.rsqrt),
    ("exp", "Exp", None, randn(*S), torch.exp),
    ("exp_scalar0d", "Exp", None, randn(), torch.exp),
    ("log", "Log", None, pos(0.1, 5.0), torch.log),
    ("abs", "Abs", None, nonzero(*S), torch.abs),
    ("sin", "Sin", None, uniform(list(S), -3.0, 3.0), torch.sin),
    ("cos", "Cos", None, uniform(list(S), -3.0, 3.0), torch.cos),
    ("tanh", "Tanh", None, uniform(list(S), -2.0, 2.0), torch.tanh),
    ("sigmoid", "Sigmoid", None, uniform(list(S), -4.0, 4.0), torch.sigmoid),
    ("relu", "Relu", None, nonzero(*S), torch.relu),
    ("leaky_relu_default", "LeakyRelu", {"a": 0.01}, nonzero(*S), lambda x: F.leaky_relu(x, float(np.float32(0.01)))),
    ("leaky_relu_0.2", "LeakyRelu", {"a": 0.2}, nonzero(*S), lambda x: F.leaky_relu(x, float(np.float32(0.2)))),
    ("gelu", "Gelu", None, randn(*S, scale=1.5), F.gelu),
    ("gelu_tanh", "GeluTanh", None, randn(*S, scale=1.5), lambda x: F.gelu(x, approximate="tanh")),
    ("silu", "Silu", None, randn(*S, scale=1.5), F.silu),
    ("elu_1", "Elu", {"a": 1.0}, nonzero(*S), lambda x: F.elu(x, 1.0)),
    ("elu_0.5", "Elu", {"a": 0.5}, nonzero(*S, scale=1.5), lambda x: F.elu(x, 0.5)),
    ("square", "Square", None, randn(*S), torch.square),
    ("reciprocal", "Reciprocal", None, signed(*S), torch.reciprocal),
    ("sign", "Sign", None, nonzero(*S), torch.sign),
    ("add_scalar", "AddScalar", {"a": 1.5}, randn(*S), lambda x: x + 1.5),
    ("sub_scalar", "SubScalar", {"a": 0.75}, randn(*S), lambda x: x - 0.75),
    ("mul_scalar", "MulScalar", {"a": -2.5}, randn(*S), lambda x: x * -2.5),
    ("div_scalar", "DivScalar", {"a": 4.0}, randn(*S), lambda x: x / 4.0),
    ("div_scalar_neg", "DivScalar", {"a": -0.3}, randn(*S), lambda x: x / float(np.float32(-0.3))),
    ("pow_scalar_3", "PowScalar", {"a": 3.0}, randn(*S), lambda x: x ** 3),
    ("pow_scalar_2", "PowScalar", {"a": 2.0}, randn(*S), lambda x: x ** 2),
    ("pow_scalar_1", "PowScalar", {"a": 1.0}, randn(*S), lambda x: x ** 1),
    ("pow_scalar_0", "PowScalar", {"a": 0.0}, pos(), lambda x: x ** 0),
    ("pow_scalar_0.5", "PowScalar", {"a": 0.5}, pos(), lambda x: x ** 0.5),
    ("pow_scalar_-1.5", "PowScalar", {"a": -1.5}, pos(), lambda x: x ** -1.5),
    ("pow_scalar_2.7", "PowScalar", {"a": 2.7}, pos(), lambda x: x ** float(np.float32(2.7))),
]
for name, op, params, x, fn in UNARY:
    add(name, op, params, [x], fn)

# Softplus: default (beta 1, threshold 20, a few inputs past the threshold)
# and SoftplusWith; inputs keep away from beta·x == threshold.
x = randn(*S, scale=2.0)
x[0, 0, 0], x[1, 2, 3], x[1, 0, 1] = 21.5, 25.0, 19.5
add("softplus", "Softplus", None, [x], F.softplus)
x = away(list(S), [1.5], 0.05, lambda s: uniform(s, -3.0, 3.0))
add("softplus_beta2_thr3", "SoftplusWith", {"a": 2.0, "b": 3.0}, [x], lambda x: F.softplus(x, beta=2.0, threshold=3.0))
x = away(list(S), [2.0], 0.05, lambda s: uniform(s, -3.0, 4.0))
add("softplus_beta0.5_thr1", "SoftplusWith", {"a": 0.5, "b": 1.0}, [x], lambda x: F.softplus(x, beta=0.5, threshold=1.0))

# Clamp, two-sided and one-sided (a missing bound is ±Inf: null in JSON).
x = away(list(S), [-0.5, 0.8], 0.02, lambda s: randn(*s))
add("clamp", "Clamp", {"lo": -0.5, "hi": 0.8}, [x], lambda x: torch.clamp(x, -0.5, float(np.float32(0.8))))
x = away(list(S), [0.3], 0.02, lambda s: randn(*s))
add("clamp_hi_only", "Clamp", {"lo": None, "hi": 0.3}, [x], lambda x: torch.clamp(x, max=float(np.float32(0.3))))
x = away(list(S), [-0.2], 0.02, lambda s: randn(*s))
add("clamp_lo_only", "Clamp", {"lo": -0.2, "hi": None}, [x], lambda x: torch.clamp(x, min=float(np.float32(-0.2))))

# ---- reductions

REDUCE_AXES = [("ax0", [0]), ("ax1", [1]), ("axm1", [-1]), ("ax01", [0, 1]),
               ("ax12", [1, 2]), ("ax02", [0, 2]), ("ax20", [2, 0]), ("all", [])]

REDUCE = {
    "Sum": lambda x, ax, k: x.sum(dim=ax, keepdim=k),
    "Mean": lambda x, ax, k: x.mean(dim=ax, keepdim=k),
    "Max": lambda x, ax, k: torch.amax(x, dim=ax, keepdim=k),
    "Min": lambda x, ax, k: torch.amin(x, dim=ax, keepdim=k),
    "LogSumExp": lambda x, ax, k: torch.logsumexp(x, dim=ax, keepdim=k),
}
for op, fn in REDUCE.items():
    for tag, axes in REDUCE_AXES:
        for keep in (False, True):
            x = distinct(*S)
            params = {"axes": axes, "keepdim": keep}
            add("%s_%s%s" % (op.lower(), tag, "_keep" if keep else ""), op, params, [x],
                lambda x, axes=axes, keep=keep, fn=fn: fn(x, axes_or_all(x, axes), keep))

# Reductions over size-1 dims between reduced ones, over 1-D and 0-D tensors.
for op in ("Sum", "Max", "Mean"):
    fn = REDUCE[op]
    add("%s_size1_between" % op.lower(), op, {"axes": [0, 2], "keepdim": False}, [distinct(2, 1, 4)],
        lambda x, fn=fn: fn(x, (0, 2), False))
    add("%s_size1_between_keep" % op.lower(), op, {"axes": [0, 3], "keepdim": True}, [distinct(3, 1, 1, 2)],
        lambda x, fn=fn: fn(x, (0, 3), True))
    add("%s_1d" % op.lower(), op, {"axes": [0], "keepdim": False}, [distinct(5)], lambda x, fn=fn: fn(x, (0,), False))
add("sum_scalar0d", "Sum", None, [randn()], lambda x: x.sum())

# Var / Std (correction 1 by default; VarCorrection and StdCorrection take it).


def var_ref(x, axes, correction, keep):
    ax = axes_or_all(x, axes)
    return torch.var(x, dim=ax, correction=correction, keepdim=keep)


for tag, axes in [("ax1", [1]), ("ax02", [0, 2]), ("all", []), ("axm1", [-1])]:
    add("var_" + tag, "Var", {"axes": axes}, [randn(*S)], lambda x, axes=axes: var_ref(x, axes, 1, False))
    add("std_" + tag, "Std", {"axes": axes}, [randn(*S)], lambda x, axes=axes: var_ref(x, axes, 1, False).sqrt())
for corr, keep, tag, axes in [(0, False, "ax1", [1]), (0, True, "ax02", [0, 2]), (2, False, "ax12", [1, 2]),
                              (1, True, "all", []), (0, False, "all", [])]:
    params = {"correction": corr, "keepdim": keep, "axes": axes}
    suffix = "c%d_%s%s" % (corr, tag, "_keep" if keep else "")
    add("var_correction_" + suffix, "VarCorrection", params, [randn(*S)],
        lambda x, axes=axes, c=corr, k=keep: var_ref(x, axes, c, k))
    add("std_correction_" + suffix, "StdCorrection", params, [randn(*S)],
        lambda x, axes=axes, c=corr, k=keep: var_ref(x, axes, c, k).sqrt())

# ArgMax / ArgMin (forward only). Over several axes deepgo counts the index in
# row-major order within the reduced axes: move them to the end, flatten, argmax.


def arg_ref(x, axes, keep, fn):
    ax = [a % x.dim() for a in axes_or_all(x, axes)]
    rest = [d for d in range(x.dim()) if d not in ax]
    y = x.permute(*(rest + sorted(ax)))
    y = y.reshape(*[x.shape[d] for d in rest], -1)
    r = fn(y, dim=-1)
    if keep:
        r = r.reshape(*[1 if d in ax else x.shape[d] for d in range(x.dim())])
    return r.to(torch.float64)


for op, fn in (("ArgMax", torch.argmax), ("ArgMin", torch.argmin)):
    for tag, axes in [("ax0", [0]), ("ax1", [1]), ("axm1", [-1]), ("ax02", [0, 2]), ("ax12", [1, 2]), ("all", [])]:
        for keep in (False, True):
            add("%s_%s%s" % (op.lower(), tag, "_keep" if keep else ""), op, {"axes": axes, "keepdim": keep},
                [distinct(*S)], lambda x, axes=axes, keep=keep, fn=fn: arg_ref(x, axes, keep, fn), backward=False)

# Large reductions (more than 10,000 elements reduced into one value; the Go
# test allows 1e-4 there instead of 1e-5), and reductions of the same tensor
# over one of its axes.
shared["big"] = torch.randn(80, 128, dtype=torch.float32)
add("big_sum_all", "Sum", None, ["big"], lambda x: x.sum())
add("big_mean_all_keep", "Mean", {"axes": [0, 1], "keepdim": True}, ["big"], lambda x: x.mean(dim=(0, 1), keepdim=True))
add("big_var_all", "Var", None, ["big"], lambda x: torch.var(x))
add("big_max_all", "Max", None, ["big"], lambda x: torch.amax(x))
add("big_sum_ax0", "Sum", {"axes": [0]}, ["big"], lambda x: x.sum(0))
add("big_mean_ax1_keep", "Mean", {"axes": [1], "keepdim": True}, ["big"], lambda x: x.mean(1, keepdim=True))
add("big_max_ax0", "Max", {"axes": [0]}, ["big"], lambda x: torch.amax(x, 0))
add("big_argmin_all", "ArgMin", None, ["big"], lambda x: torch.argmin(x).to(torch.float64), backward=False)

# ---- softmax

for op, fn in (("Softmax", torch.softmax), ("LogSoftmax", torch.log_softmax)):
    for tag, axis in (("ax0", 0), ("ax1", 1), ("ax2", 2), ("axm1", -1)):
        add("%s_%s" % (op.lower(), tag), op, {"axis": axis}, [randn(*S, scale=2.0)], lambda x, a=axis, fn=fn: fn(x, a))
    add("%s_1d_shifted" % op.lower(), op, {"axis": 0}, [randn(6) + 40.0], lambda x, fn=fn: fn(x, 0))

# ---- matrix products


def matmul_t(a, b, ta, tb):
    if ta and a.dim() >= 2:
        a = a.mT
    if tb and b.dim() >= 2:
        b = b.mT
    return torch.matmul(a, b)


MATMUL = [
    ("1d_1d", [4], [4]),
    ("1d_2d", [3], [3, 5]),
    ("2d_1d", [3, 4], [4]),
    ("2d_2d", [3, 4], [4, 5]),
    ("3d_2d", [2, 3, 4], [4, 5]),
    ("2d_3d", [3, 4], [2, 4, 5]),
    ("3d_3d", [2, 3, 4], [2, 4, 5]),
    ("1d_3d", [4], [2, 4, 5]),
    ("3d_1d", [2, 3, 4], [4]),
    ("batch1_3d", [1, 3, 4], [2, 4, 5]),
    ("bcast_4d_3d", [2, 1, 3, 4], [3, 4, 5]),
]
for tag, sa, sb in MATMUL:
    add("matmul_" + tag, "MatMul", None, [randn(*sa), randn(*sb)], torch.matmul)


def tr(shape, t):
    s = list(shape)
    if t and len(s) >= 2:
        s[-1], s[-2] = s[-2], s[-1]
    return s


MATMUL_T = [
    ("2d", [3, 4], [4, 5]),
    ("3d_2d", [2, 3, 4], [4, 5]),
    ("2d_3d", [3, 4], [2, 4, 5]),
    ("3d_3d", [2, 3, 4], [2, 4, 5]),
    ("bcast", [2, 1, 3, 4], [3, 4, 5]),
]
for tag, sa, sb in MATMUL_T:
    for ta in (False, True):
        for tb in (False, True):
            name = "matmult_%s_%s%s" % (tag, "T" if ta else "N", "T" if tb else "N")
            add(name, "MatMulT", {"transA": ta, "transB": tb}, [randn(*tr(sa, ta)), randn(*tr(sb, tb))],
                lambda a, b, ta=ta, tb=tb: matmul_t(a, b, ta, tb))
add("matmul_grad_b_only", "MatMul", None, [randn(2, 3, 4), randn(4, 5)], torch.matmul, grad=[False, True])
add("matmult_grad_a_only_TN", "MatMulT", {"transA": True, "transB": False}, [randn(2, 4, 3), randn(2, 4, 5)],
    lambda a, b: matmul_t(a, b, True, False), grad=[True, False])
# Big enough for the blocked GEMM path (m·n·k > 24³), forward and backward.
add("matmul_blocked", "MatMul", None, [randn(20, 30), randn(30, 27)], torch.matmul)
add("matmult_blocked_TT", "MatMulT", {"transA": True, "transB": True}, [randn(30, 20), randn(27, 30)],
    lambda a, b: matmul_t(a, b, True, True))
# Flags are ignored for 1-D operands.
add("matmult_1d_flags", "MatMulT", {"transA": True, "transB": True}, [randn(4), randn(5, 4)],
    lambda a, b: matmul_t(a, b, True, True))
add("matmult_2d_1d_flags", "MatMulT", {"transA": True, "transB": True}, [randn(4, 3), randn(4)],
    lambda a, b: matmul_t(a, b, True, True))

# ---- shape ops

x = lambda: randn(*S)
add("reshape_infer", "Reshape", {"shape": [4, -1]}, [x()], lambda x: x.reshape(4, -1))
add("reshape_flat", "Reshape", {"shape": [-1]}, [x()], lambda x: x.reshape(-1))
add("reshape_3d", "Reshape", {"shape": [3, -1, 2]}, [x()], lambda x: x.reshape(3, -1, 2))
add("reshape_scalar", "Reshape", {"shape": [1, 1]}, [randn()], lambda x: x.reshape(1, 1))
add("view", "View", {"shape": [6, 4]}, [x()], lambda x: x.view(6, 4))
add("flatten_12", "Flatten", {"start": 1, "end": 2}, [x()], lambda x: x.flatten(1, 2))
add("flatten_all", "Flatten", {"start": 0, "end": -1}, [x()], lambda x: x.flatten(0, -1))
add("permute_201", "Permute", {"perm": [2, 0, 1]}, [x()], lambda x: x.permute(2, 0, 1))
add("permute_102", "Permute", {"perm": [1, 0, 2]}, [x()], lambda x: x.permute(1, 0, 2))
add("permute_neg", "Permute", {"perm": [-1, 0, -2]}, [x()], lambda x: x.permute(2, 0, 1))
add("permute_4d", "Permute", {"perm": [3, 1, 0, 2]}, [randn(2, 3, 1, 4)], lambda x: x.permute(3, 1, 0, 2))
add("transpose_02", "Transpose", {"d0": 0, "d1": 2}, [x()], lambda x: x.transpose(0, 2))
add("transpose_neg", "Transpose", {"d0": -1, "d1": -2}, [x()], lambda x: x.transpose(-1, -2))
add("t_3d", "T", None, [x()], lambda x: x.mT)
add("t_2d", "T", None, [randn(3, 4)], lambda x: x.mT)
x4 = lambda: randn(2, 1, 3, 1)
add("squeeze_all", "Squeeze", {"axes": []}, [x4()], lambda x: x.squeeze())
add("squeeze_1", "Squeeze", {"axes": [1]}, [x4()], lambda x: x.squeeze(1))
add("squeeze_1_3", "Squeeze", {"axes": [1, 3]}, [x4()], lambda x: x.squeeze(3).squeeze(1))
add("squeeze_neg", "Squeeze", {"axes": [-1]}, [x4()], lambda x: x.squeeze(-1))
add("squeeze_not1", "Squeeze", {"axes": [0, 2]}, [x4()], lambda x: x.squeeze(2).squeeze(0))
add("unsqueeze_0", "Unsqueeze", {"axis": 0}, [x()], lambda x: x.unsqueeze(0))
add("unsqueeze_2", "Unsqueeze", {"axis": 2}, [x()], lambda x: x.unsqueeze(2))
add("unsqueeze_end", "Unsqueeze", {"axis": 3}, [x()], lambda x: x.unsqueeze(3))
add("unsqueeze_neg", "Unsqueeze", {"axis": -1}, [x()], lambda x: x.unsqueeze(-1))
add("unsqueeze_scalar", "Unsqueeze", {"axis": 0}, [randn()], lambda x: x.unsqueeze(0))
add("expand_31", "Expand", {"shape": [2, 3, 4]}, [randn(3, 1)], lambda x: x.expand(2, 3, 4))
add("expand_4", "Expand", {"shape": [3, 4]}, [randn(4)], lambda x: x.expand(3, 4))
add("expand_keep", "Expand", {"shape": [2, 3, -1]}, [randn(2, 1, 4)], lambda x: x.expand(2, 3, -1))
add("expand_scalar", "Expand", {"shape": [2, 3]}, [randn()], lambda x: x.expand(2, 3))
add("broadcast_to", "BroadcastTo", {"shape": [2, 2, 3, 4]}, [randn(1, 3, 1)], lambda x: x.expand(2, 2, 3, 4))
add("narrow_1", "Narrow", {"axis": 1, "start": 1, "length": 2}, [x()], lambda x: x.narrow(1, 1, 2))
add("narrow_neg_start", "Narrow", {"axis": 2, "start": -3, "length": 2}, [x()], lambda x: x.narrow(2, 1, 2))
add("narrow_0", "Narrow", {"axis": 0, "start": 1, "length": 1}, [x()], lambda x: x.narrow(0, 1, 1))


def slice_ref(x, axis, start, end, step):
    idx = [slice(None)] * x.dim()
    idx[axis] = slice(start, end, step)
    return x[tuple(idx)]


for tag, axis, start, end, step in [("step2", 2, 0, 4, 2), ("neg_start", 2, -3, 100, 2), ("neg_end", 1, 0, -1, 1),
                                    ("step3", 0, 0, 5, 3), ("inner_step2", 2, 1, -1, 2), ("full", 1, 0, 3, 1),
                                    ("neg_both", -1, -4, -1, 2)]:
    add("slice_" + tag, "Slice", {"axis": axis, "start": start, "end": end, "step": step}, [x()],
        lambda x, a=axis, s=start, e=end, st=step: slice_ref(x, a, s, e, st))


def index_select_ref(x, axis, idx):
    n = x.shape[axis]
    return torch.index_select(x, axis, torch.tensor([i % n for i in idx]))


for tag, axis, idx in [("ax1_repeat", 1, [2, 0, 2, 1, 2]), ("ax2", 2, [3, 3, 0]), ("ax0_neg", 0, [1, 1, -2]),
                       ("axm1_neg", -1, [-1, 0]), ("ax1_one", 1, [1])]:
    add("index_select_" + tag, "IndexSelect", {"axis": axis, "idx": idx}, [x()],
        lambda x, a=axis, i=idx: index_select_ref(x, a, i))

add("concat_ax1", "Concat", {"axis": 1}, [randn(2, 1, 4), randn(2, 3, 4), randn(2, 2, 4)], lambda *xs: torch.cat(xs, 1))
add("concat_ax0", "Concat", {"axis": 0}, [randn(1, 3), randn(2, 3)], lambda *xs: torch.cat(xs, 0))
add("concat_axm1", "Concat", {"axis": -1}, [randn(2, 3, 1), randn(2, 3, 2)], lambda *xs: torch.cat(xs, -1))
add("concat_partial_grad", "Concat", {"axis": 1}, [randn(2, 1), randn(2, 3), randn(2, 2)], lambda *xs: torch.cat(xs, 1),
    grad=[True, False, True])
add("concat_one", "Concat", {"axis": 0}, [randn(2, 3)], lambda *xs: torch.cat(xs, 0))
for axis in (0, 1, 2, -1):
    add("stack_ax%s" % str(axis).replace("-", "m"), "Stack", {"axis": axis}, [randn(3, 4), randn(3, 4), randn(3, 4)],
        lambda *xs, a=axis: torch.stack(xs, a))
add("split_ax2", "Split", {"size": 2, "axis": 2}, [x()], lambda x: torch.split(x, 2, 2))
add("split_uneven", "Split", {"size": 2, "axis": 1}, [x()], lambda x: torch.split(x, 2, 1))
add("split_big", "Split", {"size": 5, "axis": -1}, [x()], lambda x: torch.split(x, 5, -1))
add("split_sizes", "SplitSizes", {"sizes": [1, 3], "axis": 2}, [x()], lambda x: torch.split(x, [1, 3], 2))
add("split_sizes_3", "SplitSizes", {"sizes": [1, 1, 1], "axis": 1}, [x()], lambda x: torch.split(x, [1, 1, 1], 1))
add("split_sizes_empty", "SplitSizes", {"sizes": [2, 0, 1], "axis": 1}, [x()], lambda x: torch.split(x, [2, 0, 1], 1))
add("chunk_2", "Chunk", {"n": 2, "axis": 2}, [x()], lambda x: torch.chunk(x, 2, 2))
add("chunk_3_of_4", "Chunk", {"n": 3, "axis": 2}, [x()], lambda x: torch.chunk(x, 3, 2))
add("chunk_4_of_6", "Chunk", {"n": 4, "axis": 1}, [randn(2, 6, 2)], lambda x: torch.chunk(x, 4, 1))

add("pad_constant_last", "Pad", {"pads": [1, 2], "mode": "constant", "value": 0.5}, [x()],
    lambda x: F.pad(x, (1, 2), value=0.5))
add("pad_constant_two", "Pad", {"pads": [1, 1, 2, 0], "mode": "constant", "value": -1.5}, [x()],
    lambda x: F.pad(x, (1, 1, 2, 0), value=-1.5))
add("pad_constant_all", "Pad", {"pads": [0, 1, 1, 0, 1, 1], "mode": "constant", "value": 2.0}, [x()],
    lambda x: F.pad(x, (0, 1, 1, 0, 1, 1), value=2.0))
add("pad_circular_1d", "Pad", {"pads": [2, 1], "mode": "circular"}, [x()], lambda x: F.pad(x, (2, 1), mode="circular"))
add("pad_circular_2d", "Pad", {"pads": [1, 2, 2, 1], "mode": "circular"}, [randn(1, 2, 3, 4)],
    lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"))
add("pad_circular_3d", "Pad", {"pads": [1, 1, 0, 2, 1, 0], "mode": "circular"}, [randn(1, 1, 2, 3, 4)],
    lambda x: F.pad(x, (1, 1, 0, 2, 1, 0), mode="circular"))
add("pad_circular_full_wrap", "Pad", {"pads": [4, 0], "mode": "circular"}, [x()],
    lambda x: F.pad(x, (4, 0), mode="circular"))
add("repeat_213", "Repeat", {"reps": [2, 1, 3]}, [x()], lambda x: x.repeat(2, 1, 3))
add("repeat_31", "Repeat", {"reps": [2, 3]}, [randn(3, 1)], lambda x: x.repeat(2, 3))
add("repeat_new_dims", "Repeat", {"reps": [2, 1, 2]}, [randn(3, 4)], lambda x: x.repeat(2, 1, 2))
for tag, axes in [("ax0", [0]), ("ax12", [1, 2]), ("axm1", [-1]), ("all", [0, 1, 2])]:
    add("flip_" + tag, "Flip", {"axes": axes}, [x()], lambda x, a=axes: torch.flip(x, a))
add("roll_one", "Roll", {"shifts": [1], "axes": [2]}, [x()], lambda x: torch.roll(x, 1, 2))
add("roll_two", "Roll", {"shifts": [-1, 2], "axes": [0, 2]}, [x()], lambda x: torch.roll(x, (-1, 2), (0, 2)))
add("roll_flat", "Roll", {"shifts": [5], "axes": []}, [x()], lambda x: torch.roll(x, 5))
add("roll_flat_neg", "Roll", {"shifts": [-7], "axes": []}, [x()], lambda x: torch.roll(x, -7))
add("roll_wrap", "Roll", {"shifts": [7], "axes": [1]}, [x()], lambda x: torch.roll(x, 7, 1))
add("roll_neg_axis", "Roll", {"shifts": [-5], "axes": [-1]}, [x()], lambda x: torch.roll(x, -5, -1))
add("clone", "Clone", None, [x()], lambda x: x.clone())

# ---------------------------------------------------------------- write

doc = {
    "comment": "Generated by gen_golden.py beside this file (torch %s); do not edit by hand. "
               "Regenerate with: /usr/bin/python3 autograd/testdata/golden/gen_golden.py" % torch.__version__,
    "tensors": {k: enc_tensor(v) for k, v in shared.items()},
    "cases": cases,
}
with open(OUT, "w") as f:
    f.write("{" + json.dumps("comment") + ":" + json.dumps(doc["comment"]) + ",\n")
    f.write(json.dumps("tensors") + ":" + dump(doc["tensors"]) + ",\n")
    f.write(json.dumps("cases") + ":[\n")
    f.write(",\n".join(dump(c) for c in cases))
    f.write("\n]}\n")
print("wrote %d cases (%d ops) to %s (%d bytes)" % (
    len(cases), len(set(c["op"] for c in cases)), OUT, os.path.getsize(OUT)))
