#!/usr/bin/env python3
"""Client state at scale (docs/runtime.md, "Client state"): 10^6 simulated
clients (synthetic data, one record each), each keeping a 1 KB state
(bench/client_state.fed), against its stateless twin doing the same work
(bench/client_state_twin.fed) in the same run: time per round (the first
round creates its clients' states; later rounds read and write them) and
peak resident memory of the whole process; every client in every round
(the round's new states, pending until it commits, double the memory), a
cohort of 10^5 per round for 10 rounds, and states spilled to a
memory-mapped file (--client-state-memory 256).

usage: client_state_bench.py BUILD_DIR [--quick]"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    """Runs cmd; returns (stderr, peak RSS in MiB) of that process alone."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"client_state_bench: {' '.join(cmd)} failed:\n{err}")
    return err, usage.ru_maxrss / 1024


def measure(build, quick):
    clients = 10_000 if quick else 1_000_000
    rounds = 3
    work = tempfile.mkdtemp(prefix="bench-client-state-")
    progs = {}
    for name in ("client_state", "client_state_twin"):
        progs[name] = f"{work}/{name}"
        subprocess.run([f"{build}/bin/fedc", f"{ROOT}/bench/{name}.fed", "-o",
                        progs[name]], check=True)
    common = ["--data", "synthetic:1", "--clients", str(clients),
              "--threads", "2", "--seed", "1", "--progress", "never"]
    everyone = ["--clients-per-round", "0", "--rounds", str(rounds)]
    cohorts = ["--clients-per-round", str(clients // 10), "--rounds", "10"]
    spill = ["--client-state-memory", "256", "--state-dir", work]
    rows = []
    variants = [("stateless twin, every client", progs["client_state_twin"], everyone),
                ("state in memory, every client", progs["client_state"],
                 ["--verbose", *everyone]),
                ("state spilled, every client", progs["client_state"],
                 ["--verbose", *everyone, *spill]),
                ("stateless twin, 10% per round", progs["client_state_twin"], cohorts),
                ("state in memory, 10% per round", progs["client_state"],
                 ["--verbose", *cohorts]),
                ("state spilled, 10% per round", progs["client_state"],
                 ["--verbose", *cohorts, *spill])]
    twin_rss = None
    for label, prog, extra in variants:
        metrics = f"{work}/{len(rows)}.jsonl"
        err, rss = run([prog, *common, *extra, "--metrics", metrics])
        ms = [json.loads(l)["wall_ms"] for l in open(metrics)]
        held = re.findall(r"client states of (\d+) clients, (\d+) bytes (in [a-z ]+)", err)
        state = f"{int(held[-1][1]) / 2**20:.0f} MiB {held[-1][2]}" if held else "-"
        if label.startswith("stateless"):
            twin_rss = rss
        rows.append([label, f"{clients:,}", state, f"{ms[0]:.0f}",
                     f"{sum(ms[1:]) / (len(ms) - 1):.0f}", f"{rss:.0f}",
                     f"{rss - twin_rss:+.0f}"])
    shutil.rmtree(work, ignore_errors=True)
    return rows


def table(rows):
    headers = ["variant", "clients", "states held after the last round", "round 1 ms",
               "later rounds ms", "peak RSS MiB", "RSS over twin MiB"]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure(sys.argv[1], "--quick" in sys.argv)))
