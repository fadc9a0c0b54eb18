"""Checks --per-client-metrics against the run's metrics: every evaluated
client has a line per evaluation, eval's aggregate is the size-weighted mean
of the clients' own metrics (examples/fedavg.fed weighs by records), and
the summary fields are the min, percentiles and max of the clients' values.

usage: per_client_check.py METRICS.jsonl CLIENTS.jsonl PARTITION.json K
(K: clients evaluated each time)
"""
import json
import sys

import numpy as np


def main(metrics, clients, partition, k):
    sizes = json.load(open(partition))["clients"]
    sizes = [len(c) if isinstance(c, list) else c for c in sizes]
    rounds = [json.loads(l) for l in open(metrics)]
    lines = [json.loads(l) for l in open(clients)]
    bad = []
    evaluated = [r for r in rounds if "eval_accuracy" in r]
    for r in evaluated:
        mine = [l for l in lines if l["round"] == r["round"]]
        if len(mine) != int(k) or len({l["client"] for l in mine}) != int(k):
            bad.append(f"round {r['round']}: {len(mine)} client lines")
            continue
        for m in ("loss", "accuracy"):
            v = np.array([l[m] for l in mine], dtype=np.float64)
            w = np.array([sizes[l["client"]] for l in mine], dtype=np.float64)
            if abs((v * w).sum() / w.sum() - r["eval_" + m]) > 1e-6:
                bad.append(f"round {r['round']}: eval_{m} is not the clients' mean")
            want = {"min": v.min(), "p10": np.percentile(v, 10),
                    "p90": np.percentile(v, 90), "max": v.max()}
            for s, x in want.items():
                if abs(r[f"eval_{m}_{s}"] - x) > 1e-6 * max(1, abs(x)):  # f32 metrics
                    bad.append(f"round {r['round']}: eval_{m}_{s} {r[f'eval_{m}_{s}']} != {x}")
    if len(lines) != len(evaluated) * int(k):
        bad.append(f"{len(lines)} lines for {len(evaluated)} evaluations")
    print("\n".join(bad) if bad else f"per-client metrics: OK ({len(evaluated)} evaluations)")


if __name__ == "__main__":
    main(*sys.argv[1:])
