"""Client state under remote execution (docs/remote.md, "Client state"):
Ditto's personal models (examples/ditto.fed) stay on the workers that host
their clients, in --state-dir; the coordinator keeps only which workers'
results each round accepted. Remote runs give simulate --layout's model,
metrics (eval reads the personal models) and per-client states bit for
bit: straight, with a worker killed (SIGKILL) between two rounds and
restarted on its state directory, and with the coordinator killed while
checkpointing and resumed. A worker whose states are gone says so and
stops instead of training from client_init.
usage: client_state_test.py FEDC ROOT [TEST ...]"""
import os
import shutil
import signal
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from basic_test import WORKERS, split_digits  # noqa: E402
from cluster import (Cluster, check, compile_example, main,  # noqa: E402
                     metrics, wait_for)

ROUNDS = 5
RUN = ["--rounds", str(ROUNDS), "--clients-per-round", "6", "--seed", "5",
       "--eval-every", "1", "--no-timing", "--print-state"]


def read_states(path, magic=b"FEDCCST1"):
    """{client: packed bytes} of a client-state file (fedrt/ClientState.h)."""
    data = open(path, "rb").read()
    check(data[:8] == magic, f"{path}: not a client-state file")
    _, _, size, count = struct.unpack_from("<4Q", data, 8)
    states, pos = {}, 8 + 32
    for _ in range(count):
        (client,) = struct.unpack_from("<q", data, pos)
        states[client] = data[pos + 8:pos + 8 + size]
        pos += 8 + size
    check(pos == len(data) - 8, f"{path}: bad length")
    return states


def setup(fedc, root, tmp, run=RUN):
    prog = compile_example(fedc, os.path.join(root, "examples/ditto.fed"),
                           os.path.join(tmp, "ditto"))
    _, layout = split_digits(root, tmp)
    sim = subprocess.run([prog, "simulate", "--layout", layout, *run,
                          "--metrics", os.path.join(tmp, "sim.jsonl"),
                          "--checkpoint", os.path.join(tmp, "sim-ck")],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, sim.stderr)
    return prog, sim.stdout


def start_workers(c, tmp, names=WORKERS, suffix=""):
    return {n: c.worker(n, "--insecure", "--data", os.path.join(tmp, n),
                        "--state-dir", os.path.join(tmp, "states-" + n),
                        "--reconnect-max", "0.3", "--verbose", log=n + suffix)
            for n in names}


def run_folder(tmp, name):
    """The folder of the run a worker's --state-dir holds last (run-ID)."""
    folder = os.path.join(tmp, "states-" + name)
    runs = [os.path.join(folder, f) for f in os.listdir(folder)
            if f.startswith("run-")]
    check(runs, f"{name}'s state dir holds no run")
    return max(runs, key=os.path.getmtime)


def check_states_match_layout(tmp):
    """Every client's state on the workers equals simulate --layout's."""
    layout = read_states(os.path.join(tmp, "sim-ck", f"clients-{ROUNDS}.state"))
    held = {}
    for name, clients in WORKERS.items():
        folder = run_folder(tmp, name)
        files = sorted(os.listdir(folder))
        check(files == [f"clients-{ROUNDS}.state"],
              f"{name}'s state dir holds {files}")
        for local, packed in read_states(os.path.join(folder, files[0])).items():
            held[clients[local]] = packed
    check(held == layout, f"the workers' states differ from the layout's "
          f"(clients {sorted(held)} vs {sorted(layout)})")
    check(len(held) >= 10, f"only {len(held)} clients have a state")


def kill_w2_in_pause(coord, ws):
    """Once the coordinator is paused after round 2 (FEDRT_FAULT
    round-end:2), w2 is killed (SIGKILL)."""
    wait_for("the pause after round 2",
             lambda: "fault: paused at round-end" in coord.stderr(), 60)
    ws["w2"].signal(signal.SIGKILL)
    check(ws["w2"].wait(10) == -signal.SIGKILL, "w2 survived")


def check_matches_layout(tmp, remote_stdout, sim_stdout, remote_metrics):
    """The model, the eval metrics and every client's state equal simulate
    --layout's; the coordinator's checkpoint holds no client's state."""
    check(remote_stdout == sim_stdout,
          "remote and simulate --layout differ:\n" + remote_stdout + "\n" +
          sim_stdout)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.startswith("bytes")}
                        for r in rs]
    rm, sm = metrics(remote_metrics), metrics(os.path.join(tmp, "sim.jsonl"))
    check(len(rm) == ROUNDS and strip(rm) == strip(sm),
          f"metrics differ:\n{rm}\n{sm}")
    check_states_match_layout(tmp)
    record = os.path.join(tmp, "ck", f"clients-{ROUNDS}.state")
    data = open(record, "rb").read()
    check(data[:8] == b"FEDCACC1" and len(data) < 200,
          f"the coordinator's record holds {len(data)} bytes")


