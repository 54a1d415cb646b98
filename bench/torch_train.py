#!/usr/bin/python3
"""PyTorch twin of bench/train_test.go: one training step (forward, backward,
AdamW step) of an MLP 784-512-512-10 with ReLU and cross-entropy at batch
128, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_train.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.
"""
import time

import torch
from torch import nn

import torchbench


def mlp_step():
    """Times episodes of the first RESET_EVERY steps of training from the same
    initial weights and a fresh optimizer, as the Go benchmark does, so that
    neither side drifts into denormal Adam moments (dead ReLU units decay
    their first moment by 0.9 a step)."""
    torch.manual_seed(21)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    init = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(128, 784)
    y = torch.arange(128) % 10

    def episode():
        with torch.no_grad():
            for p, p0 in zip(model.parameters(), init):
                p.copy_(p0)
        opt = torch.optim.AdamW(model.parameters())  # lr 1e-3, wd 1e-2: deepgo's DefaultAdamWConfig
        t0 = time.perf_counter()
        for _ in range(RESET_EVERY):
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
        return time.perf_counter() - t0

    def run(min_seconds=0.5):
        episode()  # warm up
        total, steps = 0.0, 0
        while total < min_seconds:
            total += episode()
            steps += RESET_EVERY
        return total / steps * 1e9
    return run


RESET_EVERY = 50


BENCHES = {
    "MLPStep": mlp_step,
}

if __name__ == "__main__":
    torchbench.main(BENCHES, measure=lambda run: run())
