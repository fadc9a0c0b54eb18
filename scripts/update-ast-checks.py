#!/usr/bin/env python3
"""Regenerates the `// CHECK` lines of test/Parse AST tests from fedc's output.

Usage: scripts/update-ast-checks.py build/bin/fedc test/Parse/foo.fed ...

Like LLVM's update_*_test_checks.py: run it after an intended change to the
AST dump, then read the diff: the tests pin behaviour only if someone checks
that the new output is right.
"""
import subprocess
import sys

fedc = sys.argv[1]
for path in sys.argv[2:]:
    lines = open(path).read().splitlines()
    body = [l for l in lines if not l.startswith("// CHECK")]
    while body and body[-1] == "":
        body.pop()
    out = subprocess.run([fedc, "--emit=ast", path], capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.exit(f"{path}: fedc failed:\n{out.stderr}")
    dump = out.stdout.splitlines()[1:]  # drop "Module <path>"
    checks = ["// CHECK-LABEL: Module"]
    checks += ["// CHECK-NEXT: " + l for l in dump]
    open(path, "w").write("\n".join(body + [""] + checks) + "\n")
