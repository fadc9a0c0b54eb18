#!/usr/bin/env python3
"""FedAvg in PyTorch (autograd for the gradients, as a Flower or plain
PyTorch user writes it) with the model of examples/fedavg.fed (logistic
regression, w: 64 x 10, b: 10) or examples/fedavg_mlp.fed (the 64 -> 128
-> 10 ReLU MLP, w1 b1 w2 b2), whichever the initial state holds: the same
clients and cohorts (the compiled program's
--dump-partition file), the same initial model (its --rounds 0
--print-state output), per client EPOCHS passes over its records in order
in batches of BATCH with SGD at rate LR on the mean cross-entropy, then
the mean of the cohort's models weighted by their record counts (float64,
rounded to float32 once, as libfedrt does). Runs on THREADS intra-op
threads. Prints the final model as JSON and the training time on stderr.

usage: fedavg_torch.py DIGITS_CSV_GZ PARTITION_JSON INITIAL_JSON EPOCHS BATCH LR THREADS"""
import gzip
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MLP = ("w1", "b1", "w2", "b2")
LINEAR = ("w", "b")


def logits(p, xb):
    if "w1" in p:
        return torch.relu(xb @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    return xb @ p["w"] + p["b"]


def main():
    digits, partition, initial, epochs, batch, lr, threads = sys.argv[1:8]
    epochs, batch, lr = int(epochs), int(batch), float(lr)
    torch.set_num_threads(int(threads))
    with gzip.open(digits, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x_all = torch.tensor(data[:, :64], dtype=torch.float32)
    y_all = torch.tensor(data[:, 64], dtype=torch.int64)
    plan = json.load(open(partition))
    clients = [(x_all[idx], y_all[idx]) for idx in map(torch.tensor, plan["clients"])]
    state = json.loads(open(initial).read().strip().splitlines()[-1])
    fields = MLP if "w1" in state else LINEAR
    model = {k: torch.tensor(state[k], dtype=torch.float32) for k in fields}

    start = time.perf_counter()
    for cohort in plan["cohorts"]:
        sums = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in model.items()}
        total = 0.0
        for c in cohort:
            x, y = clients[c]
            params = {k: v.clone().requires_grad_(True) for k, v in model.items()}
            for _ in range(epochs):
                for s in range(0, len(y), batch):
                    xb, yb = x[s:s + batch] / 16.0, y[s:s + batch]
                    loss = F.cross_entropy(logits(params, xb), yb)
                    grads = torch.autograd.grad(loss, [params[k] for k in fields])
                    with torch.no_grad():
                        params = {k: (params[k] - lr * g).requires_grad_(True)
                                  for k, g in zip(fields, grads)}
            n = float(len(y))
            for k in fields:
                sums[k] += n * params[k].detach().double()
            total += n
        model = {k: (sums[k] / total).float() for k in fields}
    elapsed = time.perf_counter() - start
    print(json.dumps({k: v.tolist() for k, v in model.items()}))
    print(f"{elapsed:.6f}", file=sys.stderr)


if __name__ == "__main__":
    main()
