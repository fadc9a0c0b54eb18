#!/usr/bin/env python3
"""Mutation testing: plants each bug of scripts/mutants.txt, one at a time,
in a scratch copy of the tree, rebuilds it incrementally and runs the whole
test suite. A mutant is *caught* when some test fails, *missed* when every
test passes (a test that should exist does not, or is too weak).

usage: scripts/mutate.py [--work DIR] [--update-docs] [-j N] [ID ...]

  --work DIR      scratch copy and its build (default: build-mutate)
  --update-docs   write the result table into docs/testing.md
  -j N            tests run in parallel (default 2)
  ID ...          only these mutants (default: all)

Exit status: 0 when every mutant run was caught, 1 otherwise (missed,
stale or failing to build). `make mutate` runs it; it is not part of
`make test` (each mutant costs a rebuild and a test run).

The list's format (scripts/mutants.txt):

    === ID
    why: one line: the bug this mutant plants
    file: path/in/the/tree
    --- find
    exact lines of the file (must occur exactly once)
    --- replace
    what they become
    (more find/replace pairs may follow; a `file:` line switches files)

A line `# --- heading` between mutants is a section heading (elsewhere a
`#` line outside find/replace text is a comment).

A mutant that cannot be caught because it changes no behaviour (an
equivalent mutant) stays in the list with `skip: the reason`.

The tests that caught each mutant last time are remembered in
WORK/caught-by.json (`lit:PATH`, a ctest name, or `Suite.*`) and run first: when one of them fails the mutant is
caught without the rest of the suite; when all pass, the whole suite runs,
so a verdict of "missed" always means the whole suite passed.
"""
import json
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIST = ROOT / "scripts" / "mutants.txt"
DOCS = ROOT / "docs" / "testing.md"
BEGIN, END = "<!-- mutate: begin -->", "<!-- mutate: end -->"


class Mutant:
    def __init__(self, ident):
        self.id = ident
        self.why = ""
        self.skip = None
        self.edits = []  # (file, find, replace)


def parse(text):
    mutants, cur, file, mode, find, buf = [], None, None, None, None, []

    def flush():
        nonlocal mode, find, buf
        if mode == "find":
            find = "".join(buf)
        elif mode == "replace":
            cur.edits.append((file, find, "".join(buf)))
            find = None
        mode, buf = None, []

    for line in text.splitlines(keepends=True):
        if line.startswith("=== "):
            flush()
            cur = Mutant(line[4:].strip())
            mutants.append(cur)
            file = None
        elif cur is None or (mode is None and line.startswith("#")):
            continue
        elif line.startswith("# ---"):  # a section heading ends the edit
            flush()
        elif line.startswith("--- find"):
            flush()
            mode = "find"
        elif line.startswith("--- replace"):
            flush()
            mode = "replace"
        elif mode is None and line.startswith("why:"):
            cur.why = line[4:].strip()
        elif mode is None and line.startswith("skip:"):
            cur.skip = line[5:].strip()
        elif line.startswith("file:") and mode in (None, "replace"):
            flush()
            file = line[5:].strip()
        elif mode is not None:
            buf.append(line)
    flush()
    return mutants


def run(cmd, cwd, log, timeout=None):
    with open(log, "a") as out:
        out.write(f"$ {' '.join(map(str, cmd))}\n")
        out.flush()
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            out.write("timed out\n")
            return 124


