#!/usr/bin/python3
"""Writes the goldens of layers/lka_test.go: large kernel attention, VAN's
spatial attention unit and VAN's block, computed by PyTorch.

Run with Debian's PyTorch (python3-torch), from anywhere:

    /usr/bin/python3 layers/testdata/lka/gen_lka.py

The modules below mirror VAN-Classification's models/van.py (AttentionModule,
SpatialAttention, Mlp with DWConv, Block) with the same attribute names, so
their state_dicts carry VAN's names; `pad` adds the padding modes deepgo
offers: 'zeros' (VAN), 'circular' (torch's padding_mode='circular', both
axes) and 'longitude' (circular in width, zeros in height).

Each case writes <name>.safetensors beside this script, laid out as
nn/testdata/gen_layers.py's files (written by its gen_safetensors.py):
the state_dict under torch's names, io.<input>, io.out.<output>,
io.up.<output> (the upstream gradient: the loss is sum(output * up)),
io.grad.<input or parameter> and io.after.<buffer>. Weights come from VAN's
initialisation under torch.manual_seed, then the norms and layer scales are
randomised so that no path is trivial. The passes run in float64 on the
float32 values and the results are rounded to float32 once.
"""
import copy
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "nn", "testdata"))
sys.dont_write_bytecode = True  # no __pycache__ in testdata
from gen_safetensors import save_file  # noqa: E402


class PadConv(nn.Conv2d):
    """nn.Conv2d (stride 1) whose padding is filled per `pad`."""

    def __init__(self, cin, cout, k, padding=0, dilation=1, groups=1, pad="zeros"):
        mode = "circular" if pad == "circular" else "zeros"
        super().__init__(cin, cout, k, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
        self.pad = pad

    def forward(self, x):
        if self.pad != "longitude" or self.padding[1] == 0:
            return super().forward(x)
        ph, pw = self.padding
        x = F.pad(x, (pw, pw, 0, 0), mode="circular")
        return F.conv2d(x, self.weight, self.bias, 1, (ph, 0), self.dilation, self.groups)


def van_init(m):
    """VAN's _init_weights for convolutions: N(0, 2/fan_out), bias 0."""
    if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            m.bias.data.zero_()


class LKA(nn.Module):  # VAN's AttentionModule
    def __init__(self, dim, pad="zeros"):
        super().__init__()
        self.conv0 = PadConv(dim, dim, 5, padding=2, groups=dim, pad=pad)
        self.conv_spatial = PadConv(dim, dim, 7, padding=9, dilation=3, groups=dim, pad=pad)
        self.conv1 = PadConv(dim, dim, 1, pad=pad)

    def forward(self, x):
        return x * self.conv1(self.conv_spatial(self.conv0(x)))


class SpatialAttention(nn.Module):
    def __init__(self, dim, pad="zeros"):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LKA(dim, pad)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        y = self.spatial_gating_unit(self.activation(self.proj_1(x)))
        return self.proj_2(y) + x


class DWConv(nn.Module):
    def __init__(self, dim, pad="zeros"):
        super().__init__()
        self.dwconv = PadConv(dim, dim, 3, padding=1, groups=dim, pad=pad)

    def forward(self, x):
        return self.dwconv(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden, pad="zeros"):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = DWConv(hidden, pad)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, mlp_ratio=4.0, pad="zeros"):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim, pad)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), pad)
        self.layer_scale_1 = nn.Parameter(1e-2 * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(1e-2 * torch.ones(dim))

    def forward(self, x):
        x = x + self.layer_scale_1[:, None, None] * self.attn(self.norm1(x))
        return x + self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x))


def randomize(m):
    """Random norms (and running statistics) and layer scales."""
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.5)
                mod.running_mean.normal_(0, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.num_batches_tracked.fill_(3)
        for name, p in m.named_parameters():
            if name.startswith("layer_scale"):
                p.uniform_(0.5, 1.5)
    return m


def case(name, make, shape, train=True, seed=0):
    torch.manual_seed(seed)
    m = make()
    m.apply(van_init)
    randomize(m)
    m.train(train)
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    x = torch.randn(*shape)
    m64 = copy.deepcopy(m).double()
    m64.train(train)
    x64 = x.double().requires_grad_(True)
    y = m64(x64)
    up = torch.randn(y.shape)
    (y * up.double()).sum().backward()
    out = dict(sd)
    out["io.input"] = x
    out["io.out.output"] = y.detach().float()
    out["io.up.output"] = up
    out["io.grad.input"] = x64.grad.float()
    for k, p in m64.named_parameters():
        out["io.grad." + k] = p.grad.float()
    for k, b in m64.named_buffers():
        out["io.after." + k] = b.detach().float() if b.is_floating_point() else b.detach()
    save_file(out, os.path.join(HERE, name + ".safetensors"))
    print(name, tuple(y.shape))


def main():
    case("lka_zeros", lambda: LKA(4), (2, 4, 9, 11))
    case("lka_zeros_small", lambda: LKA(3), (1, 3, 4, 5))
    case("lka_circular", lambda: LKA(4, "circular"), (2, 4, 10, 12))
    case("lka_longitude", lambda: LKA(4, "longitude"), (2, 4, 6, 12))
    case("van_attn", lambda: SpatialAttention(6), (2, 6, 8, 7))
    case("van_block", lambda: Block(8), (2, 8, 7, 9))
    case("van_block_eval", lambda: Block(8, mlp_ratio=2), (2, 8, 6, 6), train=False)
    case("van_block_longitude", lambda: Block(4, mlp_ratio=8, pad="longitude"), (2, 4, 5, 10))
    case("van_block_circular", lambda: Block(4, pad="circular"), (2, 4, 9, 10), train=False)


if __name__ == "__main__":
    main()
