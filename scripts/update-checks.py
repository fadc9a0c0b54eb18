#!/usr/bin/env python3
"""Regenerates the CHECK lines of dump tests from fedc's output, as LLVM's
update_test_checks.py does for IR tests.

usage: scripts/update-checks.py [--fedc build/bin/fedc] TEST.fed ...

A dump test runs `%fedc --emit=KIND [flags] %s | FileCheck %s` (KIND: tokens,
ast, typed, plan) and pins the whole dump with one `CHECK-LABEL` line and
`CHECK-NEXT` lines. This script runs the same command on the file and
rewrites those lines (other prefixes and hand-written partial checks are
left alone: a file whose RUN line names a --check-prefix is skipped). Run it
after an intended change of a dump, then read the diff: a test pins
behaviour only if someone checks the new output is right.
"""
import argparse
import os
import re
import subprocess
import sys

RUN = re.compile(r"^//\s*RUN:\s*%fedc\s+(--emit=(?:tokens|ast|typed|plan)[^|]*)%s\s*\|\s*FileCheck\s+%s\s*$")


def regenerate(fedc, path):
    lines = open(path).read().splitlines()
    run = next((RUN.match(l) for l in lines if RUN.match(l)), None)
    if not run:
        return f"{path}: no '%fedc --emit=... %s | FileCheck %s' RUN line; skipped"
    flags = run.group(1).split()
    out = subprocess.run([fedc, *flags, path], capture_output=True, text=True)
    if out.returncode != 0:
        return f"{path}: fedc failed:\n{out.stderr}"
    dump = out.stdout.splitlines()
    # Paths in the dump (Module <path>) depend on where the test runs.
    dump = [l.replace(path, "{{.*}}").replace(os.path.abspath(path), "{{.*}}")
            for l in dump]
    body = [l for l in lines if not re.match(r"^//\s*CHECK(-NEXT|-LABEL)?:", l)]
    while body and body[-1] == "":
        body.pop()
    checks = ["// CHECK-LABEL: " + dump[0]] + ["// CHECK-NEXT: " + l if l else "// CHECK-EMPTY:"
                                                for l in dump[1:]]
    open(path, "w").write("\n".join(body + [""] + checks) + "\n")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fedc", default="build/bin/fedc")
    ap.add_argument("tests", nargs="+")
    args = ap.parse_args()
    failed = False
    for t in args.tests:
        message = regenerate(args.fedc, t)
        if message:
            print(message, file=sys.stderr)
            failed = failed or "failed" in message
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
