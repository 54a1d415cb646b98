# Regenerate with: /usr/bin/python3 autograd/testdata/golden/gen_golden_nn.py
#
# Golden values for autograd/golden_nn_test.go: deepgo's neural-network ops
# (convolution, unfold/fold, pixel shuffle, pooling, normalisation,
# embedding, gather/scatter, segment sums, losses and the long causal
# convolution) checked against PyTorch (Debian's python3-torch), forward
# values and gradients. The script writes nn.json beside itself; the Go test
# reads it and never needs Python.
#
# The format is that of ops.json (see gen_golden.py): each case names the op
# as the Go test's table knows it, its parameters (integer arguments such as
# indices and targets live here), the inputs (shape + float32 values, and
# whether each is differentiable), the outputs, a seeded upstream gradient per
# output and the gradient of every differentiable input of
# loss = sum_i sum(out_i * upstream_i). Cases may also hold "extras": tensors
# the op updates in place (batch norm's running statistics), compared after
# the forward pass.
#
# The reference is computed by torch in float64 from the float32 inputs and
# rounded to float32 only when written.

import base64
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20240612)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nn.json")
B64_MIN = 256

cases = []


# ---------------------------------------------------------------- inputs


def q(x, decimals=3):
    s = 10.0 ** decimals
    return (torch.round(x * s) / s).to(torch.float32)


def randn(*shape, scale=1.0, decimals=3):
    return q(torch.randn(list(shape), dtype=torch.float32) * scale, decimals)


def uniform(shape, lo, hi, decimals=3):
    return q(torch.rand(list(shape), dtype=torch.float32) * (hi - lo) + lo, decimals)


def distinct(*shape):
    """Values all different (no ties for max pooling): a random permutation
    of evenly spaced numbers."""
    n = int(np.prod(shape))
    p = torch.randperm(n).to(torch.float64)
    return q(((p - n / 2) * (4.0 / n)).to(torch.float32).reshape(list(shape)))


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


def add(name, op, params, inputs, fn, grad=None, backward=True, extras=None):
    """Record one case.

    inputs: float32 tensors (or None for an absent optional input, which the
    Go side sees as a nil tensor).
    fn: maps float64 torch tensors (inputs, in order) to one tensor or a list.
    grad: which inputs are differentiable (default all, when backward).
    extras: called after fn, returns tensors to compare after the forward.
    """
    if any(c["name"] == name for c in cases):
        raise ValueError("duplicate case name " + name)
    for x in inputs:
        assert x is None or x.dtype == torch.float32
    if grad is None:
        grad = [backward and x is not None for x in inputs]
    xs64 = [None if x is None else x.to(torch.float64).requires_grad_(g) for x, g in zip(inputs, grad)]
    out = fn(*xs64)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    outs = [o if o.is_floating_point() else o.to(torch.float64) for o in outs]
    case = {"name": name, "op": op}
    if params:
        case["params"] = params
    enc_in = []
    for x, g in zip(inputs, grad):
        if x is None:
            enc_in.append({"absent": True})
            continue
        e = enc_tensor(x)
        if g:
            e["grad"] = True
        enc_in.append(e)
    case["inputs"] = enc_in
    case["outputs"] = [enc_tensor(o) for o in outs]
    if extras is not None:
        case["extras"] = [enc_tensor(e) for e in extras()]
    if backward:
        ups = [randn(*o.shape) for o in outs]
        loss = sum((o * u.to(torch.float64)).sum() for o, u in zip(outs, ups))
        diff = [x for x, g in zip(xs64, grad) if g]
        gs = list(torch.autograd.grad(loss, diff, allow_unused=True))
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


# ================================================================ group 1: convolution


