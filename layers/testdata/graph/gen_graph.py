#!/usr/bin/python3
"""Writes the goldens of layers/graph_test.go.

Run with Debian's PyTorch (python3-torch), from anywhere:

    /usr/bin/python3 layers/testdata/graph/gen_graph.py

It writes one safetensors file per case beside this script, laid out as
layers/testdata/adapt/gen_adapt.py describes (state_dict, io.<input>,
io.out.<output>, io.up.<output>, io.grad.<name>). Graph cases also hold

  io.edge_index   int64 [2, E], PyG's layout: row 0 the sources, row 1 the
                  destinations (messages flow from row 0 to row 1)
  io.edge_weight  float32 [E]; its gradient is io.grad.edge_weight

PyTorch Geometric, torch_sparse and tsl are not needed: the layers below are
written from tsl's code (tsl/nn/layers/graph_convs: GraphConv, DiffConv,
DenseGraphConvOrderK; tsl/ops/connectivity: asymmetric_norm,
normalize_connectivity; tsl/nn/layers/base/temporal_conv.py:
GatedTemporalConv; GraphWaveNetModel.get_learned_adj) and PyG's gcn_norm and
add_remaining_self_loops, with message passing as index_select + index_add
(PyG's 'add' aggregation, flow source_to_target). Every sparse propagation is
also checked here against the same operator built as a dense matrix.

The test graph has 7 nodes and 15 edges: a duplicated edge (0 → 1 twice), one
self-loop (2 → 2), and a node (6) with outgoing edges only, so that its
in-degree is 0. Weights are U(0.5, 1.5). Forward and backward run in float64.
"""
import copy
import json
import math
import os
import struct
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_file(tensors, path):
    """Writes {name: tensor} in safetensors format (header, then raw data)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


N = 7
EDGES = [(0, 1), (0, 1), (1, 2), (2, 2), (2, 3), (3, 0), (3, 4), (4, 5), (5, 3), (6, 0), (6, 4), (1, 5), (4, 1),
         (2, 0), (5, 2)]
EDGE_INDEX = torch.tensor(EDGES, dtype=torch.int64).t().contiguous()


# --- connectivity (tsl.ops.connectivity, PyG gcn_norm) -------------------------


def propagate(x, edge_index, w, n):
    """out[..., i, :] = sum over edges j -> i of w * x[..., j, :]."""
    src, dst = edge_index
    msg = x.index_select(-2, src) * w.view(-1, 1)
    out = torch.zeros(*x.shape[:-2], n, x.shape[-1], dtype=x.dtype)
    return out.index_add(-2, dst, msg)


def inv_degree(w, dst, n, power):
    deg = torch.zeros(n, dtype=w.dtype).scatter_add(0, dst, w)
    safe = torch.where(deg > 0, deg, torch.ones_like(deg))
    return torch.where(deg > 0, safe.pow(power), torch.zeros_like(deg))


def asymmetric_norm(edge_index, w, n):
    """tsl asymmetric_norm(dim=1): w / in-degree of the destination."""
    return edge_index, w * inv_degree(w, edge_index[1], n, -1.0)[edge_index[1]]


def add_remaining_self_loops(edge_index, w, n):
    src, dst = edge_index
    mask = src != dst
    loop_w = torch.ones(n, dtype=w.dtype)
    inv = ~mask
    loop_w = loop_w.index_put((src[inv],), w[inv])
    loops = torch.arange(n).repeat(2, 1)
    return torch.cat([edge_index[:, mask], loops], 1), torch.cat([w[mask], loop_w])


def gcn_norm(edge_index, w, n, self_loops):
    if self_loops:
        edge_index, w = add_remaining_self_loops(edge_index, w, n)
    src, dst = edge_index
    dinv = inv_degree(w, dst, n, -0.5)
    return edge_index, dinv[src] * w * dinv[dst]


def normalize(edge_index, w, norm, n):
    if norm == "gcn":
        return gcn_norm(edge_index, w, n, True)
    if norm == "sym":
        return gcn_norm(edge_index, w, n, False)
    if norm == "mean":
        return asymmetric_norm(edge_index, w, n)
    return edge_index, w


def dense(edge_index, w, n):
    """A[i, j] = sum of the weights of the edges j -> i."""
    a = torch.zeros(n, n, dtype=w.dtype)
    return a.index_put((edge_index[1], edge_index[0]), w, accumulate=True)


def dense_normalized(edge_index, w, norm, n):
    """The same operators built densely, to check the sparse ones."""
    a = dense(edge_index, w, n)
    if norm == "gcn":
        a = a.clone()
        diag = torch.diagonal(a)
        a = a + torch.diag(torch.where(diag == 0, torch.ones_like(diag), torch.zeros_like(diag)))
    if norm in ("gcn", "sym"):
        deg = a.sum(1)
        dinv = torch.where(deg > 0, deg.clamp(min=1e-300).pow(-0.5), torch.zeros_like(deg))
        return dinv.view(-1, 1) * a * dinv.view(1, -1)
    if norm == "mean":
        deg = a.sum(1, keepdim=True)
        return torch.where(deg > 0, a / deg.clamp(min=1e-300), torch.zeros_like(a))
    return a


# --- layers (tsl) --------------------------------------------------------------


class GraphConv(nn.Module):
    def __init__(self, fin, fout, bias=True, norm="mean", root_weight=True):
        super().__init__()
        self.norm = norm
        self.lin = nn.Linear(fin, fout, bias=False)
        self.root_lin = nn.Linear(fin, fout, bias=False) if root_weight else None
        self.bias = nn.Parameter(torch.zeros(fout)) if bias else None

    def forward(self, x, edge_index, w):
        out = self.lin(x)
        ei, nw = normalize(edge_index, w, self.norm, x.size(-2))
        y = propagate(out, ei, nw, x.size(-2))
        yd = torch.matmul(dense_normalized(edge_index, w, self.norm, x.size(-2)), out)
        assert torch.allclose(y, yd, atol=1e-12), "sparse and dense GraphConv differ"
        if self.root_lin is not None:
            y = y + self.root_lin(x)
        if self.bias is not None:
            y = y + self.bias
        return y


class DiffConv(nn.Module):
    def __init__(self, fin, fout, k, root_weight=True, add_backward=True, bias=True):
        super().__init__()
        self.k, self.root_weight, self.add_backward = k, root_weight, add_backward
        n_filters = k * (2 if add_backward else 1) + (1 if root_weight else 0)
        self.filters = nn.Linear(fin * n_filters, fout, bias=bias)

    def forward(self, x, edge_index, w):
        n = x.size(-2)
        supports = [asymmetric_norm(edge_index, w, n)]
        dense_supports = [dense_normalized(edge_index, w, "mean", n)]
        if self.add_backward:
            supports.append(asymmetric_norm(edge_index.flip(0), w, n))
            dense_supports.append(dense_normalized(edge_index.flip(0), w, "mean", n))
        out = [x] if self.root_weight else []
        for (ei, nw), p in zip(supports, dense_supports):
            h, hd = x, x
            for _ in range(self.k):
                h = propagate(h, ei, nw, n)
                hd = torch.matmul(p, hd)
                assert torch.allclose(h, hd, atol=1e-12), "sparse and dense DiffConv differ"
                out.append(h)
        return self.filters(torch.cat(out, -1))


class NodeEmbedding(nn.Module):
    def __init__(self, n, size):
        super().__init__()
        self.emb = nn.Parameter(torch.empty(n, size))
        b = 1.0 / math.sqrt(size)
        self.emb.data.uniform_(-b, b)


class DenseGraphConvOrderK(nn.Module):
    def __init__(self, fin, fout, support_len, order, include_self, channel_last):
        super().__init__()
        self.channel_last, self.include_self, self.order = channel_last, include_self, order
        self.mlp = nn.Conv2d((order * support_len + (1 if include_self else 0)) * fin, fout, kernel_size=1)

    def forward(self, x, supports):
        squeeze = False
        if self.channel_last:
            if x.dim() == 3:
                squeeze, x = True, x.permute(0, 2, 1).unsqueeze(-1)  # b n c -> b c n 1
            else:
                x = x.permute(0, 3, 2, 1)  # b s n c -> b c n s
        elif x.dim() == 3:
            squeeze, x = True, x.unsqueeze(-1)
        out = [x] if self.include_self else []
        for a in supports:
            x1 = x
            for _ in range(self.order):
                x1 = torch.einsum("ncvl,wv->ncwl", x1, a)
                out.append(x1)
        out = self.mlp(torch.cat(out, dim=1))
        if squeeze:
            out = out.squeeze(-1)
        if self.channel_last:
            out = out.permute(0, 2, 1) if out.dim() == 3 else out.permute(0, 3, 2, 1)
        return out


class GWNSpatial(nn.Module):
    """Graph WaveNet's learned adjacency feeding a DenseGraphConvOrderK."""

    def __init__(self, n, emb, fin, fout):
        super().__init__()
        self.source_embeddings = NodeEmbedding(n, emb)
        self.target_embeddings = NodeEmbedding(n, emb)
        self.sconv = DenseGraphConvOrderK(fin, fout, 1, 2, False, True)

    def forward(self, x):
        logits = torch.relu(self.source_embeddings.emb @ self.target_embeddings.emb.T)
        adj = torch.softmax(logits, dim=1)
        return self.sconv(x, [adj]), adj


