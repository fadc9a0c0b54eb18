#!/usr/bin/env python3
"""Checks `train` of docs/design.md §2.6, compiled by fedc and run through
`fedc call`, against the same steps in NumPy (float32).

Usage: train_numpy.py FEDC PROGRAM.fed DIGITS.csv.gz
The first 75 digits rows (3 batches of 32, the last one short) train from a
small random model; the models must agree to 1e-5.
"""
import gzip
import json
import subprocess
import sys

import numpy as np

fedc, program, digits = sys.argv[1:4]
rows = np.loadtxt(gzip.open(digits, "rt"), delimiter=",", dtype=np.float32)[:75]
x = rows[:, :64] / 16.0
y = rows[:, 64].astype(np.int32)
rng = np.random.default_rng(7)
w = (rng.standard_normal((64, 10)) * 0.1).astype(np.float32)
b = (rng.standard_normal(10) * 0.1).astype(np.float32)

model = {"w": w.tolist(), "b": b.tolist()}
data = [{"x": xi.tolist(), "y": int(yi)} for xi, yi in zip(x, y)]
out = subprocess.run([fedc, "call", program, "train", json.dumps(model),
                      json.dumps(data)], capture_output=True, text=True)
if out.returncode != 0:
    sys.exit("fedc call failed:\n" + out.stderr)
got = json.loads(out.stdout)

LR = np.float32(0.05)
for start in range(0, len(x), 32):
    bx, by = x[start:start + 32], y[start:start + 32]
    z = bx @ w + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    d = (p - np.eye(10, dtype=np.float32)[by]) / np.float32(len(bx))
    w = w - LR * (bx.T @ d)
    b = b - LR * d.sum(axis=0)

dw = np.abs(np.array(got["w"], dtype=np.float64) - w).max()
db = np.abs(np.array(got["b"], dtype=np.float64) - b).max()
moved = np.abs(w - np.array(model["w"])).max()
print(f"max |dw| = {dw:.3g}, max |db| = {db:.3g}, training moved w by {moved:.3g}")
if not (dw <= 1e-5 and db <= 1e-5 and moved > 1e-3):
    sys.exit("MISMATCH")
print("train matches NumPy")
