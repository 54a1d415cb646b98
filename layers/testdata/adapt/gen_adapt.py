#!/usr/bin/python3
"""Writes the goldens of layers/ssf_test.go and layers/lora_test.go.

Run with Debian's PyTorch (python3-torch), from anywhere:

    /usr/bin/python3 layers/testdata/adapt/gen_adapt.py

It writes one safetensors file per case beside this script. Each holds:

  <name>            the torch module's state_dict (float32), as torch names it;
                    the Go test loads it strictly into the Go layer
  io.<input>        each input (float32)
  io.out.<output>   each output
  io.up.<output>    the upstream gradient of that output: the loss is the sum
                    over outputs of sum(output * up)
  io.grad.<name>    the loss's gradient for each input and each parameter that
                    requires grad (frozen base weights have none)
  io.types          (LoRAMoE with the balancing loss) each sample's type, int64

The modules below are written from the reference papers' code, not imported:
SSF after dongzelian/SSF (models/vision_transformer.py: init_ssf_scale_shift,
ssf_ada), LoRA after the early peft Linear that Ablustrund/LoRAMoE forks, and
LoRAMoE after Ablustrund/LoRAMoE peft/tuners/lora.py (Linear.forward and
cv_squared). Parameters are drawn from torch.manual_seed(seed) and then
randomised away from their initial values (B is zero at init, which would hide
A's gradient). The forward and backward passes run in float64 on the float32
values, and the results are rounded to float32 once.
"""
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
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


# --- reference modules -------------------------------------------------------


def ssf_ada(x, scale, shift):
    """The reference's broadcast: last dim if it matches, else dim 1 of NCHW."""
    if x.shape[-1] == scale.shape[0]:
        return x * scale + shift
    if x.shape[1] == scale.shape[0]:
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
    raise ValueError("shape mismatch")


class SSF(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.scale, mean=1, std=0.02)
        nn.init.normal_(self.shift, std=0.02)

    def forward(self, x):
        return ssf_ada(x, self.scale, self.shift)


class LoraLinear(nn.Linear):
    """Early peft LoRA Linear: base weight/bias at top level, frozen."""

    def __init__(self, fin, fout, r, alpha, bias=True):
        super().__init__(fin, fout, bias=bias)
        self.lora_A = nn.Linear(fin, r, bias=False)
        self.lora_B = nn.Linear(r, fout, bias=False)
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.weight.requires_grad = False
        if self.bias is not None:
            self.bias.requires_grad = False

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + self.lora_B(self.lora_A(x)) * self.scaling


class LoraMoE(nn.Linear):
    """LoRAMoE's Linear: dense softmax router over lora_nums LoRA experts."""

    def __init__(self, fin, fout, r, alpha, lora_nums, blc_alpha, blc_weight, bias=True):
        super().__init__(fin, fout, bias=bias)
        self.lora_num = lora_nums
        self.blc_alpha, self.blc_weight = blc_alpha, blc_weight
        self.lora_route = nn.Linear(fin, lora_nums, bias=False)
        for i in range(lora_nums):
            setattr(self, f"lora_A{i}", nn.Linear(fin, r, bias=False))
            setattr(self, f"lora_B{i}", nn.Linear(r, fout, bias=False))
        self.scaling = alpha / r
        self.weight.requires_grad = False
        if self.bias is not None:
            self.bias.requires_grad = False

    @staticmethod
    def cv_squared(x):
        if x.shape[0] == 1:
            return torch.zeros((), dtype=x.dtype)
        return x.var() / (x.mean() ** 2 + 1e-10)

    def forward(self, x, task_types=None):
        result = F.linear(x, self.weight, self.bias)
        route = torch.softmax(self.lora_route(x), dim=-1)
        for i in range(self.lora_num):
            a, b = getattr(self, f"lora_A{i}"), getattr(self, f"lora_B{i}")
            result = result + route[..., i].unsqueeze(-1) * b(a(x)) * self.scaling
        blc = torch.zeros((), dtype=result.dtype)
        if task_types is not None and self.blc_weight != 0:
            t = task_types.view(-1, 1)
            half = self.lora_num // 2
            boost = torch.cat(((t == 1).repeat(1, half), (t == 0).repeat(1, half)), dim=-1)
            imp = torch.where(boost, 1.0 + self.blc_alpha, 1.0 - self.blc_alpha).to(result.dtype)
            q = route.sum(dim=tuple(range(1, route.dim() - 1))) if route.dim() > 2 else route
            blc = self.cv_squared((q * imp).flatten()) * self.blc_weight
        return result, blc