def sync_tree(src):
    """Makes src an exact copy of the tracked files of the working tree."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.split()
    for f in files:
        a, b = ROOT / f, src / f
        if not a.is_file():
            continue
        if b.is_file() and b.read_bytes() == a.read_bytes():
            continue
        b.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(a, b)  # mode too; a fresh mtime, so ninja rebuilds


def failed_tests(text):
    """The tests a ctest log reports failing, as hints: `lit:PATH` for a lit
    test, else the ctest name (a GoogleTest case is its own ctest test)."""
    found = re.findall(r"^\s+fedc :: (\S+)$|\[  FAILED  \] (\S+)$|"
                       r"\d+ - (\S+) \(Failed\)", text, re.M)
    lit = sorted({"lit:" + f[0] for f in found if f[0]})
    unit = sorted({f[1] for f in found if f[1] and "." in f[1]})
    named = sorted({f[2] for f in found if f[2] and f[2] != "lit" and f[2] not in unit})
    return (lit + unit + named)[:3]


def test_mutant(build, src, env, log, jobs, hints):
    """Runs the hinted tests, then (if they all pass) the whole suite.
    Returns ("caught", [tests]) or ("MISSED", ["every test passed"])."""
    def ctest(extra, env2):
        with open(log, "a") as out:
            # mutants-apply fails on any mutated tree (the find text is gone),
            # so it would count every mutant as caught.
            return subprocess.run(["ctest", "--test-dir", build, "--stop-on-failure",
                                   "--output-on-failure", "--timeout", "900", "-j", str(jobs),
                                   "-E", "^mutants-apply$"] + extra, cwd=src, env=env2,
                                  stdout=out, stderr=subprocess.STDOUT).returncode

    for h in hints:
        if h.startswith("lit:"):
            rc = ctest(["-R", "^lit$"], dict(env, LIT_FILTER=re.escape(h[4:]) + "$"))
        elif h.endswith(".*"):  # a GoogleTest suite
            rc = ctest(["-R", "^" + re.escape(h[:-1])], env)
        else:
            rc = ctest(["-R", "^" + re.escape(h) + "$"], env)
        if rc != 0:
            return "caught", failed_tests(log.read_text()) or [h]
    if ctest([], env) != 0:
        return "caught", failed_tests(log.read_text()) or ["(see log)"]
    return "MISSED", ["every test passed"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(ROOT / "build-mutate"))
    ap.add_argument("--update-docs", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("ids", nargs="*")
    args = ap.parse_args()
    mutants = parse(LIST.read_text())
    ids = {m.id for m in mutants}
    for i in args.ids:
        if i not in ids:
            sys.exit(f"mutate: no mutant '{i}' in {LIST}")
    if len(ids) != len(mutants):
        sys.exit("mutate: duplicate mutant ids")
    chosen = [m for m in mutants if not args.ids or m.id in args.ids]
    if args.check:
        stale = [(m.id, f, (ROOT / f).read_text().count(find) if (ROOT / f).exists() else 0)
                 for m in chosen if not m.skip for f, find, _ in m.edits
                 if not (ROOT / f).exists() or (ROOT / f).read_text().count(find) != 1]
        for ident, f, n in stale:
            print(f"mutate: {ident}: the find text occurs {n} times in {f}")
        print(f"mutate: {len(chosen) - len({i for i, _, _ in stale})} of {len(chosen)} mutants apply")
        return 1 if stale else 0

    work = pathlib.Path(args.work).resolve()
    src, build, logs = work / "src", work / "build", work / "logs"
    for d in (src, build, logs):
        d.mkdir(parents=True, exist_ok=True)
    sync_tree(src)
    if not (build / "build.ninja").exists():
        subprocess.run(["cmake", "-S", src, "-B", build, "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True,
                       stdout=subprocess.DEVNULL)
    print(f"mutate: building and testing the unmutated copy in {build}", flush=True)
    if run(["cmake", "--build", build], src, logs / "baseline.log") != 0:
        sys.exit(f"mutate: the unmutated tree does not build (see {logs}/baseline.log)")
    if run(["ctest", "--test-dir", build, "-j", str(args.jobs)], src,
           logs / "baseline.log") != 0:
        sys.exit(f"mutate: the unmutated tree fails its tests (see {logs}/baseline.log)")

    env = dict(os.environ, LIT_OPTS="--max-failures=1 -q")
    hints_file = work / "caught-by.json"
    hints = json.loads(hints_file.read_text()) if hints_file.exists() else {}
    results = []
    for m in chosen:
        if m.skip:
            results.append((m, "skipped", 0.0, m.skip))
            print(f"{m.id}: skipped ({m.skip})", flush=True)
            continue
        start = time.time()
        log = logs / f"{m.id}.log"
        log.write_text("")
        touched, original = {}, {}
        status, detail = None, ""
        for file, find, replace in m.edits:
            path = src / file
            if file not in original and path.exists():
                original[file] = path.read_text()
            text = touched.get(file, original.get(file))
            if text is None or text.count(find) != 1:
                n = 0 if text is None else text.count(find)
                status, detail = "stale", f"{file}: the find text occurs {n} times"
                break
            touched[file] = text.replace(find, replace)
        if status is None:
            for file, text in touched.items():
                (src / file).write_text(text)
            if run(["cmake", "--build", build], src, log) != 0:
                status, detail = "build-failed", f"see {log}"
            else:
                status, detail = test_mutant(build, src, env, log, args.jobs,
                                             hints.get(m.id, []))
                if status == "caught":
                    hints[m.id] = detail
                    (work / "caught-by.json").write_text(json.dumps(hints, indent=1))
                detail = ", ".join(d.removeprefix("lit:") for d in detail)
        for file in touched:  # restore (a fresh mtime, so ninja rebuilds it)
            (src / file).write_text(original[file])
        elapsed = time.time() - start
        results.append((m, status, elapsed, detail))
        print(f"{m.id}: {status} in {elapsed:.0f} s ({detail})", flush=True)
    # Leave the build matching the unmutated tree.
    run(["cmake", "--build", build], src, logs / "baseline.log")

    caught = sum(1 for _, s, _, _ in results if s == "caught")
    ran = sum(1 for _, s, _, _ in results if s != "skipped")
    table = ["| mutant | planted bug | result | caught by |", "|---|---|---|---|"]
    for m, status, _, detail in results:
        table.append(f"| `{m.id}` | {m.why} | {status} | {detail if status == 'caught' else ''} |")
    summary = f"{caught} of {ran} mutants caught ({time.strftime('%Y-%m-%d')})."
    print("\n" + "\n".join(table) + "\n\n" + summary)
    if args.update_docs and not args.ids:
        docs = DOCS.read_text()
        if BEGIN in docs and END in docs:
            head, rest = docs.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(head + BEGIN + "\n" + summary + "\n\n" + "\n".join(table) +
                            "\n" + END + tail)
            print(f"mutate: updated {DOCS}")
    return 0 if caught == ran else 1


if __name__ == "__main__":
    sys.exit(main())
