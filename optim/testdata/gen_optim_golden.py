#!/usr/bin/python3
"""Writes optim/testdata/optim_golden.json: PyTorch trajectories of every
optimizer configuration and the LR sequences of every schedule that the Go
tests reproduce.

Run with Debian's PyTorch (python3-torch):

    /usr/bin/python3 optim/testdata/gen_optim_golden.py

The problem: a tiny MLP, y = tanh(x·W1ᵀ + b1)·W2ᵀ + b2, with W1 5×3, W2 2×5,
fixed weights and data drawn here from torch.manual_seed(0), and the loss
mean((y − target)²). Each optimizer configuration starts from the same
weights and runs 20 steps of zero_grad, forward, backward, step (and a
schedule step, where there is one); the file records the loss before each
step and the four parameters (flattened, concatenated as W1, b1, W2, b2)
after each step.

Schedules run on an SGD (or Adam) optimizer with two groups of base LRs
0.1 and 0.02; the file records get_last_lr() after construction and after
each of 20 steps, and the momentum (or β1) where OneCycle cycles it.
"""
import json
import math
import os
import warnings

import numpy
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 20


def problem():
    g = torch.Generator().manual_seed(0)
    return {
        "x": torch.randn(8, 3, generator=g),
        "target": torch.randn(8, 2, generator=g),
        "w1": torch.randn(5, 3, generator=g) * 0.5,
        "b1": torch.randn(5, generator=g) * 0.1,
        "w2": torch.randn(2, 5, generator=g) * 0.5,
        "b2": torch.randn(2, generator=g) * 0.1,
    }


def f32(v):
    """The shortest decimal that reads back as the same float32."""
    return float(str(numpy.float32(v)))


def flat(params):
    return [f32(v) for p in params for v in p.detach().reshape(-1).tolist()]


def make_params(prob):
    return [torch.nn.Parameter(prob[k].clone()) for k in ("w1", "b1", "w2", "b2")]


def loss_fn(prob, params):
    w1, b1, w2, b2 = params
    h = torch.tanh(prob["x"] @ w1.t() + b1)
    y = h @ w2.t() + b2
    return ((y - prob["target"]) ** 2).mean()


# name → (optimizer class, kwargs, groups or None, schedule factory or None).
# groups: list of (parameter indices, lr, weight_decay).
OPTIMIZERS = [
    ("sgd", torch.optim.SGD, dict(lr=0.1), None, None),
    ("sgd_momentum", torch.optim.SGD, dict(lr=0.05, momentum=0.9), None, None),
    ("sgd_dampening", torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3), None, None),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), None, None),
    ("sgd_weight_decay", torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.01), None, None),
    ("adam", torch.optim.Adam, dict(lr=0.01), None, None),
    ("adam_weight_decay", torch.optim.Adam, dict(lr=0.01, weight_decay=0.05), None, None),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.01, amsgrad=True), None, None),
    ("adam_big_eps", torch.optim.Adam, dict(lr=0.01, eps=0.1), None, None),
    ("adamw", torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1), None, None),
    ("adamw_betas", torch.optim.AdamW, dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01), None, None),
    ("rmsprop", torch.optim.RMSprop, dict(lr=0.01), None, None),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=0.01, centered=True), None, None),
    ("rmsprop_big_eps", torch.optim.RMSprop, dict(lr=0.01, eps=0.05), None, None),
    ("rmsprop_momentum", torch.optim.RMSprop, dict(lr=0.005, momentum=0.9), None, None),
    ("rmsprop_all", torch.optim.RMSprop, dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.5, centered=True), None, None),
    ("groups_sgd", torch.optim.SGD, dict(lr=0.5, momentum=0.9), [([0, 1], 0.1, 0.01), ([2, 3], 0.01, 0.0)], None),
    ("groups_adamw", torch.optim.AdamW, dict(lr=0.5), [([0, 1], 0.01, 0.1), ([2, 3], 0.001, 0.0)], None),
    ("adamw_onecycle", torch.optim.AdamW, dict(lr=0.01, weight_decay=0.01), None,
     lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS)),
    ("sgd_warmup_cosine", torch.optim.SGD, dict(lr=0.1, momentum=0.9), None,
     lambda opt: warmup_cosine(opt, warmup=5, total=STEPS, start=0.1, eta_min=1e-3)),
]


def warmup_cosine(opt, warmup, total, start, eta_min):
    """torch's built-in composition: LinearLR then CosineAnnealingLR."""
    return torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup, eta_min=eta_min),
    ], milestones=[warmup])