class GatedTemporalConv(nn.Module):
    def __init__(self, fin, fout, kernel, dilation, causal_pad, channel_last):
        super().__init__()
        self.padding = ((kernel - 1) * dilation, 0, 0, 0) if causal_pad else (0, 0, 0, 0)
        self.conv = nn.Conv2d(fin, 2 * fout, (1, kernel), dilation=(1, dilation))
        self.channel_last = channel_last

    def forward(self, x):
        if self.channel_last:
            x = x.permute(0, 3, 2, 1)  # b s n c -> b c n s
        x = self.conv(torch.nn.functional.pad(x, self.padding))
        a, g = torch.chunk(x, 2, dim=1)
        y = torch.tanh(a) * torch.sigmoid(g)
        if self.channel_last:
            y = y.permute(0, 3, 2, 1)
        return y


# --- cases ---------------------------------------------------------------------


def case(name, make, inputs, fwd, seed=0, graph=False):
    torch.manual_seed(seed)
    m = make()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # biases start at 0 in tsl
    ins = inputs()
    if graph:
        ins["edge_weight"] = torch.rand(EDGE_INDEX.size(1)) + 0.5
    sd = {k: v.float() for k, v in m.state_dict().items()}
    m64 = copy.deepcopy(m).double()
    ins64 = {k: v.double().requires_grad_(True) for k, v in ins.items()}
    outs = fwd(m64, ins64)
    loss, ups = 0, {}
    for k, v in outs.items():
        ups[k] = torch.randn(v.shape)
        loss = loss + (v * ups[k].double()).sum()
    loss.backward()
    f = dict(sd)
    for k, v in ins.items():
        f["io." + k] = v.float()
    if graph:
        f["io.edge_index"] = EDGE_INDEX
    for k, v in outs.items():
        f["io.out." + k] = v.detach().float()
        f["io.up." + k] = ups[k].float()
    for k, v in ins64.items():
        f["io.grad." + k] = v.grad.float()
    for k, p in m64.named_parameters():
        f["io.grad." + k] = p.grad.float()
    save_file(f, os.path.join(HERE, name + ".safetensors"))
    return name


