#!/usr/bin/python3
"""PyTorch twins of bench/vec_test.go, same names and shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_vec.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.
"Backward" benchmarks time the forward op and backward from a ones seed into
a leaf whose gradient is cleared first, as the Go benchmarks do.
"""

import torch
import torchbench


VEC_N = 1 << 20
VIT_SHAPE = (64, 197, 192)


def vec1m(seed):
    return torch.randn(VEC_N, generator=torch.Generator().manual_seed(seed)) * 2


def vit(seed):
    return torch.randn(*VIT_SHAPE, generator=torch.Generator().manual_seed(seed))


def forward(x, f):
    return lambda: f(x)


def backward(x, f):
    x.requires_grad_(True)
    seed = torch.ones_like(x)

    def run():
        x.grad = None
        f(x).backward(seed)
    return run


def layer_norm_vit():
    g = torch.Generator().manual_seed(9)
    w = torch.randn(VIT_SHAPE[2], generator=g) * 0.1 + 1
    b = torch.randn(VIT_SHAPE[2], generator=g) * 0.1
    return lambda x: torch.nn.functional.layer_norm(x, VIT_SHAPE[2:], w, b, 1e-5)


def softmax_last(x):
    return torch.softmax(x, -1)


def gelu(x):
    return torch.nn.functional.gelu(x)


def add1m_flat():
    x, y = vec1m(7), vec1m(8)
    return lambda: x + y


BENCHES = {
    "SoftmaxViT": lambda: forward(vit(5), softmax_last),
    "SoftmaxViTBackward": lambda: backward(vit(5), softmax_last),
    "LayerNormViT": lambda: forward(vit(6), layer_norm_vit()),
    "LayerNormViTBackward": lambda: backward(vit(6), layer_norm_vit()),
    "Tanh1M": lambda: forward(vec1m(7), torch.tanh),
    "Tanh1MBackward": lambda: backward(vec1m(7), torch.tanh),
    "Exp1M": lambda: forward(vec1m(7), torch.exp),
    "Exp1MBackward": lambda: backward(vec1m(7), torch.exp),
    "Sigmoid1M": lambda: forward(vec1m(7), torch.sigmoid),
    "Sigmoid1MBackward": lambda: backward(vec1m(7), torch.sigmoid),
    "Gelu1M": lambda: forward(vec1m(7), gelu),
    "Gelu1MBackward": lambda: backward(vec1m(7), gelu),
    "Add1MFlat": add1m_flat,
}

if __name__ == "__main__":
    torchbench.main(BENCHES)
