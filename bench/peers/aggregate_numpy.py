#!/usr/bin/env python3
"""The NumPy peer of bench/agg_bench.cpp: the weighted mean of N updates of
P float32 (the same values: x[c, k] = ((c*P + k) * 2654435761 mod 2^32) /
2^32, w[c] = 1 + floor(7 x[c, 0])) with numpy.average and with w @ X / sum(w).
Prints one JSON object: the best time of each over REPETITIONS runs.

usage: aggregate_numpy.py N P [REPETITIONS]"""
import json
import sys
import time

import numpy as np


def main():
    n, p = int(sys.argv[1]), int(sys.argv[2])
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    i = np.arange(n * p, dtype=np.uint64)
    x = (((i * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float32)
         / np.float32(2**32)).reshape(n, p)
    del i
    w = (1 + np.floor(np.float32(7) * x[:, 0])).astype(np.float32)

    def best(f):
        t = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            r = f()
            t = min(t, time.perf_counter() - start)
        return t, r

    t_avg, mean = best(lambda: np.average(x, axis=0, weights=w))
    t_matvec, mean2 = best(lambda: (w @ x) / w.sum())
    print(json.dumps({"n": n, "p": p, "average_s": t_avg, "matvec_s": t_matvec,
                      "checksum": float(mean[p // 2]), "checksum_matvec": float(mean2[p // 2])}))


if __name__ == "__main__":
    main()
