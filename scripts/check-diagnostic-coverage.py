#!/usr/bin/env python3
"""Fails when a diagnostic id of compiler/basic/DiagnosticKinds.def has no test.

A test covers an id when a file under test/ names it as `[Id]` (in a -verify
directive such as `// expected-error {{... [Id]}}` or in a FileCheck line).
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
table = (root / "compiler/basic/DiagnosticKinds.def").read_text()
ids = re.findall(r"^DIAG\((\w+),", table, re.M)
corpus = "\n".join(
    p.read_text(errors="replace")
    for p in (root / "test").rglob("*")
    if p.is_file() and p.suffix in {".fed", ".test", ".txt"})
# Ids that only report a bug in fedc itself (no input can trigger them on
# purpose): the LLVM verifier rejecting generated IR, and the JIT failing to
# materialize a module that compiled.
# Ids no input can provoke: internal errors, and a program that fedc just
# linked failing to start.
INTERNAL = {"InvalidModule", "JitError", "RunFailed"}
unknown = INTERNAL - set(ids)
if unknown:
    sys.exit(f"internal ids not in the table: {sorted(unknown)}")
missing = [i for i in ids if f"[{i}]" not in corpus and i not in INTERNAL]
if missing:
    print("diagnostic ids without a test that names them:", file=sys.stderr)
    for i in missing:
        print(f"  [{i}]", file=sys.stderr)
    sys.exit(1)
print(f"all {len(ids)} diagnostic ids are covered by tests")
