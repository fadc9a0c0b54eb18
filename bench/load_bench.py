#!/usr/bin/env python3
"""Loading Fashion-MNIST's 60,000 training images and labels (Debian's
dataset-fashion-mnist) as client data: a whole fedc program that reads them
(`--data x=...,y=...`, an .npz archive, or the same data as a 133 MB CSV)
and sums the labels, against NumPy's own loaders (np.load for .npy/.npz;
gzip + np.frombuffer for IDX, as MNIST readers do; np.loadtxt for the CSV)
timed inside Python, in the same run. Best of three.

usage: load_bench.py BUILD_DIR [--quick]"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"
PROGRAM = """struct Image { x: u8[28, 28], y: i32 }
fn labels(d: seq<Image>) -> i64 {
  var s: i64 = 0;
  for r in d { s += i64(r.y) + i64(r.x[14, 14]); }
  return s;
}
federated fn main(d: {seq<Image>}@CLIENTS) -> i64@SERVER {
  return federated_sum(federated_map(labels, d));
}
"""


# The CSV's records: the label first, then the pixels as f32 (what a model
# reads); the same sum as PROGRAM.
CSV_PROGRAM = """struct Row { y: i32, x: f32[784] }
fn labels(d: seq<Row>) -> i64 {
  var s: i64 = 0;
  for r in d { s += i64(r.y) + i64(r.x[406]); }
  return s;
}
federated fn main(d: {seq<Row>}@CLIENTS) -> i64@SERVER {
  return federated_sum(federated_map(labels, d));
}
"""


def best(f, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def idx_numpy(images, labels):
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int32)
    return x, y


def npz_numpy(path):
    with np.load(path) as z:
        return z["x"], z["y"]


def loading(build, quick):
    images = f"{DATA}/train-images-idx3-ubyte.gz"
    labels = f"{DATA}/train-labels-idx1-ubyte.gz"
    if not os.path.exists(images):
        return "(skipped: dataset-fashion-mnist is not installed)"
    work = tempfile.mkdtemp(prefix="bench-load-")
    try:
        x, y = idx_numpy(images, labels)
        want = int(y.astype(np.int64).sum() + x[:, 14, 14].astype(np.int64).sum())
        for name, path in (("x", images), ("y", labels)):
            with gzip.open(path) as f, open(f"{work}/{name}.idx", "wb") as out:
                out.write(f.read())
        np.save(f"{work}/x.npy", x)
        np.save(f"{work}/y.npy", y)
        np.savez(f"{work}/train.npz", x=x, y=y)
        np.savez_compressed(f"{work}/train_c.npz", x=x, y=y)
        with open(f"{work}/load.fed", "w") as f:
            f.write(PROGRAM)
        prog = f"{work}/load"
        subprocess.run([f"{build}/bin/fedc", f"{work}/load.fed", "-o", prog], check=True)
        cases = [
            ("IDX, gzip (as Debian ships it)", f"x={images},y={labels}",
             lambda: idx_numpy(images, labels), "gzip + np.frombuffer"),
            ("IDX", f"x={work}/x.idx,y={work}/y.idx",
             lambda: (np.fromfile(f"{work}/x.idx", np.uint8, offset=16),
                      np.fromfile(f"{work}/y.idx", np.uint8, offset=8)), "np.fromfile"),
            (".npy", f"x={work}/x.npy,y={work}/y.npy",
             lambda: (np.load(f"{work}/x.npy"), np.load(f"{work}/y.npy")), "np.load"),
            (".npz (numpy.savez)", f"{work}/train.npz",
             lambda: npz_numpy(f"{work}/train.npz"), "np.load"),
            (".npz (numpy.savez_compressed)", f"{work}/train_c.npz",
             lambda: npz_numpy(f"{work}/train_c.npz"), "np.load"),
        ]
        if not quick:
            # The same images as CSV text, a label then 784 pixels a line
            # (133 MB): fedc's CSV reader against np.loadtxt.
            np.savetxt(f"{work}/train.csv",
                       np.hstack([y[:, None], x.reshape(len(x), -1)]), fmt="%d",
                       delimiter=",")
            with open(f"{work}/csv.fed", "w") as f:
                f.write(CSV_PROGRAM)
            subprocess.run([f"{build}/bin/fedc", f"{work}/csv.fed", "-o",
                            f"{work}/csv"], check=True)
            cases.append(("CSV, 785 integers a line", f"{work}/train.csv",
                          lambda: np.loadtxt(f"{work}/train.csv", delimiter=",",
                                             dtype=np.float32), "np.loadtxt"))
        rows = []
        for name, data, peer, how in cases:
            exe = f"{work}/csv" if name.startswith("CSV") else prog
            def ours():
                return subprocess.run([exe, "--data", data], check=True,
                                      capture_output=True, text=True).stdout
            seconds, out = best(ours)
            if int(out.strip()) != want:
                sys.exit(f"load_bench: {name}: fedc computed {out.strip()}, NumPy {want}")
            peer_seconds, _ = best(peer)
            rows.append([name, f"{seconds * 1e3:.0f}", f"{peer_seconds * 1e3:.0f}", how,
                         f"{seconds / peer_seconds:.2f}"])
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for r in loading(sys.argv[1], "--quick" in sys.argv):
        print(r)
