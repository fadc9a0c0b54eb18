"""Recomputes run-context.fed's metrics from --seed, the cohorts
(--dump-partition) and the client files, and compares them with the run's
metrics file: round_number(), client_seed() (fedrt::clientSeed), shuffle's
permutation (fedrt_shuffle_rows), take, skip and random_uniform.

usage: run_context.py DATA_DIR PARTITION.json METRICS.jsonl SEED
"""
import csv
import json
import os
import sys

import numpy as np

M = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def signed(x):
    return x - (1 << 64) if x >> 63 else x


def client_seed(seed, rnd, position):
    a = splitmix64(seed ^ 0x243F6A8885A308D3) ^ (rnd & M)
    b = splitmix64(a) ^ (position & M)
    return signed(splitmix64(b))


def shuffled(seed, n):
    rows = list(range(n))
    key = splitmix64((seed & M) ^ 0x9E6C63D0676A9A99)
    for i in range(n - 1, 0, -1):
        r = splitmix64((key + i) & M)
        j = (r * (i + 1)) >> 64
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def uniform_f32(seed, low, high):
    base = splitmix64((seed & M) ^ 0x5851F42D4C957F2D) ^ 0
    u = (splitmix64(base) >> 11) * 2.0**-53
    x = np.float32(np.float64(low) + (np.float64(high) - low) * u)
    return x if x < high else np.float32(low)


def c_mod(a, b):
    r = abs(a) % b
    return -r if a < 0 else r


def main(data_dir, partition, metrics, seed):
    seed = int(seed)
    ys = []
    for name in sorted(os.listdir(data_dir)):
        with open(os.path.join(data_dir, name)) as f:
            ys.append([np.float32(r["y"]) for r in csv.DictReader(f)])
    population = [c for c, y in enumerate(ys) if y]
    cohorts = json.load(open(partition))["cohorts"]
    lines = [json.loads(l) for l in open(metrics)]
    bad = 0
    for rnd, (cohort, got) in enumerate(zip(cohorts, lines), start=1):
        seeds = [client_seed(seed, rnd, population.index(c)) for c in cohort]
        first = take = skip = uniform = 0.0
        for c, s in zip(cohort, seeds):
            y = ys[c]
            perm = shuffled(s, len(y))
            first += float(y[perm[0]])
            top = [y[i] for i in perm[:3]]
            for k in range(0, len(top), 2):
                take += float(np.float32(sum(float(v) for v in top[k:k + 2])))
            skip += sum(float(v) for v in y[2:])
            uniform += float(uniform_f32(s, 2.0, 3.0))
        want = {"round_seen": rnd, "seed_max": max(seeds),
                "seed_low": sum(c_mod(s, 1000) for s in seeds),
                "first_y": first, "take_y": take, "skip_y": skip,
                "uniform": uniform}
        for k, v in want.items():
            ok = got[k] == v if isinstance(v, int) else abs(got[k] - v) <= 1e-9 * max(1.0, abs(v))
            if not ok:
                print(f"round {rnd}: {k} is {got[k]}, expected {v}")
                bad += 1
    print("run context: OK" if bad == 0 and len(lines) == len(cohorts) else "run context: MISMATCH")


if __name__ == "__main__":
    main(*sys.argv[1:])
