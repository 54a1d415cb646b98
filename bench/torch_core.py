#!/usr/bin/python3
"""PyTorch twins of bench/core_test.go, same shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_core.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.
"""

import torch
import torchbench


def matmul512():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 512, generator=g)
    y = torch.randn(512, 512, generator=g)
    return lambda: torch.matmul(x, y)


def sgemm(m, k, n, trans_a=False, trans_b=False):
    """op(x) @ op(y) with x [m, k] ([k, m] when trans_a), y [k, n] ([n, k]
    when trans_b); transposes are views, as in the Go benchmark."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*((k, m) if trans_a else (m, k)), generator=g)
    y = torch.randn(*((n, k) if trans_b else (k, n)), generator=g)
    xa = x.t() if trans_a else x
    yb = y.t() if trans_b else y
    return lambda: torch.matmul(xa, yb)


def matmul512_backward():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 512, generator=g, requires_grad=True)
    y = torch.randn(512, 512, generator=g, requires_grad=True)
    seed = torch.ones(512, 512)

    def f():
        torch.matmul(x, y).backward(seed)
    return f


def chain(n, size):
    x = torch.randn(size, generator=torch.Generator().manual_seed(2), requires_grad=True)

    def f():
        y = x
        for j in range(n):
            k = j % 4
            if k == 0:
                y = y * 0.999
            elif k == 1:
                y = y + 0.001
            elif k == 2:
                y = torch.tanh(y)
            else:
                y = y + x
        y.sum().backward()
        x.grad = None
    return f


def add1m():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1024, 1024, generator=g)
    y = torch.randn(1024, 1024, generator=g)
    return lambda: x + y


def softmax():
    x = torch.randn(256, 1024, generator=torch.Generator().manual_seed(4))
    return lambda: torch.softmax(x, -1)


BENCHES = {
    "MatMul512": matmul512,
    "MatMul512Backward": matmul512_backward,
    "ElementwiseChain10k": lambda: chain(10000, 64),
    "ElementwiseChain10kLarge": lambda: chain(10000, 4096),
    "Add1M": add1m,
    "Softmax": softmax,
    "Sgemm256": lambda: sgemm(256, 256, 256),
    "Sgemm512": lambda: sgemm(512, 512, 512),
    "Sgemm1024": lambda: sgemm(1024, 1024, 1024),
    "Sgemm2048": lambda: sgemm(2048, 2048, 2048),
    "Sgemm1024TN": lambda: sgemm(1024, 1024, 1024, trans_a=True),
    "Sgemm1024NT": lambda: sgemm(1024, 1024, 1024, trans_b=True),
    "SgemmQKV": lambda: sgemm(4096, 192, 576),
    "SgemmQKVLinear": lambda: sgemm(4096, 192, 576, trans_b=True),
    "SgemmProj": lambda: sgemm(4096, 576, 192),
    "SgemmProjLinear": lambda: sgemm(4096, 576, 192, trans_b=True),
}

if __name__ == "__main__":
    torchbench.main(BENCHES)
