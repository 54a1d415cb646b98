#!/usr/bin/python3
"""PyTorch twins of bench/lka_test.go: large kernel attention, VAN's block and
S4D, forward and backward, same names and shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_lka.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.
Each op is a forward pass on an input that requires grad, backward from a
seed of ones, and clearing the gradients, as the Go benchmarks do. The
modules follow VAN-Classification's models/van.py and state-spaces/s4's
models/s4/s4d.py (the kernel with complex tensors and the FFT convolution).
"""
import math

import torch
from torch import nn

import torchbench


class LKA(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv0 = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.conv_spatial = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)
        self.conv1 = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        return x * self.conv1(self.conv_spatial(self.conv0(x)))


class SpatialAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.activation = nn.GELU()
        self.spatial_gating_unit = LKA(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        return self.proj_2(self.spatial_gating_unit(self.activation(self.proj_1(x)))) + x


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(self.act(self.dwconv(self.fc1(x))))


class Block(nn.Module):
    def __init__(self, dim, mlp_ratio=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = Mlp(dim, dim * mlp_ratio)
        self.layer_scale_1 = nn.Parameter(1e-2 * torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(1e-2 * torch.ones(dim))

    def forward(self, x):
        x = x + self.layer_scale_1[:, None, None] * self.attn(self.norm1(x))
        return x + self.layer_scale_2[:, None, None] * self.mlp(self.norm2(x))


class S4D(nn.Module):
    def __init__(self, H, N=64, dt_min=1e-3, dt_max=1e-1):
        super().__init__()
        self.D = nn.Parameter(torch.randn(H))
        self.C = nn.Parameter(torch.view_as_real(torch.randn(H, N // 2, dtype=torch.cfloat)))
        lo, hi = math.log(dt_min), math.log(dt_max)
        self.log_dt = nn.Parameter(torch.rand(H) * (hi - lo) + lo)
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(H, N // 2)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(N // 2, dtype=torch.float).repeat(H, 1))
        self.activation = nn.GELU()
        self.output_linear = nn.Sequential(nn.Conv1d(H, 2 * H, 1), nn.GLU(dim=-2))

    def kernel(self, L):
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt[:, None]
        K = dtA[..., None] * torch.arange(L)
        C = C * (torch.exp(dtA) - 1.0) / A
        return 2 * torch.einsum("hn,hnl->hl", C, torch.exp(K)).real

    def forward(self, u):
        L = u.size(-1)
        k = self.kernel(L)
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = y + u * self.D[:, None]
        return self.output_linear(self.activation(y))


def step(model, shape):
    torch.manual_seed(1)
    m = model()
    m.train()
    x = torch.randn(*shape, requires_grad=True)
    seed = torch.ones(*shape)

    def f():
        m(x).backward(seed)
        m.zero_grad(set_to_none=True)
        x.grad = None
    return f


BENCHES = {
    "LKA": lambda: step(lambda: LKA(64), (16, 64, 32, 32)),
    "VANBlock": lambda: step(lambda: Block(64), (16, 64, 32, 32)),
    "S4D1024": lambda: step(lambda: S4D(128), (8, 128, 1024)),
    "S4D4096": lambda: step(lambda: S4D(128), (8, 128, 4096)),
}

if __name__ == "__main__":
    torchbench.main(BENCHES)
