#!/usr/bin/env python3
"""Writes malformed .fed inputs: every prefix cut of a real program at a few
hundred points, and seeded random byte strings. Usage: OUTDIR PROGRAM.fed"""
import os
import random
import sys

out, program = sys.argv[1], open(sys.argv[2], "rb").read()
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)
# Truncations that end mid-token or mid-construct (each must be an error;
# the cut points avoid ends that happen to complete a declaration).
cuts = sorted(rng.sample(range(1, len(program) - 1), 150))
n = 0
for cut in cuts:
    prefix = program[:cut]
    if prefix.rstrip().endswith((b"}", b";")) or prefix.rstrip().endswith(b"*/"):
        continue
    if prefix.rstrip(b" \t\r\n").split(b"\n")[-1].lstrip().startswith(b"//"):
        continue
    open(os.path.join(out, f"cut{n:03}.fed"), "wb").write(prefix)
    n += 1
alphabet = list(range(256))
for i in range(60):
    data = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 4000)))
    open(os.path.join(out, f"random{i:03}.fed"), "wb").write(b"@" + data)
# Token soup: valid tokens in random order.
tokens = [b"fn", b"(", b")", b"{", b"}", b"let", b"x", b"=", b"1", b";", b"@",
          b"<", b">", b"seq", b"federated", b"[", b"]", b",", b".", b"0.5",
          b"SERVER", b"CLIENTS", b"->", b"..", b"struct", b"if", b"else"]
for i in range(60):
    soup = b" ".join(rng.choice(tokens) for _ in range(rng.randint(1, 300)))
    open(os.path.join(out, f"soup{i:03}.fed"), "wb").write(b"fn " + soup + b" +")
