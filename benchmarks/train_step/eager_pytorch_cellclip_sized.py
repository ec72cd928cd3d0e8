#!/usr/bin/python3
"""The CellCLIP-sized training step of cellclip_sized.exp written as a user
would in eager PyTorch (Debian's python3-torch, the same ATen as the runtime):
precomputed per-channel features -> LayerNorm -> Linear -> GELU -> Linear,
a perturbation embedding table, symmetric CLIP with a learnable clamped
temperature, AdamW with no decay on biases, norms and the temperature.

Prints the median milliseconds per step over REPEATS runs of the same
difference the C++ bench takes (45 steps minus 5 steps).

  eager_pytorch.py PLAN.json THREADS REPEATS
"""
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

plan_path, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
with open(plan_path) as f:
    plan = json.load(f)
shapes = {p["name"]: p["shape"] for p in plan["parameters"] if not p.get("frozen")}
batch = plan["train"]["batch"]
opt = plan["train"]["optimizer"]["params"]

channels, feat, hidden, dim = 5, 768, 2048, 512
classes = shapes["perturbations.1.embedding.table"][0]
rows = 1040  # the plan's training sites


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(channels * feat)
        self.fc1 = torch.nn.Linear(channels * feat, hidden)
        self.fc2 = torch.nn.Linear(hidden, dim)
        self.table = torch.nn.Embedding(classes, dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, x, labels):
        a = self.fc2(F.gelu(self.fc1(self.norm(x.flatten(1)))))
        b = self.table(labels)
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        logits = self.logit_scale.exp() * a @ b.t()
        target = torch.arange(len(a))
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


model = Model()
# The same model: the same trainable parameter shapes as the plan's.
mine = sorted(tuple(p.shape) for p in model.parameters())
theirs = sorted(tuple(s) for s in shapes.values())
assert mine == theirs, (mine, theirs)
decay = [model.fc1.weight, model.fc2.weight, model.table.weight]
no_decay = [p for p in model.parameters() if all(p is not d for d in decay)]
optim = torch.optim.AdamW([{"params": decay, "weight_decay": opt["weight_decay"]},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
features = torch.randn(rows, channels, feat)
labels = torch.randint(0, classes, (rows,))
max_scale = math.log(100.0)


def train(steps):
    g = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randperm(rows, generator=g)[:batch]
        optim.zero_grad()
        loss = model(features[idx], labels[idx])
        loss.backward()
        optim.step()
        with torch.no_grad():
            model.logit_scale.clamp_(max=max_scale)
    return time.perf_counter() - start


per_step = [(train(45) - train(5)) / 40 for _ in range(repeats)]
print(f"{1000 * statistics.median(per_step):.3f}")
