#!/usr/bin/env python3
"""Property test of generated code: random integer and float expressions run
through `fedc call` (the JIT, the same code generation as programs) and
compared with an independent reference evaluator written here.

usage: random_expressions.py FEDC SEED BATCHES [--seconds S] [--keep DIR]

Each batch is one .fed file of random expressions over i32, i64, f32 and
f64 scalars (+ - * / %, unary -, abs, min, max, pow with a small exponent,
literals mixed with variables). The reference follows docs/language.md:
integers are exact, and a result that does not fit, a zero divisor or
INT_MIN / -1 is a run-time error naming the first failing operation in
evaluation order; floats are IEEE single or double precision, one rounding
per operation (NumPy float32 / Python float), NaN propagating through min
and max. Expressions that fault are called one by one and must fail with
that message; the others are returned together as a tuple and compared bit
for bit (NaN to NaN, -0 equal to +0).

With --seconds, batches continue from SEED until the time is spent (what
`make fuzz` runs); without, exactly BATCHES batches (what `make test` runs).
Prints a summary, or the first mismatch with the .fed text, and exits 1.
"""
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")  # float32 overflow and division by zero

RANGES = {"i32": (-2**31, 2**31 - 1), "i64": (-2**63, 2**63 - 1)}
INT_LITERALS = [0, 1, 2, 3, -1, -7, 9, 100, 65536, 46341, 2147483647,
                -2147483648, 1 << 40, -(1 << 62)]
FLOAT_LITERALS = [0.0, 1.0, -1.0, 0.5, 2.5, 3.0, 1e-3, 1e30, -7.25]


