#!/usr/bin/env python3
"""Computes what each example must print, independently of fedc (NumPy,
float64, straight from the example's data files), and compares it with
the compiled program's output.

usage: check_examples.py EXAMPLE DATA_DIR OUTPUT_FILE [ROUNDS [W0 W1 W2 B]]

fedsgd_linear takes the number of rounds and, optionally, the state it
starts from (else zeros).
"""
import csv
import glob
import json
import os
import sys

import numpy as np


def clients(folder):
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*"))):
        with open(path) as f:
            rows = list(csv.reader(f))
        out.append(np.array([[float(v) for v in r] for r in rows[1:] if r],
                            dtype=np.float64))
    return out


def close(got, want, rel=1e-5, abs_=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=rel, atol=abs_):
        sys.exit(f"mismatch: got {got.tolist()}, want {want.tolist()}")


def main():
    example, data, output = sys.argv[1:4]
    lines = [l for l in open(output).read().splitlines() if l.strip()]
    result = json.loads(lines[-1])
    if example == "average_temperature":
        temps = [c[0, 0] for c in clients(os.path.join(data, "temperatures"))]
        close(result, np.mean(temps))
    elif example == "sensor_proportion":
        parts = [np.mean(c[:, 0] > 70.0) for c in clients(os.path.join(data, "readings"))]
        close(result, np.mean(parts))
    elif example == "mean_variance":
        xs = [c[:, 0] for c in clients(os.path.join(data, "values"))]
        n = np.array([len(x) for x in xs], np.float64)
        mean = np.sum(n * [x.mean() for x in xs]) / n.sum()
        errors = np.array([np.mean((x - mean) ** 2) for x in xs])
        close([result["mean"], result["variance"]],
              [mean, np.sum(n * errors) / n.sum()])
    elif example == "histogram":
        xs = [c[:, 0] for c in clients(os.path.join(data, "values"))]
        counts = np.zeros(8, np.int64)
        for x in xs:
            # As the example bins: i32(x * 8) truncates toward zero, clamped.
            bins = np.clip(np.trunc(x.astype(np.float32) * np.float32(8)).astype(np.int64), 0, 7)
            counts += np.bincount(bins, minlength=8)
        if result[0] != counts.tolist():
            sys.exit(f"mismatch: histogram {result[0]} != {counts.tolist()}")
        close(result[1], min(x.min() for x in xs))
        if result[2] != len(xs):
            sys.exit(f"mismatch: clients {result[2]} != {len(xs)}")
    elif example == "fedsgd_linear":
        rounds = int(sys.argv[4])
        data_ = clients(os.path.join(data, "linear"))
        w, b, lr = np.zeros(3), 0.0, 0.05
        if len(sys.argv) > 5:
            start = [float(v) for v in sys.argv[5:9]]
            w, b = np.array(start[:3], np.float32).astype(np.float64), float(np.float32(start[3]))
        for _ in range(rounds):
            gw, gb, total = np.zeros(3), 0.0, 0.0
            for c in data_:
                x, y = c[:, :3], c[:, 3]
                err = x @ w + b - y
                n = len(y)
                gw += n * (err @ x / n)
                gb += n * err.mean()
                total += n
            w, b = w - lr * gw / total, b - lr * gb / total
        close(result["w"] + [result["b"]], list(w) + [b], rel=1e-4, abs_=1e-4)
    else:
        sys.exit(f"unknown example {example}")
    print(f"{example}: OK")


if __name__ == "__main__":
    main()
