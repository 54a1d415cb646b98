#!/usr/bin/python3
"""PyTorch twins of bench/adapt_test.go, same names and shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_adapt.py --count 5
Prints one JSON object: benchmark name -> list of ns per run, one per run.

Each benchmark times the forward pass and the backward pass from a ones seed,
with the input requiring grad and every gradient set to None first. The layers
are written here in plain PyTorch as layers/testdata/*/gen_*.py define them
(PyG and tsl are not needed): message passing is index_select + index_add_,
PyG's path for an edge_index tensor.
"""

import torch
import torch.nn.functional as F
from torch import nn

import torchbench


def fwd_bwd(module, x, forward):
    x.requires_grad_(True)
    seed = torch.ones_like(forward(x))
    params = [p for p in module.parameters()]

    def f():
        x.grad = None
        for p in params:
            p.grad = None
        forward(x).backward(seed)
    return f


def tokens():
    return torch.randn(16, 197, 768, generator=torch.Generator().manual_seed(1))


class SSF(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.empty(dim).normal_(1, 0.02))
        self.shift = nn.Parameter(torch.empty(dim).normal_(0, 0.02))

    def forward(self, x):
        return x * self.scale + self.shift


class LoraLinear(nn.Linear):
    def __init__(self, fin, fout, r, alpha):
        super().__init__(fin, fout)
        self.lora_A = nn.Linear(fin, r, bias=False)
        self.lora_B = nn.Linear(r, fout, bias=False)
        nn.init.normal_(self.lora_B.weight, 0, 0.02)
        self.scaling = alpha / r
        self.weight.requires_grad = False
        self.bias.requires_grad = False

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.lora_B(self.lora_A(x)) * self.scaling


class LoraMoE(nn.Linear):
    """LoRAMoE's Linear (Ablustrund/LoRAMoE), one loop over the experts."""

    def __init__(self, fin, fout, r, alpha, experts):
        super().__init__(fin, fout)
        self.lora_num = experts
        self.lora_route = nn.Linear(fin, experts, bias=False)
        for i in range(experts):
            setattr(self, f"lora_A{i}", nn.Linear(fin, r, bias=False))
            setattr(self, f"lora_B{i}", nn.Linear(r, fout, bias=False))
            nn.init.normal_(getattr(self, f"lora_B{i}").weight, 0, 0.02)
        self.scaling = alpha / r
        self.weight.requires_grad = False
        self.bias.requires_grad = False

    def forward(self, x):
        result = F.linear(x, self.weight, self.bias)
        route = torch.softmax(self.lora_route(x), dim=-1)
        for i in range(self.lora_num):
            a, b = getattr(self, f"lora_A{i}"), getattr(self, f"lora_B{i}")
            result = result + route[..., i].unsqueeze(-1) * b(a(x)) * self.scaling
        return result


def graph(n, e):
    """A ring plus random edges without self-loops, weights U(0.5, 1.5)."""
    g = torch.Generator().manual_seed(3)
    ring = torch.arange(n)
    src, dst = [ring], [(ring + 1) % n]
    have = n
    while have < e:
        s = torch.randint(0, n, (e - have,), generator=g)
        d = torch.randint(0, n, (e - have,), generator=g)
        keep = s != d
        src.append(s[keep])
        dst.append(d[keep])
        have += int(keep.sum())
    ei = torch.stack([torch.cat(src), torch.cat(dst)])
    return ei, torch.rand(e, generator=g) + 0.5


def propagate(x, ei, w, n):
    msg = x.index_select(-2, ei[0]) * w.view(-1, 1)
    return torch.zeros(*x.shape[:-2], n, x.shape[-1]).index_add_(-2, ei[1], msg)


def inv_degree(w, dst, n, power):
    deg = torch.zeros(n).scatter_add_(0, dst, w)
    safe = torch.where(deg > 0, deg, torch.ones_like(deg))
    return torch.where(deg > 0, safe.pow(power), torch.zeros_like(deg))


def gcn_norm(ei, w, n):
    """PyG gcn_norm with add_remaining_self_loops (the graph has none)."""
    loops = torch.arange(n).repeat(2, 1)
    ei = torch.cat([ei, loops], 1)
    w = torch.cat([w, torch.ones(n)])
    dinv = inv_degree(w, ei[1], n, -0.5)
    return ei, dinv[ei[0]] * w * dinv[ei[1]]


def mean_norm(ei, w, n):
    return ei, w * inv_degree(w, ei[1], n, -1.0)[ei[1]]


class GCN(nn.Module):
    def __init__(self, fin, fout):
        super().__init__()
        self.lin = nn.Linear(fin, fout, bias=False)
        self.bias = nn.Parameter(torch.zeros(fout))

    def forward(self, x, ei, w):
        nei, nw = gcn_norm(ei, w, x.size(-2))
        return propagate(self.lin(x), nei, nw, x.size(-2)) + self.bias


class DiffConv(nn.Module):
    def __init__(self, fin, fout, k):
        super().__init__()
        self.k = k
        self.filters = nn.Linear(fin * (2 * k + 1), fout)

    def forward(self, x, ei, w):
        n = x.size(-2)
        out = [x]
        for sei, sw in (mean_norm(ei, w, n), mean_norm(ei.flip(0), w, n)):
            h = x
            for _ in range(self.k):
                h = propagate(h, sei, sw, n)
                out.append(h)
        return self.filters(torch.cat(out, -1))


class GatedTCN(nn.Module):
    def __init__(self, fin, fout, kernel, dilation):
        super().__init__()
        self.conv = nn.Conv2d(fin, 2 * fout, (1, kernel), dilation=(1, dilation))

    def forward(self, x):
        a, g = torch.chunk(self.conv(x), 2, dim=1)
        return torch.tanh(a) * torch.sigmoid(g)


def bench_ssf():
    m = SSF(768)
    return fwd_bwd(m, tokens(), m)


def bench_lora():
    m = LoraLinear(768, 768, 8, 16)
    return fwd_bwd(m, tokens(), m)


def bench_loramoe():
    m = LoraMoE(768, 768, 8, 16, 4)
    return fwd_bwd(m, tokens(), m)


def bench_gcn():
    ei, w = graph(10000, 100000)
    m = GCN(64, 64)
    x = torch.randn(10000, 64, generator=torch.Generator().manual_seed(5))
    return fwd_bwd(m, x, lambda x: m(x, ei, w))


def bench_diffconv():
    ei, w = graph(10000, 100000)
    m = DiffConv(64, 64, 2)
    x = torch.randn(10000, 64, generator=torch.Generator().manual_seed(5))
    return fwd_bwd(m, x, lambda x: m(x, ei, w))


def bench_gated_tcn():
    m = GatedTCN(64, 64, 2, 2)
    x = torch.randn(32, 64, 207, 12, generator=torch.Generator().manual_seed(5))
    return fwd_bwd(m, x, m)


BENCHES = {
    "SSF": bench_ssf,
    "LoRA": bench_lora,
    "LoRAMoE": bench_loramoe,
    "GCN": bench_gcn,
    "DiffConv": bench_diffconv,
    "GatedTCN": bench_gated_tcn,
}

if __name__ == "__main__":
    torchbench.main(BENCHES)