class Fault(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def literal_fits(value, ty):
    if ty in RANGES:
        lo, hi = RANGES[ty]
        return lo <= value <= hi
    return ty == "f64" or abs(value) <= 3.4e38


class Expr:
    """A node: ('var', name) | ('lit', value) | (op, children...)."""

    def __init__(self, op, *args):
        self.op, self.args = op, args

    def has_var(self):
        if self.op == "var":
            return True
        if self.op == "lit":
            return False
        return any(a.has_var() for a in self.args)

    def text(self, ty):
        if self.op == "var":
            return self.args[0]
        if self.op == "lit":
            v = self.args[0]
            s = repr(float(v)) if ty in ("f32", "f64") else str(v)
            return f"({s})" if s.startswith("-") else s
        if self.op == "neg":
            return f"(-{self.args[0].text(ty)})"
        if self.op in ("abs", "min", "max", "pow"):
            return f"{self.op}({', '.join(a.text(ty) for a in self.args)})"
        return f"({self.args[0].text(ty)} {self.op} {self.args[1].text(ty)})"


def generate(rng, ty, depth):
    is_int = ty in RANGES
    if depth == 0 or rng.random() < 0.25:
        return Expr("var", rng.choice("abcd"))
    ops = ["+", "-", "*", "/", "neg", "abs", "min", "max"]
    if is_int:
        ops += ["%", "pow", "*", "+"]
    op = rng.choice(ops)
    if op in ("neg", "abs"):
        return Expr(op, generate(rng, ty, depth - 1))
    if op == "pow":
        return Expr("pow", generate(rng, ty, depth - 1),
                    Expr("lit", rng.choice([0, 1, 2, 3, 5, 31, 40])))
    lhs = generate(rng, ty, depth - 1)
    rhs = generate(rng, ty, depth - 1)
    # A literal only beside a subtree with a variable: two literals would
    # fold at compile time (tested by test/Sema/integer-constants.fed).
    if rng.random() < 0.3:
        pool = INT_LITERALS if is_int else FLOAT_LITERALS
        value = rng.choice([v for v in pool if literal_fits(v, ty)])
        if rng.random() < 0.5 and rhs.has_var():
            lhs = Expr("lit", value)
        elif lhs.has_var():
            rhs = Expr("lit", value)
    return Expr(op, lhs, rhs)


def evaluate_int(e, env, ty):
    lo, hi = RANGES[ty]

    def fit(v, what):
        if not lo <= v <= hi:
            raise Fault(f"integer overflow in {what} ({ty})")
        return v

    if e.op == "var":
        return env[e.args[0]]
    if e.op == "lit":
        return e.args[0]
    xs = [evaluate_int(a, env, ty) for a in e.args]
    if e.op == "neg":
        return fit(-xs[0], "'-'")
    if e.op == "abs":
        return fit(abs(xs[0]), "abs")
    if e.op == "min":
        return min(xs)
    if e.op == "max":
        return max(xs)
    if e.op == "pow":
        return fit(xs[0] ** xs[1], "pow")
    x, y = xs
    if e.op in ("+", "-", "*"):
        return fit({"+": x + y, "-": x - y, "*": x * y}[e.op], f"'{e.op}'")
    if y == 0:
        raise Fault("integer division by zero" if e.op == "/"
                    else "integer remainder by zero")
    q = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
    if e.op == "/":
        return fit(q, "'/'")
    return x - q * y


def evaluate_float(e, env, ty):
    t = np.float32 if ty == "f32" else np.float64
    if e.op == "var":
        return t(env[e.args[0]])
    if e.op == "lit":
        return t(e.args[0])
    xs = [evaluate_float(a, env, ty) for a in e.args]
    if e.op == "neg":
        return t(-xs[0])
    if e.op == "abs":
        return t(abs(xs[0]))
    if e.op in ("min", "max"):
        x, y = xs
        if math.isnan(x) or math.isnan(y):
            return t(math.nan)
        if x == y == 0:  # IEEE 754-2019 minimum/maximum: -0 < +0
            negative = math.copysign(1, x) < 0, math.copysign(1, y) < 0
            zero = -0.0 if (any(negative) if e.op == "min" else all(negative)) else 0.0
            return t(zero)
        return t(min(x, y) if e.op == "min" else max(x, y))
    x, y = xs
    if e.op == "/" and y == 0:
        if x == 0 or math.isnan(x):
            return t(math.nan)
        return t(math.copysign(math.inf, x) * math.copysign(1.0, y))
    return t({"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else 0}[e.op])


def random_value(rng, ty):
    if ty in RANGES:
        lo, hi = RANGES[ty]
        return rng.choice([rng.randint(-20, 20), rng.randint(-70000, 70000),
                           rng.randint(lo, hi), lo, hi, 0, -1])
    return rng.choice([rng.uniform(-10, 10), rng.uniform(-1e20, 1e20), 0.0,
                       -0.0, 1.5, float(rng.randint(-5, 5)), 3e38])


def same_float(got, want, ty):
    # fedc prints the shortest text that reads back as the same f32 or f64.
    got = (np.float32 if ty == "f32" else np.float64)(float(got))
    if math.isnan(want):
        return bool(math.isnan(got))
    return bool(got == want)


def call(fedc, path, fn, args):
    return subprocess.run([fedc, "call", path, fn] + args, capture_output=True,
                          text=True, timeout=120)


STATS = {"faults": 0, "values": 0}


def run_batch(fedc, seed, workdir):
    rng = random.Random(seed)
    cases = []
    for i in range(24):
        ty = rng.choice(["i32", "i64", "f32", "f64"])
        expr = generate(rng, ty, rng.randint(1, 4))
        env = {v: random_value(rng, ty) for v in "abcd"}
        if ty == "f32":
            env = {k: float(np.float32(v)) for k, v in env.items()}
        try:
            if ty in RANGES:
                want = evaluate_int(expr, env, ty)
            else:
                want = evaluate_float(expr, env, ty)
            fault = None
        except Fault as f:
            want, fault = None, f.message
        cases.append((f"e{i}", ty, expr, env, want, fault))
    lines = []
    for name, ty, expr, env, _, _ in cases:
        lines.append(f"fn {name}(a: {ty}, b: {ty}, c: {ty}, d: {ty}) -> {ty} "
                     f"{{ return {expr.text(ty)}; }}")
    ok = [c for c in cases if c[5] is None]
    STATS["values"] += len(ok)
    STATS["faults"] += len(cases) - len(ok)
    params = ", ".join(f"{p}{c[0]}: {c[1]}" for c in ok for p in "abcd")
    results = ", ".join(c[1] for c in ok)
    calls = ", ".join(f"{c[0]}(a{c[0]}, b{c[0]}, c{c[0]}, d{c[0]})" for c in ok)
    if ok:
        lines.append(f"fn together({params}) -> ({results},) "
                     f"{{ return ({calls},); }}")
    path = os.path.join(workdir, f"batch{seed}.fed")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    def arg(v, ty):
        if ty in RANGES:
            return str(v)
        return repr(float(v)) if math.isfinite(v) else json.dumps(v)

    if ok:
        args = [arg(c[3][p], c[1]) for c in ok for p in "abcd"]
        r = call(fedc, path, "together", args)
        if r.returncode != 0:
            return f"{path}: together failed: {r.stderr.strip()}"
        got = json.loads(r.stdout)
        for (name, ty, expr, env, want, _), value in zip(ok, got):
            if ty in RANGES:
                same = value == want
            else:
                same = same_float(value, want, ty)
            if not same:
                return (f"{path}: {name} = {expr.text(ty)} with {env}: "
                        f"got {value!r}, want {want!r}")
    for name, ty, expr, env, _, fault in cases:
        if fault is None:
            continue
        r = call(fedc, path, name, [arg(env[p], ty) for p in "abcd"])
        if r.returncode != 1 or fault + " [CallFailed]" not in r.stderr:
            return (f"{path}: {name} = {expr.text(ty)} with {env}: want "
                    f"'{fault}', got exit {r.returncode}: {r.stderr.strip()}"
                    f"{r.stdout.strip()}")
    return None


def main():
    fedc, seed, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seconds = None
    if "--seconds" in sys.argv:
        seconds = float(sys.argv[sys.argv.index("--seconds") + 1])
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    workdir = keep or tempfile.mkdtemp(prefix="fedc-exprs-")
    os.makedirs(workdir, exist_ok=True)
    start, done = time.monotonic(), 0
    while True:
        if seconds is None and done >= batches:
            break
        if seconds is not None and time.monotonic() - start > seconds:
            break
        error = run_batch(fedc, seed + done, workdir)
        if error:
            print(f"random_expressions: MISMATCH (seed {seed + done}): {error}")
            return 1  # the .fed files stay for the report
        done += 1
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"random_expressions: OK ({done} batches: {STATS['values']} values "
          f"compared, {STATS['faults']} faults reported)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
