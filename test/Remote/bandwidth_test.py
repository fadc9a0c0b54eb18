"""Remote execution's bandwidth (docs/remote.md, "Compression"): values
larger than gRPC's message limit cross in chunks bit for bit (and a 100M-
float model crosses with no limit raised); zstd changes no bit; int8 sends
at most 0.26x the uplink bytes; bf16 halves the downlink; a corrupt
compressed chunk is rejected and counted; no message the coordinator
receives carries a client's records; a run behind an 8 mbit/s tbf link
(network namespaces) completes. usage: bandwidth_test.py FEDC ROOT [TEST ...]"""
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from basic_test import WORKERS, split_digits  # noqa: E402
from cluster import (SKIP, Cluster, Skip, check, compile_example,  # noqa: E402
                     main, metrics)

HERE = os.path.dirname(__file__)


def wide(fedc, tmp, n):
    src = os.path.join(tmp, "wide.fed")
    text = open(os.path.join(HERE, "Inputs/wide.fed.in")).read()
    open(src, "w").write(text.replace("f32[N]", f"f32[{n}]"))
    return compile_example(fedc, src, os.path.join(tmp, "wide"))


def value_workers(root, tmp):
    """Two workers holding the example 'values' clients (3 and 2)."""
    src = os.path.join(root, "examples/data/values")
    files = sorted(os.listdir(src))
    for name, part in (("v1", files[:3]), ("v2", files[3:5])):
        os.makedirs(os.path.join(tmp, name))
        for f in part:
            open(os.path.join(tmp, name, f), "w").write(
                open(os.path.join(src, f)).read())
    layout = os.path.join(tmp, "values.json")
    open(layout, "w").write('[{"name": "v1", "data": "v1"}, '
                            '{"name": "v2", "data": "v2"}]')
    return layout


def run_cluster(prog, tmp, tag, serve_args, names, worker_args=(), env=None):
    m = os.path.join(tmp, f"{tag}.jsonl")
    with Cluster(prog, tmp, tag=tag) as c:
        coord = c.serve("--insecure", "--min-workers", str(len(names)),
                        "--metrics", m, *serve_args)
        ws = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n),
                       *worker_args, env=(env or {}).get(n)) for n in names]
        check(coord.wait(300) == 0, coord.stderr())
        for w in ws:
            check(w.wait(30) == 0, w.stderr())
        return coord.stdout(), coord.stderr(), metrics(m)


def chunked_values_identical(fedc, root, tmp):
    """A 1M-float model (4 MB down, 8 MB of float64 sums up: many 1 MiB
    chunks each way) gives simulate --layout's state bit for bit, with and
    without zstd."""
    prog = wide(fedc, tmp, 1000000)
    layout = value_workers(root, tmp)
    run = ["--rounds", "2", "--clients-per-round", "0", "--no-timing",
           "--print-state"]
    plain, _, rounds = run_cluster(prog, tmp, "none", run, ["v1", "v2"])
    check(rounds[0]["bytes_down"] > 2 * 4000000, f"{rounds[0]}")
    zstd, _, _ = run_cluster(prog, tmp, "zstd", [*run, "--compress-up", "zstd",
                                                 "--compress-down", "zstd"],
                             ["v1", "v2"])
    sim = subprocess.run([prog, "simulate", "--layout", layout, *run],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    check(plain == sim.stdout, "chunked remote run differs from simulate")
    check(zstd == plain, "zstd changed the model")


def large_model(fedc, root, tmp):
    """100M floats (400 MB down, 800 MB of sums up) cross with gRPC's
    default message limits; needs ~8 GB of memory (skipped with less)."""
    avail = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1]) * 1024
    if avail < 10 << 30:
        raise Skip(f"{avail >> 30} GB of memory available, 10 GB needed")
    prog = wide(fedc, tmp, 100000000)
    value_workers(root, tmp)
    _, _, rounds = run_cluster(prog, tmp, "large", ["--rounds", "1",
                                                    "--clients-per-round", "0"],
                               ["v1"])
    check(rounds[0]["bytes_down"] > 400000000, f"{rounds[0]}")
    check(rounds[0]["bytes_up"] > 800000000, f"{rounds[0]}")


RUN = ["--rounds", "3", "--clients-per-round", "0", "--seed", "1",
       "--no-timing", "--print-state"]


