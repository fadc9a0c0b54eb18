#!/usr/bin/env python3
"""Compares what `fedc call` printed with an independent NumPy computation.

usage: numpy_check.py OUTPUT_FILE EXPRESSION [RTOL [ATOL]]

EXPRESSION is Python with `np` (NumPy) in scope: statements separated by
';', the last an expression computing the expected
value (nested tuples/lists/arrays as the printed JSON nests them, dicts for
structs), in float64. The check passes when every number agrees within
RTOL (default 1e-6, float32 rounding) and ATOL (default 1e-7), and the
shapes and integers match exactly. Prints OK, or the first difference and
exits 1.
"""
import json
import math
import sys

import numpy as np


def compare(got, want, rtol, atol, path="result"):
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return f"{path}: got {got!r}, want fields {sorted(want)}"
        for k in want:
            err = compare(got[k], want[k], rtol, atol, f"{path}.{k}")
            if err:
                return err
        return None
    if isinstance(want, np.ndarray):
        want = want.tolist()
    if isinstance(want, (list, tuple)):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{path}: got {got!r}, want {len(want)} elements"
        for i, (g, w) in enumerate(zip(got, want)):
            err = compare(g, w, rtol, atol, f"{path}[{i}]")
            if err:
                return err
        return None
    if isinstance(want, (bool, np.bool_)):
        return None if got is bool(want) else f"{path}: got {got!r}, want {bool(want)}"
    if isinstance(want, (int, np.integer)) and not isinstance(want, bool):
        return None if got == int(want) else f"{path}: got {got!r}, want {int(want)}"
    w = float(want)
    if isinstance(got, str):  # "nan", "inf", "-inf"
        got = float(got)
    if not isinstance(got, (int, float)):
        return f"{path}: got {got!r}, want {w}"
    if math.isnan(w):
        return None if math.isnan(got) else f"{path}: got {got}, want nan"
    if not math.isclose(got, w, rel_tol=rtol, abs_tol=atol):
        return f"{path}: got {got!r}, want {w!r} (rtol {rtol}, atol {atol})"
    return None


def main():
    output, expression = sys.argv[1], sys.argv[2]
    rtol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
    atol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-7
    got = json.loads(open(output).read().strip().splitlines()[-1])
    # Statements separated by ';', the last one an expression.
    scope = {"np": np, "math": math}
    *statements, last = expression.split(";")
    for statement in statements:
        exec(statement.strip(), scope)
    want = eval(last.strip(), scope)
    err = compare(got, want, rtol, atol)
    if err:
        sys.exit("mismatch: " + err)
    print("OK")


if __name__ == "__main__":
    main()
