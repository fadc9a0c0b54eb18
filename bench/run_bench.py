#!/usr/bin/env python3
"""Runs every benchmark of bench/ against its peer in one run, prints the
tables and rewrites bench/RESULTS.md (DESIGN.md §8):

1. aggregation: libfedrt's weighted mean vs the machine's read bandwidth
   (measured in the same run) and NumPy;
2. end to end: FedAvg on digits vs a NumPy implementation of the same
   algorithm (same clients, cohorts, init and order);
3. scale: a federated-analytics round over 10^3 .. 10^6 synthetic clients;
4. compile time of every example at -O0 and -O2;
5. generated code vs Eigen (codegen_bench);
6. gradients: FedAvg with an MLP trained with grad vs the hand-written
   backward pass and vs PyTorch autograd (same clients, cohorts, init).
7. remote execution vs simulate (remote_bench.py): 8 workers x 1,000
   clients on loopback.
8. DP-FedAvg's accuracy/ε trade-off for three noise multipliers vs a
   plain federated_mean (privacy_bench.py).
9. secure aggregation (secagg_bench): SecAgg+ for 10 .. 1,000 parties of
   10^5 values vs the plain sum.
10. data loading: Fashion-MNIST's training set from IDX, .npy and .npz by a
   whole fedc program vs NumPy's own loaders (load_bench.py).
11. client state: 10^6 clients with 1 KB states vs the stateless twin
   (client_state_bench.py).
12. convolutions: the McMahan et al. CNN's two convolutions by im2col +
   GEMM vs oneDNN, and the f32 FMA peak (mcmahan_bench.py, conv_bench);
13. client training of the 2NN and CNN on Fashion-MNIST vs PyTorch
   (mcmahan_bench.py).

usage: run_bench.py BUILD_DIR [--quick] [--only TITLE ...]

--only runs the sections whose title starts with one of the TITLEs and
rewrites just those sections of bench/RESULTS.md."""
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from load_bench import loading  # noqa: E402
import digits_bench  # noqa: E402
from client_state_bench import measure as client_state_rows  # noqa: E402
from client_state_bench import table as client_state_table  # noqa: E402
from privacy_bench import privacy  # noqa: E402
from remote_bench import remote  # noqa: E402
from mcmahan_bench import convolutions, throughput  # noqa: E402
PY = "/usr/bin/python3"  # Debian's, with python3-numpy


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd):
    """Wall seconds and peak RSS (KiB, GNU time's %M: the program's own
    high-water mark, not that of the forked Python) of one run."""
    with tempfile.NamedTemporaryFile(mode="r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name] + cmd,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {proc.stderr}")
        return wall, int(rss.read().strip().splitlines()[-1]), proc.stdout


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    return f"{os.cpu_count()} cores, {model} ({isa}), {platform.system()} {platform.release()}"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(lines)


def aggregation(build, quick):
    sizes = [(10, 10**4), (100, 10**4), (1000, 10**4), (10, 10**6), (100, 10**6), (10, 10**7)]
    if quick:
        sizes = sizes[:2]
    rows = []
    for n, p in sizes:
        ours = json.loads(run([f"{build}/bin/agg_bench", str(n), str(p), "10"]).stdout)
        peer = json.loads(run([PY, f"{ROOT}/bench/peers/aggregate_numpy.py", str(n), str(p), "5"]).stdout)
        if abs(ours["checksum"] - peer["checksum"]) > 1e-5:
            sys.exit(f"aggregation results differ at {n}x{p}: {ours['checksum']} vs {peer['checksum']}")
        gb = ours["bytes"] / 1e9
        read1, agg = gb / ours["read1_s"], gb / ours["aggregator_s"]
        ex1, ex2 = gb / ours["executor1_s"], gb / ours["executor2_s"]
        read2 = gb / ours["read2_s"]
        rows.append([n, f"{p:.0e}".replace("+0", ""), f"{read1:.1f}", f"{agg:.1f}",
                     f"{agg / read1:.0%}", f"{ex1:.1f}", f"{ex2:.1f}", f"{ex2 / ex1:.2f}",
                     f"{read2 / read1:.2f}",
                     f"{peer['average_s'] / ours['aggregator_s']:.1f}",
                     f"{peer['matvec_s'] / ours['aggregator_s']:.1f}",
                     f"{gb / ours['dp_s']:.1f}", f"{ours['dp_s'] / ours['aggregator_s']:.2f}"])
    headers = ["N", "P", "read GB/s (1 thread)", "aggregator GB/s", "of read",
               "executor 1T GB/s", "executor 2T GB/s", "2T/1T", "read 2T/1T",
               "× numpy.average", "× w @ X", "DP mean GB/s", "DP / mean time"]
    return table(headers, rows)


