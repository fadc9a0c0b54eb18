#!/usr/bin/env python3
"""torch.optim's SGD, SGD with momentum, Adam and AdamW for five steps on
test/Exec/Inputs/optim.fed's model and loss (float32), against fedc's
std.optim results read as JSON lines from FILE; prints one line per
optimizer with the largest difference relative to the parameters' scale,
and "OK" when all are within 1e-5.
usage: optim_torch.py FILE"""
import json
import sys

import torch

W0 = [[0.1, 0.2], [0.3, -0.1], [0.5, 0.0]]
B0 = [0.0, 0.1]
X = torch.tensor([[1, 2, 3], [0, 1, 0], [1, 1, 1], [2, 0, 1]], dtype=torch.float32)
Y = torch.tensor([[1, 0], [0, 1], [1, 1], [0.5, 0.5]], dtype=torch.float32)


def train(make):
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    opt = make([w, b])
    for _ in range(5):
        opt.zero_grad()
        e = X @ w + b - Y
        ((e * e).sum() + 0.1 * (w ** 4).sum()).backward()
        opt.step()
    return w.detach(), b.detach()


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.01),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8,
                                         weight_decay=0.1),
}

ours = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
worst = 0.0
for (name, make), got in zip(OPTIMIZERS.items(), ours):
    w, b = train(make)
    moved = max((w - torch.tensor(W0)).abs().max().item(), 1e-3)
    diff = max((torch.tensor(got["w"]) - w).abs().max().item(),
               (torch.tensor(got["b"]) - b).abs().max().item())
    print(f"{name}: moved {moved:.3g}, difference {diff:.2e}")
    worst = max(worst, diff / moved)
print("OK" if len(ours) == len(OPTIMIZERS) and worst <= 1e-5 else f"MISMATCH {worst:.2e}")
