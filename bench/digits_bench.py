#!/usr/bin/env python3
"""The digits FedAvg programs as whole processes against the same loop in
PyTorch (bench/peers/fedavg_torch.py), one thread each: logistic regression
(examples/fedavg.fed) and the 64-128-10 MLP (examples/fedavg_mlp.fed), 20
rounds x 50 clients x 5 epochs, batch 16, lr 0.1, the same partition,
cohorts and initial model. fedc's time is the whole process (start-up,
reading and partitioning the data, the rounds, the final evaluation);
PyTorch's is given both for its training loop alone and for its whole
process (interpreter, import, loading).

usage: digits_bench.py BUILD [--quick]   (prints a Markdown table)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
MODELS = (("logistic regression", "examples/fedavg.fed"),
          ("MLP 64-128-10", "examples/fedavg_mlp.fed"))


def best_wall(cmd, runs):
    best, out = None, None
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        if best is None or wall < best:
            best, out = wall, r
    return best, out


def max_diff(a, b):
    flat = lambda v: [v] if not isinstance(v, list) else [y for x in v for y in flat(x)]
    return max(abs(x - y) for k in a for x, y in zip(flat(a[k]), flat(b[k])))


def rows(build, quick):
    work = tempfile.mkdtemp(prefix="fedc-digits-")
    rounds = "4" if quick else "20"
    runs = 2 if quick else 7
    data = f"{ROOT}/examples/data/digits.csv.gz"
    common = ["--data", data, "--partition", "dirichlet:0.5", "--clients", "50",
              "--clients-per-round", "50", "--seed", "1", "--threads", "1"]
    out = []
    try:
        for name, src in MODELS:
            text = open(f"{ROOT}/{src}").read()
            five = text.replace("const EPOCHS: i32 = 2;", "const EPOCHS: i32 = 5;")
            assert five != text, f"{src} no longer declares EPOCHS = 2"
            exe = f"{work}/prog"
            open(f"{exe}.fed", "w").write(five)
            subprocess.run([f"{build}/bin/fedc", f"{exe}.fed", "-o", exe], check=True)
            initial = subprocess.run([exe, *common, "--rounds", "0", "--print-state"],
                                     capture_output=True, text=True, check=True).stdout
            open(f"{work}/initial.json", "w").write(initial)
            startup, _ = best_wall([exe, "--help"], runs)
            whole, ran = best_wall([exe, *common, "--rounds", rounds, "--no-timing",
                                    "--print-state", "--dump-partition",
                                    f"{work}/partition.json"], runs)
            ours = json.loads(ran.stdout.strip().splitlines()[-1])
            torch_whole, peer = best_wall(
                [PY, f"{ROOT}/bench/peers/fedavg_torch.py", data, f"{work}/partition.json",
                 f"{work}/initial.json", "5", "16", "0.1", "1"], 1 if quick else 2)
            loop = float(peer.stderr.strip().splitlines()[-1])
            diff = max_diff(ours, json.loads(peer.stdout))
            out.append([name, f"{whole * 1e3:.1f}", f"{startup * 1e3:.1f}", f"{loop:.2f}",
                        f"{torch_whole:.2f}", f"{loop / whole:.0f}×",
                        f"{torch_whole / whole:.0f}×", f"{diff:.1e}"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def table(rs):
    head = ["model", "fedc whole process (ms)", "of which start-up (ms)",
            "PyTorch loop (s)", "PyTorch whole (s)", "PyTorch loop / fedc",
            "PyTorch whole / fedc", "max |Δ| of the models"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1)]
    lines += ["| " + " | ".join(r) + " |" for r in rs]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(rows(sys.argv[1], "--quick" in sys.argv)))