def run_optimizer(prob, name, cls, kwargs, groups, sched_fn):
    params = make_params(prob)
    if groups:
        pg = [{"params": [params[i] for i in idx], "lr": lr, "weight_decay": wd} for idx, lr, wd in groups]
        opt = cls(pg, **kwargs)
    else:
        opt = cls(params, **kwargs)
    sched = sched_fn(opt) if sched_fn else None
    losses, traj, lrs = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(prob, params)
        loss.backward()
        losses.append(f32(loss.item()))
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if sched:
            sched.step()
        traj.append(flat(params))
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    return {
        "name": name,
        "optimizer": cls.__name__,
        "config": cfg,
        "groups": [{"params": idx, "lr": lr, "weight_decay": wd} for idx, lr, wd in groups] if groups else None,
        "losses": losses,
        "lrs": lrs,
        "params": traj,
    }


def sgd2(momentum=0.9):
    ps = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    return torch.optim.SGD([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1, momentum=momentum)


def adam2():
    ps = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    return torch.optim.Adam([{"params": [ps[0]], "lr": 0.1}, {"params": [ps[1]], "lr": 0.02}], lr=0.1)


def hf_cosine(warmup, total):
    """Hugging Face's get_cosine_schedule_with_warmup, as a LambdaLR factor."""
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return f


SCHEDULES = [
    ("step", sgd2, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
     dict(step_size=3, gamma=0.5), None),
    ("multistep", sgd2, lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[4, 9, 9, 15], gamma=0.3),
     dict(milestones=[4, 9, 9, 15], gamma=0.3), None),
    ("warmup_cosine", sgd2, lambda o: warmup_cosine(o, warmup=5, total=STEPS, start=0.1, eta_min=1e-4),
     dict(warmup=5, total=STEPS, start_factor=0.1, eta_min=1e-4), None),
    ("warmup_cosine_from_zero", sgd2, lambda o: torch.optim.lr_scheduler.LambdaLR(o, hf_cosine(4, STEPS)),
     dict(warmup=4, total=STEPS, start_factor=0.0, eta_min=0.0), None),
    ("cosine_no_warmup", sgd2, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.001),
     dict(warmup=0, total=STEPS, start_factor=1.0, eta_min=0.001), None),
    ("onecycle", sgd2, lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0, 0.2], total_steps=STEPS),
     dict(max_lr=[1.0, 0.2], total_steps=STEPS), "momentum"),
    ("onecycle_linear_three_phase", adam2,
     lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, pct_start=0.25,
                                                   anneal_strategy="linear", div_factor=10, final_div_factor=100,
                                                   three_phase=True, base_momentum=0.8, max_momentum=0.9),
     dict(max_lr=[0.5], total_steps=STEPS, pct_start=0.25, linear=True, div_factor=10, final_div_factor=100,
          three_phase=True, base_momentum=0.8, max_momentum=0.9), "betas"),
]


def run_schedule(name, make_opt, make_sched, args, mom_key):
    opt = make_opt()
    sched = make_sched(opt)
    lrs = [list(sched.get_last_lr())]
    moms = []

    def mom():
        if mom_key == "betas":
            return [g["betas"][0] for g in opt.param_groups]
        return [g["momentum"] for g in opt.param_groups]

    if mom_key:
        moms.append(mom())
    for _ in range(STEPS):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        if mom_key:
            moms.append(mom())
    out = {"name": name, "args": args, "base_lrs": [0.1, 0.02], "lrs": lrs}
    if mom_key:
        out["momentum"] = moms
    return out


def main():
    # SequentialLR steps its children with an epoch argument internally.
    warnings.filterwarnings("ignore", message="The epoch parameter")
    torch.set_num_threads(1)
    prob = problem()
    out = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "problem": {k: {"shape": list(v.shape), "data": flat([v])} for k, v in prob.items()},
        "optimizers": [run_optimizer(prob, *o) for o in OPTIMIZERS],
        "schedules": [run_schedule(*s) for s in SCHEDULES],
    }
    # The closed form of the warmup-cosine composition matches torch's
    # recursive SequentialLR to rounding.
    ws = next(s for s in out["schedules"] if s["name"] == "warmup_cosine")
    for e, lrs in enumerate(ws["lrs"]):
        for base, lr in zip(ws["base_lrs"], lrs):
            if e < 5:
                want = base * (0.1 + 0.9 * e / 5)
            else:
                want = 1e-4 + (base - 1e-4) * (1 + math.cos(math.pi * (e - 5) / 15)) / 2
            assert abs(lr - want) <= 1e-12 * max(1.0, abs(want)), (e, lr, want)
    path = os.path.join(HERE, "optim_golden.json")
    # One line per optimizer and schedule keeps the file small and diffable.
    dumps = lambda v: json.dumps(v, separators=(",", ":"))
    with open(path, "w") as f:
        f.write("{\n")
        for key in ("torch_version", "steps", "problem"):
            f.write("%s:%s,\n" % (dumps(key), dumps(out[key])))
        for key in ("optimizers", "schedules"):
            f.write("%s:[\n%s\n]%s\n" % (dumps(key), ",\n".join(dumps(v) for v in out[key]), "," if key == "optimizers" else ""))
        f.write("}\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
