"""Remote execution under faults (docs/remote.md, "Failure semantics"): a
worker killed mid-round, a straggler past the deadline, a coordinator
killed and resumed, a worker replaced by a new session with its name, a
link cut for longer than the heartbeat timeout, runs abandoned and workers
giving up. usage: faults_test.py FEDC ROOT [TEST ...]"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from basic_test import WORKERS, split_digits  # noqa: E402
from cluster import (Cluster, Proc, check, compile_example, main,  # noqa: E402
                     metrics, wait_for)


def fedavg(fedc, root, tmp):
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    split_digits(root, tmp)
    return prog


def start_workers(c, tmp, names=WORKERS, extra=(), env=None):
    return {n: c.worker(n, "--insecure", "--data", os.path.join(tmp, n),
                        "--threads", "1", "--reconnect-max", "0.5", *extra,
                        env=(env or {}).get(n))
            for n in names}


def kill_worker_mid_round(fedc, root, tmp):
    """w3 dies (SIGKILL) on receiving its round-2 task: round 2 completes
    from w1 and w2 with w3's 4 clients dropped; w3 restarted rejoins and
    round 3 samples it again."""
    prog = fedavg(fedc, root, tmp)
    m = os.path.join(tmp, "m.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--rounds", "3",
                        "--clients-per-round", "0", "--round-timeout", "60",
                        "--metrics", m, "--no-timing")
        ws = start_workers(c, tmp, env={"w3": {"FEDRT_FAULT": "worker-task:2"}})
        check(ws["w3"].wait(60) == -signal.SIGKILL, "w3 was not killed")
        wait_for("round 2", lambda: len(metrics(m)) >= 2, 60)
        again = c.worker("w3", "--insecure", "--data", os.path.join(tmp, "w3"),
                         log="w3-again")
        check(coord.wait(60) == 0, coord.stderr())
        check(again.wait(30) == 0, again.stderr())
    rounds = metrics(m)
    check([(r["clients"], r["dropped"]) for r in rounds] ==
          [(12, 0), (12, 4), (12, 0)], f"metrics: {rounds}")


def straggler_past_deadline(fedc, root, tmp):
    """w3 stops itself (SIGSTOP) on receiving its round-2 task: round 2
    closes at its 3 s deadline without w3's clients; resumed (SIGCONT), w3's
    late result is dropped and counted, and it takes part in round 3."""
    prog = fedavg(fedc, root, tmp)
    m = os.path.join(tmp, "m.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--rounds", "3",
                        "--clients-per-round", "0", "--round-timeout", "3",
                        "--heartbeat-ms", "10000", "--metrics", m)
        ws = start_workers(c, tmp, env={"w3": {"FEDRT_FAULT": "worker-stop:2"}})
        wait_for("round 2", lambda: len(metrics(m)) >= 2, 60)
        ws["w3"].signal(signal.SIGCONT)
        check(coord.wait(60) == 0, coord.stderr())
        err = coord.stderr()
    rounds = metrics(m)
    check(rounds[1]["dropped"] == 4, f"round 2: {rounds[1]}")
    check(2900 <= rounds[1]["wall_ms"] < 20000,
          f"round 2 closed after {rounds[1]['wall_ms']} ms, not at 3 s")
    check(rounds[2]["dropped"] == 0, f"round 3: {rounds[2]}")
    check("coordinator: 1 late results dropped" in err, err)


def coordinator_resume(fedc, root, tmp):
    """The coordinator dies (SIGKILL) while checkpointing round 4; restarted
    with --resume on the same address, its workers reconnect by themselves
    and the run ends at the model of an uninterrupted one (simulate
    --layout, bit for bit)."""
    prog = fedavg(fedc, root, tmp)
    run = ["--rounds", "6", "--clients-per-round", "6", "--seed", "3",
           "--no-timing", "--checkpoint", os.path.join(tmp, "ckpt"),
           "--print-state"]
    with Cluster(prog, tmp) as c:
        first = c.serve("--insecure", "--min-workers", "3", *run,
                        env={"FEDRT_FAULT": "checkpoint-rename:4"})
        ws = start_workers(c, tmp)
        check(first.wait(60) == -signal.SIGKILL, "the coordinator survived")
        second = c.serve("--insecure", "--min-workers", "3", "--resume", *run,
                         port=c.port, name="resumed")
        check(second.wait(60) == 0, second.stderr())
        for w in ws.values():
            check(w.wait(30) == 0, w.stderr())
        check("note: resuming after round 3" in second.stderr(),
              second.stderr())
        remote = second.stdout()
    sim = subprocess.run([prog, "simulate", "--layout",
                          os.path.join(tmp, "layout.json"), *run[:6],
                          "--print-state"],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    check(remote == sim.stdout, "resumed run differs from an uninterrupted one")


def same_name_replaces(fedc, root, tmp):
    """A stalled w3 (its connection still open) is replaced by a new w3
    before the first round; the run completes with the new session,
    bit-identical to simulate --layout."""
    prog = fedavg(fedc, root, tmp)
    run = ["--rounds", "2", "--clients-per-round", "0", "--no-timing",
           "--print-state"]
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", *run)
        old = start_workers(c, tmp, names=["w3"])["w3"]
        start_workers(c, tmp, names=["w1"])
        wait_for("w3 to join", lambda: "worker 'w3' joined" in coord.stderr(),
                 30)
        old.signal(signal.SIGSTOP)
        new = c.worker("w3", "--insecure", "--data", os.path.join(tmp, "w3"),
                       log="w3-new")
        wait_for("the replacement", lambda: "left: replaced by a new session "
                 "with the same name" in coord.stderr(), 30)
        start_workers(c, tmp, names=["w2"])
        check(coord.wait(60) == 0, coord.stderr())
        check(new.wait(30) == 0, new.stderr())
        remote = coord.stdout()
        old.kill()
    sim = subprocess.run([prog, "simulate", "--layout",
                          os.path.join(tmp, "layout.json"), *run],
                         capture_output=True, text=True, timeout=60)
    check(remote == sim.stdout, "the run with a replaced session differs")


def link_blackhole(fedc, root, tmp):
    """w3's link (through the fault proxy) stalls mid-run for longer than
    the heartbeat timeout (3 x 300 ms): the coordinator declares it dead and
    the round in flight completes without its 4 clients; the next rounds
    wait for 3 workers; healed, w3 rejoins by itself and takes part again."""
    prog = fedavg(fedc, root, tmp)
    m = os.path.join(tmp, "m.jsonl")
    control = os.path.join(tmp, "control")
    open(control, "w").write("pass")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--rounds", "1500",
                        "--clients-per-round", "0", "--heartbeat-ms", "300",
                        "--join-timeout", "60", "--metrics", m)
        proxy_port = os.path.join(tmp, "proxy.port")
        proxy = Proc("proxy", [sys.executable,
                               os.path.join(os.path.dirname(__file__),
                                            "fault_proxy.py"),
                               str(c.port), proxy_port, control],
                     os.path.join(tmp, "proxy"))
        c.procs.append(proxy)
        wait_for("the proxy", lambda: os.path.exists(proxy_port), 10)
        via = f"127.0.0.1:{int(open(proxy_port).read())}"
        start_workers(c, tmp, names=["w1", "w2"])
        w3 = c.worker("w3", "--insecure", "--data", os.path.join(tmp, "w3"),
                      "--reconnect-max", "0.5", connect=via)
        wait_for("round 3", lambda: len(metrics(m)) >= 3, 60)
        open(control, "w").write("stall")
        wait_for("w3 declared dead",
                 lambda: "worker 'w3' (ipv4:127.0.0.1:" in coord.stderr() and
                 "left: no heartbeat for 900 ms" in coord.stderr(), 10)
        wait_for("a round without w3",
                 lambda: any(r["dropped"] == 4 for r in metrics(m)), 20)
        open(control, "w").write("pass")
        check(coord.wait(240) == 0, coord.stderr())
        check(w3.wait(30) == 0, w3.stderr())
        joins = coord.stderr().count("worker 'w3' joined")
    rounds = metrics(m)
    lost = [r["round"] for r in rounds if r["dropped"]]
    check(len(lost) == 1 and all(r["dropped"] == 0 and r["clients"] == 12
                                 for r in rounds if r["round"] > lost[0]),
          f"rounds that dropped clients: {lost}")
    check(joins == 2, f"w3 joined {joins} times")


def abandoned_and_gave_up(fedc, root, tmp):
    """Too few clients: round 1 loses w2 (killed) below --min-clients, the
    retry finds too few within --join-timeout: serve exits 4 and tells w1,
    which exits 4 too. A worker with no coordinator gives up: exit 5."""
    prog = fedavg(fedc, root, tmp)
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "2", "--min-clients",
                        "8", "--max-attempts", "2", "--join-timeout", "2",
                        "--clients-per-round", "0")
        ws = start_workers(c, tmp, names=["w1", "w2"],
                           env={"w2": {"FEDRT_FAULT": "worker-task:1"}})
        check(coord.wait(60) == 4, f"serve exit {coord.popen.returncode}")
        check(ws["w1"].wait(30) == 4, f"w1 exit {ws['w1'].popen.returncode}")
        err = coord.stderr()
        check("warning: round 1, attempt 1 abandoned: 4 of 8 clients "
              "reported (4 dropped, --min-clients 8)" in err, err)
        check("fedavg: error: run abandoned: round 1: 1 of --min-workers 2 "
              "workers and 4 of --min-clients 8 clients joined within 2 s"
              in err, err)
        lone = c.worker("lone", "--insecure", "--data",
                        os.path.join(tmp, "w1"), "--give-up-after", "1",
                        "--reconnect-max", "0.3", connect=f"127.0.0.1:{c.port}")
        check(lone.wait(30) == 5, f"exit {lone.popen.returncode}")
        check("gave up reconnecting to 127.0.0.1:" in lone.stderr(),
              lone.stderr())


def over_selection(fedc, root, tmp):
    """--over-select 1.5 with --clients-per-round 8 samples all 12 clients;
    w3 stalls (stops itself) on its round-2 task: round 2's training closes
    as soon as 8 clients (w1's and w2's) reported, long before its 60 s
    deadline (its eval, which waits for every client, ends when gRPC
    keepalive finds w3's connection dead, about 15 s)."""
    prog = fedavg(fedc, root, tmp)
    m = os.path.join(tmp, "m.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--rounds", "2",
                        "--clients-per-round", "8", "--over-select", "1.5",
                        "--round-timeout", "60", "--heartbeat-ms", "30000",
                        "--metrics", m)
        start_workers(c, tmp, env={"w3": {"FEDRT_FAULT": "worker-stop:2"}})
        check(coord.wait(45) == 0, coord.stderr())
    rounds = metrics(m)
    check(rounds[1]["clients"] == 12 and rounds[1]["dropped"] == 4,
          f"round 2: {rounds[1]}")
    check(rounds[1]["wall_ms"] < 30000, f"round 2 waited: {rounds[1]}")


TESTS = {f.__name__: f for f in (kill_worker_mid_round, straggler_past_deadline,
                                 coordinator_resume, same_name_replaces,
                                 link_blackhole, abandoned_and_gave_up,
                                 over_selection)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
