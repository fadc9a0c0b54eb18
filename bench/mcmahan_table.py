#!/usr/bin/env python3
"""McMahan et al. 2017's Table 2 on Fashion-MNIST: rounds of FedAvg until
the test accuracy first reaches 85 % and 88 %, for the 2NN and the CNN, IID
and pathological non-IID (2 label-sorted shards per client), E and B from
the paper's grid; fedc (examples/mnist_2nn.fed, mnist_cnn.fed with E and B
set) against bench/peers/mcmahan_torch.py trained on the same partition,
cohorts and initial weights (the program's --dump-partition and --rounds 0
--print-state). 100 clients, C = 0.1, lr 0.1, test set evaluated every
round. Prints the table (markdown) and how closely the two curves agree.

usage: mcmahan_table.py BUILD_DIR [--rounds R] [--threads T] [--eval-every K]
                        [--curves DIR] [CONFIG ...]

--rounds R caps fedc's run (default 500). The peer, ~6x slower, runs to
twice the round at which fedc reached the last target, plus 10 (at most R):
a peer that has not reached it by then is reported as "> N" with its own N.
--eval-every K evaluates both every K rounds (default 1): rounds to a
target are then known to within K. --curves DIR keeps both learning curves
(DIR/CONFIG.fedc.jsonl, DIR/CONFIG.torch.jsonl). Rows print as each
configuration finishes.

A CONFIG is MODEL:SPLIT:E:B, e.g. 2nn:iid:1:50 (the cheapest, the
default); `all` runs the whole grid (hours on two cores)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
DATA = "/usr/share/datasets/fashion-mnist"
TARGETS = (0.85, 0.88)
LR = 0.1
GRID = [f"{m}:{s}:{e}:{b}" for m in ("2nn", "cnn") for s in ("iid", "noniid")
        for e in (1, 5) for b in (50, 10)]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def first_round(curve, target):
    for r, a in curve:
        if a >= target:
            return r
    return None


def peer_rounds(ours, rounds):
    """Twice the round at which fedc reached the last target, plus 10."""
    last = first_round(ours, TARGETS[-1])
    return rounds if last is None else min(rounds, 2 * last + 10)


def one(build, config, rounds, threads, every, work, curves):
    model, split, epochs, batch = config.split(":")
    text = open(f"{ROOT}/examples/mnist_{model}.fed").read()
    text = re.sub(r"const BATCH: i32 = \d+;", f"const BATCH: i32 = {batch};", text)
    text = re.sub(r"const EPOCHS: i32 = \d+;", f"const EPOCHS: i32 = {epochs};", text)
    text = re.sub(r"const LR: f32 = [0-9.]+;", f"const LR: f32 = {LR};", text)
    src = f"{work}/{model}_{epochs}_{batch}.fed"
    with open(src, "w") as f:
        f.write(text)
    exe = src[:-4]
    run([f"{build}/bin/fedc", "-O2", src, "-o", exe])
    common = ["--data", f"x={DATA}/train-images-idx3-ubyte.gz,y={DATA}/train-labels-idx1-ubyte.gz",
              "--partition", "iid" if split == "iid" else "shards:2",
              "--clients", "100", "--clients-per-round", "10", "--seed", "1"]
    initial, partition, metrics = (f"{work}/{config}.{x}" for x in ("init.json", "part.json", "jsonl"))
    with open(initial, "w") as f:
        f.write(run([exe] + common + ["--rounds", "0", "--print-state"]).stdout)
    run([exe] + common + [
        "--eval-data", f"x={DATA}/t10k-images-idx3-ubyte.gz,y={DATA}/t10k-labels-idx1-ubyte.gz",
        "--rounds", str(rounds), "--eval-every", str(every), "--threads", str(threads),
        "--dump-partition", partition, "--metrics", metrics])
    ours = [(m["round"], m["eval_accuracy"]) for m in map(json.loads, open(metrics))
            if "eval_accuracy" in m]
    limit = peer_rounds(ours, rounds)
    plan = json.load(open(partition))
    plan["cohorts"] = plan["cohorts"][:limit]
    with open(partition, "w") as f:
        json.dump(plan, f)
    peer = run([PY, f"{ROOT}/bench/peers/mcmahan_torch.py", "fedavg", model, partition,
                initial, epochs, batch, str(LR), str(threads), str(every)]).stdout
    theirs = [(m["round"], m["eval_accuracy"]) for m in map(json.loads, peer.splitlines())]
    if curves:
        shutil.copy(metrics, f"{curves}/{config}.fedc.jsonl")
        with open(f"{curves}/{config}.torch.jsonl", "w") as f:
            f.write(peer)
    # Compare the curves over the rounds both ran: the last 20 % of them.
    shared = [(a, b) for a, b in zip(ours, theirs) if a[0] == b[0]]
    tail = shared[-max(1, len(shared) // 5):]
    gap = sum(abs(a[1] - b[1]) for a, b in tail) / len(tail)
    row = [model.upper(), "IID" if split == "iid" else "non-IID", epochs, batch]
    for t in TARGETS:
        for curve, ran in ((ours, rounds), (theirs, limit)):
            r = first_round(curve, t)
            row.append(str(r) if r else f"> {ran}")
    at = tail[-1][0][0]
    row += [f"{dict(ours)[at]:.4f} @ {at}", f"{dict(theirs)[at]:.4f} @ {at}",
            f"{max(a[1] for a in ours):.4f}", f"{gap:.4f}"]
    return [str(x) for x in row]


def main():
    args = sys.argv[1:]
    build = args.pop(0)
    rounds, threads, every, curves = 500, 2, 1, None
    configs = []
    while args:
        a = args.pop(0)
        if a == "--rounds":
            rounds = int(args.pop(0))
        elif a == "--threads":
            threads = int(args.pop(0))
        elif a == "--eval-every":
            every = int(args.pop(0))
        elif a == "--curves":
            curves = args.pop(0)
            os.makedirs(curves, exist_ok=True)
        elif a == "all":
            configs += GRID
        else:
            configs.append(a)
    configs = configs or ["2nn:iid:1:50"]
    head = ["model", "split", "E", "B", "fedc → 85 %", "PyTorch → 85 %", "fedc → 88 %",
            "PyTorch → 88 %", "fedc acc.", "PyTorch acc.", f"fedc best (≤ {rounds})",
            "mean |Δ acc.| last 20 %"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head), flush=True)
    work = tempfile.mkdtemp(prefix="fedc-table2-")
    try:
        for c in configs:
            print("| " + " | ".join(one(build, c, rounds, threads, every, work, curves)) + " |",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
