"""The PyTorch twin of BenchmarkTrainStep (cuda/bench_test.go): the same
residual MLP block, loss and Adam update, with the same shapes, on the GPU.
Prints one line: torch_ms_per_step=... (and the device name).

    python3 cuda/bench_torch.py [steps]
"""
import sys
import time

import torch

TOKENS, DIM, HIDDEN = 4096, 1024, 4096


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    if not torch.cuda.is_available():
        print("torch_ms_per_step=nan reason=no_cuda")
        return
    torch.backends.cuda.matmul.allow_tf32 = False  # deepgo's default is full float32
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda:0")
    g = torch.Generator(device="cpu").manual_seed(1)
    w1 = (torch.randn(DIM, HIDDEN, generator=g) * 0.03).to(dev).requires_grad_()
    b1 = torch.zeros(HIDDEN, device=dev, requires_grad=True)
    w2 = (torch.randn(HIDDEN, DIM, generator=g) * 0.015).to(dev).requires_grad_()
    b2 = torch.zeros(DIM, device=dev, requires_grad=True)
    lw = torch.ones(DIM, device=dev, requires_grad=True)
    lb = torch.zeros(DIM, device=dev, requires_grad=True)
    params = [w1, b1, w2, b2, lw, lb]
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    x = torch.randn(TOKENS, DIM, generator=g).to(dev)
    target = torch.randn(TOKENS, DIM, generator=g).to(dev)

    def step():
        h = torch.nn.functional.gelu(x @ w1 + b1)
        y = h @ w2 + b2 + x
        y = torch.nn.functional.layer_norm(y, (DIM,), lw, lb, 1e-5)
        loss = (y - target).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1000 / steps
    print(f"torch_ms_per_step={ms:.3f} torch_loss={loss.item():.5f} device={torch.cuda.get_device_name(0).replace(' ', '_')} torch={torch.__version__}")


if __name__ == "__main__":
    main()
