"""Remote execution end to end on loopback (docs/remote.md): FedAvg over 3
workers gives simulate --layout's model bit for bit and plain simulate's to
float64-accumulation accuracy; a one-shot main runs under serve; a worker
built from another program is refused naming both fingerprints.
usage: basic_test.py FEDC ROOT [TEST ...]"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster, check, compile_example, main, metrics  # noqa: E402

WORKERS = {"w1": range(0, 4), "w2": range(4, 8), "w3": range(8, 12)}


def split_digits(root, tmp):
    """12 client files of the digits data (rows dealt round-robin), in one
    folder for simulate and in three worker folders (4 clients each, the
    same files in the same name order)."""
    rows = gzip.open(os.path.join(root, "examples/data/digits.csv.gz"),
                     "rt").read().splitlines()
    everyone = os.path.join(tmp, "all")
    os.makedirs(everyone)
    for name, clients in WORKERS.items():
        os.makedirs(os.path.join(tmp, name))
        for c in clients:
            text = "\n".join(rows[c::12]) + "\n"
            for folder in (everyone, os.path.join(tmp, name)):
                open(os.path.join(folder, f"c{c:02d}.csv"), "w").write(text)
    layout = os.path.join(tmp, "layout.json")
    json.dump([{"name": n, "data": os.path.join(tmp, n)} for n in WORKERS],
              open(layout, "w"))
    return everyone, layout


def state_values(text):
    """The numbers of the --print-state line (the last line of stdout)."""
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?",
                                         text.strip().splitlines()[-1])]


RUN = ["--rounds", "4", "--clients-per-round", "8", "--seed", "5",
       "--eval-every", "2", "--no-timing", "--print-state"]


def fedavg_matches_simulate(fedc, root, tmp):
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    everyone, layout = split_digits(root, tmp)
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3",
                        "--metrics", os.path.join(tmp, "remote.jsonl"), *RUN)
        workers = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n),
                            "--threads", "2")
                   for n in WORKERS]
        check(coord.wait(120) == 0, "serve failed:\n" + coord.stderr())
        for w in workers:
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        remote = coord.stdout()
    check("warning: --insecure" in coord.stderr(), "no plaintext warning")
    sim = subprocess.run([prog, "simulate", "--layout", layout, "--threads",
                          "1", "--metrics", os.path.join(tmp, "sim.jsonl"),
                          *RUN], capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    check(remote == sim.stdout,
          "remote and simulate --layout differ:\n" + remote + "\n" + sim.stdout)
    # The same records per round, bytes aside (the wire's vs value bytes).
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("bytes")}
                        for r in rs]
    rm, sm = metrics(os.path.join(tmp, "remote.jsonl")), metrics(
        os.path.join(tmp, "sim.jsonl"))
    check(len(rm) == 4 and strip(rm) == strip(sm),
          f"metrics differ:\n{rm}\n{sm}")
    # Pre-aggregation: one partial (650 float64 sums) per worker, not
    # one value per client.
    for r in rm:
        check(r["bytes_up"] <= 3 * (650 * 8 + 200),
              f"bytes_up {r['bytes_up']} is more than 3 partials")
        check(r["bytes_up"] > 650 * 8, "bytes_up too small to hold a partial")
    # Another layout (all clients in one group): the same cohorts, merged
    # in other groupings: float64 accumulation, rounded to f32 once.
    plain = subprocess.run([prog, "--data", everyone, *RUN],
                           capture_output=True, text=True, timeout=120)
    check(plain.returncode == 0, plain.stderr)
    a, b = state_values(remote), state_values(plain.stdout)
    check(len(a) == len(b) == 650, "unexpected state size")
    worst = max(abs(x - y) / max(abs(y), 1e-3) for x, y in zip(a, b))
    check(worst <= 1e-5, f"other layout differs by {worst} (relative)")


def one_shot_main(fedc, root, tmp):
    prog = compile_example(
        fedc, os.path.join(root, "examples/average_temperature.fed"),
        os.path.join(tmp, "avg"))
    src = os.path.join(root, "examples/data/temperatures")
    files = sorted(os.listdir(src))
    for name, part in (("left", files[:5]), ("right", files[5:])):
        os.makedirs(os.path.join(tmp, name))
        for f in part:
            shutil.copy(os.path.join(src, f), os.path.join(tmp, name, f))
    layout = os.path.join(tmp, "layout.json")
    json.dump([{"name": "right", "data": "right"},
               {"name": "left", "data": "left"}], open(layout, "w"))
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "2")
        ws = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n))
              for n in ("left", "right")]
        check(coord.wait(60) == 0, coord.stderr())
        for w in ws:
            check(w.wait(30) == 0, w.stderr())
        remote = coord.stdout()
    sim = subprocess.run([prog, "simulate", "--layout", layout],
                         capture_output=True, text=True, timeout=60)
    check(sim.returncode == 0, sim.stderr)
    check(remote == sim.stdout and remote.strip(),
          f"one-shot main: remote {remote!r}, simulate {sim.stdout!r}")


def fingerprint(prog):
    out = subprocess.run([prog, "describe"], capture_output=True, text=True,
                         timeout=30).stdout
    return re.search(r"^fingerprint: ([0-9a-f]{16})$", out, re.M).group(1)


def plan_mismatch_named(fedc, root, tmp):
    """The refusal names both programs and fingerprints, in one line."""
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    other = compile_example(
        fedc, os.path.join(root, "examples/fedsgd_linear.fed"),
        os.path.join(tmp, "sgd"))
    with Cluster(prog, tmp) as c:
        c.serve("--insecure", "--rounds", "1")
        bad = Cluster(other, tmp, tag="other")
        bad.port = c.port
        with bad:
            w = bad.worker("bad", "--insecure", "--data",
                           os.path.join(root, "examples/data/linear"))
            check(w.wait(30) == 3, f"exit {w.popen.returncode}, not 3")
            err = w.stderr()
    want = (f"sgd: error: refused: plan mismatch: coordinator runs 'fedavg' "
            f"with fingerprint {fingerprint(prog)}, worker 'bad' runs "
            f"'fedsgd' with fingerprint {fingerprint(other)}")
    check(want in err, f"expected {want!r} in:\n{err}")


def merge_order(fedc, root, tmp):
    """Partials merge in worker-name order, whatever order they arrive in:
    with sums of 1e16, -1e16 and 1 on workers a, b and c, float64 gives
    (a + b) + c = 1 and any order starting from c gives 0. Remote and
    simulate --layout both print 1."""
    src = os.path.join(tmp, "sum.fed")
    open(src, "w").write("federated fn main(x: {f32}@CLIENTS) -> f32@SERVER "
                         "{ return federated_sum(x); }\n")
    prog = compile_example(fedc, src, os.path.join(tmp, "sum"))
    for name, value in (("a", "1e16"), ("b", "-1e16"), ("c", "1")):
        os.makedirs(os.path.join(tmp, name))
        open(os.path.join(tmp, name, "x.csv"), "w").write(f"x\n{value}\n")
    layout = os.path.join(tmp, "layout.json")
    json.dump([{"name": n, "data": n} for n in "cab"], open(layout, "w"))
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3")
        # c joins first, a last: arrival order is not merge order.
        ws = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n))
              for n in "cba"]
        check(coord.wait(60) == 0, coord.stderr())
        for w in ws:
            check(w.wait(30) == 0, w.stderr())
        remote = coord.stdout()
    sim = subprocess.run([prog, "simulate", "--layout", layout],
                         capture_output=True, text=True, timeout=60)
    check(remote == sim.stdout == "1\n",
          f"remote {remote!r}, simulate --layout {sim.stdout!r}, not 1")


def example_script(fedc, root, tmp):
    """examples/remote/run.sh (the README's cluster) runs to its end."""
    r = subprocess.run(["bash", os.path.join(root, "examples/remote/run.sh"),
                        fedc], capture_output=True, text=True, timeout=120,
                       start_new_session=True)
    check(r.returncode == 0, r.stderr)
    check(r.stdout.startswith('{"round": 20, "eval_loss": '), r.stdout)
    check(r.stderr.count("worker: the run is over") == 2, r.stderr)


def serve_and_layout(prog, tmp, layout, folders, tag, run):
    """Runs `run` under serve with a worker per folder and under simulate
    --layout; returns both stdouts and the tmp paths' tags used."""
    with Cluster(prog, tmp, tag) as c:
        coord = c.serve("--insecure", "--min-workers", str(len(folders)),
                        *[a.replace("@", "remote-") for a in run])
        workers = [c.worker(n, "--insecure", "--data", d)
                   for n, d in folders.items()]
        check(coord.wait(120) == 0, "serve failed:\n" + coord.stderr())
        for w in workers:
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        remote = coord.stdout()
    sim = subprocess.run([prog, "simulate", "--layout", layout,
                          *[a.replace("@", "sim-") for a in run]],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    return remote, sim.stdout


def run_context_and_steering(fedc, root, tmp):
    """client_seed() and round_number() under serve: the coordinator sends
    each client's seed with its task, so the metrics (sums of seeds, of
    shuffled records, of uniform draws) equal simulate --layout's; and the
    steering flags (--init-state, --eval-initial, --eval-clients-per-round,
    --per-client-metrics) give the same files under serve."""
    ctx = compile_example(fedc, os.path.join(root, "test/Run/Inputs/run-context.fed"),
                          os.path.join(tmp, "ctx"))
    linear = os.path.join(root, "examples/data/linear")
    files = sorted(os.listdir(linear))
    folders = {}
    for w, part in (("site-a", files[:5]), ("site-b", files[5:])):
        folders[w] = os.path.join(tmp, "linear-" + w)
        os.makedirs(folders[w])
        for f in part:
            shutil.copy(os.path.join(linear, f), folders[w])
    layout = os.path.join(tmp, "linear-layout.json")
    json.dump([{"name": n, "data": d} for n, d in folders.items()],
              open(layout, "w"))
    run = ["--rounds", "3", "--clients-per-round", "5", "--seed", "5",
           "--no-timing", "--metrics", os.path.join(tmp, "@ctx.jsonl")]
    serve_and_layout(ctx, tmp, layout, folders, "ctx", run)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("bytes")}
                        for r in rs]
    rm = metrics(os.path.join(tmp, "remote-ctx.jsonl"))
    sm = metrics(os.path.join(tmp, "sim-ctx.jsonl"))
    check(len(rm) == 3 and strip(rm) == strip(sm),
          f"run context differs under serve:\n{rm}\n{sm}")
    check(len({r["seed_max"] for r in rm}) == 3, f"seeds repeat: {rm}")
    # Plain simulate over the same clients in the same order (one folder):
    # the same positions, so the same seeds whatever the grouping (sums of
    # floats to float64-accumulation accuracy).
    plain = subprocess.run([ctx, "--data", linear, "--metrics",
                            os.path.join(tmp, "plain-ctx.jsonl"),
                            *run[:-2]], capture_output=True, text=True,
                           timeout=120)
    check(plain.returncode == 0, plain.stderr)
    pm = metrics(os.path.join(tmp, "plain-ctx.jsonl"))
    for a, b in zip(pm, sm):
        for k in ("round_seen", "seed_max", "seed_low"):
            check(a[k] == b[k], f"{k} differs by grouping: {a} {b}")
        for k in ("first_y", "take_y", "skip_y", "uniform"):
            check(abs(a[k] - b[k]) <= 1e-9 * max(1, abs(b[k])),
                  f"{k} differs by grouping: {a} {b}")

    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    everyone, digits_layout = split_digits(root, tmp)
    start = subprocess.run([prog, "--data", everyone, "--rounds", "1",
                            "--print-state"], capture_output=True, text=True,
                           timeout=120)
    check(start.returncode == 0, start.stderr)
    state = os.path.join(tmp, "start.json")
    open(state, "w").write(start.stdout.splitlines()[-1] + "\n")
    run = ["--rounds", "2", "--clients-per-round", "6", "--seed", "4",
           "--eval-every", "1", "--no-timing", "--init-state", state,
           "--eval-initial", "--eval-clients-per-round", "5", "--print-state",
           "--metrics", os.path.join(tmp, "@steer.jsonl"),
           "--per-client-metrics", os.path.join(tmp, "@clients.jsonl")]
    remote, sim = serve_and_layout(prog, tmp, digits_layout,
                                   {n: os.path.join(tmp, n) for n in WORKERS},
                                   "steer", run)
    check(remote == sim, f"steered runs differ:\n{remote}\n{sim}")
    rm = metrics(os.path.join(tmp, "remote-steer.jsonl"))
    sm = metrics(os.path.join(tmp, "sim-steer.jsonl"))
    check([r["round"] for r in rm] == [0, 1, 2] and strip(rm) == strip(sm),
          f"steered metrics differ:\n{rm}\n{sm}")
    check("eval_accuracy_p10" in rm[0], f"no per-client summary: {rm[0]}")
    rc = metrics(os.path.join(tmp, "remote-clients.jsonl"))
    sc = metrics(os.path.join(tmp, "sim-clients.jsonl"))
    check(len(rc) == 15 and rc == sc, f"per-client metrics differ:\n{rc}\n{sc}")


TESTS = {f.__name__: f for f in (run_context_and_steering, fedavg_matches_simulate, one_shot_main,
                                 plan_mismatch_named, merge_order,
                                 example_script)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