def on_graph(m, ins):
    return {"output": m(ins["input"], EDGE_INDEX, ins["edge_weight"])}


def single(m, ins):
    return {"output": m(ins["input"])}


def main():
    assert sys.byteorder == "little", "safetensors data is little-endian"
    names = []
    r = torch.randn
    names.append(case("gcn", lambda: GraphConv(4, 3, norm="gcn", root_weight=False),
                      lambda: {"input": r(N, 4)}, on_graph, seed=1, graph=True))
    names.append(case("graphconv_mean", lambda: GraphConv(4, 3, norm="mean"),
                      lambda: {"input": r(2, 3, N, 4)}, on_graph, seed=2, graph=True))
    names.append(case("graphconv_sym", lambda: GraphConv(4, 3, bias=False, norm="sym"),
                      lambda: {"input": r(2, N, 4)}, on_graph, seed=3, graph=True))
    names.append(case("graphconv_none", lambda: GraphConv(4, 3, norm="none", root_weight=False),
                      lambda: {"input": r(N, 4)}, on_graph, seed=4, graph=True))
    names.append(case("diffconv", lambda: DiffConv(4, 3, 2),
                      lambda: {"input": r(2, N, 4)}, on_graph, seed=5, graph=True))
    names.append(case("diffconv_k3_forward", lambda: DiffConv(4, 3, 3, root_weight=False, add_backward=False),
                      lambda: {"input": r(N, 4)}, on_graph, seed=6, graph=True))
    names.append(case("diffconv_batched", lambda: DiffConv(3, 5, 1, bias=False),
                      lambda: {"input": r(2, 3, N, 3)}, on_graph, seed=7, graph=True))

    def gwn(m, ins):
        y, adj = m(ins["input"])
        return {"output": y, "adj": adj}

    names.append(case("adaptive_dense", lambda: GWNSpatial(N, 3, 4, 3),
                      lambda: {"input": r(2, 3, N, 4)}, gwn, seed=8))

    def dense_cf(m, ins):
        return {"output": m(ins["input"], [ins["support0"], ins["support1"]])}

    names.append(case("dense_graphconv", lambda: DenseGraphConvOrderK(4, 3, 2, 2, True, False),
                      lambda: {"input": r(2, 4, N, 5), "support0": torch.rand(N, N), "support1": torch.rand(N, N)},
                      dense_cf, seed=9))
    names.append(case("gated_tcn", lambda: GatedTemporalConv(4, 3, 2, 2, True, False),
                      lambda: {"input": r(2, 4, 5, 8)}, single, seed=10))
    names.append(case("gated_tcn_valid_last", lambda: GatedTemporalConv(4, 3, 3, 1, False, True),
                      lambda: {"input": r(2, 8, 5, 4)}, single, seed=11))
    print("wrote", ", ".join(n + ".safetensors" for n in names))


if __name__ == "__main__":
    main()
