"""Remote execution's security model (docs/remote.md): TLS, mutual TLS, a
shared token; plaintext only with --insecure; a worker refused for a wrong
token, a certificate of another CA, or plaintext to a TLS coordinator gets
one clear line and exit 6, never a retry loop. Certificates are made at
test time (openssl); no private key is committed.
usage: security_test.py FEDC ROOT [TEST ...]"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from basic_test import split_digits  # noqa: E402
from cluster import (Cluster, Skip, check, compile_example, main,  # noqa: E402
                     metrics)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(tmp):
    """ca, other-ca; server (127.0.0.1, localhost) and client certificates
    signed by ca; a client certificate signed by other-ca."""
    pki = os.path.join(tmp, "pki")
    os.makedirs(pki)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out",
                f"{ca}.pem", "-days", "2", "-subj", f"/CN=fedc test {ca}",
                cwd=pki)
    open(os.path.join(pki, "san.ext"), "w").write(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca in (("server", "ca"), ("client", "ca"),
                     ("stranger", "other-ca")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=pki)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
                "-CAkey", f"{ca}.key", "-CAcreateserial", "-out",
                f"{name}.pem", "-days", "2", "-extfile", "san.ext", cwd=pki)
    return lambda f: os.path.join(pki, f)


def setup(fedc, root, tmp):
    if not shutil.which("openssl"):
        raise Skip("openssl is not installed (scripts/install-deps.sh)")
    prog = compile_example(fedc, os.path.join(root, "examples/fedavg.fed"),
                           os.path.join(tmp, "fedavg"))
    split_digits(root, tmp)
    return prog, make_pki(tmp)


RUN = ["--rounds", "2", "--clients-per-round", "0", "--print-state",
       "--no-timing"]


def run_ok(c, tmp, coord, worker_args):
    ws = [c.worker(n, "--data", os.path.join(tmp, n), *worker_args)
          for n in ("w1", "w2")]
    check(coord.wait(60) == 0, coord.stderr())
    for w in ws:
        check(w.wait(30) == 0, w.stderr())
    return coord.stdout()


def refused(c, name, args, status, line, tmp):
    w = c.worker(name, "--data", os.path.join(tmp, "w1"), *args)
    got = w.wait(30)
    err = w.stderr()
    check(got == status, f"{name}: exit {got}, not {status}:\n{err}")
    check(line in err, f"{name}: expected {line!r} in:\n{err}")
    check("retrying" not in err, f"{name} retried:\n{err}")


def tls_and_mutual_tls(fedc, root, tmp):
    prog, pki = setup(fedc, root, tmp)
    with Cluster(prog, tmp, tag="tls") as c:
        coord = c.serve("--tls-cert", pki("server.pem"), "--tls-key",
                        pki("server.key"), "--min-workers", "2", *RUN)
        # Refused first (the run waits for two good workers meanwhile).
        refused(c, "plain", ["--insecure"], 6,
                "fedavg: error: refused: the coordinator speaks TLS", tmp)
        refused(c, "wrong-ca", ["--tls-ca", pki("other-ca.pem")], 6,
                "fedavg: error: refused: TLS handshake failed", tmp)
        tls = run_ok(c, tmp, coord, ["--tls-ca", pki("ca.pem")])
        check("warning: --insecure" not in coord.stderr(), coord.stderr())
    with Cluster(prog, tmp, tag="mtls") as c:
        coord = c.serve("--tls-cert", pki("server.pem"), "--tls-key",
                        pki("server.key"), "--tls-ca", pki("ca.pem"),
                        "--min-workers", "2", *RUN)
        refused(c, "no-cert", ["--tls-ca", pki("ca.pem")], 6,
                "fedavg: error: refused: TLS handshake failed", tmp)
        refused(c, "stranger", ["--tls-ca", pki("ca.pem"), "--tls-cert",
                                pki("stranger.pem"), "--tls-key",
                                pki("stranger.key")], 6,
                "fedavg: error: refused: TLS handshake failed", tmp)
        mtls = run_ok(c, tmp, coord, ["--tls-ca", pki("ca.pem"), "--tls-cert",
                                      pki("client.pem"), "--tls-key",
                                      pki("client.key")])
    with Cluster(prog, tmp, tag="plain") as c:
        coord = c.serve("--insecure", "--min-workers", "2", *RUN)
        plain = run_ok(c, tmp, coord, ["--insecure"])
    check(tls == mtls == plain, "TLS changed the model")


def token(fedc, root, tmp):
    prog, _ = setup(fedc, root, tmp)
    secret, wrong = os.path.join(tmp, "token"), os.path.join(tmp, "wrong")
    open(secret, "w").write("s3cret-fedc-token\n")
    open(wrong, "w").write("not-the-token\n")
    with Cluster(prog, tmp) as c:
        coord = c.serve("--insecure", "--token-file", secret,
                        "--min-workers", "2", *RUN)
        refused(c, "anonymous", ["--insecure"], 6,
                "fedavg: error: refused: no token (the coordinator requires "
                "--token-file)", tmp)
        refused(c, "guesser", ["--insecure", "--token-file", wrong], 6,
                "fedavg: error: refused: wrong token", tmp)
        run_ok(c, tmp, coord, ["--insecure", "--token-file", secret])
        check(coord.stderr().count("refused worker") == 2, coord.stderr())


def hostile_messages(fedc, root, tmp):
    """A worker that breaks the protocol instead of sending its first result
    (a second hello, a chunk out of sequence, a 3 MiB message): the
    coordinator closes that session with the reason, the round goes on
    without its clients, the worker rejoins and the run completes."""
    prog, _ = setup(fedc, root, tmp)
    m = os.path.join(tmp, "m.jsonl")
    for fault, reason in (
            ("worker-second-hello", "a second hello"),
            ("worker-chunk-out-of-order", "a chunk of task"),
            ("worker-oversized-chunk", "or a message over the 2 MiB limit")):
        if os.path.exists(m):
            os.remove(m)
        with Cluster(prog, tmp, tag=fault) as c:
            coord = c.serve("--insecure", "--min-workers", "3", "--rounds",
                            "2", "--clients-per-round", "0", "--metrics", m)
            ws = [c.worker(n, "--insecure", "--data", os.path.join(tmp, n),
                           env={"FEDRT_FAULT": f"{fault}:1"} if n == "w2"
                           else None)
                  for n in ("w1", "w2", "w3")]
            check(coord.wait(60) == 0, coord.stderr())
            for w in ws:
                check(w.wait(30) == 0, w.stderr())
            err = coord.stderr()
        check("worker 'w2'" in err and reason in err, f"{fault}:\n{err}")
        rounds = metrics(m)
        check(rounds[0]["dropped"] == 4 and rounds[1]["dropped"] == 0,
              f"{fault}: {rounds}")


TESTS = {f.__name__: f for f in (tls_and_mutual_tls, token, hostile_messages)}

if __name__ == "__main__":
    sys.exit(main(TESTS))
