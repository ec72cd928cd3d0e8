#!/usr/bin/python3
"""The ViT-S/16-sized training step of vit_s16_sized.exp written as a user
would in eager PyTorch (Debian's python3-torch, the same ATen as the runtime),
in timm's style: a patch-embedding convolution, a learned position embedding,
a CLS token, 12 pre-norm blocks (multi-head self-attention as timm writes it,
MLP with GELU), a final LayerNorm and the mean over patch tokens; a
perturbation embedding table; symmetric CLIP with a learnable clamped
temperature; AdamW with no decay on biases, norms, the CLS token and the
position embedding.

Prints milliseconds per step (eager_common.py).

  eager_pytorch_vit_s16_sized.py PLAN.json THREADS REPEATS
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
data = plan["data"]["params"]
channels, size = data["channels"], data["image_size"]
width, depth, heads, patch, mlp = 384, 12, 6, 16, 4
classes = shapes["perturbations.1.embedding.table"][0]
rows = 256


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.proj = torch.nn.Linear(width, width)
        self.scale = (width // heads) ** -0.5

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(width, eps=1e-6)
        self.attn = Attention()
        self.norm2 = torch.nn.LayerNorm(width, eps=1e-6)
        self.fc1 = torch.nn.Linear(width, mlp * width)
        self.fc2 = torch.nn.Linear(mlp * width, width)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        n = (size // patch) ** 2
        self.patch = torch.nn.Conv2d(channels, width, patch, stride=patch)
        self.pos = torch.nn.Parameter(torch.randn(n, width) * 0.02)
        self.cls = torch.nn.Parameter(torch.randn(width) * 0.02)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(depth))
        self.norm = torch.nn.LayerNorm(width, eps=1e-6)
        self.table = torch.nn.Embedding(classes, width)
        self.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.1)))

    def forward(self, x, labels):
        h = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        h = torch.cat([self.cls.expand(len(h), 1, width), h], dim=1)
        for block in self.blocks:
            h = block(h)
        a = self.norm(h)[:, 1:].mean(dim=1)
        return clip_loss(a, self.table(labels), self.logit_scale)


model = Model()
# Decay on weight matrices and kernels; not on biases, norms, CLS, positions,
# the temperature.
no_decay = {id(model.pos), id(model.cls), id(model.logit_scale)}
optim = adamw(model, plan, shapes,
              [p for p in model.parameters() if p.dim() >= 2 and id(p) not in no_decay])
images = torch.randn(rows, channels, size, size)
labels = torch.randint(0, classes, (rows,))
time_training(model, optim, images, labels, batch, repeats)
