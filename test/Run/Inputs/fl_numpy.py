"""NumPy references for std.fl's algorithms as the examples write them
(examples/fedopt.fed with fedadam, fedyogi, fedadagrad or fedavgm (server
rate 1, momentum 0.9, the velocity in the state's m) in `step`,
fedprox.fed, ditto.fed): the same clients and cohorts (the program's
--dump-partition file), zero init, per client EPOCHS passes of SGD in
batches of BATCH over its records in order (softmax regression on pixels
/ 16), weighted means in float64 rounded to float32 once (as libfedrt),
every other step in float32 in the examples' order of operations. Then
compares with the program's final state (--print-state) and, for Ditto,
with the clients' personal models in the checkpoint's client-state file:
each within 1e-5.

usage: fl_numpy.py ALGORITHM DIGITS_CSV_GZ PARTITION_JSON OURS_STATE_JSON
       [CLIENT_STATE_FILE]"""
import json
import os
import sys

import numpy as np

import client_states

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "bench", "peers"))
import digits_partition  # noqa: E402

F = np.float32
EPOCHS, BATCH, LR = 2, 16, F(0.1)
EYE = np.eye(10, dtype=F)


def grads(m, xb, yb):
    z = xb @ m[0] + m[1]
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    d = (p - EYE[yb]) / F(len(yb))
    return [xb.T @ d, d.sum(axis=0)]


def batches(data):
    x, y = data
    for _ in range(EPOCHS):
        for s in range(0, len(y), BATCH):
            yield x[s:s + BATCH] / F(16), y[s:s + BATCH]


def sgd(w, data, mu=None):
    cur = [t.copy() for t in w]
    for xb, yb in batches(data):
        g = grads(cur, xb, yb)
        if mu is not None:  # fedprox_grad: g + mu (w - global)
            g = [g[k] + mu * (cur[k] - w[k]) for k in range(2)]
        cur = [cur[k] - LR * g[k] for k in range(2)]
    return cur


def ditto(w, v, data, lam=F(0.1)):
    cur, mine = [t.copy() for t in w], [t.copy() for t in v]
    for xb, yb in batches(data):
        g = grads(cur, xb, yb)
        gv = grads(mine, xb, yb)
        cur = [cur[k] - LR * g[k] for k in range(2)]
        mine = [mine[k] - LR * (gv[k] + lam * (mine[k] - w[k])) for k in range(2)]
    return cur, mine


def weighted_mean(values, weights):
    total = sum(weights)
    return [(sum(np.float64(n) * v[k] for v, n in zip(values, weights)) / total).astype(F)
            for k in range(2)]


def server_step(algorithm, x, delta, m, v):
    lr, b1, b2, tau = F(0.03), F(0.9), F(0.99), F(0.001)
    if algorithm == "fedavgm":  # velocity in m: m' = 0.9 m + delta; x + 1.0 m'
        m = [F(0.9) * m[k] + delta[k] for k in range(2)]
        return [x[k] + F(1) * m[k] for k in range(2)], m, v
    d2 = [t * t for t in delta]
    if algorithm == "fedadam":
        v = [b2 * v[k] + (F(1) - b2) * d2[k] for k in range(2)]
    elif algorithm == "fedyogi":
        v = [v[k] - (F(1) - b2) * (d2[k] * np.sign(v[k] - d2[k])) for k in range(2)]
    else:  # fedadagrad
        v = [v[k] + d2[k] for k in range(2)]
    m = [b1 * m[k] + (F(1) - b1) * delta[k] for k in range(2)]
    return [x[k] + lr * (m[k] / (np.sqrt(v[k]) + tau)) for k in range(2)], m, v


def run(algorithm, clients, cohorts):
    zero = lambda: [np.zeros((64, 10), F), np.zeros(10, F)]
    x, m, v = zero(), zero(), [np.full((64, 10), F(0.001) * F(0.001), F),
                               np.full(10, F(0.001) * F(0.001), F)]
    personal = {}
    for cohort in cohorts:
        sizes = [len(clients[c][1]) for c in cohort]
        if algorithm in ("fedprox", "ditto"):
            trained = []
            for c in cohort:
                if algorithm == "ditto":
                    g, personal[c] = ditto(x, personal.get(c, zero()), clients[c])
                    trained.append(g)
                else:
                    trained.append(sgd(x, clients[c], mu=F(0.1)))
            x = weighted_mean(trained, sizes)
        else:
            deltas = []
            for c in cohort:
                cur = sgd(x, clients[c])
                deltas.append([cur[k] - x[k] for k in range(2)])
            x, m, v = server_step(algorithm, x, weighted_mean(deltas, sizes), m, v)
    return x, m, v, personal


def main():
    algorithm, digits, partition, ours_path = sys.argv[1:5]
    clients, cohorts = digits_partition.load(digits, partition)
    x, m, v, personal = run(algorithm, clients, cohorts)
    ours = json.loads(open(ours_path).read().splitlines()[-1])
    pairs = [(ours, x)] if algorithm in ("fedprox", "ditto") else [
        (ours["x"], x), (ours["m"], m), (ours["v"], v)]
    worst = max(np.abs(np.array(o[k]) - r[j]).max()
                for o, r in pairs for j, k in enumerate("wb"))
    assert np.abs(x[0]).max() > 0.01, "the model did not move"
    assert worst <= 1e-5, f"{algorithm}: max difference {worst}"
    print(f"{algorithm}: model max difference {worst:.1e}")
    if algorithm == "ditto":
        states = client_states.read(sys.argv[5])
        assert sorted(states) == sorted(personal), (sorted(states), sorted(personal))
        worst = max(np.abs(states[c][k] - personal[c][k]).max()
                    for c in states for k in range(2))
        assert worst <= 1e-5, f"ditto personal models: max difference {worst}"
        print(f"ditto: {len(states)} personal models, max difference {worst:.1e}")


if __name__ == "__main__":
    main()
