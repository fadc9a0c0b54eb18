"""Secure aggregation over the network (docs/secure-aggregation.md): five
workers are the SecAgg+ parties of examples/histogram.fed's
federated_secure_sum; workers die (SIGKILL, FEDRT_FAULT) at each phase of
the protocol and the sum stays exact; too few survivors fail naming the
threshold; a worker revealing both secrets of a peer is refused; and the
coordinator's transcript holds no worker's unmasked sums. A
federated_secure_mean over three workers equals simulate's bit for bit.
usage: secagg_test.py FEDC ROOT [TEST ...]"""
import json
import os
import random
import signal
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from cluster import (Cluster, check, compile_example, main,  # noqa: E402
                     metrics)

WORKERS = ["w1", "w2", "w3", "w4", "w5"]


def setup(fedc, root, tmp):
    """Two clients per worker, 40 random values each; returns the program
    and each worker's histogram (as examples/histogram.fed bins)."""
    prog = compile_example(fedc, os.path.join(root, "examples/histogram.fed"),
                           os.path.join(tmp, "hist"))
    rng = random.Random(12)
    counts = {}
    for w in WORKERS:
        os.makedirs(os.path.join(tmp, w))
        h = np.zeros(8, np.int64)
        for c in range(2):
            xs = [round(rng.uniform(0, 1), 4) for _ in range(40)]
            open(os.path.join(tmp, w, f"c{c}.csv"), "w").write(
                "value\n" + "".join(f"{x}\n" for x in xs))
            x = np.array(xs, np.float32)
            bins = np.clip(np.trunc(x * np.float32(8)).astype(np.int64), 0, 7)
            h += np.bincount(bins, minlength=8)
        counts[w] = h
    return prog, counts


def run(prog, tmp, tag, serve_args=(), faults=None, env=None):
    """Runs the one-shot histogram with 5 workers; returns (coordinator exit
    status, its stdout, its stderr)."""
    faults = faults or {}
    with Cluster(prog, tmp, tag=tag) as c:
        coord = c.serve("--insecure", "--min-workers", "5",
                        "--round-timeout", "30", *serve_args, env=env)
        ws = {w: c.worker(w, "--insecure", "--data", os.path.join(tmp, w),
                          "--threads", "1", "--give-up-after", "20",
                          env={"FEDRT_FAULT": faults[w]} if w in faults
                          else None)
              for w in WORKERS}
        status = coord.wait(90)
        for w, p in ws.items():
            p.wait(40)
        return status, coord.stdout(), coord.stderr()


def counts_of(out):
    return json.loads(out.strip().splitlines()[-1])[0]


def expect_sum(counts, included):
    return sum((counts[w] for w in included), np.zeros(8, np.int64)).tolist()


def exact_without_dropouts(fedc, root, tmp):
    """No dropout (t = 4 of 5 by default): the secure sum is the plain sum."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "plain")
    check(status == 0, err)
    check(counts_of(out) == expect_sum(counts, WORKERS), f"{out} vs {counts}")
    check("secure aggregation: 5 parties, 0 dropped after sharing keys" in err,
          err)


def dropout_after_advertise(fedc, root, tmp):
    """w1 dies having advertised its keys, before sharing them: nobody
    masks with it, and the others' sum is exact."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "advertise", ["--secagg-threshold", "3"],
                           {"w1": "secagg-advertise"})
    check(status == 0, err)
    check(counts_of(out) == expect_sum(counts, ["w2", "w3", "w4", "w5"]),
          f"{out}")
    check("5 parties, 0 dropped after sharing keys (masks rebuilt: 0), "
          "0 dropped after masking (counted), 4 summed" in err, err)


