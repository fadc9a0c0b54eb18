#!/usr/bin/env python3
"""Remote execution vs simulation (bench/RESULTS.md): FedAvg
(examples/fedavg.fed) over 8 workers x 1,000 synthetic clients each on
loopback against `simulate --layout` of the same 8,000 clients; rounds per
second, bytes on the wire per round (pre-aggregation: one partial per
worker), each codec's uplink bytes, and the coordinator's peak memory with
100 and 1,000 clients per worker.
usage: remote_bench.py BUILD_DIR"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKERS = 8
ROUNDS = 40
REPEATS = 3  # rounds/s: the best of REPEATS runs (a shared 2-core machine)


def metrics(path):
    return [json.loads(l) for l in open(path)]


def remote_run(prog, work, clients, per_round, extra=()):
    """Coordinator (under GNU time) and 8 workers; returns (metrics, peak
    RSS of the coordinator in KiB)."""
    port_file, m, rss = (os.path.join(work, f) for f in ("port", "m.jsonl", "rss"))
    for f in (port_file, m):
        if os.path.exists(f):
            os.remove(f)
    coord = subprocess.Popen(
        ["/usr/bin/time", "-q", "-f", "%M", "-o", rss, prog, "serve",
         "--listen", "127.0.0.1:0", "--port-file", port_file, "--insecure",
         "--min-workers", str(WORKERS), "--rounds", str(ROUNDS),
         "--clients-per-round", str(per_round), "--seed", "1", "--metrics", m,
         *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    workers = []
    try:
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if time.time() > deadline:
                sys.exit("the coordinator did not start")
            time.sleep(0.05)
        port = open(port_file).read().strip()
        for w in range(WORKERS):
            workers.append(subprocess.Popen(
                [prog, "worker", "--connect", f"127.0.0.1:{port}", "--insecure",
                 "--name", f"w{w}", "--data", "synthetic:20", "--clients",
                 str(clients), "--seed", str(w + 1), "--threads", "1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        if coord.wait(timeout=600) != 0:
            sys.exit("the remote run failed")
    finally:
        for p in [coord, *workers]:
            if p.poll() is None:
                p.kill()
                p.wait()
    return metrics(m), int(open(rss).read().split()[-1])


def simulate_run(prog, work, clients, per_round):
    layout = os.path.join(work, "layout.json")
    json.dump([{"name": f"w{w}", "data": "synthetic:20", "clients": clients,
                "seed": w + 1} for w in range(WORKERS)], open(layout, "w"))
    m = os.path.join(work, "sim.jsonl")
    subprocess.run([prog, "simulate", "--layout", layout, "--rounds",
                    str(ROUNDS), "--clients-per-round", str(per_round),
                    "--seed", "1", "--threads", "2", "--metrics", m],
                   check=True, capture_output=True, timeout=600)
    return metrics(m)


def rounds_per_second(ms):
    # Rounds only (start-up, data loading and joining excluded).
    return len(ms) / (sum(r["wall_ms"] for r in ms) / 1000)


def remote(build, quick=False):
    work = tempfile.mkdtemp(prefix="fedc-remote-bench-")
    prog = os.path.join(work, "fedavg")
    subprocess.run([f"{build}/bin/fedc", f"{ROOT}/examples/fedavg.fed", "-o",
                    prog], check=True)
    per_round = 800
    sim_rate = max(rounds_per_second(simulate_run(prog, work, 1000, per_round))
                   for _ in range(REPEATS))
    sim = simulate_run(prog, work, 1000, per_round)
    rows, small_rss = [], None
    for codec in ("none", "zstd", "int8", "int8+zstd"):
        runs = [remote_run(prog, work, 1000, per_round, ["--compress-up", codec])
                for _ in range(REPEATS if codec == "none" else 1)]
        ms, rss = runs[0]
        rate = max(rounds_per_second(r[0]) for r in runs)
        if codec == "none":
            base_up, base_rate, base_rss = ms[0]["bytes_up"], rate, rss
        rows.append([f"remote, --compress-up {codec}", f"{rate:.1f}",
                     f"{ms[-1]['bytes_up']:,}", f"{ms[-1]['bytes_down']:,}",
                     f"{base_up / ms[-1]['bytes_up']:.2f}×", f"{rss / 1024:.0f}"])
    _, small_rss = remote_run(prog, work, 100, per_round // 10)
    rows.append(["simulate --layout (2 threads)", f"{sim_rate:.1f}",
                 f"{sim[-1]['bytes_up']:,} (values)", f"{sim[-1]['bytes_down']:,} (values)",
                 "", ""])
    ratio = sim_rate / base_rate
    table = ["| run | rounds/s | bytes up / round | bytes down / round | up vs none | coordinator peak RSS (MiB) |",
             "|---|---:|---:|---:|---:|---:|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    table += ["", f"{WORKERS} workers × 1,000 synthetic clients (20 records of "
              f"digits' shape each), {per_round} clients per round, {ROUNDS} "
              f"rounds, rounds/s the best of {REPEATS} runs for none and "
              f"simulate, all on one 2-core machine (8 worker processes with 1 "
              f"thread each share its cores with the coordinator). A remote "
              f"round takes {ratio:.2f}× the time of a simulated one (goal "
              f"≤ 1.5×). Up per round is "
              f"one partial per worker ({WORKERS} × 650 float64 sums + "
              f"framing), not one value per client. Coordinator peak RSS: "
              f"{small_rss / 1024:.0f} MiB with 8 × 100 clients, "
              f"{base_rss / 1024:.0f} MiB with 8 × 1,000."]
    subprocess.run(["rm", "-rf", work])
    return "\n".join(table)


if __name__ == "__main__":
    print(remote(sys.argv[1]))
