"""Reads a checkpoint's client-state file (fedrt/ClientState.h's format:
"FEDCCST1", fingerprint, round, bytes per state, count, then per client its
index and packed state, then a checksum) whose states are digits models
(w: f32[64, 10], b: f32[10]): {client: (w, b)}."""
import struct

import numpy as np


def read(path):
    data = open(path, "rb").read()
    assert data[:8] == b"FEDCCST1", "not a client state file"
    _, _, size, count = struct.unpack_from("<4Q", data, 8)
    assert size == 4 * (64 * 10 + 10), size
    states, pos = {}, 8 + 32
    for _ in range(count):
        (client,) = struct.unpack_from("<q", data, pos)
        v = np.frombuffer(data, np.float32, 650, pos + 8)
        states[client] = (v[:640].reshape(64, 10), v[640:])
        pos += 8 + size
    assert pos == len(data) - 8
    return states