def dropout_after_share_keys(fedc, root, tmp):
    """w3 dies having shared its keys, before its masked input: its pairwise
    masks are rebuilt from shares and the others' sum is exact."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "share", ["--secagg-threshold", "3"],
                           {"w3": "secagg-share-keys"})
    check(status == 0, err)
    check(counts_of(out) == expect_sum(counts, ["w1", "w2", "w4", "w5"]),
          f"{out}")
    check("1 dropped after sharing keys (masks rebuilt: 1)" in err, err)


def dropout_after_masked_input(fedc, root, tmp):
    """w5 dies having sent its masked input: its self mask is rebuilt and
    its clients are counted."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "masked", ["--secagg-threshold", "3"],
                           {"w5": "secagg-masked-input"})
    check(status == 0, err)
    check(counts_of(out) == expect_sum(counts, WORKERS), f"{out}")
    check("1 dropped after masking (counted), 5 summed" in err, err)


def mixed_dropouts_exactly_threshold(fedc, root, tmp):
    """w2 dies before masking, w4 after: exactly t = 3 answer the unmasking
    round, and the sum (w4 in, w2 out) is exact."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "mixed", ["--secagg-threshold", "3"],
                           {"w2": "secagg-share-keys",
                            "w4": "secagg-masked-input"})
    check(status == 0, err)
    check(counts_of(out) == expect_sum(counts, ["w1", "w3", "w4", "w5"]),
          f"{out}")


def below_threshold_fails(fedc, root, tmp):
    """The same dropouts with t = 4: 3 survivors are one too few; the run
    is abandoned (exit 4) naming the threshold, and nothing is printed."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "fail", ["--secagg-threshold", "4"],
                           {"w2": "secagg-share-keys",
                            "w4": "secagg-masked-input"})
    check(status == 4, f"exit {status}: {err}")
    check("fewer than the threshold t = 4" in err, err)
    check(out.strip() == "", out)


def abandoned_attempt_then_success(fedc, root, tmp):
    """A process over six workers with t = 5: in round 1's first attempt w2
    dies before masking and w4 after, leaving 4 < t to unmask; the attempt
    is abandoned with nothing released, the two restarted workers rejoin,
    and the second attempt's secure sum (every client's records) is exact.
    """
    prog = compile_example(
        fedc, os.path.join(root, "test/Remote/Inputs/secure_counts.fed"),
        os.path.join(tmp, "counts"))
    names = WORKERS + ["w6"]
    records = 0
    for i, w in enumerate(names):
        os.makedirs(os.path.join(tmp, w))
        for c in range(2):
            n = 5 + 3 * i + c
            records += n
            open(os.path.join(tmp, w, f"c{c}.csv"), "w").write(
                "value\n" + "0.5\n" * n)
    m = os.path.join(tmp, "m.jsonl")
    faults = {"w2": "secagg-share-keys", "w4": "secagg-masked-input"}
    with Cluster(prog, tmp, tag="retry") as c:
        coord = c.serve("--insecure", "--min-workers", "6", "--rounds", "1",
                        "--clients-per-round", "0", "--round-timeout", "30",
                        "--secagg-threshold", "5", "--max-attempts", "2",
                        "--metrics", m, "--no-timing", "--print-state")
        ws = {w: c.worker(w, "--insecure", "--data", os.path.join(tmp, w),
                          "--threads", "1", "--give-up-after", "20",
                          env={"FEDRT_FAULT": faults[w]} if w in faults
                          else None)
              for w in names}
        for w in faults:
            check(ws[w].wait(60) == -signal.SIGKILL, f"{w} was not killed")
            c.worker(w, "--insecure", "--data", os.path.join(tmp, w),
                     "--threads", "1", "--give-up-after", "20",
                     log=f"{w}-again")
        check(coord.wait(90) == 0, coord.stderr())
        err, out = coord.stderr(), coord.stdout()
    check("round 1, attempt 1 abandoned" in err and
          "fewer than the threshold t = 5" in err, err)
    check(out.split()[-1] == str(records), f"state {out!r}, not {records}")
    rounds = metrics(m)
    check(len(rounds) == 1 and rounds[0]["secagg_parties"] == 6 and
          rounds[0]["secagg_dropped_after_masking"] == 0, f"{rounds}")


def both_shares_refused(fedc, root, tmp):
    """w1 answers the unmasking round with both secrets of a peer: the
    coordinator refuses its answer (a protocol violation) and unmasks with
    the other four."""
    prog, counts = setup(fedc, root, tmp)
    status, out, err = run(prog, tmp, "both", ["--secagg-threshold", "3"],
                           {"w1": "secagg-both-shares"})
    check(status == 0, err)
    check("protocol violation" in err, err)
    check(counts_of(out) == expect_sum(counts, WORKERS), f"{out}")


