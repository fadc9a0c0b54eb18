#!/usr/bin/env python3
"""SCAFFOLD (Karimireddy et al. 2020, Algorithm 1, option II) on the digits
data in NumPy, as examples/scaffold.fed writes it: the same clients and
cohorts (the compiled program's --dump-partition file), zero init of the
model x, the server's control variate c and every client's c_i; per client
EPOCHS passes in batches of BATCH of y <- y - LR (grad(y) - c_i + c), then
c_i+ = c_i - c + (x - y) / (K LR) with K the client's steps; the server adds
SERVER_LR times the cohort's mean of y - x to x and PARTICIPATION times the
mean of c_i+ - c_i to c (means in float64, rounded to float32 once, as
libfedrt does). Prints the final server state as JSON, and with --clients
FILE writes every client's c_i (those that ran) to FILE as JSON.

usage: scaffold_numpy.py DIGITS_CSV_GZ PARTITION_JSON EPOCHS BATCH LR
       SERVER_LR PARTICIPATION [--clients FILE]"""
import json
import sys

import numpy as np

import digits_partition


def local_update(x, c, ci, data, epochs, batch, lr, eye):
    xs, ys = data
    y = [t.copy() for t in x]
    steps = np.float32(0)
    for _ in range(epochs):
        for s in range(0, len(ys), batch):
            xb, yb = xs[s:s + batch] / np.float32(16), ys[s:s + batch]
            z = xb @ y[0] + y[1]
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            d = (p - eye[yb]) / np.float32(len(yb))
            g = (xb.T @ d, d.sum(axis=0))
            y = [y[k] - lr * (g[k] - ci[k] + c[k]) for k in range(2)]
            steps += np.float32(1)
    next_ci = [ci[k] - c[k] + (x[k] - y[k]) / (steps * lr) for k in range(2)]
    return y, next_ci


def main():
    args = sys.argv[1:]
    out_clients = None
    if "--clients" in args:
        i = args.index("--clients")
        out_clients = args[i + 1]
        del args[i:i + 2]
    digits, partition, epochs, batch, lr, server_lr, share = args
    epochs, batch = int(epochs), int(batch)
    lr, server_lr, share = (np.float32(float(v)) for v in (lr, server_lr, share))
    clients, cohorts = digits_partition.load(digits, partition)
    eye = np.eye(10, dtype=np.float32)
    zero = lambda: [np.zeros((64, 10), np.float32), np.zeros(10, np.float32)]
    x, c = zero(), zero()
    ci = {}
    for cohort in cohorts:
        dy = [np.zeros((64, 10), np.float64), np.zeros(10, np.float64)]
        dc = [np.zeros((64, 10), np.float64), np.zeros(10, np.float64)]
        new = {}
        for k in cohort:
            old = ci.get(k, zero())
            y, next_ci = local_update(x, c, old, clients[k], epochs, batch, lr, eye)
            for j in range(2):
                dy[j] += y[j] - x[j]
                dc[j] += next_ci[j] - old[j]
            new[k] = next_ci
        ci.update(new)
        n = len(cohort)
        mean_dy = [(t / n).astype(np.float32) for t in dy]
        mean_dc = [(t / n).astype(np.float32) for t in dc]
        x = [x[j] + server_lr * mean_dy[j] for j in range(2)]
        c = [c[j] + share * mean_dc[j] for j in range(2)]
    state = {"x": {"w": x[0].tolist(), "b": x[1].tolist()},
             "c": {"w": c[0].tolist(), "b": c[1].tolist()}}
    print(json.dumps(state))
    if out_clients:
        json.dump({str(k): {"w": v[0].tolist(), "b": v[1].tolist()}
                   for k, v in sorted(ci.items())}, open(out_clients, "w"))


if __name__ == "__main__":
    main()
