#!/usr/bin/env python3
"""Writes mutated .fed programs for sema robustness tests.

Usage: OUTDIR DIR... -- every .fed file under the DIRs is copied, then
mutated by swapping, dropping and duplicating lines and by replacing names
with other names of the file (seeded, so reruns are identical)."""
import os
import pathlib
import random
import re
import sys

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(7)
sources = [p for d in sys.argv[2:] for p in sorted(pathlib.Path(d).rglob("*.fed"))]
n = 0
for src in sources:
    text = src.read_text(errors="replace")
    lines = text.split("\n")
    names = sorted(set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", text)))
    (out / f"orig{n:04}.fed").write_text(text)
    for k in range(6):
        ls = list(lines)
        op = k % 3
        if len(ls) > 2:
            i, j = rng.randrange(len(ls)), rng.randrange(len(ls))
            if op == 0:
                ls[i], ls[j] = ls[j], ls[i]
            elif op == 1:
                del ls[i]
            else:
                ls.insert(i, ls[j])
        mutated = "\n".join(ls)
        if names:
            for _ in range(3):
                a, b = rng.choice(names), rng.choice(names)
                mutated = re.sub(r"\b%s\b" % re.escape(a), b, mutated, count=1)
        (out / f"mut{n:04}_{k}.fed").write_text(mutated)
    n += 1
