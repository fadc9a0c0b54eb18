"""Writes .npz versions of a --print-state JSON (the state struct's leaves
as arrays named by field path, "x.w" for nested fields) for
steering.test: the state as float32 (state.npz) and float64 (f64.npz),
and broken ones: a wrong shape, an extra array, a missing one, a value
that is not a float32.

usage: state_npz.py STATE_JSON OUT_DIR"""
import json
import sys

import numpy as np


def leaves(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, np.array(value, dtype=np.float32)


def main():
    state = json.loads(open(sys.argv[1]).read().splitlines()[-1])
    out = sys.argv[2]
    arrays = dict(leaves(state))
    first = next(iter(arrays))
    np.savez(f"{out}/state.npz", **arrays)
    np.savez_compressed(f"{out}/f64.npz", **{k: v.astype(np.float64) for k, v in arrays.items()})
    np.savez(f"{out}/shape.npz", **{**arrays, first: arrays[first][:3]})
    np.savez(f"{out}/extra.npz", **arrays, extra=np.zeros(3, np.float32))
    np.savez(f"{out}/missing.npz", **{k: v for k, v in arrays.items() if k != first})
    np.savez(f"{out}/inexact.npz", **{**arrays, first: np.full(arrays[first].shape, 0.1)})
    print(len(arrays), "arrays")


if __name__ == "__main__":
    main()
