#!/usr/bin/env python3
"""Writes client files whose aggregate depends on the order of addition.

usage: order_sensitive.py DIR CLIENTS

Client i holds one f64 record per line (header `x`). Clients 0..2 hold
1e16 (and -1e16 for client 2) spread over 200,000 records each, so they
are slow; every other client holds a few small values. In float64, 1e16 +
1 == 1e16 but 1e16 + (1 + 1) != 1e16, so any change in how clients are
grouped or in which order partials merge changes the printed sums, and
the slow first block finishes last on every thread count above one.
"""
import os
import sys

out, clients = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
for i in range(clients):
    with open(os.path.join(out, f"c{i:03d}.csv"), "w") as f:
        f.write("x\n")
        if i < 3:
            big = -1e16 if i == 2 else 1e16
            f.write(f"{big!r}\n")
            f.write("0\n" * 199999)
        else:
            for k in range(1 + i % 3):
                f.write(f"{0.75 + (i * 7 + k) % 5 * 0.25 + i * 1e-3!r}\n")