def transcript_has_no_unmasked_sum(fedc, root, tmp):
    """Every message the coordinator receives, searched for each worker's
    histogram (its pre-aggregate, as the i64 partial carries it) and for
    the total: none is there, yet the printed total is exact."""
    prog, counts = setup(fedc, root, tmp)
    recorded = os.path.join(tmp, "messages.bin")
    status, out, err = run(prog, tmp, "record",
                           env={"FEDRT_RECORD_MESSAGES": recorded})
    check(status == 0, err)
    total = expect_sum(counts, WORKERS)
    check(counts_of(out) == total, out)
    data = open(recorded, "rb").read()
    check(len(data) > 1000, "no messages were recorded")
    for w in WORKERS:
        needle = struct.pack("<8q", *counts[w].tolist())
        check(needle not in data, f"{w}'s histogram crossed unmasked")
        check(struct.pack("<2q", *counts[w].tolist()[2:4]) not in data,
              f"part of {w}'s histogram crossed unmasked")
    check(struct.pack("<8q", *total) not in data, "the total crossed")


def secure_mean_equals_simulate(fedc, root, tmp):
    """test/Run/Inputs/secure-mean.fed's secure means (unweighted and
    weighted) with workers a, b, c as the SecAgg+ parties: the same bits as
    simulate over all ten clients, and as simulate --layout (each client's
    rounding stream follows its population index, not its worker)."""
    prog = compile_example(fedc, os.path.join(root, "test/Run/Inputs/"
                                              "secure-mean.fed"),
                           os.path.join(tmp, "mean"))
    values = os.path.join(root, "examples/data/values")
    groups = {"a": range(0, 3), "b": range(3, 6), "c": range(6, 10)}
    for w, clients in groups.items():
        os.makedirs(os.path.join(tmp, w))
        for c in clients:
            name = f"client{c}.csv"
            open(os.path.join(tmp, w, name), "w").write(
                open(os.path.join(values, name)).read())
    layout = os.path.join(tmp, "layout.json")
    json.dump([{"name": w, "data": os.path.join(tmp, w)} for w in groups],
              open(layout, "w"))
    with Cluster(prog, tmp, tag="mean") as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--seed", "4",
                        "--round-timeout", "30")
        ws = [c.worker(w, "--insecure", "--data", os.path.join(tmp, w),
                       "--threads", "1", "--give-up-after", "20")
              for w in groups]
        status = coord.wait(90)
        for p in ws:
            p.wait(40)
        check(status == 0, coord.stderr())
        remote = coord.stdout().strip().splitlines()[-1]
        check("secure aggregation: 3 parties" in coord.stderr(),
              coord.stderr())
    sim = subprocess.run([prog, "--data", values, "--seed", "4"],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    check(remote == sim.stdout.strip().splitlines()[-1],
          f"remote and simulate differ:\n{remote}\n{sim.stdout}")
    lay = subprocess.run([prog, "simulate", "--layout", layout, "--seed", "4"],
                         capture_output=True, text=True, timeout=120)
    check(lay.returncode == 0, lay.stderr)
    check(remote == lay.stdout.strip().splitlines()[-1],
          f"remote and simulate --layout differ:\n{remote}\n{lay.stdout}")
    secure, plain = json.loads(remote)[0], json.loads(remote)[1]
    check(secure != plain and abs(secure["mean"] - plain["mean"]) <= 2 / 65535,
          f"{secure} vs {plain}")


TESTS = {f.__name__: f for f in (exact_without_dropouts,
                                 dropout_after_advertise,
                                 dropout_after_share_keys,
                                 dropout_after_masked_input,
                                 mixed_dropouts_exactly_threshold,
                                 below_threshold_fails,
                                 abandoned_attempt_then_success,
                                 both_shares_refused,
                                 transcript_has_no_unmasked_sum,
                                 secure_mean_equals_simulate)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
