#!/usr/bin/env python3
"""McMahan et al. 2017's models on Fashion-MNIST (examples/mnist_2nn.fed,
examples/mnist_cnn.fed), in one run:

1. convolutions: bench/conv_bench (libfedrt's im2col + GEMM against
   oneDNN, forward and both gradients of the CNN's two convolutions at
   batch 10 and 50, one thread) and the machine's f32 FMA peak;
2. client training throughput (examples/s, one thread) of the 2NN and the
   CNN at B = 10 and 50: the compiled example training one client for
   several epochs (the rounds' wall_ms, start-up and loading excluded)
   against bench/peers/mcmahan_torch.py's training loop on the same
   images.

usage: mcmahan_bench.py BUILD_DIR [--quick]"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
DATA = "/usr/share/datasets/fashion-mnist"
# Images per throughput run: a client's share of a round or more.
EXAMPLES = {"2nn": 6000, "cnn": 1000}


def run(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def convolutions(build, quick):
    """conv_bench's JSON lines as a table, and the per-step totals."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = run([f"{build}/bin/conv_bench", "0.05" if quick else "0.5"], env=env).stdout
    lines = [json.loads(l) for l in out.splitlines()]
    peak = lines.pop()["fma_peak_gflops"]
    for r in lines:
        r["im2col_peak"] = r["gflop"] / (r["im2col_ms"] / 1e3) / peak
        r["onednn_peak"] = r["gflop"] / (r["onednn_ms"] / 1e3) / peak
    rows = []
    for r in lines:
        rows.append([str(r["batch"]), r["conv"], r["pass"].replace("_", " "),
                     f"{r['im2col_ms']:.2f}", f"{r['onednn_ms']:.2f}",
                     f"{r['im2col_ms'] / r['onednn_ms']:.2f}",
                     f"{100 * r['im2col_peak']:.0f} %", f"{100 * r['onednn_peak']:.0f} %"])
    text = table(["B", "conv", "pass", "im2col + GEMM (ms)", "oneDNN (ms)",
                  "im2col / oneDNN", "im2col % of FMA peak", "oneDNN % of FMA peak"], rows)
    # A training step needs conv1's forward and filter gradient (its input
    # is data) and all three passes of conv2.
    notes = []
    for b in (10, 50):
        step = [r for r in lines if r["batch"] == b
                and not (r["conv"] == "conv1" and r["pass"] == "input_grad")]
        ours = sum(r["im2col_ms"] for r in step)
        theirs = sum(r["onednn_ms"] for r in step)
        flops = sum(r["im2col_peak"] * r["im2col_ms"] for r in step)  # in peak-ms
        notes.append(f"B = {b}: a training step's convolutions take {ours:.2f} ms with "
                     f"im2col + GEMM and {theirs:.2f} ms with oneDNN (ratio "
                     f"{ours / theirs:.2f}); im2col runs them at {100 * flops / ours:.0f} % "
                     f"of the FMA peak")
    text += (f"\n\nOne thread (OMP_NUM_THREADS=1 for oneDNN), NHWC images and HWIO filters "
             f"for both, best time of repeated calls. f32 FMA peak of one core, the best of "
             f"runs between the cases of this run: {peak:.1f} GFLOP/s. " + "; ".join(notes) + ".")
    return text


def variant(source, batch, epochs, work):
    text = open(f"{ROOT}/{source}").read()
    text = re.sub(r"const BATCH: i32 = \d+;", f"const BATCH: i32 = {batch};", text)
    text = re.sub(r"const EPOCHS: i32 = \d+;", f"const EPOCHS: i32 = {epochs};", text)
    path = f"{work}/{os.path.basename(source)[:-4]}_b{batch}.fed"
    with open(path, "w") as f:
        f.write(text)
    return path


def slice_npz(n, path):
    with gzip.open(f"{DATA}/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    np.savez(path, x=x, y=y)


def fedc_throughput(build, model, batch, work, rounds):
    """Examples/s of one client's training: `rounds` rounds of one epoch over
    EXAMPLES[model] images (one more round whose eval is not counted)."""
    src = variant(f"examples/mnist_{model}.fed", batch, 1, work)
    exe = src[:-4]
    run([f"{build}/bin/fedc", "-O2", src, "-o", exe])
    data = f"{work}/{model}.npz"
    if not os.path.exists(data):
        slice_npz(EXAMPLES[model], data)
    metrics = f"{work}/{model}-{batch}.jsonl"
    run([exe, "--data", data, "--rounds", str(rounds + 1), "--threads", "1",
         "--clients-per-round", "1", "--metrics", metrics])
    walls = [json.loads(l)["wall_ms"] for l in open(metrics)][:rounds]
    return EXAMPLES[model] * rounds / (sum(walls) / 1e3)


def throughput(build, quick):
    work = tempfile.mkdtemp(prefix="fedc-mcmahan-")
    try:
        rows = []
        for model in ("2nn", "cnn"):
            for batch in (10, 50):
                rounds = 1 if quick else 3
                ours = max(fedc_throughput(build, model, batch, work, rounds) for _ in range(2))
                theirs = max(float(run([PY, f"{ROOT}/bench/peers/mcmahan_torch.py", "throughput",
                                        model, str(batch), str(EXAMPLES[model]), str(rounds),
                                        "1"]).stdout) for _ in range(2))
                goal = "≥ 10×" if model == "2nn" else "≥ 2×"
                rows.append([model.upper(), str(batch), f"{ours:,.0f}", f"{theirs:,.0f}",
                             f"{ours / theirs:.1f}×", goal])
        text = table(["model", "B", "fedc (examples/s)", "PyTorch (examples/s)",
                      "fedc / PyTorch", "goal"], rows)
        text += ("\n\nOne thread each, SGD at lr 0.1 over the first "
                 f"{EXAMPLES['2nn']:,} (2NN) or {EXAMPLES['cnn']:,} (CNN) Fashion-MNIST "
                 "training images, best of 2 runs; fedc: the compiled example with E = 1 "
                 "and B as shown, one client, the rounds' wall_ms (start-up and loading "
                 "excluded; each round also averages and broadcasts the model); PyTorch "
                 "(Debian's python3-torch): bench/peers/mcmahan_torch.py's loop, autograd "
                 "and in-place SGD, NCHW convolutions.")
        return text
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    build = sys.argv[1]
    quick = "--quick" in sys.argv
    print("## Convolutions\n\n" + convolutions(build, quick) + "\n")
    print("## Client training throughput\n\n" + throughput(build, quick))


if __name__ == "__main__":
    main()
