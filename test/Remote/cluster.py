"""A coordinator and workers of a compiled fedc program as real processes on
loopback, for test/Remote: ports come from --port-file (never fixed), every
wait is bounded, and every process started is killed (its whole process
group) when the cluster closes, whatever happened."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Failure(Exception):
    pass


class Skip(Exception):
    """A test that cannot run on this machine (no namespaces, no openssl)."""


def check(condition, message):
    if not condition:
        raise Failure(message)


class Proc:
    def __init__(self, name, args, log, env=None):
        self.name, self.args, self.log = name, args, log
        self.out = open(log + ".out", "wb")
        self.err = open(log + ".err", "wb")
        full_env = dict(os.environ)
        full_env.pop("FEDRT_FAULT", None)
        full_env.update(env or {})
        self.popen = subprocess.Popen(args, stdout=self.out, stderr=self.err,
                                      env=full_env, start_new_session=True)

    def wait(self, timeout):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} did not exit within {timeout} s; "
                          f"stderr:\n{self.stderr()}")

    def running(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.running():
            os.killpg(self.popen.pid, sig)

    def kill(self):
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stdout(self):
        self.out.flush()
        return open(self.log + ".out", encoding="utf-8", errors="replace").read()

    def stderr(self):
        self.err.flush()
        return open(self.log + ".err", encoding="utf-8", errors="replace").read()


class Cluster:
    """with Cluster(prog, tmp) as c: c.serve(...); c.worker(...)"""

    def __init__(self, program, tmp, tag="run"):
        self.program, self.tmp, self.tag = program, tmp, tag
        self.procs = []
        self.port = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        return False

    def serve(self, *args, env=None, port=None, name="coordinator"):
        port_file = os.path.join(self.tmp, f"{self.tag}-{name}.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        listen = f"127.0.0.1:{port if port else 0}"
        p = Proc(name, [self.program, "serve", "--listen", listen,
                        "--port-file", port_file, *args],
                 os.path.join(self.tmp, f"{self.tag}-{name}"), env)
        self.procs.append(p)
        deadline = time.time() + 20
        while not os.path.exists(port_file):
            if not p.running():
                raise Failure(f"{name} exited {p.popen.returncode} before "
                              f"listening:\n{p.stderr()}")
            check(time.time() < deadline, f"{name} did not listen in 20 s")
            time.sleep(0.05)
        self.port = int(open(port_file).read())
        return p

    def worker(self, name, *args, env=None, connect=None, log=None):
        target = connect or f"127.0.0.1:{self.port}"
        p = Proc(name, [self.program, "worker", "--connect", target,
                        "--name", name, *args],
                 os.path.join(self.tmp, f"{self.tag}-{log or name}"), env)
        self.procs.append(p)
        return p


def wait_for(what, predicate, timeout):
    deadline = time.time() + timeout
    while not predicate():
        check(time.time() < deadline, f"timed out ({timeout} s) waiting for {what}")
        time.sleep(0.05)


def metrics(path):
    if not os.path.exists(path):
        return []
    lines = []
    for line in open(path):
        if line.endswith("\n"):
            lines.append(json.loads(line))
    return lines


def compile_example(fedc, source, out):
    subprocess.run([fedc, source, "-o", out], check=True, timeout=300)
    return out


def main(tests):
    """Runs the named test functions (all by default): each gets a scratch
    folder. argv: FEDC ROOT [TEST ...]. Exit 1 if any failed, else 77 if
    every one was skipped, else 0."""
    fedc, root = sys.argv[1], sys.argv[2]
    chosen = sys.argv[3:] or list(tests)
    failed = skipped = 0
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"remote-{name}-") as tmp:
            start = time.time()
            try:
                tests[name](fedc, root, tmp)
                print(f"PASS {name} ({time.time() - start:.1f} s)", flush=True)
            except Skip as e:
                skipped += 1
                print(f"SKIP {name}: {e}", flush=True)
                continue
            except Failure as e:
                failed += 1
                print(f"FAIL {name}: {e}", flush=True)
                for f in sorted(os.listdir(tmp)):
                    if f.endswith(".err"):
                        print(f"--- {f}:\n" + open(os.path.join(tmp, f),
                              errors="replace").read()[-3000:], flush=True)
    if failed:
        return 1
    return SKIP if skipped == len(chosen) else 0
