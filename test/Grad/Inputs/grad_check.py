#!/usr/bin/env python3
"""The gradient-check suite: fedc's grad against central finite differences
and against PyTorch's autograd.

usage: grad_check.py FEDC WORKDIR [CASE...]

Every case is a loss written in .fed and the same loss in PyTorch. The
script writes one .fed file with, per case, the loss `L_<case>`, a fn
`fd_<case>` computing central finite differences of that loss in f64
(step H = 1e-5, every element of every differentiated parameter), and
`check_<case>` returning (value, grad, finite differences) with grad from
`value_and_grad`. It runs `fedc call` on each check fn, then compares:

  - grad with the finite differences: max |g - fd| <= 1e-6 * max |fd|
    (relative to the gradient's scale; f64 cases);
  - grad and value with PyTorch autograd in float64 on the same inputs:
    max |g - g_torch| <= 1e-5 * max |g_torch| (f32 cases too, where the
    losses run in f32).

Prints one line per case and "all N cases agree", or the first
disagreement, and exits 1.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

H = "0.00001"

PRELUDE = """
struct Pair { u: f64[3], v: f64[3] }
struct Mlp { w1: f64[4, 5], b1: f64[5], w2: f64[5, 3], b2: f64[3] }
struct Lin { w: f64[4, 3], b: f64[3] }
struct Mlp32 { w1: f32[4, 5], b1: f32[5], w2: f32[5, 3], b2: f32[3] }
struct Example { x: f64[4], y: i32 }
struct Cnn { k: f64[3, 3, 1, 2], kb: f64[2], w: f64[8, 3], b: f64[3] }
struct Cnn32 { k: f32[3, 3, 1, 2], kb: f32[2], w: f32[8, 3], b: f32[3] }

fn dense2<B, I, O>(x: f64[B, I], w: f64[I, O], b: f64[O]) -> f64[B, O] {
  return x @ w + b;
}
fn xent<B, C>(logits: f64[B, C], labels: i32[B]) -> f64 {
  return -sum(log_softmax(logits) * f64(one_hot(labels, C))) / f64(rows(logits));
}
fn xent32<B, C>(logits: f32[B, C], labels: i32[B]) -> f32 {
  return -sum(log_softmax(logits) * one_hot(labels, C)) / f32(rows(logits));
}
fn mlp_loss(m: Mlp, x: f64[?, 4], y: i32[?]) -> f64 {
  let h = relu(dense2(x, m.w1, m.b1));
  return xent(dense2(h, m.w2, m.b2), y);
}
"""

STRUCTS = {
    "Cnn": [("k", (3, 3, 1, 2)), ("kb", (2,)), ("w", (8, 3)), ("b", (3,))],
    "Cnn32": [("k", (3, 3, 1, 2)), ("kb", (2,)), ("w", (8, 3)), ("b", (3,))],
    "Pair": [("u", (3,)), ("v", (3,))],
    "Mlp": [("w1", (4, 5)), ("b1", (5,)), ("w2", (5, 3)), ("b2", (3,))],
    "Mlp32": [("w1", (4, 5)), ("b1", (5,)), ("w2", (5, 3)), ("b2", (3,))],
    "Lin": [("w", (4, 3)), ("b", (3,))],
}

rng = np.random.default_rng(14)


def normal(*shape):
    return rng.normal(size=shape).round(3)


def away(*shape):
    """Values at least 0.2 from 0, for relu, abs and kinks."""
    v = normal(*shape)
    return np.where(np.abs(v) < 0.2, np.sign(v + 1e-9) * 0.2 + v, v).round(3)


def struct(name, scale=0.5):
    return {f: normal(*shape) * scale for f, shape in STRUCTS[name]}


class Case:
    def __init__(self, name, params, wrt, body, torch_fn, inputs, fd=True):
        self.name, self.params, self.wrt = name, params, wrt
        self.body, self.torch_fn, self.inputs, self.fd = body, torch_fn, inputs, fd


def tsum(x):
    return x.sum()


def rnn(w, x, h0):
    h = h0
    for t in range(x.shape[0]):
        h = torch.tanh(h @ w + x[t])
    return (h * h).sum()


def product_loop(x, n):
    p, y, c = torch.tensor(1.0), x, 0
    for i in range(1, n):
        p = p * (y.sum() + i)
        y = y * 0.5 + x
        c += 1
        if c == 2:
            y = y * y * 0.25 - y
    return p + y.sum()


def struct_state(w, h0):
    u, v = h0, h0 * 0.5 + 1.0
    for t in range(3):
        c = torch.tanh(u @ w)
        u, v = u * 0.5 + c * v, v + c
    return (u * v).sum()


def nested_loops(w):
    a = w
    for i in range(3):
        b = a
        for j in range(2):
            b = b * w + j
        a = a + torch.exp(-b * b)
    return a.sum()


def clip_by_norm(x, c):
    n = torch.sqrt((x * x).sum())
    return x * torch.where(n > c, c / n, torch.ones_like(n))


def tf_pads(size, k, stride, same):
    """TensorFlow's "same" padding of one axis: (before, after)."""
    if not same:
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def conv_nhwc(x, w, stride=1, same=False):
    """conv2d on NHWC images with an HWIO filter, TensorFlow's padding."""
    top, bottom = tf_pads(x.shape[1], w.shape[0], stride, same)
    left, right = tf_pads(x.shape[2], w.shape[1], stride, same)
    xp = F.pad(nchw(x), (left, right, top, bottom))
    return nhwc(F.conv2d(xp, w.permute(3, 2, 0, 1), stride=stride))


