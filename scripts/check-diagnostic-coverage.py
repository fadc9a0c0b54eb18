#!/usr/bin/env python3
"""Fails when a diagnostic id of compiler/basic/DiagnosticKinds.def has no test.

A test covers an id when a real check names it as `[Id]`: the expected
text of a -verify directive (`// expected-error@+1 {{... [Id]}}`), or a
FileCheck line of a prefix that one of the file's RUN lines checks
(`CHECK:`, `FOO-NEXT:`, ..., but not `-NOT:`). An id that appears only in
a comment, a RUN line or an unused prefix does not count.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
table = (root / "compiler/basic/DiagnosticKinds.def").read_text()
ids = re.findall(r"^DIAG\((\w+),", table, re.M)

VERIFY = re.compile(
    r"expected-(?:error|warning|note|remark)(?:@[-+]?[\w*.:]*)?(?:\s+\d+\+?)?\s*\{\{(.*?)\}\}")
CHECK_LINE = re.compile(r"^\s*(?://|#|;)\s*([A-Za-z][A-Za-z0-9_-]*?)"
                        r"(-NEXT|-DAG|-SAME|-LABEL|-COUNT-\d+)?:(.*)$")
PREFIXES = re.compile(r"--check-prefix(?:es)?[= ]([\w,-]+)")
ID = re.compile(r"\[(\w+)\]")


def covered_ids(text):
    found = set()
    for m in VERIFY.finditer(text):
        found.update(ID.findall(m.group(1)))
    prefixes = set()
    for line in text.splitlines():
        if "RUN:" not in line or "FileCheck" not in line:
            continue
        for run in line.split("FileCheck")[1:]:
            m = PREFIXES.search(run.split("|")[0])
            prefixes.update(m.group(1).split(",") if m else ["CHECK"])
    for line in text.splitlines():
        m = CHECK_LINE.match(line)
        if m and m.group(1) in prefixes and m.group(1) != "RUN":
            found.update(ID.findall(m.group(3)))
    return found


covered = set()
for p in (root / "test").rglob("*"):
    if p.is_file() and p.suffix in {".fed", ".test"}:
        covered |= covered_ids(p.read_text(errors="replace"))

# Ids no input can provoke: internal errors (the LLVM verifier rejecting
# generated IR, the JIT failing on a module that compiled, code generation
# meeting a construct sema and lowering let through — every such rule is a
# sema diagnostic now), and a program that fedc just linked failing to start.
INTERNAL = {"InvalidModule", "JitError", "RunFailed", "UnsupportedInCodegen"}
unknown = INTERNAL - set(ids)
if unknown:
    sys.exit(f"internal ids not in the table: {sorted(unknown)}")
missing = [i for i in ids if i not in covered and i not in INTERNAL]
if missing:
    print("diagnostic ids without a test that checks them:", file=sys.stderr)
    for i in missing:
        print(f"  [{i}]", file=sys.stderr)
    sys.exit(1)
print(f"all {len(ids)} diagnostic ids are covered by tests")