def end_to_end(build, quick):
    rounds = 20 if quick else 200
    work = tempfile.mkdtemp(prefix="fedc-bench-")
    try:
        src = open(f"{ROOT}/examples/fedavg.fed").read()
        src5 = src.replace("const EPOCHS: i32 = 2;", "const EPOCHS: i32 = 5;")
        assert src5 != src, "examples/fedavg.fed no longer declares EPOCHS = 2"
        open(f"{work}/fedavg5.fed", "w").write(src5)
        run([f"{build}/bin/fedc", f"{work}/fedavg5.fed", "-o", f"{work}/fedavg5"])
        data = f"{ROOT}/examples/data/digits.csv.gz"
        args = [f"{work}/fedavg5", "--data", data, "--partition", "dirichlet:0.5", "--clients", "50",
                "--clients-per-round", "50", "--rounds", str(rounds), "--seed", "1", "--print-state",
                "--dump-partition", f"{work}/partition.json", "--metrics", f"{work}/m.jsonl"]
        results, rounds_only = {}, {}
        for threads in (1, 2):
            best = None
            for _ in range(3):
                wall, _, out = timed(args + ["--threads", str(threads)])
                if best is None or wall < best:
                    best = wall
                    # The rounds alone (wall_ms of each round; the last
                    # includes the final evaluation).
                    rounds_only[threads] = sum(
                        json.loads(l)["wall_ms"] for l in open(f"{work}/m.jsonl")) / 1e3
            results[threads] = best
        state = json.loads(out.splitlines()[-1])
        accuracy = json.loads(out.splitlines()[0])["eval_accuracy"]
        peer = run([PY, f"{ROOT}/bench/peers/fedavg_numpy.py", data, f"{work}/partition.json",
                    "5", "16", "0.1"])
        theirs = json.loads(peer.stdout)
        numpy_s = float(peer.stderr.strip().splitlines()[-1])
        diff = max(max(abs(a - b) for ra, rb in zip(state["w"], theirs["w"]) for a, b in zip(ra, rb)),
                   max(abs(a - b) for a, b in zip(state["b"], theirs["b"])))
        rows = [["fedc, 1 thread, whole process", f"{results[1]:.3f}", f"{numpy_s / results[1]:.1f}×"],
                ["fedc, 1 thread, rounds only", f"{rounds_only[1]:.3f}", f"{numpy_s / rounds_only[1]:.1f}×"],
                ["fedc, 2 threads (default), whole process", f"{results[2]:.3f}", f"{numpy_s / results[2]:.1f}×"],
                ["fedc, 2 threads (default), rounds only", f"{rounds_only[2]:.3f}", f"{numpy_s / rounds_only[2]:.1f}×"],
                ["NumPy (training loop only)", f"{numpy_s:.3f}", "1.0×"]]
        text = table(["implementation", "seconds", "speed-up"], rows)
        text += (f"\n\n{rounds} rounds × 50 clients × 5 epochs, batch 16, lr 0.1. The whole "
                 f"process includes loading and partitioning the data, writing the partition "
                 f"and the final evaluation; NumPy's time is its training loop alone. Final models: "
                 f"max |Δ| = {diff:.2e} (target ≤ 1e-4); final accuracy {accuracy:.4f}.")
        if diff > 1e-4:
            text += " **The models disagree beyond 1e-4.**"
        return text
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scale(build, quick):
    work = tempfile.mkdtemp(prefix="fedc-bench-")
    try:
        run([f"{build}/bin/fedc", f"{ROOT}/bench/analytics.fed", "-o", f"{work}/analytics"])
        rows = []
        counts = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
        base = None
        for n in counts:
            # --secagg off: this measures the executor; SecAgg+'s cost is
            # secure_aggregation's table.
            wall, rss, out = timed([f"{work}/analytics", "--data", "synthetic:10", "--clients",
                                    str(n), "--threads", "2", "--secagg", "off"])
            per = wall / n * 1e6
            rows.append([f"{n:,}", f"{wall:.3f}", f"{per:.2f}", f"{rss / 1024:.1f}"])
        return table(["clients per round", "seconds (whole process)", "µs per client",
                      "peak RSS (MiB)"], rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compile_time(build, quick):
    rows = []
    examples = sorted(f for f in os.listdir(f"{ROOT}/examples") if f.endswith(".fed"))
    with tempfile.TemporaryDirectory() as work:
        for ex in examples:
            times = []
            for level in ("-O0", "-O2"):
                best = min(timed([f"{build}/bin/fedc", level, "--emit=obj",
                                  f"{ROOT}/examples/{ex}", "-o", f"{work}/x.o"])[0]
                           for _ in range(3))
                times.append(best)
            link = min(timed([f"{build}/bin/fedc", f"{ROOT}/examples/{ex}", "-o",
                              f"{work}/x"])[0] for _ in range(3))
            rows.append([ex, f"{times[0]:.3f}", f"{times[1]:.3f}", f"{link:.3f}",
                         "yes" if times[1] < 0.5 else "**no**"])
    return table(["example", "-O0 obj (s)", "-O2 obj (s)", "-O2 executable (s)", "< 0.5 s at -O2"], rows)


def codegen(build, quick):
    out = run([PY, f"{ROOT}/bench/run_codegen_bench.py", build]).stdout.strip().splitlines()
    rows = [l.split() for l in out[1:]]
    return table(["kernel", "fedc (ns)", "Eigen (ns)", "fedc / Eigen"], rows)


def gradients(build, quick):
    """examples/fedavg_mlp.fed (grad) vs bench/fedavg_mlp_handwritten.fed
    (the same program with the backward pass written by hand) vs
    bench/peers/fedavg_torch.py (PyTorch autograd), with 1 and 2
    threads each: the rounds' time (fedc: the wall_ms of its rounds;
    PyTorch: its training loop), best of 3 (PyTorch: 1)."""
    rounds = 3 if quick else 20
    work = tempfile.mkdtemp(prefix="fedc-bench-")
    try:
        exes = {}
        for name, src in (("grad", "examples/fedavg_mlp.fed"),
                          ("hand-written", "bench/fedavg_mlp_handwritten.fed")):
            exes[name] = f"{work}/{name}"
            run([f"{build}/bin/fedc", f"{ROOT}/{src}", "-o", exes[name]])
        data = f"{ROOT}/examples/data/digits.csv.gz"
        common = ["--data", data, "--partition", "dirichlet:0.5", "--clients", "50",
                  "--clients-per-round", "50", "--seed", "1"]
        with open(f"{work}/initial.json", "w") as f:
            f.write(run([exes["grad"]] + common + ["--rounds", "0", "--print-state"]).stdout)
        times, states = {}, {}
        for threads in (1, 2):
            for name, exe in exes.items():
                best = None
                for _ in range(3):
                    _, _, out = timed([exe] + common + [
                        "--rounds", str(rounds), "--threads", str(threads), "--print-state",
                        "--dump-partition", f"{work}/partition.json", "--metrics", f"{work}/m.jsonl"])
                    seconds = sum(json.loads(l)["wall_ms"] for l in open(f"{work}/m.jsonl")) / 1e3
                    os.remove(f"{work}/m.jsonl")
                    best = seconds if best is None else min(best, seconds)
                times[(name, threads)] = best
                states[name] = json.loads(out.splitlines()[-1])
            peer = run([PY, f"{ROOT}/bench/peers/fedavg_torch.py", data,
                        f"{work}/partition.json", f"{work}/initial.json", "2", "16", "0.1",
                        str(threads)])
            times[("torch", threads)] = float(peer.stderr.strip().splitlines()[-1])
            states["torch"] = json.loads(peer.stdout)

        def diff(a, b):
            flat = lambda v: [v] if not isinstance(v, list) else [y for x in v for y in flat(x)]
            return max(abs(x - y) for k in ("w1", "b1", "w2", "b2")
                       for x, y in zip(flat(a[k]), flat(b[k])))
        rows = []
        for threads in (1, 2):
            g, h, t = (times[(n, threads)] for n in ("grad", "hand-written", "torch"))
            rows.append([str(threads), f"{g:.3f}", f"{h:.3f}", f"{g / h:.2f}", f"{t:.3f}",
                         f"{t / g:.1f}×"])
        text = table(["threads", "grad (s)", "hand-written (s)", "grad / hand-written",
                      "PyTorch (s)", "PyTorch / grad"], rows)
        text += (f"\n\n{rounds} rounds × 50 clients × 2 epochs, batch 16, lr 0.1, the "
                 f"64 → 128 → 10 ReLU MLP of examples/fedavg_mlp.fed on digits. Targets: grad "
                 f"within 1.2× of hand-written, ≥ 10× faster than PyTorch. Final models: "
                 f"max |Δ| grad vs hand-written {diff(states['grad'], states['hand-written']):.1e}, "
                 f"grad vs PyTorch {diff(states['grad'], states['torch']):.1e}.")
        return text
    finally:
        shutil.rmtree(work, ignore_errors=True)


def secure_aggregation(build, quick):
    """SecAgg+ per round: a party's and the coordinator's time and bytes
    for n parties of m = 10^5 32-bit values, against the plain sum, and
    normalized by SecAgg+'s O(m·k) party / O(n·(m + k)) coordinator costs
    (k = the default 2⌈log2 n⌉ neighbours)."""
    sizes = [10, 100] if quick else [10, 100, 1000]
    m = 10**5
    rows = []
    for n in sizes:
        r = json.loads(run([f"{build}/bin/secagg_bench", str(n), str(m)]).stdout)
        k = r["k"]
        up = r["bytes_up"] / n
        rows.append([n, k, r["t"], f"{r['client_s'] * 1e3:.1f}",
                     f"{r['client_s'] / (m * (k + 1)) * 1e9:.2f}",
                     f"{r['coordinator_s'] * 1e3:.0f}",
                     f"{r['coordinator_s'] / (n * (m + k)) * 1e9:.2f}",
                     f"{r['plain_s'] * 1e3:.1f}",
                     f"{r['coordinator_s'] / max(r['plain_s'], 1e-9):.0f}×",
                     f"{up / 1e3:.0f}", f"{up / (m * 4):.2f}",
                     f"{(r['bytes_up'] + r['bytes_down'] - r['input_bytes']) / n / 1e3:.1f}"])
    headers = ["n", "k", "t", "party ms", "party ns per m·(k+1)",
               "coordinator ms", "coordinator ns per n·(m+k)",
               "plain sum ms", "coordinator × plain", "party KB up",
               "up × 4-byte input", "overhead KB per party"]
    return table(headers, rows)


def data_loading(build, quick):
    """A whole fedc program (start-up, reading, one pass over the records)
    against NumPy's loader alone, in process: the ratio is what a program's
    data costs beyond what NumPy would."""
    rows = loading(build, quick)
    if isinstance(rows, str):
        return rows
    return table(["format", "fedc program ms", "NumPy ms", "NumPy loader",
                  "fedc × NumPy"], rows) + """

fedc's time is a whole process (start-up included), NumPy's the loader
call alone. Files are read into, and columns kept in, buffers advised to
use 2-MiB transparent huge pages (runtime/include/fedrt/Memory.h), as NumPy
does for its arrays: with 4-KiB pages the same program made 23,600 page
faults instead of 660 and took 445 ms for the raw IDX files on a virtual
machine (each fault and TLB miss walks two page tables there), 524 ms for
the gzipped ones. CSV cells that are plain integers are parsed in one pass
(the same bits as the general number grammar): the 133 MB CSV took 4.2 s
before, 1.1 s now."""


def digits_whole_process(build, quick):
    """bench/digits_bench.py: the digits FedAvg programs as whole processes
    against the same PyTorch loop, one thread."""
    return digits_bench.table(digits_bench.rows(build, quick))


def client_state(build, quick):
    """bench/client_state_bench.py: time per round and peak memory of a
    process keeping 1 KB per client, against its stateless twin."""
    return client_state_table(client_state_rows(build, quick))


def replace_sections(report):
    """Puts each (title, text) into bench/RESULTS.md: in place of the
    section of that title, or before the hand-written notes."""
    with open(f"{ROOT}/bench/RESULTS.md") as f:
        text = f.read()
    head, notes = text.split("<!-- notes -->", 1) if "<!-- notes -->" in text else (text, "")
    for title, body in report:
        block = f"## {title}\n\n{body}\n\n"
        start = head.find(f"## {title}\n")
        if start < 0:
            head = head.rstrip("\n") + "\n\n" + block
            continue
        end = head.find("\n## ", start + 1)
        head = head[:start] + block + (head[end + 1:] if end >= 0 else "")
    with open(f"{ROOT}/bench/RESULTS.md", "w") as f:
        f.write(head.rstrip("\n") + "\n\n<!-- notes -->" + notes)


def main():
    build = sys.argv[1]
    quick = "--quick" in sys.argv
    sections = [
        ("Aggregation: weighted mean of N updates of P float32", aggregation),
        ("End to end: FedAvg on digits vs NumPy", end_to_end),
        ("Scale: federated analytics over synthetic clients", scale),
        ("Compile time", compile_time),
        ("Generated code vs Eigen", codegen),
        ("Gradients: grad vs hand-written vs PyTorch", gradients),
        ("Remote execution vs simulate", remote),
        ("Differential privacy: accuracy vs ε (DP-FedAvg on digits)", privacy),
        ("Secure aggregation: SecAgg+ per round, m = 10^5", secure_aggregation),
        ("Data loading: Fashion-MNIST's 60,000 training images and labels", data_loading),
        ("Client state: 10^6 clients with 1 KB states", client_state),
        ("Digits FedAvg as whole processes vs PyTorch", digits_whole_process),
        ("Convolutions: im2col + GEMM vs oneDNN (McMahan et al.'s CNN)", convolutions),
        ("McMahan et al.'s 2NN and CNN: client training vs PyTorch", throughput),
    ]
    only = sys.argv[sys.argv.index("--only") + 1:] if "--only" in sys.argv else []
    if only:
        sections = [(t, fn) for t, fn in sections if any(t.startswith(o) for o in only)]
    start = time.perf_counter()
    report = []
    for title, fn in sections:
        t0 = time.perf_counter()
        text = fn(build, quick)
        print(f"\n## {title}\n\n{text}\n\n({time.perf_counter() - t0:.0f} s)", flush=True)
        report.append((title, text))
    total = time.perf_counter() - start
    if quick:
        return
    if only:
        replace_sections(report)
        return
    with open(f"{ROOT}/bench/RESULTS.md") as f:
        old = f.read()
    notes = old.split("<!-- notes -->", 1)[1] if "<!-- notes -->" in old else ""
    out = ["# Benchmark results", "",
           f"Machine: {machine()}. Command: `make bench` "
           f"(`{PY} bench/run_bench.py build`), {total:.0f} s in all; every ratio is "
           f"taken within this one run. Rewritten by each `make bench`; the analysis "
           f"below the tables is written by hand.", ""]
    for title, text in report:
        out += [f"## {title}", "", text, ""]
    out += ["<!-- notes -->" + notes.rstrip() + "\n"]
    with open(f"{ROOT}/bench/RESULTS.md", "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
