#!/usr/bin/env python3
"""Rewrites the float32 leaves of a checkpoint's state (and its checksum),
as an operator editing a saved model would, so a test can show that
--resume continues from the saved state rather than recomputing it.

usage: edit_checkpoint.py CHECKPOINT V0 V1 ...

The state's float32 elements, in leaf order, become V0 V1 ... (exactly as
many as the state holds). Prints the checkpoint's round.
Format (runtime/exec/Checkpoint.cpp): "FEDCKPT2", fingerprint, seed, data
fingerprint, clients per round, population (u64 each), the partition (u64
length, bytes), round (u64), then the state: leaf count, and per leaf
element code, rank, dims, bytes; then an FNV-1a checksum of everything
before it.
"""
import struct
import sys


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    path, values = sys.argv[1], [float(v) for v in sys.argv[2:]]
    data = bytearray(open(path, "rb").read())
    assert data[:8] == b"FEDCKPT2", "not a checkpoint of this version"
    assert struct.unpack_from("<Q", data, len(data) - 8)[0] == fnv(data[:-8])
    pos = 8 + 5 * 8
    (partition,) = struct.unpack_from("<Q", data, pos)
    pos += 8 + partition
    (round_,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    (leaves,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    floats = []
    for _ in range(leaves):
        element, rank = struct.unpack_from("<QQ", data, pos)
        pos += 16
        dims = struct.unpack_from(f"<{rank}Q", data, pos)
        pos += 8 * rank
        count = 1
        for d in dims:
            count *= d
        assert element == 0, "only float32 leaves are edited"
        floats.extend(pos + 4 * i for i in range(count))
        pos += 4 * count
    assert len(floats) == len(values), f"the state holds {len(floats)} floats"
    for offset, v in zip(floats, values):
        struct.pack_into("<f", data, offset, v)
    struct.pack_into("<Q", data, len(data) - 8, fnv(data[:-8]))
    open(path, "wb").write(data)
    print(round_)


if __name__ == "__main__":
    main()
