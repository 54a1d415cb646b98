#!/usr/bin/python3
"""Writes the goldens of layers/s4_test.go: the S4D kernel and the S4D layer,
computed by PyTorch with complex tensors.

Run with Debian's PyTorch (python3-torch), from anywhere:

    /usr/bin/python3 layers/testdata/s4/gen_s4.py

The modules below follow state-spaces/s4 models/s4/s4d.py (S4DKernel and
S4D, with the same parameter names: C stored as torch.view_as_real of a
complex [H, N/2] tensor, log_dt, log_A_real, A_imag, D, output_linear.0),
plus the bilinear discretisation and the S4D-Inv / S4D-Real initialisations
of the full kernel (SSMKernelDiag), and a recurrent pass from a given state
for the carried-state cases.

Each case writes <name>.safetensors beside this script, laid out as
nn/testdata/gen_layers.py's files: the state_dict, io.<input>,
io.out.<output>, io.up.<output> (the loss is the sum over outputs of
sum(output * up)), io.grad.<input or parameter>. The passes run in float64
(complex128) on the float32 values; results are rounded to float32 once.
"""
import copy
import math
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "nn", "testdata"))
sys.dont_write_bytecode = True  # no __pycache__ in testdata
from gen_safetensors import save_file  # noqa: E402


class S4DKernel(nn.Module):
    def __init__(self, H, N=64, dt_min=1e-3, dt_max=1e-1, init="lin", disc="zoh"):
        super().__init__()
        self.disc = disc
        C = torch.randn(H, N // 2, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(C))
        lo, hi = math.log(dt_min), math.log(dt_max)
        self.log_dt = nn.Parameter(torch.rand(H) * (hi - lo) + lo)
        n = torch.arange(N // 2, dtype=torch.float).repeat(H, 1)
        re = 0.5 * torch.ones(H, N // 2)
        if init == "lin":
            im = math.pi * n
        elif init == "inv":
            im = N / math.pi * (N / (2 * n + 1) - 1)
        elif init == "real":
            re, im = n + 1, 0 * n
        self.log_A_real = nn.Parameter(torch.log(re))
        self.A_imag = nn.Parameter(im)

    def discrete(self):
        """dt [H, 1], A, dA, dB, C (complex [H, N/2])."""
        dt = torch.exp(self.log_dt)[:, None]
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt
        if self.disc == "zoh":
            dA = torch.exp(dtA)
            dB = (dA - 1.0) / A
        else:
            dA = (1 + dtA / 2) / (1 - dtA / 2)
            dB = dt / (1 - dtA / 2)
        return dA, dB, torch.view_as_complex(self.C)

    def forward(self, L):
        dA, dB, C = self.discrete()
        V = torch.exp(torch.log(dA)[..., None] * torch.arange(L, dtype=torch.float64))  # Vandermonde [H, N/2, L]
        return 2 * torch.einsum("hn,hnl->hl", C * dB, V).real


class S4D(nn.Module):
    def __init__(self, H, **kernel_args):
        super().__init__()
        self.D = nn.Parameter(torch.randn(H))
        self.kernel = S4DKernel(H, **kernel_args)
        self.activation = nn.GELU()
        self.output_linear = nn.Sequential(nn.Conv1d(H, 2 * H, kernel_size=1), nn.GLU(dim=-2))

    def pointwise(self, u, y):
        y = y + u * self.D[:, None]
        return self.output_linear(self.activation(y))

    def forward(self, u):
        L = u.size(-1)
        k = self.kernel(L)
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        return self.pointwise(u, y)

    def forward_state(self, u, state):
        """The recurrence x_k = dA x_{k-1} + dB u_k, y_k = 2 Re(C x_k), from state."""
        dA, dB, C = self.kernel.discrete()
        x = torch.view_as_complex(state)
        ys = []
        for t in range(u.size(-1)):
            x = dA * x + dB * u[:, :, t, None]
            ys.append(2 * (C * x).sum(-1).real)
        y = torch.stack(ys, -1)
        return self.pointwise(u, y), torch.view_as_real(x)


def write(name, m, ins, fwd):
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    m64 = copy.deepcopy(m).double()
    ins64 = {k: v.double().requires_grad_(True) for k, v in ins.items()}
    outs = fwd(m64, ins64)
    out = dict(sd)
    for k, v in ins.items():
        out["io." + k] = v
    loss = 0
    for k, v in outs.items():
        out["io.out." + k] = v.detach().float()
        up = torch.randn(v.shape)
        out["io.up." + k] = up
        loss = loss + (v * up.double()).sum()
    loss.backward()
    for k, v in ins64.items():
        out["io.grad." + k] = v.grad.float()
    for k, p in m64.named_parameters():
        out["io.grad." + k] = p.grad.float()
    save_file(out, os.path.join(HERE, name + ".safetensors"))
    print(name, {k: tuple(v.shape) for k, v in outs.items()})


def kernel_case(name, H, N, L, seed=0, **kw):
    torch.manual_seed(seed)
    write(name, S4DKernel(H, N, **kw), {}, lambda m, ins: {"output": m(L)})


def layer_case(name, B, H, N, L, seed=0, **kw):
    torch.manual_seed(seed)
    m = S4D(H, N=N, **kw)
    write(name, m, {"input": torch.randn(B, H, L)}, lambda m, ins: {"output": m(ins["input"])})


def state_case(name, B, H, N, L, seed=0, **kw):
    torch.manual_seed(seed)
    m = S4D(H, N=N, **kw)
    ins = {"input": torch.randn(B, H, L), "state": torch.randn(B, H, N // 2, 2)}

    def fwd(m, ins):
        y, x = m.forward_state(ins["input"], ins["state"])
        return {"output": y, "state": x}
    write(name, m, ins, fwd)


def main():
    kernel_case("kernel_zoh_lin", 3, 8, 40)
    kernel_case("kernel_bilinear_inv", 3, 8, 37, init="inv", disc="bilinear")
    kernel_case("kernel_zoh_real", 2, 6, 16, init="real", dt_min=0.05, dt_max=0.5)
    kernel_case("kernel_bilinear_lin_wide", 2, 8, 64, dt_min=0.05, dt_max=0.5, disc="bilinear")
    layer_case("s4d_zoh_lin", 2, 4, 8, 24)
    layer_case("s4d_bilinear_inv", 2, 3, 6, 150, init="inv", disc="bilinear")
    layer_case("s4d_zoh_real", 3, 2, 4, 10, init="real")
    layer_case("s4d_zoh_lin_long", 2, 3, 8, 200, dt_min=0.01, dt_max=0.2)
    state_case("s4d_state_zoh", 2, 3, 8, 20)
    state_case("s4d_state_bilinear", 2, 3, 6, 17, init="inv", disc="bilinear", dt_min=0.01, dt_max=0.3)


if __name__ == "__main__":
    main()