def quantized(fedc, root, tmp):
    """int8 up: <= 0.26x the uplink bytes of none, and a model close to
    it; int8+zstd smaller still; bf16 down about halves the downlink."""
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    split_digits(root, tmp)
    names = list(WORKERS)
    _, _, none = run_cluster(prog, tmp, "none", RUN, names)
    _, _, int8 = run_cluster(prog, tmp, "int8", [*RUN, "--compress-up", "int8"],
                             names)
    _, _, both = run_cluster(prog, tmp, "int8zstd",
                             [*RUN, "--compress-up", "int8+zstd"], names)
    _, _, bf16 = run_cluster(prog, tmp, "bf16",
                             [*RUN, "--compress-down", "bf16"], names)
    for a, b, c, d in zip(none, int8, both, bf16):
        check(b["bytes_up"] <= 0.26 * a["bytes_up"],
              f"int8 {b['bytes_up']} vs none {a['bytes_up']}")
        check(c["bytes_up"] <= b["bytes_up"], f"int8+zstd {c} vs int8 {b}")
        check(d["bytes_down"] <= 0.6 * a["bytes_down"],
              f"bf16 {d['bytes_down']} vs none {a['bytes_down']}")
    check(abs(int8[-1]["eval_accuracy"] - none[-1]["eval_accuracy"]) < 0.05,
          f"int8 accuracy {int8[-1]} vs {none[-1]}")


def corrupt_chunk(fedc, root, tmp):
    """w2 flips a byte of its first zstd result: the coordinator rejects it
    (checksum), closes w2's session with the reason and counts it; w2
    rejoins and the run completes."""
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    split_digits(root, tmp)
    _, err, rounds = run_cluster(
        prog, tmp, "corrupt", [*RUN, "--compress-up", "zstd"], list(WORKERS),
        env={"w2": {"FEDRT_FAULT": "worker-corrupt-result:1"}})
    check("closing the session of worker 'w2'" in err and
          "corrupt payload: zstd" in err, err)
    check("1 sessions closed for malformed messages" in err, err)
    check(rounds[0]["dropped"] == 4 and rounds[1]["dropped"] == 0,
          f"{rounds}")


def no_raw_rows(fedc, root, tmp):
    """Every message the coordinator receives in a run, searched for every
    client record's values (as float32, float64 and text): none is there."""
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    rng = random.Random(11)
    canaries = []
    for name in WORKERS:
        os.makedirs(os.path.join(tmp, name))
        for c in range(3):
            rows = []
            for _ in range(5):
                xs = [round(rng.uniform(0.1, 16), 5) for _ in range(64)]
                rows.append(xs + [rng.randrange(10)])
                canaries.append(xs)
            open(os.path.join(tmp, name, f"c{c}.csv"), "w").write(
                "".join(",".join(map(str, r)) + "\n" for r in rows))
    recorded = os.path.join(tmp, "messages.bin")
    with Cluster(prog, tmp, tag="record") as c:
        coord = c.serve("--insecure", "--min-workers", "3", *RUN,
                        env={"FEDRT_RECORD_MESSAGES": recorded})
        ws = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n))
              for n in WORKERS]
        check(coord.wait(60) == 0, coord.stderr())
        for w in ws:
            check(w.wait(30) == 0, w.stderr())
    data = open(recorded, "rb").read()
    check(len(data) > 10000, "no messages were recorded")
    for xs in canaries:
        for i in range(0, 64, 2):
            for fmt in ("<2f", "<2d"):
                needle = struct.pack(fmt, xs[i], xs[i + 1])
                check(needle not in data, f"record values {xs[i:i+2]} crossed")
            check(f"{xs[i]},{xs[i + 1]}".encode() not in data,
                  "record text crossed")


def tbf_link(fedc, root, tmp):
    """A worker in its own network namespace behind veth links shaped to 8
    mbit/s (tc tbf) both ways: the run completes and matches loopback."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0 or not os.path.exists("/usr/sbin/tc"):
        raise Skip("no user and network namespaces (unshare -rn) or no tc")
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    split_digits(root, tmp)
    script = os.path.join(HERE, "tbf_link.sh")
    r = subprocess.run(["unshare", "-rn", "bash", script, prog, tmp],
                       capture_output=True, text=True, timeout=240)
    if r.returncode == SKIP:
        raise Skip("cannot make a shaped veth link: " + r.stderr[-300:])
    check(r.returncode == 0, r.stdout + r.stderr)
    loop, _, _ = run_cluster(prog, tmp, "loop", RUN, list(WORKERS))
    check(open(os.path.join(tmp, "tbf.out")).read() == loop,
          "the shaped run differs")


TESTS = {f.__name__: f for f in (chunked_values_identical, quantized,
                                 corrupt_chunk, no_raw_rows, tbf_link,
                                 large_model)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
