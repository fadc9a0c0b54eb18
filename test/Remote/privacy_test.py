"""federated_dp_mean under remote execution on loopback (docs/privacy.md):
workers clip their clients' updates with the clip each task carries, the
coordinator adds the noise once; with the same --dp-seed a remote run gives
simulate --layout's results bit for bit (adaptive clipping included, whose
clip moves every round), and ε in its metrics is describe's.
usage: privacy_test.py FEDC ROOT [TEST ...]"""
import gzip
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, check, compile_example, main, metrics  # noqa: E402

WORKERS = {"w1": range(0, 5), "w2": range(5, 10)}
RUN = ["--rounds", "4", "--clients-per-round", "6", "--seed", "3",
       "--dp-seed", "11", "--no-timing", "--print-state"]


def split_digits(root, tmp):
    rows = gzip.open(os.path.join(root, "examples/data/digits.csv.gz"),
                     "rt").read().splitlines()
    for name, clients in WORKERS.items():
        os.makedirs(os.path.join(tmp, name))
        for c in clients:
            open(os.path.join(tmp, name, f"c{c:02d}.csv"), "w").write(
                "\n".join(rows[c::10]) + "\n")
    layout = os.path.join(tmp, "layout.json")
    json.dump([{"name": n, "data": os.path.join(tmp, n)} for n in WORKERS],
              open(layout, "w"))
    return layout


def run_both(prog, tmp, layout):
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "2", "--metrics",
                        os.path.join(tmp, "remote.jsonl"), *RUN)
        workers = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n))
                   for n in WORKERS]
        check(coord.wait(120) == 0, "serve failed:\n" + coord.stderr())
        for w in workers:
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        remote, remote_err = coord.stdout(), coord.stderr()
    check("warning: --dp-seed" in remote_err, "no --dp-seed warning")
    sim = subprocess.run([prog, "simulate", "--layout", layout, "--metrics",
                          os.path.join(tmp, "sim.jsonl"), *RUN],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    check(remote == sim.stdout,
          "remote and simulate --layout differ:\n" + remote + "\n" + sim.stdout)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("bytes")}
                        for r in rs]
    rm = metrics(os.path.join(tmp, "remote.jsonl"))
    check(len(rm) == 4 and strip(rm) == strip(
        metrics(os.path.join(tmp, "sim.jsonl"))), "metrics differ")
    return rm


def fixed_clip_matches_simulate(fedc, root, tmp):
    prog = compile_example(fedc, os.path.join(root, "examples/dp_fedavg.fed"),
                           os.path.join(tmp, "dp"))
    rm = run_both(prog, tmp, split_digits(root, tmp))
    out = subprocess.run([prog, "describe", "--rounds", "4", "--clients", "10",
                          "--clients-per-round", "6"], capture_output=True,
                         text=True, timeout=30).stdout
    eps = float(re.search(r"ε = ([0-9.]+)", out).group(1))
    check(abs(rm[-1]["dp_epsilon"] - eps) <= 1e-5 * eps,
          f"ε {rm[-1]['dp_epsilon']} is not describe's {eps}")
    check(all(r["dp_clip"] == 1 for r in rm), "the clip moved")


def adaptive_clip_matches_simulate(fedc, root, tmp):
    src = open(os.path.join(root, "examples/dp_fedavg.fed")).read()
    adaptive = src.replace(
        "clip: CLIP, noise_multiplier: NOISE",
        "noise_multiplier: 0.5, target_quantile: 0.5, clipped_count_stddev: 1.0")
    check(adaptive != src, "the example's DP mean is not where expected")
    path = os.path.join(tmp, "adaptive.fed")
    open(path, "w").write(adaptive)
    prog = compile_example(fedc, path, os.path.join(tmp, "adaptive"))
    rm = run_both(prog, tmp, split_digits(root, tmp))
    clips = [r["dp_clip"] for r in rm]
    check(clips[0] == 0.1 and len(set(clips)) == 4,
          f"the adaptive clip did not move: {clips}")


TESTS = {f.__name__: f for f in (fixed_clip_matches_simulate,
                                 adaptive_clip_matches_simulate)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
