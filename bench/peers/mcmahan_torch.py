#!/usr/bin/env python3
"""McMahan et al. 2017's 2NN and CNN in PyTorch, as a PyTorch (or Flower)
user writes them: the peer of examples/mnist_2nn.fed and
examples/mnist_cnn.fed.

  mcmahan_torch.py throughput MODEL BATCH EXAMPLES EPOCHS THREADS
      Trains MODEL (2nn or cnn) from PyTorch's default initialization on
      the first EXAMPLES Fashion-MNIST training images, EPOCHS passes of
      minibatch SGD (lr 0.1) in batches of BATCH, on THREADS intra-op
      threads; prints examples/s of the training loop.

  mcmahan_torch.py fedavg MODEL PARTITION_JSON INITIAL_JSON EPOCHS BATCH LR THREADS [EVAL_EVERY]
      FedAvg on the same clients and cohorts as the compiled program (its
      --dump-partition file) from the same initial model (its --rounds 0
      --print-state output): per client EPOCHS passes over its records,
      reshuffled every epoch, in batches of BATCH with SGD at rate LR, then
      the cohort's models averaged weighted by their record counts. Prints
      a JSON line with the test-set accuracy every EVAL_EVERY rounds
      (default 1) and after the last.

Images are scaled to [0, 1] as the .fed programs do. The CNN runs NCHW
(PyTorch's layout); fedc's HWIO filters and its NHWC flattening order are
converted once at the start."""
import gzip
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def idx(name, header, shape):
    with gzip.open(f"{DATA}/{name}") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header).reshape(shape)


def load(split):
    prefix = "train" if split == "train" else "t10k"
    x = idx(f"{prefix}-images-idx3-ubyte.gz", 16, (-1, 1, 28, 28))
    y = idx(f"{prefix}-labels-idx1-ubyte.gz", 8, (-1,))
    return (torch.tensor(x, dtype=torch.float32) / 255.0,
            torch.tensor(y, dtype=torch.int64))


def forward(model, p, x):
    if model == "2nn":
        h = torch.relu(x.reshape(x.shape[0], -1) @ p["w1"] + p["b1"])
        h = torch.relu(h @ p["w2"] + p["b2"])
        return h @ p["w3"] + p["b3"]
    h = F.max_pool2d(torch.relu(F.conv2d(x, p["k1"], p["c1"], padding=2)), 2)
    h = F.max_pool2d(torch.relu(F.conv2d(h, p["k2"], p["c2"], padding=2)), 2)
    h = torch.relu(h.reshape(h.shape[0], -1) @ p["w1"] + p["b1"])
    return h @ p["w2"] + p["b2"]


def default_init(model):
    """PyTorch's nn.Linear / nn.Conv2d default: uniform +-1/sqrt(fan_in)."""
    def u(shape, fan_in):
        b = 1 / fan_in ** 0.5
        return (torch.rand(shape) * 2 - 1) * b
    if model == "2nn":
        return {"w1": u((784, 200), 784), "b1": u((200,), 784),
                "w2": u((200, 200), 200), "b2": u((200,), 200),
                "w3": u((200, 10), 200), "b3": u((10,), 200)}
    return {"k1": u((32, 1, 5, 5), 25), "c1": u((32,), 25),
            "k2": u((64, 32, 5, 5), 800), "c2": u((64,), 800),
            "w1": u((3136, 512), 3136), "b1": u((512,), 3136),
            "w2": u((512, 10), 512), "b2": u((10,), 512)}


def from_fedc(model, state):
    p = {k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()}
    if model == "cnn":
        p["k1"] = p["k1"].permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
        p["k2"] = p["k2"].permute(3, 2, 0, 1).contiguous()
        # fedc flattens [7, 7, 64] (h, w, c); PyTorch [64, 7, 7] (c, h, w).
        p["w1"] = p["w1"].reshape(7, 7, 64, 512).permute(2, 0, 1, 3).reshape(3136, 512).contiguous()
    return p


def sgd_steps(model, p, x, y, epochs, batch, lr, generator=None):
    params = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    names = list(params)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator) if generator else torch.arange(len(y))
        for s in range(0, len(y), batch):
            i = order[s:s + batch]
            loss = F.cross_entropy(forward(model, params, x[i]), y[i])
            grads = torch.autograd.grad(loss, [params[k] for k in names])
            with torch.no_grad():
                for k, g in zip(names, grads):
                    params[k] -= lr * g
    return {k: v.detach() for k, v in params.items()}


def throughput(model, batch, examples, epochs, threads):
    torch.set_num_threads(threads)
    x, y = load("train")
    x, y = x[:examples], y[:examples]
    p = default_init(model)
    sgd_steps(model, p, x[:2 * batch], y[:2 * batch], 1, batch, 0.1)  # warm-up
    start = time.perf_counter()
    sgd_steps(model, p, x, y, epochs, batch, 0.1)
    elapsed = time.perf_counter() - start
    print(f"{examples * epochs / elapsed:.1f}")


def accuracy(model, p, x, y):
    with torch.no_grad():
        correct = 0
        for s in range(0, len(y), 1000):
            correct += (forward(model, p, x[s:s + 1000]).argmax(1) == y[s:s + 1000]).sum().item()
    return correct / len(y)


def fedavg(model, partition, initial, epochs, batch, lr, threads, every):
    torch.set_num_threads(threads)
    x, y = load("train")
    tx, ty = load("test")
    plan = json.load(open(partition))
    clients = [torch.tensor(c, dtype=torch.int64) for c in plan["clients"]]
    state = json.loads(open(initial).read().strip().splitlines()[-1])
    p = from_fedc(model, state)
    g = torch.Generator().manual_seed(0)
    for r, cohort in enumerate(plan["cohorts"], start=1):
        sums = {k: torch.zeros_like(v, dtype=torch.float64) for k, v in p.items()}
        total = 0.0
        for c in cohort:
            i = clients[c]
            q = sgd_steps(model, p, x[i], y[i], epochs, batch, lr, g)
            for k in sums:
                sums[k] += len(i) * q[k].double()
            total += len(i)
        p = {k: (sums[k] / total).float() for k in sums}
        if r % every == 0 or r == len(plan["cohorts"]):
            print(json.dumps({"round": r, "eval_accuracy": accuracy(model, p, tx, ty)}),
                  flush=True)


def main():
    mode, model = sys.argv[1], sys.argv[2]
    if mode == "throughput":
        batch, examples, epochs, threads = map(int, sys.argv[3:7])
        throughput(model, batch, examples, epochs, threads)
    else:
        partition, initial = sys.argv[3], sys.argv[4]
        epochs, batch, lr, threads = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8])
        every = int(sys.argv[9]) if len(sys.argv) > 9 else 1
        fedavg(model, partition, initial, epochs, batch, lr, threads, every)


if __name__ == "__main__":
    main()