def max_pool_nhwc(x, k, stride=None, same=False):
    stride = stride or k
    top, bottom = tf_pads(x.shape[1], k, stride, same)
    left, right = tf_pads(x.shape[2], k, stride, same)
    xp = F.pad(nchw(x), (left, right, top, bottom), value=float("-inf"))
    return nhwc(F.max_pool2d(xp, k, stride))


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) % 2**64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % 2**64
    return x ^ (x >> 31)


def uniform01(seed, i):
    """random_uniform's counter-based stream (runtime/core/Random.cpp)."""
    base = splitmix64((seed % 2**64) ^ 0x5851F42D4C957F2D) ^ ((i * 0xD1B54A32D192ED03) % 2**64)
    return (splitmix64(base) >> 11) * 2.0**-53


def dropout_ref(x, rate, seed):
    keep = torch.tensor([uniform01(seed, i) >= rate for i in range(x.numel())]).reshape(x.shape)
    return x * keep / (1 - rate)


def distinct(*shape):
    """Values with no ties (max pooling is not differentiable at ties)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) / n * 4 - 2).round(4)


def small_cnn(m, x, y):
    h = torch.relu(conv_nhwc(x, m["k"], 1, True) + m["kb"])
    h = max_pool_nhwc(h, 2)
    return F.cross_entropy(h.reshape(h.shape[0], -1) @ m["w"] + m["b"], y)


CASES = [
    Case("add_sub_broadcast", [("a", "f64[2, 3]"), ("w", "f64[2, 3]")], ["a"],
         "return sum(((a + mean(a, axis: 0)) - reshape<f64[2, 1]>(sum(a, axis: 1)) + 1.5) * w);",
         lambda a, w: (((a + a.mean(0)) - a.sum(1).reshape(2, 1) + 1.5) * w).sum(),
         {"a": normal(2, 3), "w": normal(2, 3)}),
    Case("mul_div_neg", [("x", "f64[6]"), ("w", "f64[6]")], ["x"],
         "return sum((-x * x[2] / (x * x + 1.0) + 2.0 / (x * x + 3.0)) * w);",
         lambda x, w: ((-x * x[2] / (x * x + 1) + 2 / (x * x + 3)) * w).sum(),
         {"x": normal(6), "w": normal(6)}),
    Case("broadcast_operand_both_sides", [("a", "f64[2, 3]"), ("b", "f64[3]"), ("c", "f64[2, 1]")], ["a", "b", "c"],
         "return sum(a * b / c + b * c - a / b);",
         lambda a, b, c: (a * b / c + b * c - a / b).sum(),
         {"a": normal(2, 3), "b": away(3) + 2, "c": away(2, 1) + 3}),
    Case("matmul_matrix_matrix", [("a", "f64[2, 3]"), ("b", "f64[3, 4]"), ("w", "f64[2, 4]")], ["a", "b"],
         "return sum((a @ b) * w);",
         lambda a, b, w: ((a @ b) * w).sum(),
         {"a": normal(2, 3), "b": normal(3, 4), "w": normal(2, 4)}),
    # wrt in another order than the parameters: grad returns them in wrt's.
    Case("matmul_wrt_reversed", [("a", "f64[2, 3]"), ("b", "f64[3, 4]"), ("w", "f64[2, 4]")], ["b", "a"],
         "return sum((a @ b) * w);",
         lambda a, b, w: ((a @ b) * w).sum(),
         {"a": normal(2, 3), "b": normal(3, 4), "w": normal(2, 4)}),
    Case("matmul_matrix_vector", [("a", "f64[2, 3]"), ("v", "f64[3]"), ("w", "f64[2]")], ["a", "v"],
         "return sum((a @ v) * w);",
         lambda a, v, w: ((a @ v) * w).sum(),
         {"a": normal(2, 3), "v": normal(3), "w": normal(2)}),
    Case("matmul_vector_matrix", [("v", "f64[2]"), ("b", "f64[2, 3]"), ("w", "f64[3]")], ["v", "b"],
         "return sum((v @ b) * w) + (v @ v) * 0.5;",
         lambda v, b, w: ((v @ b) * w).sum() + (v @ v) * 0.5,
         {"v": normal(2), "b": normal(2, 3), "w": normal(3)}),
    Case("transpose_reshape", [("a", "f64[2, 3]"), ("w", "f64[3, 2]")], ["a"],
         "return sum(transpose(a) * w) + sum(reshape<f64[6]>(a) * reshape<f64[6]>(w) * reshape<f64[6]>(a));",
         lambda a, w: (a.T * w).sum() + (a.reshape(6) * w.reshape(6) * a.reshape(6)).sum(),
         {"a": normal(2, 3), "w": normal(3, 2)}),
    Case("sum_mean_axes", [("a", "f64[2, 3]"), ("w", "f64[3]"), ("v", "f64[2]")], ["a"],
         "return sum(sum(a * a, axis: 0) * w) + mean(a * a) * 2.0 + sum(mean(a * a * a, axis: 1) * v) + sum(a);",
         lambda a, w, v: ((a * a).sum(0) * w).sum() + (a * a).mean() * 2 + ((a * a * a).mean(1) * v).sum() + a.sum(),
         {"a": normal(2, 3), "w": normal(3), "v": normal(2)}),
    Case("mean_dynamic_rows", [("a", "f64[?, 3]"), ("w", "f64[3]")], ["a"],
         "return mean(a * a) + sum(mean(a * w, axis: 0) * w) + sum(mean(a, axis: 1));",
         lambda a, w: (a * a).mean() + ((a * w).mean(0) * w).sum() + a.mean(1).sum(),
         {"a": normal(4, 3), "w": normal(3)}),
    Case("max_min_reductions", [("a", "f64[2, 3]"), ("w", "f64[2]"), ("v", "f64[3]")], ["a"],
         "return max(a * a) + min(a) * 2.0 + sum(max(a, axis: 1) * w) + sum(min(a * v, axis: 0) * v);",
         lambda a, w, v: (a * a).max() + a.min() * 2 + (a.max(1).values * w).sum() + ((a * v).min(0).values * v).sum(),
         {"a": normal(2, 3), "w": normal(2), "v": away(3)}),
    Case("exp", [("x", "f64[4]"), ("w", "f64[4]")], ["x"],
         "return sum(exp(x) * w);", lambda x, w: (torch.exp(x) * w).sum(),
         {"x": normal(4), "w": normal(4)}),
    Case("log", [("x", "f64[4]"), ("w", "f64[4]")], ["x"],
         "return sum(log(x * x + 0.5) * w);", lambda x, w: (torch.log(x * x + 0.5) * w).sum(),
         {"x": normal(4), "w": normal(4)}),
    Case("sqrt", [("x", "f64[4]"), ("w", "f64[4]")], ["x"],
         "return sum(sqrt(x * x + 0.5) * w);", lambda x, w: (torch.sqrt(x * x + 0.5) * w).sum(),
         {"x": normal(4), "w": normal(4)}),
    Case("tanh", [("x", "f64[4]"), ("w", "f64[4]")], ["x"],
         "return sum(tanh(x) * w);", lambda x, w: (torch.tanh(x) * w).sum(),
         {"x": normal(4), "w": normal(4)}),
    Case("sigmoid", [("x", "f64[4]"), ("w", "f64[4]")], ["x"],
         "return sum(sigmoid(x) * w);", lambda x, w: (torch.sigmoid(x) * w).sum(),
         {"x": normal(4), "w": normal(4)}),
    Case("relu", [("x", "f64[6]"), ("w", "f64[6]")], ["x"],
         "return sum(relu(x) * w);", lambda x, w: (torch.relu(x) * w).sum(),
         {"x": away(6), "w": normal(6)}),
    Case("abs", [("x", "f64[6]"), ("w", "f64[6]")], ["x"],
         "return sum(abs(x) * w);", lambda x, w: (torch.abs(x) * w).sum(),
         {"x": away(6), "w": normal(6)}),
    # sign's own gradient is 0 (PyTorch's too): d/dx sign(x) x = sign(x).
    Case("sign", [("x", "f64[6]"), ("w", "f64[6]")], ["x"],
         "return sum(sign(x) * x * w);", lambda x, w: (torch.sign(x) * x * w).sum(),
         {"x": away(6), "w": normal(6)}),
    Case("pow", [("x", "f64[4]"), ("p", "f64[4]"), ("w", "f64[4]")], ["x", "p"],
         "return sum(pow(x * x + 0.5, p) * w) + sum(pow(x, 3.0) * w);",
         lambda x, p, w: (torch.pow(x * x + 0.5, p) * w).sum() + (torch.pow(x, 3.0) * w).sum(),
         {"x": normal(4), "p": normal(4), "w": normal(4)}),
    Case("min_max_elementwise", [("x", "f64[6]"), ("y", "f64[6]"), ("w", "f64[6]")], ["x", "y"],
         "return sum(min(x, y) * w) + sum(max(x, 0.1) * w) + sum(max(x * y, y) * w);",
         lambda x, y, w: (torch.minimum(x, y) * w).sum() + (torch.clamp(x, min=0.1) * w).sum() + (torch.maximum(x * y, y) * w).sum(),
         {"x": away(6), "y": away(6) + 0.05, "w": normal(6)}),
    Case("softmax", [("a", "f64[2, 3]"), ("v", "f64[3]"), ("w", "f64[2, 3]")], ["a", "v"],
         "return sum(softmax(a) * w) + sum(softmax(v) * v);",
         lambda a, v, w: (torch.softmax(a, -1) * w).sum() + (torch.softmax(v, -1) * v).sum(),
         {"a": normal(2, 3), "v": normal(3), "w": normal(2, 3)}),
    Case("log_softmax", [("a", "f64[2, 3]"), ("v", "f64[3]"), ("w", "f64[2, 3]")], ["a", "v"],
         "return sum(log_softmax(a) * w) + sum(log_softmax(v) * v);",
         lambda a, v, w: (torch.log_softmax(a, -1) * w).sum() + (torch.log_softmax(v, -1) * v).sum(),
         {"a": normal(2, 3), "v": normal(3), "w": normal(2, 3)}),
    Case("norm", [("x", "f64[4]"), ("p", "Pair")], ["x", "p"],
         "return norm(x) * 2.0 + norm(p) + norm(x * x);",
         lambda x, p: torch.linalg.norm(x) * 2 + torch.sqrt((p["u"] ** 2).sum() + (p["v"] ** 2).sum()) + torch.linalg.norm(x * x),
         {"x": normal(4), "p": struct("Pair")}),
    Case("clip_by_norm", [("x", "f64[4]"), ("c", "f64"), ("w", "f64[4]")], ["x", "c"],
         "return sum(clip_by_norm(x, c) * w) + sum(clip_by_norm(x, c * 10.0) * w * w);",
         lambda x, c, w: (clip_by_norm(x, c) * w).sum() + (clip_by_norm(x, c * 10) * w * w).sum(),
         {"x": normal(4) * 2, "c": np.float64(0.7), "w": normal(4)}),
    Case("clip_by_norm_struct", [("p", "Pair"), ("w", "f64[3]")], ["p"],
         "let q = clip_by_norm(p, 0.5); return sum(q.u * w) + sum(q.v * q.v);",
         None, {"p": struct("Pair", 1.0), "w": normal(3)}),
    Case("dot", [("x", "f64[4]"), ("y", "f64[4]")], ["x", "y"],
         "return dot(x, y) * dot(x, x);",
         lambda x, y: torch.dot(x, y) * torch.dot(x, x),
         {"x": normal(4), "y": normal(4)}),
    Case("indexing", [("a", "f64[2, 3]"), ("w", "f64[3]")], ["a"],
         "return a[1, 2] * a[0, 0] + sum(a[0] * w) + sum(a[1] * a[1]);",
         lambda a, w: a[1, 2] * a[0, 0] + (a[0] * w).sum() + (a[1] * a[1]).sum(),
         {"a": normal(2, 3), "w": normal(3)}),
    Case("struct_fields", [("p", "Pair"), ("x", "f64[3]")], ["p", "x"],
         "let q = Pair { u: p.u * x, v: p.v + p.u }; let s: (Pair, f64) = (q, 2.0); return sum(s.0.u * s.0.v) * s.1 + sum((p - q).v * x) + sum((q * 3.0).u);",
         lambda p, x: ((p["u"] * x) * (p["v"] + p["u"])).sum() * 2 + ((p["v"] - (p["v"] + p["u"])) * x).sum() + (p["u"] * x * 3).sum(),
         {"p": struct("Pair", 1.0), "x": normal(3)}),
    Case("struct_scalar_arithmetic", [("p", "Pair"), ("s", "f64")], ["p", "s"],
         "let q = s * p + p / (s * s + 1.0) - p * 0.5; return sum(q.u * q.v) + sum(q.u);",
         None, {"p": struct("Pair", 1.0), "s": np.float64(0.8)}),
    Case("struct_elementwise", [("p", "Pair"), ("q", "Pair")], ["p", "q"],
         "let r = p * q + p / (q * q + 1.0) - sqrt(q * q + 1.0) + exp(p * 0.1) + tanh(q) * sigmoid(p) - log(p * p + 2.0); return sum(r.u * r.v) + sum(r.u);",
         lambda p, q: (lambda r: (r[0] * r[1]).sum() + r[0].sum())(
             [p[f] * q[f] + p[f] / (q[f] * q[f] + 1) - torch.sqrt(q[f] * q[f] + 1) + torch.exp(p[f] * 0.1)
              + torch.tanh(q[f]) * torch.sigmoid(p[f]) - torch.log(p[f] * p[f] + 2) for f in ("u", "v")]),
         {"p": struct("Pair", 1.0), "q": struct("Pair", 1.0)}),
    Case("struct_scalar_either_side", [("p", "Pair"), ("s", "f64")], ["p", "s"],
         "let r = (p + s) * (1.0 - p) + s / (p * p + 1.0) - (p - s) / s; return sum(r.u) + sum(r.v * r.u);",
         lambda p, s: (lambda r: r[0].sum() + (r[1] * r[0]).sum())(
             [(p[f] + s) * (1 - p[f]) + s / (p[f] * p[f] + 1) - (p[f] - s) / s for f in ("u", "v")]),
         {"p": struct("Pair", 1.0), "s": np.float64(0.8)}),
    Case("adam_step_struct", [("p", "Pair"), ("m", "Pair"), ("v", "Pair"), ("g", "Pair")], ["v", "g"],
         "let m2 = 0.9 * m + 0.1 * g; let v2 = 0.999 * v + 0.001 * (g * g); let step = m2 / (sqrt(v2) + 0.00000001); let q = p - 0.01 * step; return sum(step.u) + sum(q.v * step.u);",
         lambda p, m, v, g: (lambda st: st[0].sum() + ((p["v"] - 0.01 * st[1]) * st[0]).sum())(
             [(0.9 * m[f] + 0.1 * g[f]) / (torch.sqrt(0.999 * v[f] + 0.001 * g[f] * g[f]) + 1e-8) for f in ("u", "v")]),
         {"p": struct("Pair", 1.0), "m": struct("Pair", 1.0), "v": {k: np.abs(a) + 0.5 for k, a in struct("Pair", 1.0).items()}, "g": struct("Pair", 1.0)}),
    Case("casts", [("x", "f64[3]"), ("w", "f64[3]")], ["x"],
         "let y = f32(x) * f32(w); return f64(sum(y * y));",
         lambda x, w: ((x.float() * w.float()) ** 2).sum().double(),
         {"x": normal(3), "w": normal(3)}, fd=False),
    Case("let_var_updates", [("x", "f64[3]")], ["x"],
         "var s = x * 2.0; s = s * x; s += exp(x); s -= x; s *= x; s /= (x * x + 2.0); let t = s; var p = Pair { u: t, v: x }; p.v = p.v * t; p.u += x; return sum(p.u * p.v);",
         lambda x: (lambda s: (((s + x) * (x * ((((x * 2) * x + torch.exp(x) - x) * x) / (x * x + 2))))).sum())((((x * 2) * x + torch.exp(x) - x) * x) / (x * x + 2)),
         {"x": normal(3)}),
    Case("if_then_arm", [("x", "f64[3]")], ["x"],
         "var y = x; if sum(x) > -100.0 { y = y * exp(x); } else { y = y - x * x; } return sum(y * y);",
         lambda x: ((x * torch.exp(x)) ** 2).sum(), {"x": normal(3)}),
    Case("if_else_arm", [("x", "f64[3]")], ["x"],
         "var y = x; if sum(x) > 100.0 { y = y * exp(x); } else if sum(x) > 50.0 { y = x; } else { y = y - x * x; } return sum(y * y);",
         lambda x: ((x - x * x) ** 2).sum(), {"x": normal(3)}),
    Case("for_range_accumulate", [("x", "f64[3]"), ("w", "f64[3]")], ["x"],
         "var acc: f64 = 0.0; var n = 0; for i in 0..3 { let t = x[i] * x * w; acc += sum(t * t) * f64(i + 1); n += 1; if i == 1 { acc -= x[2]; } } return acc / f64(n);",
         lambda x, w: (sum(((x[i] * x * w) ** 2).sum() * (i + 1) for i in range(3)) - x[2]) / 3,
         {"x": normal(3), "w": normal(3)}),
    # Taped loops: carried floats that do more than accumulate.
    Case("for_range_recurrence", [("w", "f64[3, 3]"), ("x", "f64[4, 3]"), ("h0", "f64[3]")], ["w", "x", "h0"],
         "var h = h0; for t in 0..4 { h = tanh(h @ w + x[t]); } return sum(h * h);",
         lambda w, x, h0: rnn(w, x, h0),
         {"w": normal(3, 3) * 0.5, "x": normal(4, 3), "h0": normal(3)}),
    Case("for_range_product", [("x", "f64[3]"), ("n", "i32")], ["x"],
         "var p: f64 = 1.0; var y = x; var c = 0; for i in 1..n { p *= sum(y) + f64(i); y = y * 0.5 + x; c += 1; if c == 2 { y = sin_free(y); } } return p + sum(y);",
         lambda x, n: product_loop(x, int(n)),
         {"x": normal(3), "n": np.int32(5)}),
    Case("for_range_struct_state", [("w", "f64[3, 3]"), ("h0", "f64[3]")], ["w", "h0"],
         "var s = Pair { u: h0, v: h0 * 0.5 + 1.0 }; for t in 0..3 { let c = tanh(s.u @ w); s = Pair { u: s.u * 0.5 + c * s.v, v: s.v + c }; } return sum(s.u * s.v);",
         lambda w, h0: struct_state(w, h0),
         {"w": normal(3, 3) * 0.5, "h0": normal(3)}),
    Case("for_range_nested", [("w", "f64[2]")], ["w"],
         "var a = w; for i in 0..3 { var b = a; for j in 0..2 { b = b * w + f64(j); } a = a + exp(-b * b); } return sum(a);",
         lambda w: nested_loops(w),
         {"w": normal(2) * 0.5}),
    Case("for_batches", [("m", "Lin"), ("data", "seq<Example>")], ["m"],
         "var total: f64 = 0.0; for b in batches(data, 2) { total += xent(dense2(b.x, m.w, m.b), b.y) * f64(rows(b.x)); } return total / f64(len(data));",
         lambda m, data: F.cross_entropy(data["x"] @ m["w"] + m["b"], data["y"]),
         {"m": struct("Lin"), "data": [{"x": normal(4).tolist(), "y": int(k % 3)} for k in range(5)]}),
    Case("nested_calls", [("x", "f64[4]")], ["x"],
         "return helper_outer(x, 2.0);",
         lambda x: (torch.tanh(x * 2) * x).sum() + (torch.tanh(x * 2) ** 2).sum(),
         {"x": normal(4)}),
    # Composite losses.
    Case("mlp_cross_entropy", [("m", "Mlp"), ("x", "f64[?, 4]"), ("y", "i32[?]")], ["m"],
         "return mlp_loss(m, x, y);",
         lambda m, x, y: F.cross_entropy(torch.relu(x @ m["w1"] + m["b1"]) @ m["w2"] + m["b2"], y),
         {"m": struct("Mlp"), "x": away(6, 4), "y": np.array([0, 2, 1, 1, 0, 2], dtype=np.int32)}),
    Case("softmax_cross_entropy", [("logits", "f64[?, 3]"), ("y", "i32[?]")], ["logits"],
         "return xent(logits, y);",
         lambda logits, y: F.cross_entropy(logits, y),
         {"logits": normal(4, 3) * 3, "y": np.array([2, 0, 1, 2], dtype=np.int32)}),
    Case("l2_regularization", [("m", "Mlp"), ("x", "f64[?, 4]"), ("y", "i32[?]")], ["m"],
         "return mlp_loss(m, x, y) + 0.01 * 0.5 * (sum(m.w1 * m.w1) + sum(m.w2 * m.w2));",
         lambda m, x, y: F.cross_entropy(torch.relu(x @ m["w1"] + m["b1"]) @ m["w2"] + m["b2"], y) + 0.005 * ((m["w1"] ** 2).sum() + (m["w2"] ** 2).sum()),
         {"m": struct("Mlp"), "x": away(3, 4), "y": np.array([1, 0, 2], dtype=np.int32)}),
    Case("fedprox_proximal_term", [("m", "Lin"), ("global", "Lin"), ("x", "f64[?, 4]"), ("y", "i32[?]")], ["m"],
         "let d = norm(m - global); return xent(dense2(x, m.w, m.b), y) + 0.1 / 2.0 * d * d;",
         lambda m, g, x, y: F.cross_entropy(x @ m["w"] + m["b"], y) + 0.05 * (((m["w"] - g["w"]) ** 2).sum() + ((m["b"] - g["b"]) ** 2).sum()),
         {"m": struct("Lin"), "global": struct("Lin"), "x": normal(3, 4), "y": np.array([2, 2, 0], dtype=np.int32)}),
    Case("mlp_f32", [("m", "Mlp32"), ("x", "f32[?, 4]"), ("y", "i32[?]")], ["m"],
         "let h = relu(x @ m.w1 + m.b1); return xent32(h @ m.w2 + m.b2, y);",
         lambda m, x, y: F.cross_entropy(torch.relu(x @ m["w1"] + m["b1"]) @ m["w2"] + m["b2"], y),
         {"m": struct("Mlp32"), "x": away(5, 4), "y": np.array([0, 1, 2, 1, 0], dtype=np.int32)}, fd=False),
    # Layers (NHWC images, HWIO filters).
    Case("conv2d_valid", [("x", "f64[2, 5, 5, 2]"), ("w", "f64[3, 3, 2, 3]"), ("r", "f64[2, 3, 3, 3]")], ["x", "w"],
         "return sum(conv2d(x, w) * r);",
         lambda x, w, r: (conv_nhwc(x, w) * r).sum(),
         {"x": normal(2, 5, 5, 2), "w": normal(3, 3, 2, 3), "r": normal(2, 3, 3, 3)}),
    Case("conv2d_same_stride2", [("x", "f64[2, 6, 5, 2]"), ("w", "f64[3, 2, 2, 3]"), ("r", "f64[2, 3, 3, 3]")], ["x", "w"],
         "return sum(conv2d(x, w, stride: 2, padding: \"same\") * r);",
         lambda x, w, r: (conv_nhwc(x, w, 2, True) * r).sum(),
         {"x": normal(2, 6, 5, 2), "w": normal(3, 2, 2, 3), "r": normal(2, 3, 3, 3)}),
    Case("conv2d_pointwise", [("x", "f64[?, 3, 3, 2]"), ("w", "f64[1, 1, 2, 4]")], ["x", "w"],
         "return sum(conv2d(x, w) * conv2d(x, w));",
         lambda x, w: (conv_nhwc(x, w) ** 2).sum(),
         {"x": normal(2, 3, 3, 2), "w": normal(1, 1, 2, 4)}),
    # Past one chunk of patches (1,024 output positions): four images of
    # 30 x 30 positions each, so the filter gradient sums over chunks and
    # col2im runs chunk by chunk (torch only: finite differences over 3,600
    # inputs would take minutes).
    Case("conv2d_chunks", [("x", "f64[?, 30, 30, 2]"), ("w", "f64[3, 3, 2, 3]"), ("r", "f64[?, 30, 30, 3]")], ["x", "w"],
         "return sum(conv2d(x, w, padding: \"same\") * r);",
         lambda x, w, r: (conv_nhwc(x, w, 1, True) * r).sum(),
         {"x": normal(4, 30, 30, 2), "w": normal(3, 3, 2, 3), "r": normal(4, 30, 30, 3)}, fd=False),
    Case("max_pool2d", [("x", "f64[2, 4, 4, 3]"), ("r", "f64[2, 2, 2, 3]")], ["x"],
         "return sum(max_pool2d(x, 2) * r);",
         lambda x, r: (max_pool_nhwc(x, 2) * r).sum(),
         {"x": distinct(2, 4, 4, 3), "r": normal(2, 2, 2, 3)}),
    Case("max_pool2d_same_stride", [("x", "f64[1, 5, 5, 2]"), ("r", "f64[1, 3, 3, 2]")], ["x"],
         "return sum(max_pool2d(x, 3, stride: 2, padding: \"same\") * r);",
         lambda x, r: (max_pool_nhwc(x, 3, 2, True) * r).sum(),
         {"x": distinct(1, 5, 5, 2), "r": normal(1, 3, 3, 2)}),
    Case("avg_pool2d", [("x", "f64[2, 4, 6, 3]"), ("r", "f64[2, 2, 3, 3]")], ["x"],
         "return sum(avg_pool2d(x, 2) * r);",
         lambda x, r: (nhwc(F.avg_pool2d(nchw(x), 2)) * r).sum(),
         {"x": normal(2, 4, 6, 3), "r": normal(2, 2, 3, 3)}),
    Case("avg_pool2d_same_stride", [("x", "f64[1, 5, 5, 2]"), ("r", "f64[1, 3, 3, 2]")], ["x"],
         "return sum(avg_pool2d(x, 3, stride: 2, padding: \"same\") * r);",
         lambda x, r: (nhwc(F.avg_pool2d(nchw(x), 3, 2, padding=1, count_include_pad=False)) * r).sum(),
         {"x": normal(1, 5, 5, 2), "r": normal(1, 3, 3, 2)}),
    Case("dropout", [("x", "f64[4, 5]"), ("w", "f64[4, 5]")], ["x"],
         "return sum(dropout(x, 0.3, i64(7)) * w) + sum(dropout(x * x, 0.5, i64(-9)));",
         lambda x, w: (dropout_ref(x, 0.3, 7) * w).sum() + dropout_ref(x * x, 0.5, -9).sum(),
         {"x": normal(4, 5), "w": normal(4, 5)}),
    Case("embedding", [("ids", "i32[6]"), ("table", "f64[4, 3]"), ("r", "f64[6, 3]")], ["table"],
         "return sum(embedding(ids, table) * r) + sum(tanh(embedding(ids, table)));",
         lambda ids, table, r: (F.embedding(ids, table) * r).sum() + torch.tanh(F.embedding(ids, table)).sum(),
         {"ids": np.array([3, 0, 3, 1, 2, 3], dtype=np.int32), "table": normal(4, 3), "r": normal(6, 3)}),
    Case("layer_norm", [("x", "f64[3, 5]"), ("w", "f64[3, 5]")], ["x"],
         "return sum(layer_norm(x) * w) + sum(layer_norm(x[1]) * x[0]);",
         lambda x, w: (F.layer_norm(x, (5,), eps=1e-5) * w).sum() + (F.layer_norm(x[1], (5,), eps=1e-5) * x[0]).sum(),
         {"x": normal(3, 5), "w": normal(3, 5)}),
    Case("cnn_cross_entropy", [("m", "Cnn"), ("x", "f64[?, 4, 4, 1]"), ("y", "i32[?]")], ["m"],
         "let h = max_pool2d(relu(conv2d(x, m.k, padding: \"same\") + m.kb), 2); return xent(flatten(h) @ m.w + m.b, y);",
         small_cnn,
         {"m": struct("Cnn"), "x": normal(3, 4, 4, 1), "y": np.array([0, 2, 1], dtype=np.int32)}),
    Case("cnn_f32", [("m", "Cnn32"), ("x", "f32[?, 4, 4, 1]"), ("y", "i32[?]")], ["m"],
         "let h = max_pool2d(relu(conv2d(x, m.k, padding: \"same\") + m.kb), 2); return xent32(flatten(h) @ m.w + m.b, y);",
         small_cnn,
         {"m": struct("Cnn32"), "x": normal(3, 4, 4, 1), "y": np.array([0, 2, 1], dtype=np.int32)}, fd=False),
]

HELPERS = """
fn helper_inner(x: f64[4], k: f64) -> f64[4] { return tanh(x * k); }
fn helper_outer(x: f64[4], k: f64) -> f64 {
  let t = helper_inner(x, k);
  return sum(t * x) + sum(t * t);
}
fn sin_free(y: f64[3]) -> f64[3] { return y * y * 0.25 - y; }
"""


def leaves(type_name):
    """(field or None, shape) of every element leaf of a parameter type."""
    if type_name in STRUCTS:
        return [(f, shape) for f, shape in STRUCTS[type_name]]
    inner = type_name[type_name.index("[") + 1:-1] if "[" in type_name else ""
    shape = tuple(d.strip() for d in inner.split(",")) if inner else ()
    return [(None, shape)]


def fd_fn(case):
    names = [n for n, _ in case.params]
    types = dict(case.params)
    out = [f"fn fd_{case.name}({sig(case)}) -> {grad_type(case)} {{"]
    for p in case.wrt:
        out.append(f"  var g_{p} = {p} * 0.0;" if "?" in types[p] else f"  var g_{p} = zeros<{types[p]}>();")
        for field, shape in leaves(types[p]):
            sel = f".{field}" if field else ""
            idx = ", ".join(f"i{k}" for k in range(len(shape)))
            at = f"[{idx}]" if shape else ""
            indent = "  "
            for k, n in enumerate(shape):
                bound = f"rows({p})" if n == "?" else n
                out.append(f"{indent}for i{k} in 0..{bound} {{")
                indent += "  "
            for sign, v in (("+", "pp"), ("-", "pm")):
                out.append(f"{indent}var {v} = {p};")
                out.append(f"{indent}{v}{sel}{at} = {v}{sel}{at} {sign} {H};")
            plus = ", ".join("pp" if n == p else n for n in names)
            minus = ", ".join("pm" if n == p else n for n in names)
            out.append(f"{indent}g_{p}{sel}{at} = (L_{case.name}({plus}) - L_{case.name}({minus})) / (2.0 * {H});")
            for _ in shape:
                indent = indent[:-2]
                out.append(f"{indent}}}")
    grads = ", ".join(f"g_{p}" for p in case.wrt)
    out.append(f"  return {grads if len(case.wrt) == 1 else '(' + grads + ')'};")
    out.append("}")
    return "\n".join(out)


def sig(case):
    return ", ".join(f"{n}: {t}" for n, t in case.params)


def grad_type(case):
    types = dict(case.params)
    ts = [types[p] for p in case.wrt]
    return ts[0] if len(ts) == 1 else "(" + ", ".join(ts) + ")"


def program():
    parts = [PRELUDE, HELPERS]
    for c in CASES:
        names = [n for n, _ in c.params]
        args = ", ".join(names)
        idx = [names.index(p) for p in c.wrt]
        argnums = "" if idx == [0] else f", argnums: ({', '.join(map(str, idx))}{',' if len(idx) == 1 else ''})"
        if idx != [0] and len(idx) == 1:
            argnums = f", argnums: {idx[0]}"
        value_type = "f32" if "f32" in sig(c) and "f64" not in sig(c) else "f64"
        parts.append(f"fn L_{c.name}({sig(c)}) -> {value_type} {{ {c.body} }}")
        if c.fd:
            parts.append(fd_fn(c))
            parts.append(f"fn check_{c.name}({sig(c)}) -> ({value_type}, {grad_type(c)}, {grad_type(c)}) {{\n"
                         f"  let vg = value_and_grad(L_{c.name}{argnums})({args});\n"
                         f"  return (vg.0, vg.1, fd_{c.name}({args}));\n}}")
        else:
            parts.append(f"fn check_{c.name}({sig(c)}) -> ({value_type}, {grad_type(c)}) {{\n"
                         f"  return value_and_grad(L_{c.name}{argnums})({args});\n}}")
    return "\n".join(parts) + "\n"


def to_json(v):
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return v
    return np.asarray(v).tolist()


def flat(v):
    if isinstance(v, dict):
        return np.concatenate([flat(v[k]) for k in sorted(v)])
    return np.asarray(v, dtype=np.float64).reshape(-1)


def to_torch(v, requires_grad):
    if isinstance(v, dict):
        return {k: to_torch(x, requires_grad) for k, x in v.items()}
    a = np.asarray(v)
    t = torch.tensor(a, dtype=torch.int64 if a.dtype.kind in "iu" else torch.float64)
    if requires_grad and t.dtype == torch.float64:
        t.requires_grad_(True)
    return t


def torch_grads(case):
    args = []
    for name, t in case.params:
        v = case.inputs[name]
        if t.startswith("seq<"):
            rows = v
            args.append({"x": torch.tensor([r["x"] for r in rows]),
                         "y": torch.tensor([r["y"] for r in rows])})
        else:
            args.append(to_torch(v, name in case.wrt))
    loss = case.torch_fn(*args)
    # In the order of `wrt`, as fedc returns the gradients.
    names = [name for name, _ in case.params]
    leaves_ = []
    for name in case.wrt:
        a = args[names.index(name)]
        leaves_ += [a[k] for k in sorted(a)] if isinstance(a, dict) else [a]
    grads = torch.autograd.grad(loss, leaves_)
    return float(loss), np.concatenate([g.detach().numpy().reshape(-1) for g in grads])


def fedc_grads(g, case):
    parts = [g] if len(case.wrt) == 1 else g
    return np.concatenate([flat(p) for p in parts])


def scale_error(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-12))


def main():
    fedc, workdir = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])
    os.makedirs(workdir, exist_ok=True)
    source = os.path.join(workdir, "gradcheck.fed")
    with open(source, "w") as f:
        f.write(program())
    failures = 0
    cases = [c for c in CASES if not only or c.name in only]
    for c in cases:
        args = [json.dumps(to_json(c.inputs[n])) for n, _ in c.params]
        run = subprocess.run([fedc, "call", source, f"check_{c.name}", *args],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"case {c.name}: fedc call failed:\n{run.stderr}")
            failures += 1
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        value, g = result[0], fedc_grads(result[1], c)
        line = f"case {c.name}:"
        sep = " "
        ok = True
        if c.fd:
            fd = fedc_grads(result[2], c)
            err = scale_error(g, fd)
            line += f" finite differences {err:.1e}"
            sep = ", "
            ok = ok and err <= 1e-6
        if c.torch_fn is not None:
            tv, tg = torch_grads(c)
            err = scale_error(g, tg)
            verr = abs(float(value) - tv) / max(abs(tv), 1e-12)
            line += f"{sep}torch {err:.1e} (value {verr:.1e})"
            ok = ok and err <= 1e-5 and verr <= 1e-5
        print(line + ("" if ok else "  MISMATCH"))
        failures += 0 if ok else 1
    if failures:
        print(f"{failures} of {len(cases)} cases disagree")
        sys.exit(1)
    print(f"all {len(cases)} cases agree")


if __name__ == "__main__":
    main()
