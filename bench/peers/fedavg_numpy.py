#!/usr/bin/env python3
"""FedAvg on the digits data in NumPy, exactly as examples/fedavg.fed does
it: the same clients and cohorts (read from the compiled program's
--dump-partition file), zero init, per client EPOCHS passes over its records
in order in batches of BATCH (softmax regression, SGD with rate LR), then
the mean of the cohort's models weighted by their record counts (float64,
rounded to float32 once, as libfedrt does). Prints the final model as JSON
and the training time on stderr.

usage: fedavg_numpy.py DIGITS_CSV_GZ PARTITION_JSON EPOCHS BATCH LR"""
import json
import sys
import time

import numpy as np

import digits_partition


def main():
    digits, partition, epochs, batch, lr = sys.argv[1:6]
    epochs, batch, lr = int(epochs), int(batch), np.float32(float(lr))
    clients, cohorts = digits_partition.load(digits, partition)

    w = np.zeros((64, 10), np.float32)
    b = np.zeros(10, np.float32)
    eye = np.eye(10, dtype=np.float32)
    start = time.perf_counter()
    for cohort in cohorts:
        sum_w = np.zeros((64, 10), np.float64)
        sum_b = np.zeros(10, np.float64)
        total = 0.0
        for c in cohort:
            x, y = clients[c]
            cw, cb = w.copy(), b.copy()
            for _ in range(epochs):
                for s in range(0, len(y), batch):
                    # The example scales each batch's pixels to [0, 1].
                    xb, yb = x[s:s + batch] / np.float32(16), y[s:s + batch]
                    z = xb @ cw + cb
                    z = z - z.max(axis=1, keepdims=True)
                    p = np.exp(z)
                    p /= p.sum(axis=1, keepdims=True)
                    d = (p - eye[yb]) / np.float32(len(yb))
                    cw = cw - lr * (xb.T @ d)
                    cb = cb - lr * d.sum(axis=0)
            n = float(len(y))
            sum_w += n * cw
            sum_b += n * cb
            total += n
        w = (sum_w / total).astype(np.float32)
        b = (sum_b / total).astype(np.float32)
    elapsed = time.perf_counter() - start
    print(json.dumps({"w": w.tolist(), "b": b.tolist()}))
    print(f"{elapsed:.6f}", file=sys.stderr)


if __name__ == "__main__":
    main()
