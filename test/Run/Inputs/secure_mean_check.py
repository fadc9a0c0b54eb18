#!/usr/bin/env python3
"""Checks that a secure mean is within its quantization bound of the plain
one (docs/secure-aggregation.md, "Secure means").

usage: secure_mean_check.py SECURE PLAIN BOUND

SECURE and PLAIN are JSON values, each FILE (the file's last line) or
FILE:INDEX (element INDEX of the JSON array on that line). Every number of
SECURE must be within BOUND of PLAIN's (same nesting). Prints the largest
difference and the bound, then OK, or the first violation and exits 1.
"""
import json
import sys


def load(spec):
    path, _, index = spec.partition(":")
    value = json.loads(open(path).read().strip().splitlines()[-1])
    return value[int(index)] if index else value


def leaves(value, path="value"):
    if isinstance(value, dict):
        for k in sorted(value):
            yield from leaves(value[k], f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, float(value)


def main():
    secure, plain = load(sys.argv[1]), load(sys.argv[2])
    bound = float(sys.argv[3])
    a, b = list(leaves(secure)), list(leaves(plain))
    if [p for p, _ in a] != [p for p, _ in b]:
        sys.exit("the values have different shapes")
    worst = max(abs(x - y) for (_, x), (_, y) in zip(a, b))
    print(f"largest difference {worst:.3g}, bound {bound:.3g}")
    for (path, x), (_, y) in zip(a, b):
        if not abs(x - y) <= bound:
            sys.exit(f"{path}: secure {x!r} and plain {y!r} differ by "
                     f"{abs(x - y)!r} > {bound!r}")
    # A secure mean that equals the plain one bit for bit did not quantize.
    if worst == 0:
        sys.exit("secure and plain means are identical: nothing was quantized")
    print("OK")


if __name__ == "__main__":
    main()
