"""The PyTorch twin of BenchmarkViTTiStep16 and BenchmarkViTTiStep128
(cuda/vit_test.go): timm's vit_tiny_patch16_224 without dropout, a batch of
224x224 images with random labels, cross-entropy, backward and an AdamW
update (lr 1e-4, weight decay 0.05; PyTorch's default implementation), in
full float32 (TF32 off, as deepgo's default), on the GPU.
Prints one line per batch size: torch_vit_b<batch>_ms_per_step=... (the
median of three timings)

    python3 cuda/bench_vit_torch.py [steps] [batch ...]
"""
import os
import sys
import time

import torch

REPEATS = 3  # timings of `steps` steps each; the median is printed, as go test -count 3


def bench(batch, steps, dev):
    import timm

    torch.manual_seed(1)
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=1000,
                              drop_rate=0.0, drop_path_rate=0.0).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    x = torch.randn(batch, 3, 224, 224, device=dev)
    y = torch.randint(0, 1000, (batch,), device=dev)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000 / steps)
    ms = sorted(times)[len(times) // 2]
    if os.environ.get("DEEPGO_CUDA_PROFILE"):
        profile(step, batch)
    return ms, loss.item()


def profile(step, batch):
    """Prints PyTorch's profile of 5 steps (GPU time by kernel), beside
    deepgo's (DEEPGO_CUDA_PROFILE=1 on the Go benchmarks)."""
    from torch.profiler import ProfilerActivity, profile as tprofile

    with tprofile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step()
        torch.cuda.synchronize()
    avg = prof.key_averages()
    for key in ("self_device_time_total", "self_cuda_time_total"):
        try:
            table = avg.table(sort_by=key, row_limit=30, max_name_column_width=70)
            break
        except Exception:  # older or newer names of the column
            table = None
    print(f"torch profile, batch {batch}, 5 steps:\n{table}", file=sys.stderr, flush=True)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    batches = [int(a) for a in sys.argv[2:]] or [16, 128]
    if not torch.cuda.is_available():
        print("torch_vit_ms_per_step=nan reason=no_cuda")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda:0")
    name = torch.cuda.get_device_name(0).replace(" ", "_")
    for b in batches:
        ms, loss = bench(b, steps, dev)
        print(f"torch_vit_b{b}_ms_per_step={ms:.3f} torch_vit_b{b}_loss={loss:.4f} device={name} torch={torch.__version__}", flush=True)


if __name__ == "__main__":
    main()