def matches_layout(fedc, root, tmp):
    """Straight remote runs equal simulate --layout; a second run (a new
    run id) on the same state directories starts its clients over, in its
    own folder beside the first run's."""
    prog, sim = setup(fedc, root, tmp)
    for attempt in ("first", "again"):
        out = os.path.join(tmp, f"{attempt}.jsonl")
        with Cluster(prog, tmp, attempt) as c:
            coord = c.serve("--insecure", "--min-workers", "3", *RUN,
                            "--metrics", out, "--checkpoint",
                            os.path.join(tmp, "ck"))
            ws = start_workers(c, tmp)
            check(coord.wait(120) == 0, "serve failed:\n" + coord.stderr())
            for w in ws.values():
                check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
            check_matches_layout(tmp, coord.stdout(), sim, out)
            again = "also keeps the states of 1 other run" in ws["w1"].stderr()
            check(again == (attempt == "again"), ws["w1"].stderr())


def worker_restarted(fedc, root, tmp):
    """w2 is killed (SIGKILL) after round 2 — its round-2 states pending,
    accepted, not yet committed — and restarted on the same --state-dir
    before round 3: the run equals simulate --layout's bit for bit."""
    prog, sim = setup(fedc, root, tmp)
    release = os.path.join(tmp, "release")
    out = os.path.join(tmp, "remote.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", *RUN,
                        "--metrics", out, "--checkpoint",
                        os.path.join(tmp, "ck"),
                        env={"FEDRT_FAULT": "round-end:2",
                             "FEDRT_FAULT_RELEASE": release})
        ws = start_workers(c, tmp)
        kill_w2_in_pause(coord, ws)
        pending = os.listdir(run_folder(tmp, "w2"))
        restarted = start_workers(c, tmp, ["w2"], "-restarted")["w2"]
        wait_for("w2 to rejoin",
                 lambda: coord.stderr().count("worker 'w2' joined") == 2, 30)
        open(release, "w").close()
        check(coord.wait(120) == 0, "serve failed:\n" + coord.stderr())
        for w in (ws["w1"], ws["w3"], restarted):
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        check("another run" not in restarted.stderr(), restarted.stderr())
        check_matches_layout(tmp, coord.stdout(), sim, out)
    check("pending.state" in pending, f"w2 died with {pending}")


def coordinator_resumed(fedc, root, tmp):
    """The coordinator dies (SIGKILL) while checkpointing round 3, after
    the workers ran it: resumed from round 2, it runs round 3 again and the
    workers' pending round-3 states are computed afresh, never applied
    twice. Then killed between rounds 2 and 3, after its checkpoint of
    round 2 but before telling the workers: resumed, it tells them their
    round-2 states count. Both runs equal simulate --layout's bit for
    bit."""
    prog, sim = setup(fedc, root, tmp)
    release = os.path.join(tmp, "release")
    for fault in ("checkpoint-rename:3", "round-end:2"):
        tag = fault.split(":")[0]
        out = os.path.join(tmp, tag + ".jsonl")
        run = [*RUN, "--metrics", out, "--checkpoint", os.path.join(tmp, "ck")]
        for n in WORKERS:
            shutil.rmtree(os.path.join(tmp, "states-" + n), True)
        shutil.rmtree(os.path.join(tmp, "ck"), True)
        with Cluster(prog, tmp, tag) as c:
            first = c.serve("--insecure", "--min-workers", "3", *run,
                            env={"FEDRT_FAULT": fault,
                                 "FEDRT_FAULT_RELEASE": release})
            ws = start_workers(c, tmp)
            if fault.startswith("round-end"):
                wait_for("the pause after round 2",
                         lambda: "fault: paused at" in first.stderr(), 60)
                first.signal(signal.SIGKILL)
            check(first.wait(60) == -signal.SIGKILL, "the coordinator survived")
            second = c.serve("--insecure", "--min-workers", "3", "--resume",
                             *run, port=c.port, name="resumed")
            check(second.wait(120) == 0, second.stderr())
            for w in ws.values():
                check(w.wait(30) == 0, w.stderr())
            check("note: resuming after round 2" in second.stderr(),
                  second.stderr())
            check_matches_layout(tmp, second.stdout(), sim, out)