# --- cases -------------------------------------------------------------------


def randomize(m, scale=0.5):
    """Moves every parameter away from its initialisation (keeps requires_grad)."""
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * scale)
    return m


def case(name, make, inputs, fwd, up_scalars=(), seed=0, extra=None):
    torch.manual_seed(seed)
    m = make()
    ins = inputs()
    sd = {k: v.float() for k, v in m.state_dict().items()}
    m64 = copy.deepcopy(m).double()
    ins64 = {k: v.double().requires_grad_(True) for k, v in ins.items()}
    outs = fwd(m64, ins64)
    ups = {}
    loss = 0
    for k, v in outs.items():
        up = torch.tensor(0.7) if k in up_scalars else torch.randn(v.shape)
        ups[k] = up.float()
        loss = loss + (v * up.double()).sum()
    loss.backward()
    f = dict(sd)
    for k, v in ins.items():
        f["io." + k] = v.float()
    for k, v in (extra or {}).items():
        f["io." + k] = v
    for k, v in outs.items():
        f["io.out." + k] = v.detach().float()
        f["io.up." + k] = ups[k]
    for k, v in ins64.items():
        f["io.grad." + k] = v.grad.float()
    for k, p in m64.named_parameters():
        if p.requires_grad:
            f["io.grad." + k] = p.grad.float()
    save_file(f, os.path.join(HERE, name + ".safetensors"))
    return name


def single(m, ins):
    return {"output": m(ins["input"])}


def moe_single(m, ins):
    return {"output": m(ins["input"])[0]}


def main():
    assert sys.byteorder == "little", "safetensors data is little-endian"
    names = []

    def ssf(dim):
        def make():
            return randomize(SSF(dim))
        return make

    names.append(case("ssf_tokens", ssf(6), lambda: {"input": torch.randn(2, 5, 6)}, single))
    names.append(case("ssf_nchw", ssf(4), lambda: {"input": torch.randn(2, 4, 3, 5)}, single, seed=1))

    def lora(bias):
        def make():
            m = LoraLinear(6, 5, r=3, alpha=6, bias=bias)
            with torch.no_grad():
                m.lora_B.weight.normal_(0, 0.5)
            return m
        return make

    names.append(case("lora", lora(True), lambda: {"input": torch.randn(2, 4, 6)}, single, seed=2))
    names.append(case("lora_nobias", lora(False), lambda: {"input": torch.randn(3, 6)}, single, seed=3))

    def moe(experts, blc_alpha=0.0, blc_weight=0.0):
        def make():
            m = LoraMoE(6, 5, r=2, alpha=4, lora_nums=experts, blc_alpha=blc_alpha, blc_weight=blc_weight)
            with torch.no_grad():
                for i in range(experts):
                    getattr(m, f"lora_B{i}").weight.normal_(0, 0.5)
            return m
        return make

    names.append(case("loramoe", moe(4), lambda: {"input": torch.randn(2, 3, 6)}, moe_single, seed=4))
    names.append(case("loramoe_e1", moe(1), lambda: {"input": torch.randn(2, 3, 6)}, moe_single, seed=5))

    types = torch.tensor([1, 0, 1], dtype=torch.int64)

    def moe_blc(m, ins):
        y, blc = m(ins["input"], types)
        return {"output": y, "blc": blc}

    names.append(case("loramoe_blc", moe(4, blc_alpha=0.1, blc_weight=0.5),
                      lambda: {"input": torch.randn(3, 4, 6)}, moe_blc, up_scalars=("blc",), seed=6,
                      extra={"types": types}))
    print("wrote", ", ".join(n + ".safetensors" for n in names))


if __name__ == "__main__":
    main()
