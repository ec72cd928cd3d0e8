"""What the eager-PyTorch baselines of benchmarks/train_step share: reading
the plan they mirror, AdamW with the plan's decay groups, and timing the
training loop as exp-bench-train-step does (45 steps minus 5 steps, the
median over REPEATS runs, in milliseconds per step).

  eager_pytorch_CONFIG.py PLAN.json THREADS REPEATS
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def setup():
    """The plan, its trainable parameter shapes by name, and the repeats."""
    plan_path, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(plan_path) as f:
        plan = json.load(f)
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
    return torch.optim.AdamW([{"params": decay, "weight_decay": opt["weight_decay"]},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])


def clip_loss(a, b, logit_scale):
    """Symmetric InfoNCE over cosine similarities scaled by exp(logit_scale)."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = logit_scale.exp() * a @ b.t()
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def time_training(model, optim, inputs, labels, batch, repeats, max_logit_scale=100.0):
    """Prints the median ms per step of shuffled mini-batch training, with
    the learnable temperature clamped after each step as the plan's `max`."""
    rows = len(labels)
    bound = math.log(max_logit_scale)

    def train(steps):
        g = torch.Generator().manual_seed(1)
        start = time.perf_counter()
        for _ in range(steps):
            idx = torch.randperm(rows, generator=g)[:batch]
            optim.zero_grad()
            loss = model(inputs[idx], labels[idx])
            loss.backward()
            optim.step()
            with torch.no_grad():
                model.logit_scale.clamp_(max=bound)
        return time.perf_counter() - start

    per_step = [(train(45) - train(5)) / 40 for _ in range(repeats)]
    print(f"{1000 * statistics.median(per_step):.3f}")