def lost_states(fedc, root, tmp):
    """w2 restarted after round 2 on an empty --state-dir: the coordinator
    counts its round-2 states, which are gone, so w2 stops with an error
    naming the directory rather than train its clients from client_init;
    the run goes on without it."""
    prog = compile_example(fedc, os.path.join(root, "examples/ditto.fed"),
                           os.path.join(tmp, "ditto"))
    split_digits(root, tmp)
    release = os.path.join(tmp, "release")
    out = os.path.join(tmp, "remote.jsonl")
    run = ["--rounds", "3", "--clients-per-round", "12", "--seed", "5",
           "--no-timing", "--metrics", out]
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", *run,
                        env={"FEDRT_FAULT": "round-end:2",
                             "FEDRT_FAULT_RELEASE": release})
        ws = start_workers(c, tmp)
        kill_w2_in_pause(coord, ws)
        empty = os.path.join(tmp, "empty")
        lost = c.worker("w2", "--insecure", "--data", os.path.join(tmp, "w2"),
                        "--state-dir", empty, log="w2-lost")
        wait_for("w2 to rejoin",
                 lambda: coord.stderr().count("worker 'w2' joined") == 2, 30)
        open(release, "w").close()
        check(lost.wait(60) == 1, "w2 did not fail:\n" + lost.stderr())
        check("holds them only up to round 0 (the states were lost" in
              lost.stderr() and empty in lost.stderr(), lost.stderr())
        check(coord.wait(120) == 0, coord.stderr())
    last = metrics(out)[-1]
    check(last["round"] == 3 and last["dropped"] == 4, f"round 3: {last}")


def dropped_result(fedc, root, tmp):
    """w3 dies (SIGKILL) having computed and saved round 2's states but
    before sending its result; restarted on its --state-dir, it drops them
    (the coordinator never counted that result) and its clients train on
    from their round-1 states."""
    prog = compile_example(fedc, os.path.join(root, "examples/ditto.fed"),
                           os.path.join(tmp, "ditto"))
    split_digits(root, tmp)
    out = os.path.join(tmp, "remote.jsonl")
    run = ["--rounds", "3", "--clients-per-round", "12", "--eval-every", "1",
           "--seed", "5", "--no-timing", "--metrics", out]
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", *run)
        ws = start_workers(c, tmp, ["w1", "w2"])
        # Tasks 1 and 2: round 1's training and eval; 3: round 2's training.
        w3 = c.worker("w3", "--insecure", "--data", os.path.join(tmp, "w3"),
                      "--state-dir", os.path.join(tmp, "states-w3"),
                      env={"FEDRT_FAULT": "worker-result:3"})
        check(w3.wait(60) == -signal.SIGKILL, "w3 survived")
        saved = sorted(os.listdir(run_folder(tmp, "w3")))
        again = start_workers(c, tmp, ["w3"], "-restarted")["w3"]
        check(coord.wait(120) == 0, coord.stderr())
        for w in (ws["w1"], ws["w2"], again):
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
    check(saved == ["clients-1.state", "pending.state"], f"w3 saved {saved}")
    err = again.stderr()
    check("round 2 (attempt 1)'s client states dropped" in err and
          "round 2's client states committed" not in err and
          "round 3's client states committed" in err, err)
    check(metrics(out)[1]["dropped"] == 4, f"round 2: {metrics(out)[1]}")


def retried_attempt(fedc, root, tmp):
    """Every client every round, and all must report (--min-clients 12):
    w3 dies (SIGKILL) before sending round 2's result, so the attempt is
    abandoned; w3 restarted, attempt 2 runs the same cohort. The others'
    attempt-1 states are dropped and computed again, w3's counted from
    attempt 2: the run equals simulate --layout's bit for bit."""
    run = [a if a != "6" else "12" for a in RUN]
    prog, sim = setup(fedc, root, tmp, run)
    out = os.path.join(tmp, "remote.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--min-clients",
                        "12", "--max-attempts", "2", *run, "--metrics", out,
                        "--checkpoint", os.path.join(tmp, "ck"))
        ws = start_workers(c, tmp, ["w1", "w2"])
        # Tasks 1 and 2: round 1's training and eval; 3: round 2's training.
        w3 = c.worker("w3", "--insecure", "--data", os.path.join(tmp, "w3"),
                      "--state-dir", os.path.join(tmp, "states-w3"),
                      env={"FEDRT_FAULT": "worker-result:3"})
        check(w3.wait(60) == -signal.SIGKILL, "w3 survived")
        again = start_workers(c, tmp, ["w3"], "-restarted")["w3"]
        check(coord.wait(120) == 0, coord.stderr())
        for w in (ws["w1"], ws["w2"], again):
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        check("round 2, attempt 1 abandoned" in coord.stderr(), coord.stderr())
        check("round 2 (attempt 1)'s client states dropped" in
              ws["w1"].stderr(), ws["w1"].stderr())
        check_matches_layout(tmp, coord.stdout(), sim, out)


