#!/usr/bin/python3
"""PyTorch twins of bench/conv_test.go: a dense 3x3 convolution and the two
depthwise convolutions of large kernel attention on [16, 64, 32, 32], forward
and forward+backward, same names and shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_conv.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.
"Backward" benchmarks run the forward pass on an input, weight and bias that
require grad, backward from a seed of ones, and clear the gradients.
"""

import torch
import torch.nn.functional as F

import torchbench


def conv(cin, cout, k, pad, dil, groups, backward):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(16, 64, 32, 32, generator=g)
    w = torch.randn(cout, cin // groups, k, k, generator=g) * 0.1
    b = torch.randn(cout, generator=g) * 0.1

    def f():
        return F.conv2d(x, w, b, padding=pad, dilation=dil, groups=groups)

    if not backward:
        def run():
            with torch.no_grad():
                f()
        return run
    for t in (x, w, b):
        t.requires_grad_(True)
    seed = torch.ones(16, cout, 32, 32)

    def run():
        f().backward(seed)
        x.grad = w.grad = b.grad = None
    return run


BENCHES = {
    "Conv2d3x3": lambda: conv(64, 64, 3, 1, 1, 1, False),
    "Conv2d3x3Backward": lambda: conv(64, 64, 3, 1, 1, 1, True),
    "Depthwise5x5": lambda: conv(64, 64, 5, 2, 1, 64, False),
    "Depthwise5x5Backward": lambda: conv(64, 64, 5, 2, 1, 64, True),
    "Depthwise7x7Dil3": lambda: conv(64, 64, 7, 9, 3, 64, False),
    "Depthwise7x7Dil3Backward": lambda: conv(64, 64, 7, 9, 3, 64, True),
}

if __name__ == "__main__":
    torchbench.main(BENCHES)