def conv2d_ref(x, w, b, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, same=False, mode="zeros"):
    """padding is (left, right, top, bottom) as F.pad."""
    if same:
        kh, kw = w.shape[2], w.shape[3]
        th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
        padding = (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    if mode == "circular":
        x = F.pad(x, padding, mode="circular")
    else:
        x = F.pad(x, padding)
    return F.conv2d(x, w, b, stride=stride, dilation=dilation, groups=groups)


def conv2d_case(name, xs, ws, bias=True, **kw):
    params = {k: v for k, v in kw.items()}
    x, w = randn(*xs), randn(*ws, scale=0.5)
    b = randn(ws[0]) if bias else None
    add(name, "Conv2d", params, [x, w, b], lambda x, w, b: conv2d_ref(x, w, b, **kw))


conv2d_case("conv2d_basic", [2, 3, 7, 6], [4, 3, 3, 3], padding=(1, 1, 1, 1))
conv2d_case("conv2d_nobias_stride2_asym", [2, 3, 8, 7], [5, 3, 3, 2], bias=False, stride=(2, 2), padding=(1, 0, 2, 1))
conv2d_case("conv2d_dilation_stride21", [2, 2, 9, 8], [3, 2, 3, 3], stride=(2, 1), dilation=(2, 2), padding=(1, 1, 2, 2))
conv2d_case("conv2d_groups2", [2, 4, 6, 5], [6, 2, 3, 3], groups=2, padding=(1, 1, 1, 1))
conv2d_case("conv2d_groups3_stride", [3, 6, 7, 7], [3, 2, 2, 3], groups=3, stride=(2, 2))
conv2d_case("conv2d_depthwise3", [2, 4, 8, 8], [4, 1, 3, 3], groups=4, padding=(1, 1, 1, 1))
conv2d_case("conv2d_depthwise5_lka", [2, 3, 9, 10], [3, 1, 5, 5], groups=3, padding=(2, 2, 2, 2))
conv2d_case("conv2d_depthwise7_dil3_lka", [1, 3, 12, 11], [3, 1, 7, 7], groups=3, dilation=(3, 3), padding=(9, 9, 9, 9))
conv2d_case("conv2d_depthwise_stride2_nobias", [2, 3, 9, 8], [3, 1, 3, 3], bias=False, groups=3, stride=(2, 2), padding=(1, 0, 0, 1))
conv2d_case("conv2d_depthwise_multiplier2", [2, 3, 6, 6], [6, 1, 3, 3], groups=3, padding=(1, 1, 1, 1))
conv2d_case("conv2d_same_even", [2, 2, 7, 6], [3, 2, 4, 2], same=True)
conv2d_case("conv2d_same_dilated", [1, 2, 8, 8], [2, 2, 3, 4], same=True, dilation=(2, 3))
conv2d_case("conv2d_circular", [2, 2, 5, 6], [3, 2, 3, 3], mode="circular", padding=(1, 1, 1, 1))
conv2d_case("conv2d_circular_asym", [1, 2, 5, 6], [2, 2, 3, 3], mode="circular", padding=(2, 1, 0, 2), stride=(1, 2))
conv2d_case("conv2d_same_circular_depthwise", [2, 3, 6, 7], [3, 1, 3, 5], groups=3, same=True, mode="circular")
conv2d_case("conv2d_pointwise_one_image", [1, 5, 6, 7], [4, 5, 1, 1])
conv2d_case("conv2d_pointwise_batch", [3, 4, 5, 5], [6, 4, 1, 1])
conv2d_case("conv2d_pointwise_groups", [1, 4, 5, 6], [6, 2, 1, 1], groups=2)
conv2d_case("conv2d_kernel_covers_input", [2, 3, 4, 4], [2, 3, 4, 4])
x, w, b = randn(3, 5, 6), randn(4, 3, 3, 3, scale=0.5), randn(4)
add("conv2d_unbatched", "Conv2d", {"padding": [1, 1, 1, 1]}, [x, w, b],
    lambda x, w, b: F.conv2d(x, w, b, padding=1))


def conv1d_ref(x, w, b, stride=1, padding=(0, 0), dilation=1, groups=1, same=False, mode="zeros"):
    if same:
        t = dilation * (w.shape[2] - 1)
        padding = (t // 2, t - t // 2)
    x = F.pad(x, padding, mode="circular") if mode == "circular" else F.pad(x, padding)
    return F.conv1d(x, w, b, stride=stride, dilation=dilation, groups=groups)


def conv1d_case(name, xs, ws, bias=True, **kw):
    x, w = randn(*xs), randn(*ws, scale=0.5)
    b = randn(ws[0]) if bias else None
    params = {k: [v] if k in ("stride", "dilation") else v for k, v in kw.items()}
    add(name, "Conv1d", params, [x, w, b], lambda x, w, b: conv1d_ref(x, w, b, **kw))


conv1d_case("conv1d_basic", [2, 3, 10], [4, 3, 3], padding=(1, 1))
conv1d_case("conv1d_stride_dilation", [2, 3, 13], [2, 3, 3], bias=False, stride=2, dilation=2, padding=(2, 1))
conv1d_case("conv1d_depthwise_same", [2, 3, 9], [3, 1, 5], groups=3, same=True)
conv1d_case("conv1d_circular", [2, 2, 8], [3, 2, 5], mode="circular", padding=(2, 2))
conv1d_case("conv1d_same_even", [1, 4, 7], [2, 2, 4], groups=2, same=True)
x, w = randn(3, 8), randn(2, 3, 3, scale=0.5)
add("conv1d_unbatched", "Conv1d", {}, [x, w, None], lambda x, w, b: F.conv1d(x, w))


def unfold_case(name, xs, kernel, **kw):
    x = randn(*xs)
    add(name, "Unfold", dict(kw, kernel=kernel), [x], lambda x: F.unfold(x, kernel, **kw))


unfold_case("unfold_basic", [2, 3, 6, 5], [2, 3], stride=[1, 2], padding=[1, 0])
unfold_case("unfold_dilated", [1, 2, 7, 7], [3, 3], dilation=[2, 1], stride=[2, 2], padding=[1, 1])
unfold_case("unfold_t2t", [2, 4, 8, 8], [3, 3], stride=[2, 2], padding=[1, 1])


def fold_case(name, n, c, out, kernel, **kw):
    kk = kernel[0] * kernel[1]
    st = kw.get("stride", [1, 1])
    pd = kw.get("padding", [0, 0])
    dl = kw.get("dilation", [1, 1])
    l = 1
    for i in range(2):
        l *= (out[i] + 2 * pd[i] - dl[i] * (kernel[i] - 1) - 1) // st[i] + 1
    x = randn(n, c * kk, l)
    add(name, "Fold", dict(kw, kernel=kernel, output=out), [x], lambda x: F.fold(x, out, kernel, **kw))


fold_case("fold_basic", 2, 3, [5, 6], [2, 2])
fold_case("fold_stride_pad", 1, 2, [7, 6], [3, 2], stride=[2, 2], padding=[1, 1])
fold_case("fold_dilated", 2, 1, [8, 8], [2, 3], dilation=[2, 2], stride=[1, 2])

add("pixel_shuffle", "PixelShuffle", {"r": 2}, [randn(2, 8, 3, 2)], lambda x: F.pixel_shuffle(x, 2))
add("pixel_shuffle_3_lead", "PixelShuffle", {"r": 3}, [randn(2, 1, 9, 2, 2)], lambda x: F.pixel_shuffle(x, 3))
add("pixel_unshuffle", "PixelUnshuffle", {"r": 2}, [randn(2, 2, 4, 6)], lambda x: F.pixel_unshuffle(x, 2))
add("pixel_unshuffle_unbatched", "PixelUnshuffle", {"r": 3}, [randn(1, 6, 3)], lambda x: F.pixel_unshuffle(x, 3))

# ================================================================ group 2: pooling


def ties(*shape):
    """Small integers: many ties inside each window."""
    return torch.randint(-2, 3, list(shape)).to(torch.float32)


def pool2d_case(name, op, x, kernel, stride=None, padding=(0, 0), dilation=(1, 1), ceil_mode=False,
                count_include_pad=True, divisor=None):
    params = {"kernel": list(kernel), "padding": list(padding), "ceil_mode": ceil_mode}
    if stride is not None:
        params["stride"] = list(stride)
    if op == "MaxPool2d":
        params["dilation"] = list(dilation)
        fn = lambda x: F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    else:
        params["count_include_pad"] = count_include_pad
        if divisor:
            params["divisor"] = divisor
        fn = lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode,
                                    count_include_pad=count_include_pad, divisor_override=divisor)
    add(name, op, params, [x], fn)


def pool1d_case(name, op, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                count_include_pad=True):
    params = {"kernel": [kernel], "padding": [padding], "ceil_mode": ceil_mode}
    if stride is not None:
        params["stride"] = [stride]
    if op == "MaxPool1d":
        params["dilation"] = [dilation]
        fn = lambda x: F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    else:
        params["count_include_pad"] = count_include_pad
        fn = lambda x: F.avg_pool1d(x, kernel, stride, padding, ceil_mode=ceil_mode,
                                    count_include_pad=count_include_pad)
    add(name, op, params, [x], fn)


pool2d_case("max_pool2d_k3s2p1", "MaxPool2d", distinct(2, 3, 7, 8), (3, 3), (2, 2), (1, 1))
pool2d_case("max_pool2d_k2_default_stride", "MaxPool2d", distinct(2, 2, 6, 5), (2, 2))
pool2d_case("max_pool2d_dilated", "MaxPool2d", distinct(1, 2, 9, 8), (3, 3), (1, 2), (1, 1), (2, 2))
pool2d_case("max_pool2d_ceil", "MaxPool2d", distinct(2, 2, 8, 8), (3, 3), (2, 2), ceil_mode=True)
pool2d_case("max_pool2d_ceil_pad", "MaxPool2d", distinct(1, 2, 7, 6), (2, 3), (2, 2), (1, 1), ceil_mode=True)
pool2d_case("max_pool2d_unbatched_rect", "MaxPool2d", distinct(3, 5, 6), (2, 3), (1, 2), (1, 1))
pool2d_case("max_pool2d_ties", "MaxPool2d", ties(2, 2, 6, 6), (3, 3), (1, 1), (1, 1))
pool2d_case("avg_pool2d_k3s2p1", "AvgPool2d", randn(2, 3, 7, 8), (3, 3), (2, 2), (1, 1))
pool2d_case("avg_pool2d_exclude_pad", "AvgPool2d", randn(2, 2, 7, 6), (3, 3), (2, 2), (1, 1), count_include_pad=False)
pool2d_case("avg_pool2d_ceil", "AvgPool2d", randn(1, 2, 8, 7), (3, 2), (2, 2), (1, 1), ceil_mode=True)
pool2d_case("avg_pool2d_ceil_exclude", "AvgPool2d", randn(1, 2, 8, 7), (3, 3), (2, 2), (1, 1), ceil_mode=True,
            count_include_pad=False)
pool2d_case("avg_pool2d_divisor", "AvgPool2d", randn(2, 2, 6, 6), (2, 3), (2, 1), (1, 1), divisor=5)
pool2d_case("avg_pool2d_default_stride", "AvgPool2d", randn(3, 6, 6), (2, 3))
pool1d_case("max_pool1d_k3s2p1", "MaxPool1d", distinct(2, 3, 11), 3, 2, 1)
pool1d_case("max_pool1d_dilated_ceil", "MaxPool1d", distinct(2, 2, 12), 3, 2, 1, 2, ceil_mode=True)
pool1d_case("max_pool1d_ties_unbatched", "MaxPool1d", ties(3, 10), 4, 1, 2)
pool1d_case("avg_pool1d_k3s2p1", "AvgPool1d", randn(2, 3, 11), 3, 2, 1)
pool1d_case("avg_pool1d_exclude_ceil", "AvgPool1d", randn(2, 2, 10), 4, 3, 2, ceil_mode=True, count_include_pad=False)
pool1d_case("avg_pool1d_default_stride", "AvgPool1d", randn(2, 9), 3)
for name, shape, out in [("adaptive_avg_pool2d_3x4", [2, 3, 7, 9], [3, 4]),
                         ("adaptive_avg_pool2d_global", [2, 3, 5, 6], [1, 1]),
                         ("adaptive_avg_pool2d_identity", [1, 2, 4, 5], [4, 5]),
                         ("adaptive_avg_pool2d_larger", [1, 2, 3, 5], [7, 4]),
                         ("adaptive_avg_pool2d_unbatched", [3, 10, 6], [4, 4])]:
    add(name, "AdaptiveAvgPool2d", {"output": out}, [randn(*shape)], lambda x, out=out: F.adaptive_avg_pool2d(x, out))
for name, shape, out in [("adaptive_avg_pool1d_4", [2, 3, 10], 4), ("adaptive_avg_pool1d_larger", [2, 2, 5], 13),
                         ("adaptive_avg_pool1d_unbatched", [3, 11], 3)]:
    add(name, "AdaptiveAvgPool1d", {"output": [out]}, [randn(*shape)], lambda x, out=out: F.adaptive_avg_pool1d(x, out))

# ================================================================ group 3: normalisation, embedding


def ln_case(name, xs, norm, weight=True, bias=True, eps=1e-5):
    x = randn(*xs, scale=2.0)
    w = randn(*norm) if weight else None
    b = randn(*norm) if bias else None
    add(name, "LayerNorm", {"shape": norm, "eps": eps}, [x, w, b],
        lambda x, w, b: F.layer_norm(x, norm, w, b, float(np.float32(eps))))


ln_case("layer_norm_last", [2, 3, 5], [5])
ln_case("layer_norm_two_dims", [2, 3, 5], [3, 5])
ln_case("layer_norm_plain", [4, 6], [6], weight=False, bias=False)
ln_case("layer_norm_weight_only_eps", [3, 2, 4], [4], bias=False, eps=1e-3)
ln_case("layer_norm_wide", [2, 300], [300])


def bn_case(name, xs, training, affine=True, running=True, momentum=0.1, eps=1e-5):
    c = xs[1]
    x = randn(*xs, scale=1.5) + 0.5
    rm = randn(c) if running else None
    rv = uniform([c], 0.5, 2.0) if running else None
    w = randn(c) if affine else None
    b = randn(c) if affine else None
    hold = {}

    def fn(x, rm, rv, w, b):
        hold["rm"], hold["rv"] = rm, rv
        return F.batch_norm(x, rm, rv, w, b, training, float(np.float32(momentum)), float(np.float32(eps)))

    extras = (lambda: [hold["rm"], hold["rv"]]) if running else None
    grad = [True, False, False, affine, affine]
    add(name, "BatchNorm", {"training": training, "momentum": momentum, "eps": eps}, [x, rm, rv, w, b], fn,
        grad=grad, extras=extras)


bn_case("batch_norm_train_4d", [3, 2, 4, 3], True)
bn_case("batch_norm_train_2d_plain", [6, 4], True, affine=False, momentum=0.3)
bn_case("batch_norm_train_3d_eps", [2, 3, 5], True, eps=1e-3)
bn_case("batch_norm_train_no_running", [4, 3, 2], True, running=False)
bn_case("batch_norm_eval", [2, 3, 4], False)
bn_case("batch_norm_eval_plain", [3, 2, 2, 2], False, affine=False)


def gn_case(name, xs, groups, weight=True, bias=True, eps=1e-5):
    c = xs[1]
    x = randn(*xs, scale=1.5)
    w = randn(c) if weight else None
    b = randn(c) if bias else None
    def fn(x, w, b):
        e = float(np.float32(eps))
        if w is None and b is not None:
            # torch 1.13's group_norm backward fails with a bias but no weight.
            return F.group_norm(x, groups, None, None, e) + b.reshape([1, c] + [1] * (x.dim() - 2))
        return F.group_norm(x, groups, w, b, e)

    add(name, "GroupNorm", {"groups": groups, "eps": eps}, [x, w, b], fn)


gn_case("group_norm_3", [2, 6, 3, 2], 3)
gn_case("group_norm_1_plain", [2, 4, 3], 1, weight=False, bias=False)
gn_case("group_norm_instance_weight_only", [2, 4, 5], 4, bias=False)
gn_case("group_norm_bias_only", [3, 4, 2, 2], 2, weight=False)
gn_case("group_norm_2d", [5, 6], 2, eps=1e-3)


def emb_case(name, v, d, idx, padding_idx=None):
    w = randn(v, d)
    params = {"idx": sum(idx, []) if isinstance(idx[0], list) else idx,
              "idx_shape": [len(idx), len(idx[0])] if isinstance(idx[0], list) else [len(idx)]}
    if padding_idx is not None:
        params["padding_idx"] = padding_idx
    it = torch.tensor(idx)
    add(name, "Embedding", params, [w], lambda w: F.embedding(it, w, padding_idx=padding_idx))


emb_case("embedding", 7, 4, [[1, 3, 3], [0, 6, 2]])
emb_case("embedding_padding", 6, 3, [[2, 1, 2, 5], [0, 2, 4, 4]], padding_idx=2)
emb_case("embedding_padding_negative", 5, 3, [4, 0, 4, 1, 1], padding_idx=-1)
for name, idx, shape, n in [("one_hot", [0, 2, 1, 3, 3, 0], [2, 3], 5), ("one_hot_infer", [2, 0, 1, 2], [4], -1)]:
    add(name, "OneHot", {"idx": idx, "idx_shape": shape, "num": n}, [],
        lambda idx=idx, shape=shape, n=n: F.one_hot(torch.tensor(idx).reshape(shape), n).to(torch.float64),
        backward=False)

# ================================================================ group 4: gather, scatter, segments


def index(shape, n):
    return torch.randint(0, n, list(shape))


def gather_case(name, xs, axis, ishape):
    x = randn(*xs)
    idx = index(ishape, xs[axis])
    add(name, "Gather", {"axis": axis, "idx": idx.flatten().tolist(), "idx_shape": ishape}, [x],
        lambda x: torch.gather(x, axis, idx))


gather_case("gather_ax1", [3, 4, 5], 1, [3, 2, 5])
gather_case("gather_ax0_smaller", [4, 3, 5], 0, [2, 2, 4])
gather_case("gather_ax2_more", [3, 4, 3], 2, [3, 4, 7])
gather_case("gather_axm1_2d", [4, 6], -1, [4, 3])


def scatter_case(name, xs, axis, ishape, ss):
    x, src = randn(*xs), randn(*ss)
    idx = index(ishape, xs[axis])
    add(name, "ScatterAdd", {"axis": axis, "idx": idx.flatten().tolist(), "idx_shape": ishape}, [x, src],
        # The narrowing is scatter_add's own semantics (it reads only the
        # index-shaped corner of src); torch 1.13's backward rejects a larger
        # src, so the reference narrows first.
        lambda x, s: torch.scatter_add(x, axis, idx, s[tuple(slice(0, k) for k in ishape)]))


scatter_case("scatter_add_ax1", [3, 4, 5], 1, [3, 6, 5], [3, 6, 5])
scatter_case("scatter_add_ax0_corner", [4, 3], 0, [2, 2], [3, 3])
scatter_case("scatter_add_ax2", [2, 3, 4], 2, [2, 3, 5], [2, 3, 5])
scatter_case("scatter_add_1d", [5], 0, [9], [9])


def index_add_case(name, xs, axis, idx):
    ss = list(xs)
    ss[axis] = len(idx)
    x, src = randn(*xs), randn(*ss)
    it = torch.tensor(idx)
    add(name, "IndexAdd", {"axis": axis, "idx": idx}, [x, src], lambda x, s: torch.index_add(x, axis, it, s))


index_add_case("index_add_ax0", [5, 3], 0, [0, 2, 2, 4, 1, 2])
index_add_case("index_add_ax1", [2, 5, 3], 1, [4, 0, 4])
index_add_case("index_add_axm1", [2, 3, 4], -1, [3, 3, 0, 1, 2])


def segment_case(name, xs, ids, num):
    x = randn(*xs)
    it = torch.tensor(ids)
    add(name, "SegmentSum", {"idx": ids, "num": num}, [x],
        lambda x: torch.zeros([num] + list(xs[1:]), dtype=x.dtype).index_add(0, it, x))


segment_case("segment_sum_sorted", [7, 3], [0, 0, 1, 3, 3, 3, 4], 6)
segment_case("segment_sum_unsorted", [8, 2, 2], [3, 0, 3, 1, 0, 2, 3, 1], 5)
segment_case("segment_sum_1d", [6], [1, 1, 0, 2, 0, 1], 3)

# ================================================================ group 5: losses

RED = ["mean", "sum", "none"]


def ce_case(name, shape, weight=False, ignore_index=None, smoothing=0.0, reduction="mean", n_ignored=0, mask=False):
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = [shape[0]] + list(shape[2:]) if len(shape) > 1 else []
    x = randn(*shape, scale=2.0)
    t = torch.randint(0, c, tshape)
    ig = -100 if ignore_index is None else ignore_index
    if n_ignored:
        t.view(-1)[:n_ignored] = ig
    w = uniform([c], 0.2, 2.0) if weight else None
    m = (torch.rand(tshape) < 0.6).to(torch.float32) if mask else None
    params = {"target": t.flatten().tolist(), "reduction": reduction, "label_smoothing": smoothing}
    if ignore_index is not None:
        params["ignore_index"] = ignore_index
    sm = float(np.float32(smoothing))

    def fn(x, w, m):
        if m is None:
            return F.cross_entropy(x, t, w, ignore_index=ig, reduction=reduction, label_smoothing=sm)
        l = F.cross_entropy(x, t, w, ignore_index=ig, reduction="none", label_smoothing=sm) * m
        if reduction == "none":
            return l
        if reduction == "sum":
            return l.sum()
        wt = torch.ones(t.shape, dtype=x.dtype) if w is None else w[t.clamp(min=0)]
        wt = wt * (t != ig) * m
        return l.sum() / wt.sum()

    add(name, "CrossEntropy", params, [x, w, m], fn, grad=[True, False, False])


ce_case("cross_entropy", [5, 4])
ce_case("cross_entropy_sum", [5, 4], reduction="sum")
ce_case("cross_entropy_none", [5, 4], reduction="none")
ce_case("cross_entropy_weight", [6, 3], weight=True)
ce_case("cross_entropy_ignore_default", [6, 4], n_ignored=2)
ce_case("cross_entropy_ignore_index", [6, 4], ignore_index=1, n_ignored=2, weight=True)
ce_case("cross_entropy_smoothing", [5, 4], smoothing=0.1)
ce_case("cross_entropy_smoothing_weight_ignore", [6, 5], weight=True, smoothing=0.2, n_ignored=2)
ce_case("cross_entropy_smoothing_weight_none", [4, 3], weight=True, smoothing=0.15, reduction="none", n_ignored=1)
ce_case("cross_entropy_smoothing_sum", [4, 3], smoothing=0.3, reduction="sum", ignore_index=0, n_ignored=1)
ce_case("cross_entropy_spatial", [2, 4, 3, 2], weight=True, n_ignored=1)
ce_case("cross_entropy_spatial_smoothing", [2, 3, 5], smoothing=0.1, reduction="none")
ce_case("cross_entropy_single", [5])
ce_case("cross_entropy_masked", [6, 4], weight=True, mask=True, n_ignored=1)
ce_case("cross_entropy_masked_smoothing_sum", [6, 4], mask=True, smoothing=0.1, reduction="sum")


def nll_case(name, shape, weight=False, ignore_index=None, reduction="mean", n_ignored=0):
    c = shape[1]
    tshape = [shape[0]] + list(shape[2:])
    x = randn(*shape)
    t = torch.randint(0, c, tshape)
    ig = -100 if ignore_index is None else ignore_index
    if n_ignored:
        t.view(-1)[:n_ignored] = ig
    w = uniform([c], 0.2, 2.0) if weight else None
    params = {"target": t.flatten().tolist(), "reduction": reduction}
    if ignore_index is not None:
        params["ignore_index"] = ignore_index
    add(name, "NLLLoss", params, [x, w], lambda x, w: F.nll_loss(x, t, w, ignore_index=ig, reduction=reduction),
        grad=[True, False])


nll_case("nll_loss", [5, 4])
nll_case("nll_loss_weight_ignore", [6, 3], weight=True, ignore_index=2, n_ignored=2)
nll_case("nll_loss_none_spatial", [2, 3, 4], reduction="none", n_ignored=1)
nll_case("nll_loss_sum_weight", [5, 4], weight=True, reduction="sum")


def reduce_ref(l, reduction, m=None):
    if m is not None:
        l = l * m
    if reduction == "none":
        return l
    if reduction == "sum":
        return l.sum()
    if m is None:
        return l.mean()
    return l.sum() / m.expand(l.shape).sum()


def bce_case(name, shape, pos_weight=None, weight=None, reduction="mean", mask=None):
    x = randn(*shape, scale=2.0)
    y = uniform(shape, 0.0, 1.0)
    pw = uniform(pos_weight, 0.5, 3.0) if pos_weight else None
    w = uniform(weight, 0.2, 2.0) if weight else None
    m = (torch.rand(mask) < 0.6).to(torch.float32) if mask else None

    def fn(x, y, pw, w, m):
        l = F.binary_cross_entropy_with_logits(x, y, w, reduction="none", pos_weight=pw)
        return reduce_ref(l, reduction, m)

    add(name, "BCEWithLogits", {"reduction": reduction}, [x, y, pw, w, m], fn, grad=[True, True, False, False, False])


bce_case("bce_logits", [4, 3])
bce_case("bce_logits_pos_weight", [4, 3], pos_weight=[3])
bce_case("bce_logits_weight_sum", [4, 3], weight=[4, 1], reduction="sum")
bce_case("bce_logits_all_none", [2, 3, 2], pos_weight=[2], weight=[3, 1], reduction="none")
bce_case("bce_logits_masked", [5, 3], pos_weight=[3], mask=[5, 1])
bce_case("bce_logits_large", [3, 4], reduction="sum")  # |x| up to ~8: the stable form matters


def pair(shape, kink=None):
    p = randn(*shape)
    for _ in range(1000):
        t = randn(*shape)
        d = (p - t).abs()
        if (d > 0.02).all() and (kink is None or ((d - kink).abs() > 0.02).all()):
            return p, t
    raise RuntimeError("no pair away from kinks")


def elem_case(name, op, shape, reduction="mean", mask=None, delta=None):
    p, t = pair(shape, delta)
    m = (torch.rand(mask) < 0.6).to(torch.float32) if mask else None
    params = {"reduction": reduction}
    if delta is not None:
        params["delta"] = delta
    if op == "MSELoss":
        f = lambda p, t: F.mse_loss(p, t, reduction="none")
    elif op == "L1Loss":
        f = lambda p, t: F.l1_loss(p, t, reduction="none")
    else:
        f = lambda p, t: F.huber_loss(p, t, reduction="none", delta=float(np.float32(delta)))
    add(name, op, params, [p, t, m], lambda p, t, m: reduce_ref(f(p, t), reduction, m), grad=[True, True, False])


for op in ("MSELoss", "L1Loss"):
    for red in RED:
        elem_case("%s_%s" % (op.lower(), red), op, [3, 4], red)
    elem_case("%s_masked" % op.lower(), op, [3, 4], mask=[3, 4])
    elem_case("%s_masked_bcast_sum" % op.lower(), op, [2, 3, 2], "sum", mask=[3, 1])
for delta in (1.0, 0.5):
    for red in RED:
        elem_case("huber_%g_%s" % (delta, red), "HuberLoss", [4, 5], red, delta=delta)
elem_case("huber_masked", "HuberLoss", [4, 3], mask=[4, 1], delta=0.7)


def mae_ref(p, t, m):
    c = m.expand(p.shape).sum()
    return ((p - t).abs() * m).sum() / (c if c > 0 else 1.0)


p, t = pair([3, 4])
add("masked_mae", "MaskedMAE", None, [p, t, (torch.rand(3, 4) < 0.5).to(torch.float32)], mae_ref, grad=[True, True, False])
p, t = pair([2, 3, 2])
add("masked_mae_bcast", "MaskedMAE", None, [p, t, torch.tensor([[1.0], [0.0], [1.0]])], mae_ref, grad=[True, True, False])
p, t = pair([2, 3])
add("masked_mae_empty", "MaskedMAE", None, [p, t, torch.zeros(2, 3)], mae_ref, grad=[True, True, False])

# ================================================================ group 6: long causal convolution


def causal_ref(u, k):
    L = u.shape[-1]
    if k.shape[-1] < L:
        k = F.pad(k, (0, L - k.shape[-1]))
    n = 2 * L
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)
    return y[..., :L]


