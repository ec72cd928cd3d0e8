"""What the eager-PyTorch baselines of benchmarks/train_step share: reading
the plan they mirror, AdamW with the plan's decay groups, and timing the
training loop as exp-bench-train-step does (45 steps minus 5 steps, the
median over REPEATS runs, in milliseconds per step).

  eager_pytorch_CONFIG.py PLAN.json THREADS REPEATS [DEVICE [MODE]]

DEVICE is cpu (the default) or cuda; MODE is eager (the default) or compile
(torch.compile of the model and its loss). On CUDA the optimiser is AdamW's
fused implementation, bf16 autocast follows the plan's `precision`, and a
second number follows the time: the step's FLOPs (forward and backward, by
torch.utils.flop_counter), for benchmarks/gpu's MFU.
"""
import contextlib
import json
import os
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DEVICE, MODE, PLAN = "cpu", "eager", None


def setup():
    """The plan, its trainable parameter shapes by name, and the repeats."""
    plan_path, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    global DEVICE, MODE
    DEVICE = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    MODE = sys.argv[5] if len(sys.argv) > 5 else "eager"
    assert DEVICE in ("cpu", "cuda") and MODE in ("eager", "compile"), sys.argv[4:]
    if MODE == "compile" and not hasattr(torch, "compile"):  # PyTorch < 2 (Debian's 1.13)
        print(f"torch {torch.__version__} has no torch.compile", file=sys.stderr)
        print("nan 0")
        sys.exit(0)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    global PLAN
    with open(plan_path) as f:
        plan = PLAN = json.load(f)
    shapes = {p["name"]: p["shape"] for p in plan["parameters"] if not p.get("frozen")}
    return plan, shapes, repeats


def adamw(model, plan, shapes, decay):
    """AdamW over `model` with weight decay on `decay` only, after checking
    the model has the plan's trainable parameter shapes (the same model)."""
    mine = sorted(tuple(p.shape) for p in model.parameters())
    theirs = sorted(tuple(s) for s in shapes.values())
    assert mine == theirs, (mine, theirs)
    opt = plan["train"]["optimizer"]["params"]
    ids = {id(p) for p in decay}
    no_decay = [p for p in model.parameters() if id(p) not in ids]
    extra = {"fused": True} if DEVICE == "cuda" else {}
    if DEVICE == "cuda":
        model.to(DEVICE)  # the same Parameter objects, now on the GPU
    return torch.optim.AdamW([{"params": decay, "weight_decay": opt["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"], **extra)


def clip_loss(a, b, logit_scale):
    """Symmetric InfoNCE over cosine similarities scaled by exp(logit_scale)."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = logit_scale.exp() * a @ b.t()
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def time_training(model, optim, inputs, labels, batch, repeats, max_logit_scale=100.0):
    """Prints the median ms per step of shuffled mini-batch training, with
    the learnable temperature clamped after each step as the plan's `max`."""
    rows = len(labels)
    bound = math.log(max_logit_scale)
    cuda = DEVICE == "cuda"
    if cuda:
        model.to(DEVICE)
        inputs, labels = inputs.to(DEVICE), labels.to(DEVICE)
    bf16 = cuda and PLAN["train"].get("precision") == "bf16"
    forward = torch.compile(model) if MODE == "compile" else model

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def step(idx):
        optim.zero_grad(set_to_none=True)
        with autocast():
            loss = forward(inputs[idx], labels[idx])
        loss.backward()
        optim.step()
        with torch.no_grad():
            model.logit_scale.clamp_(max=bound)

    def train(steps):
        g = torch.Generator().manual_seed(1)
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step(torch.randperm(rows, generator=g)[:batch].to(inputs.device))
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    # EXP_BENCH_STEPS=SHORT,LONG as exp-bench-train-step reads it (default 5,45).
    short, long_ = (int(v) for v in os.environ.get("EXP_BENCH_STEPS", "5,45").split(","))
    train(short)  # torch.compile compiles here, outside the timing
    per_step = [(train(long_) - train(short)) / (long_ - short) for _ in range(repeats)]
    line = f"{1000 * statistics.median(per_step):.3f}"
    if cuda:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter:
            idx = torch.arange(batch, device=inputs.device) % rows
            with autocast():
                loss = model(inputs[idx], labels[idx])
            loss.backward()
        line += f" {counter.get_total_flops()}"
    print(line)
