#!/usr/bin/python3
"""The CellCLIP-sized training step of cellclip_sized.exp written as a user
would in eager PyTorch (Debian's python3-torch, the same ATen as the runtime):
precomputed per-channel features -> LayerNorm -> Linear -> GELU -> Linear,
a perturbation embedding table, symmetric CLIP with a learnable clamped
temperature, AdamW with no decay on biases, norms and the temperature.

Prints milliseconds per step (eager_common.py).

  eager_pytorch_cellclip_sized.py PLAN.json THREADS REPEATS
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eager_common import adamw, clip_loss, setup, time_training  # noqa: E402

plan, shapes, repeats = setup()
batch = plan["train"]["batch"]

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
        return clip_loss(a, self.table(labels), self.logit_scale)


model = Model()
optim = adamw(model, plan, shapes, [model.fc1.weight, model.fc2.weight, model.table.weight])
features = torch.randn(rows, channels, feat)
labels = torch.randint(0, classes, (rows,))
time_training(model, optim, features, labels, batch, repeats)