for name, us, ks in [("causal_conv_shared", [2, 3, 16], [3, 16]),
                     ("causal_conv_batched", [2, 2, 12], [2, 2, 12]),
                     ("causal_conv_short_kernel", [2, 3, 10], [3, 4]),
                     ("causal_conv_fft_path", [1, 2, 200], [2, 200]),
                     ("causal_conv_fft_batched", [2, 1, 150], [2, 1, 150])]:
    add(name, "CausalConv", None, [randn(*us), randn(*ks, scale=0.3)], causal_ref)

# ---------------------------------------------------------------- write

doc = {
    "comment": "Generated by gen_golden_nn.py beside this file (torch %s); do not edit by hand. "
               "Regenerate with: /usr/bin/python3 autograd/testdata/golden/gen_golden_nn.py" % torch.__version__,
    "cases": cases,
}
with open(OUT, "w") as f:
    f.write("{" + json.dumps("comment") + ":" + json.dumps(doc["comment"]) + ",\n")
    f.write(json.dumps("cases") + ":[\n")
    f.write(",\n".join(dump(c) for c in cases))
    f.write("\n]}\n")
print("wrote %d cases (%d ops) to %s (%d bytes)" % (
    len(cases), len(set(c["op"] for c in cases)), OUT, os.path.getsize(OUT)))
