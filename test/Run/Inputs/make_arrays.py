#!/usr/bin/env python3
"""Writes the array files of test/Run/array-data.fed into DIR: the same
five records (x: 2x3 pixels, y: a label) as IDX (plain and gzip) and as
.npy, and malformed variants; prints [sum(x * (y + 1)), max(x)] as NumPy
computes it (what the program must print).
usage: make_arrays.py DIR"""
import gzip
import os
import struct
import sys

import numpy as np

d = sys.argv[1]
g = np.random.default_rng(7)
x = g.integers(0, 256, (5, 2, 3)).astype(np.uint8)
y = g.integers(0, 10, 5).astype(np.int32)


def idx(path, a, code, opener=open):
    with opener(path, "wb") as f:
        f.write(bytes([0, 0, code, a.ndim]))
        f.write(struct.pack(">" + "I" * a.ndim, *a.shape))
        f.write(a.astype(a.dtype.newbyteorder(">")).tobytes())


idx(f"{d}/x.idx", x, 0x08)
idx(f"{d}/x.idx.gz", x, 0x08, gzip.open)
idx(f"{d}/y.idx", y, 0x0C)
idx(f"{d}/y64.idx", y.astype(np.float64), 0x0E)
np.save(f"{d}/x.npy", x)
np.save(f"{d}/y.npy", y)
np.save(f"{d}/x_flat.npy", x.reshape(5, 6))
np.save(f"{d}/x_f64.npy", x.astype(np.float64))
np.save(f"{d}/x_fortran.npy", np.asfortranarray(x.reshape(5, 6)))
np.save(f"{d}/y4.npy", y[:4])
np.save(f"{d}/x_bad_shape.npy", x.reshape(5, 3, 2))
open(f"{d}/x_short.idx", "wb").write(open(f"{d}/x.idx", "rb").read()[:-1])
open(f"{d}/notes.txt", "w").write("pixels\n")
# .npz archives: stored and deflated, with an array no field names, named
# otherwise (bound as FILE:ARRAY), one client per archive, and damaged.
np.savez(f"{d}/data.npz", x=x, y=y, x_test=x[:2])
np.savez_compressed(f"{d}/data_c.npz", x=x, y=y)
np.savez(f"{d}/mnist.npz", x_train=x, y_train=y)
np.savez(f"{d}/only_x.npz", x=x)
os.makedirs(f"{d}/sites", exist_ok=True)
np.savez(f"{d}/sites/a.npz", x=x[:3], y=y[:3])
np.savez_compressed(f"{d}/sites/b.npz", x=x[3:], y=y[3:])
whole = open(f"{d}/data_c.npz", "rb").read()
open(f"{d}/truncated.npz", "wb").write(whole[: len(whole) // 2])
# One byte of the deflated y array flipped: its CRC no longer matches.
at = whole.index(b"y.npy") + 5 + 20
open(f"{d}/flipped.npz", "wb").write(whole[:at] + bytes([whole[at] ^ 0xFF]) + whole[at + 1:])
# The same in a stored archive: it inflates fine, its CRC-32 does not match.
stored = open(f"{d}/data.npz", "rb").read()
at = stored.index(b"y.npy") + 5 + 140
open(f"{d}/crc.npz", "wb").write(stored[:at] + bytes([stored[at] ^ 0x01]) + stored[at + 1:])
print([int((x.astype(np.int64).sum(axis=(1, 2)) * (y + 1)).sum()), int(x.max())])