def eval_failures(fedc, root, tmp):
    """Eval fails for the clients with 149 records (w3's last three): they
    are left out of the round's eval, but their new states — counted,
    not yet checkpointed when eval runs — are theirs after the round: the
    model and every client's state equal simulate --layout's of the
    unchanged program."""
    prog, sim = setup(fedc, root, tmp)
    src = open(os.path.join(root, "examples/ditto.fed")).read()
    failing = src.replace(
        "  let n = f32(len(data));\n  return Metrics { loss: loss / n,",
        "  let n = f32(len(data));\n  let guard = 1 / (i32(len(data)) - 149);\n"
        "  return Metrics { loss: loss / n + f32(guard) * 0.0,")
    check(failing != src, "examples/ditto.fed's evaluate_local changed")
    open(os.path.join(tmp, "failing.fed"), "w").write(failing)
    prog = compile_example(fedc, os.path.join(tmp, "failing.fed"),
                           os.path.join(tmp, "failing"))
    out = os.path.join(tmp, "failing.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", *RUN,
                        "--per-client-metrics", out)
        ws = start_workers(c, tmp)
        check(coord.wait(120) == 0, coord.stderr())
        for w in ws.values():
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        remote = coord.stdout()
    evaluated = {r["client"] for r in metrics(out)}
    check(len(evaluated) == 9, f"eval should fail for 3 clients: {evaluated}")
    model = lambda out: out.strip().splitlines()[-1]
    check(model(remote) == model(sim), "the models differ")
    check_states_match_layout(tmp)


def late_state_stage(fedc, root, tmp):
    """The new client states are written by the second stage; w3's clients
    all fail the first, so w3 never runs the writing stage and is not
    counted: it keeps no states and goes on (no false "lost states"), and
    the others' states and the model are the program's arithmetic."""
    prog = compile_example(fedc, os.path.join(root, "test/Remote/Inputs/late_state.fed"),
                           os.path.join(tmp, "late"))
    rows = {"w1": {"a": [1, 2], "b": [3]}, "w2": {"c": [4]}, "w3": {"d": [0], "e": [0]}}
    for name, clients in rows.items():
        os.makedirs(os.path.join(tmp, name))
        for client, xs in clients.items():
            open(os.path.join(tmp, name, client + ".csv"), "w").write(
                "x\n" + "".join(f"{x}\n" for x in xs))
    out = os.path.join(tmp, "late.jsonl")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--min-workers", "3", "--join-timeout", "20",
                        "--rounds", "3", "--clients-per-round", "0", "--seed", "1",
                        "--no-timing", "--print-state", "--metrics", out,
                        "--checkpoint", os.path.join(tmp, "ck"))
        ws = start_workers(c, tmp, list(rows))
        check(coord.wait(120) == 0, coord.stderr())
        for w in ws.values():
            check(w.wait(30) == 0, f"{w.name} failed:\n{w.stderr()}")
        remote = coord.stdout()
    # t1 = 33 + 33 + 25; t' = 2 (t + 33) + (t + 25): 91, 364, 1183.
    check(remote.strip().splitlines()[-1] == '{"v": 1183}', remote)
    check(all(r["failed"] == 2 for r in metrics(out)), metrics(out))
    for name, expect in (("w1", {0: 1183.0, 1: 1183.0}), ("w2", {0: 1183.0})):
        folder = run_folder(tmp, name)
        got = {k: struct.unpack("<f", v)[0] for k, v in
               read_states(os.path.join(folder, "clients-3.state")).items()}
        check(got == expect, f"{name}: {got}")
    check(not [f for f in os.listdir(run_folder(tmp, "w3")) if f.endswith(".state")],
          f"w3 holds states: {os.listdir(run_folder(tmp, 'w3'))}")


def refused_without_state_dir(fedc, root, tmp):
    """A worker of a process with client state needs --state-dir (and a
    --name): exit status 2 and what to give."""
    prog = compile_example(fedc, os.path.join(root, "examples/ditto.fed"),
                           os.path.join(tmp, "ditto"))
    r = subprocess.run([prog, "worker", "--connect", "127.0.0.1:1",
                        "--insecure", "--name", "w", "--data", tmp],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--state-dir DIR under a stable --name" in
          r.stderr, f"{r.returncode}: {r.stderr}")


if __name__ == "__main__":
    sys.exit(main({"matches_layout": matches_layout,
                   "worker_restarted": worker_restarted,
                   "coordinator_resumed": coordinator_resumed,
                   "lost_states": lost_states,
                   "dropped_result": dropped_result,
                   "retried_attempt": retried_attempt,
                   "eval_failures": eval_failures,
                   "late_state_stage": late_state_stage,
                   "refused_without_state_dir": refused_without_state_dir}))
