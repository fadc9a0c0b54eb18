#!/usr/bin/env python3
"""Writes the small synthetic client datasets of the examples (fixed seed,
so the committed files are reproducible): per-client CSV files in
temperatures/ (one reading each), readings/ (sensor series), values/
(values in [0, 1) for mean/variance and the histogram) and linear/ (noisy
samples of y = 2 x0 - x1 + 0.5 x2 + 1 for FedSGD)."""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def write(folder, name, header, rows):
    path = os.path.join(HERE, folder)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "w") as f:
        f.write(header + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")


def main():
    rng = random.Random(20261128)
    for c in range(8):
        write("temperatures", f"sensor{c}.csv", "temperature",
              [[f"{rng.uniform(60, 80):.1f}"]])
    for c in range(6):
        n = rng.randint(5, 30)
        write("readings", f"sensor{c}.csv", "reading",
              [[f"{rng.gauss(70, 5):.2f}"] for _ in range(n)])
    for c in range(10):
        n = rng.randint(3, 40)
        skew = rng.uniform(0.5, 3)
        write("values", f"client{c}.csv", "value",
              [[f"{rng.random() ** skew:.4f}"] for _ in range(n)])
    for c in range(12):
        n = rng.randint(10, 60)
        rows = []
        for _ in range(n):
            x = [rng.gauss(0, 1) for _ in range(3)]
            y = 2 * x[0] - x[1] + 0.5 * x[2] + 1 + rng.gauss(0, 0.1)
            rows.append([f"{v:.4f}" for v in x] + [f"{y:.4f}"])
        write("linear", f"client{c:02d}.csv", "x0,x1,x2,y", rows)


if __name__ == "__main__":
    main()
