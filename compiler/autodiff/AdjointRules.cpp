// The vector-Jacobian product of every operator and builtin: given the
// adjoint `dy` of a node's value, the adjoints of its operands. Operands a
// rule reads are locals or literals (Forward.cpp binds them), so copying
// them costs nothing; a `dy` read twice is bound to a let first.
// Conventions (docs/language.md, "Gradients"): relu'(0) = 0; at ties,
// min/max (elementwise and reductions) split the adjoint evenly, as
// PyTorch's amax and maximum do; abs'(0) = 0.
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;
using sema::Builtin;
using sema::Expr;
using sema::TensorType;
using Op = ast::BinaryOp;

namespace {

sema::ScalarKind elementOf(const sema::Type *t) {
  if (const auto *tensor = dyn_cast<TensorType>(t))
    return tensor->element;
  if (const auto *s = dyn_cast<sema::StructType>(t))
    return elementOf(s->fields.front().type);
  return elementOf(cast<sema::TupleType>(t)->elements.front());
}

} // namespace

ExprPtr ReverseMode::unbroadcast(ExprPtr d, const sema::Type *to) {
  const auto *tt = dyn_cast<TensorType>(to);
  if (tt && tt->isScalar() && isa<sema::StructType>(d->type)) {
    // A scalar combined with a struct (v + eps): its adjoint sums every
    // element of every field.
    const auto *s = cast<sema::StructType>(d->type);
    ExprPtr whole = share(std::move(d));
    ExprPtr total;
    for (size_t i = 0; i < s->fields.size(); ++i) {
      ExprPtr term =
          unbroadcast(b_.member(clone(*whole), static_cast<int>(i)), to);
      total = total ? b_.binary(Op::Add, std::move(total), std::move(term))
                    : std::move(term);
    }
    return total;
  }
  if (d->type == to || !tt || !isa<TensorType>(d->type))
    return d;
  if (tt->isScalar())
    return cast<TensorType>(d->type)->isScalar() ? std::move(d)
                                                 : b_.sum(std::move(d));
  size_t extra = cast<TensorType>(d->type)->rank() - tt->rank();
  for (size_t i = 0; i < extra; ++i)
    d = b_.sum(std::move(d), 0);
  for (size_t k = tt->rank(); k-- > 0;)
    if (tt->dims[k] == 1 && cast<TensorType>(d->type)->dims[k] != 1)
      d = b_.sum(std::move(d), static_cast<int>(k));
  return b_.reshape(std::move(d), to);
}

// A reduction's result reshaped to broadcast against its operand: the
// reduced axis back as a 1 (not needed for axis 0: broadcasting aligns
// from the right).
static ExprPtr keepDims(const ExprBuilder &b, ExprPtr d,
                        std::optional<int> axis, const sema::Type *operand) {
  if (!axis || *axis == 0)
    return d;
  const auto *t = cast<TensorType>(operand);
  std::vector<int64_t> dims = t->dims;
  dims[static_cast<size_t>(*axis)] = 1;
  return b.reshape(std::move(d), b.types.tensor(t->element, dims));
}

ExprPtr ReverseMode::expand(ExprPtr d, std::optional<int> axis,
                            const Expr &like) {
  d = keepDims(b_, std::move(d), axis, like.type);
  if (d->type == like.type)
    return d;
  if (const Expr *shape = findLike(like))
    return b_.broadcastLike(std::move(d), clone(*shape));
  return b_.broadcastLike(std::move(d), b_.zerosLike(like.type, like));
}

ExprPtr ReverseMode::mask(Op op, const Expr &a, const Expr &c) {
  return b_.castTo(b_.binary(op, clone(a), clone(c)), elementOf(a.type));
}

void ReverseMode::backprop(const Expr &n, ExprPtr dy, const sema::Local *out) {
  if (!isActive(n))
    return;
  switch (n.kind()) {
  case Expr::Kind::LocalRef:
    accumulate(cast<sema::RefExpr>(n).local, {}, std::move(dy));
    return;
  case Expr::Kind::Member: {
    std::vector<int> path;
    const Expr *base = &n;
    while (const auto *m = dyn_cast<sema::MemberExpr>(base)) {
      path.insert(path.begin(), m->index);
      base = m->base.get();
    }
    if (const auto *r = dyn_cast<sema::RefExpr>(base)) {
      accumulate(r->local, path, std::move(dy));
      return;
    }
    const auto &m = cast<sema::MemberExpr>(n);
    if (const auto *agg = dyn_cast<sema::AggregateExpr>(m.base.get())) {
      backprop(*agg->elements[static_cast<size_t>(m.index)], std::move(dy),
               nullptr);
      return;
    }
    notDifferentiable(n.range, "this field selection");
    return;
  }
  case Expr::Kind::Unary: {
    const auto &u = cast<sema::UnaryExpr>(n);
    if (u.op == ast::UnaryOp::Neg)
      dy = b_.neg(std::move(dy));
    backprop(*u.operand, std::move(dy), nullptr);
    return;
  }
  case Expr::Kind::Binary:
    backpropBinary(cast<sema::BinaryExpr>(n), std::move(dy));
    return;
  case Expr::Kind::Cast: {
    const auto &c = cast<sema::CastExpr>(n);
    backprop(*c.operand, b_.castTo(std::move(dy), elementOf(c.operand->type)),
             nullptr);
    return;
  }
  case Expr::Kind::Index: {
    const auto &i = cast<sema::IndexExpr>(n);
    const auto *r = dyn_cast<sema::RefExpr>(i.base.get());
    if (!r || n.kind() != Expr::Kind::Index || !r->local) {
      notDifferentiable(n.range, "this indexing");
      return;
    }
    if (!isActive(r->local) || discarded_.count(r->local))
      return;
    ensureVar(r->local);
    std::vector<ExprPtr> indices;
    for (const ExprPtr &x : i.indices)
      indices.push_back(clone(*x));
    auto target = std::make_unique<sema::IndexExpr>(
        i.type, b_.at, b_.ref(adjoints_[r->local].var), std::move(indices));
    emit(std::make_unique<sema::AssignStmt>(b_.at, ast::AssignOp::Add,
                                            std::move(target), std::move(dy)));
    return;
  }
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral: {
    const auto &a = cast<sema::AggregateExpr>(n);
    ExprPtr d = share(std::move(dy));
    for (size_t k = 0; k < a.elements.size(); ++k)
      backprop(*a.elements[k], b_.member(clone(*d), static_cast<int>(k)),
               nullptr);
    return;
  }
  case Expr::Kind::BuiltinCall:
    backpropBuiltin(cast<sema::BuiltinCallExpr>(n), std::move(dy), out);
    return;
  default:
    notDifferentiable(n.range, "this expression");
    return;
  }
}

void ReverseMode::backpropBinary(const sema::BinaryExpr &n, ExprPtr dy) {
  const Expr &a = *n.lhs, &c = *n.rhs;
  bool da = isActive(a), dc = isActive(c);
  if (n.op == Op::MatMul) {
    backpropMatMul(n, std::move(dy));
    return;
  }
  if (da && dc)
    dy = share(std::move(dy));
  auto d = [&]() { return clone(*dy); };
  bool structA = !isa<TensorType>(a.type), structC = !isa<TensorType>(c.type);
  switch (n.op) {
  case Op::Add:
  case Op::Sub:
    if (da)
      backprop(a, unbroadcast(d(), a.type), nullptr);
    if (dc)
      backprop(c, unbroadcast(n.op == Op::Sub ? b_.neg(d()) : d(), c.type),
               nullptr);
    return;
  case Op::Mul:
    if (da)
      backprop(a,
               structA ? b_.binary(Op::Mul, d(), clone(c))
               : structC
                   ? b_.inner(d(), clone(c))
                   : unbroadcast(b_.binary(Op::Mul, d(), clone(c)), a.type),
               nullptr);
    if (dc)
      backprop(c,
               structC ? b_.binary(Op::Mul, clone(a), d())
               : structA
                   ? b_.inner(d(), clone(a))
                   : unbroadcast(b_.binary(Op::Mul, d(), clone(a)), c.type),
               nullptr);
    return;
  case Op::Div: {
    if (da)
      backprop(a,
               structA ? b_.binary(Op::Div, d(), clone(c))
                       : unbroadcast(b_.binary(Op::Div, d(), clone(c)), a.type),
               nullptr);
    if (dc) {
      // d(a / c)/dc = -a / c^2 (struct / scalar: summed over the struct)
      ExprPtr num = structA && !structC ? b_.inner(d(), clone(a))
                                        : b_.binary(Op::Mul, d(), clone(a));
      ExprPtr term = b_.binary(Op::Div, b_.neg(std::move(num)),
                               b_.binary(Op::Mul, clone(c), clone(c)));
      backprop(c, unbroadcast(std::move(term), c.type), nullptr);
    }
    return;
  }
  default:
    return; // comparisons and logic: bool values have no adjoint
  }
}

void ReverseMode::backpropMatMul(const sema::BinaryExpr &n, ExprPtr dy) {
  const Expr &a = *n.lhs, &c = *n.rhs;
  bool da = isActive(a), dc = isActive(c);
  if (da && dc)
    dy = share(std::move(dy));
  auto d = [&]() { return clone(*dy); };
  const auto *ta = cast<TensorType>(a.type), *tc = cast<TensorType>(c.type);
  // outer(u, v) = reshape<[n, 1]>(u) * v
  auto outer = [&](ExprPtr u, ExprPtr v) {
    const auto *tu = cast<TensorType>(u->type);
    ExprPtr column = b_.reshape(std::move(u),
                                b_.types.tensor(tu->element, {tu->dims[0], 1}));
    return b_.binary(Op::Mul, std::move(column), std::move(v));
  };
  size_t ra = ta->rank(), rc = tc->rank();
  if (da) {
    ExprPtr g = ra == 2 && rc == 2 ? b_.matmul(d(), b_.transpose(clone(c)))
                : ra == 2          ? outer(d(), clone(c))
                : rc == 2          ? b_.matmul(clone(c), d())
                                   : b_.binary(Op::Mul, d(), clone(c));
    backprop(a, b_.reshape(std::move(g), a.type), nullptr);
  }
  if (dc) {
    ExprPtr g = ra == 2 && rc == 2 ? b_.matmul(b_.transpose(clone(a)), d())
                : ra == 2          ? b_.matmul(d(), clone(a))
                : rc == 2          ? outer(clone(a), d())
                                   : b_.binary(Op::Mul, d(), clone(a));
    backprop(c, b_.reshape(std::move(g), c.type), nullptr);
  }
}

void ReverseMode::backpropElementwise(const sema::BuiltinCallExpr &n,
                                      ExprPtr dy, const sema::Local *out) {
  const auto &args = n.args;
  sema::ScalarKind e = elementOf(n.type);
  auto lit = [&](double v) { return b_.literal(v, e); };
  auto y = [&]() { return b_.ref(out); };
  auto mul = [&](ExprPtr x, ExprPtr z) {
    return b_.binary(Op::Mul, std::move(x), std::move(z));
  };
  auto sub = [&](ExprPtr x, ExprPtr z) {
    return b_.binary(Op::Sub, std::move(x), std::move(z));
  };
  auto needOut = [&]() {
    if (!out)
      throw std::logic_error("autodiff: a builtin's value was not bound");
  };
  switch (n.builtin) {
  case Builtin::Exp:
    needOut();
    backprop(*args[0], mul(std::move(dy), y()), nullptr);
    return;
  case Builtin::Log:
    backprop(*args[0], b_.binary(Op::Div, std::move(dy), clone(*args[0])),
             nullptr);
    return;
  case Builtin::Sqrt:
    needOut();
    backprop(*args[0], mul(b_.binary(Op::Div, std::move(dy), y()), lit(0.5)),
             nullptr);
    return;
  case Builtin::Abs:
    backprop(*args[0],
             mul(std::move(dy), sub(mask(Op::Gt, *args[0], *lit(0)),
                                    mask(Op::Lt, *args[0], *lit(0)))),
             nullptr);
    return;
  case Builtin::Tanh:
    needOut();
    backprop(*args[0], mul(std::move(dy), sub(lit(1), mul(y(), y()))), nullptr);
    return;
  case Builtin::Sigmoid:
    needOut();
    backprop(*args[0], mul(std::move(dy), mul(y(), sub(lit(1), y()))), nullptr);
    return;
  case Builtin::Relu:
    needOut();
    backprop(*args[0], mul(std::move(dy), mask(Op::Gt, *y(), *lit(0))),
             nullptr);
    return;
  case Builtin::Pow:
  case Builtin::Minimum:
  case Builtin::Maximum:
    backpropBinaryMath(n, std::move(dy));
    return;
  default:
    return;
  }
}

// pow(a, b): b a^(b-1) and a^b log a; min/max: to the operand that wins,
// ties split evenly. Each adjoint is summed back over broadcasting.
void ReverseMode::backpropBinaryMath(const sema::BuiltinCallExpr &n,
                                     ExprPtr dy) {
  const Expr &a = *n.args[0], &c = *n.args[1];
  sema::ScalarKind e = elementOf(n.type);
  auto lit = [&](double v) { return b_.literal(v, e); };
  auto mul = [&](ExprPtr x, ExprPtr z) {
    return b_.binary(Op::Mul, std::move(x), std::move(z));
  };
  bool both = isActive(a) && isActive(c);
  if (both)
    dy = share(std::move(dy));
  auto d = [&]() { return both ? clone(*dy) : std::move(dy); };
  auto pow = [&](ExprPtr exponent) {
    ExprPtr p = b_.builtin(Builtin::Pow, {}, n.type);
    auto &pa = cast<sema::BuiltinCallExpr>(*p).args;
    pa.push_back(clone(a));
    pa.push_back(std::move(exponent));
    return p;
  };
  if (n.builtin == Builtin::Pow) {
    if (isActive(a))
      backprop(a,
               unbroadcast(mul(mul(d(), clone(c)),
                               pow(b_.binary(Op::Sub, clone(c), lit(1)))),
                           a.type),
               nullptr);
    if (isActive(c))
      backprop(c,
               unbroadcast(mul(mul(d(), pow(clone(c))),
                               b_.unary(Builtin::Log, clone(a))),
                           c.type),
               nullptr);
    return;
  }
  Op wins = n.builtin == Builtin::Minimum ? Op::Lt : Op::Gt;
  auto part = [&](const Expr &x, const Expr &other) {
    return b_.binary(Op::Add, mask(wins, x, other),
                     mul(lit(0.5), mask(Op::Eq, x, other)));
  };
  if (isActive(a))
    backprop(a, unbroadcast(mul(d(), part(a, c)), a.type), nullptr);
  if (isActive(c))
    backprop(c, unbroadcast(mul(d(), part(c, a)), c.type), nullptr);
}

// softmax: y * (dy - sum(dy * y)); log_softmax: dy - exp(y) * sum(dy),
// sums along the last axis.
void ReverseMode::backpropSoftmax(const sema::BuiltinCallExpr &n, ExprPtr dy,
                                  const sema::Local *out) {
  if (!out)
    throw std::logic_error("autodiff: a softmax's value was not bound");
  auto mul = [&](ExprPtr x, ExprPtr z) {
    return b_.binary(Op::Mul, std::move(x), std::move(z));
  };
  auto sub = [&](ExprPtr x, ExprPtr z) {
    return b_.binary(Op::Sub, std::move(x), std::move(z));
  };
  const auto *t = cast<TensorType>(n.type);
  ExprPtr d = share(std::move(dy));
  std::optional<int> last;
  if (t->rank() > 1)
    last = static_cast<int>(t->rank()) - 1;
  bool soft = n.builtin == Builtin::Softmax;
  ExprPtr s = b_.sum(soft ? mul(clone(*d), b_.ref(out)) : clone(*d), last);
  s = keepDims(b_, std::move(s), last, t);
  ExprPtr g = soft ? mul(b_.ref(out), sub(clone(*d), std::move(s)))
                   : sub(clone(*d), mul(b_.unary(Builtin::Exp, b_.ref(out)),
                                        std::move(s)));
  backprop(*n.args[0], std::move(g), nullptr);
}

void ReverseMode::backpropBuiltin(const sema::BuiltinCallExpr &n, ExprPtr dy,
                                  const sema::Local *out) {
  const auto &args = n.args;
  switch (n.builtin) {
  case Builtin::Exp:
  case Builtin::Log:
  case Builtin::Sqrt:
  case Builtin::Abs:
  case Builtin::Tanh:
  case Builtin::Sigmoid:
  case Builtin::Relu:
  case Builtin::Pow:
  case Builtin::Minimum:
  case Builtin::Maximum:
    backpropElementwise(n, std::move(dy), out);
    return;
  case Builtin::Sign: // piecewise constant: zero almost everywhere (as
    return;           // PyTorch's sign)
  case Builtin::Softmax:
  case Builtin::LogSoftmax:
    backpropSoftmax(n, std::move(dy), out);
    return;
  case Builtin::Sum:
  case Builtin::Mean:
  case Builtin::ReduceMax:
  case Builtin::ReduceMin:
    backpropReduction(n, std::move(dy), out);
    return;
  case Builtin::Transpose:
    backprop(*args[0], b_.transpose(std::move(dy)), nullptr);
    return;
  case Builtin::Reshape:
  case Builtin::Flatten:
    backprop(*args[0], b_.reshape(std::move(dy), args[0]->type), nullptr);
    return;
  case Builtin::Norm:
  case Builtin::ClipByNorm:
    backpropNorm(n, std::move(dy), out);
    return;
  case Builtin::Dot: {
    bool both = isActive(*args[0]) && isActive(*args[1]);
    if (both)
      dy = share(std::move(dy));
    auto d = [&]() { return both ? clone(*dy) : std::move(dy); };
    if (isActive(*args[0]))
      backprop(*args[0], b_.binary(Op::Mul, d(), clone(*args[1])), nullptr);
    if (isActive(*args[1]))
      backprop(*args[1], b_.binary(Op::Mul, d(), clone(*args[0])), nullptr);
    return;
  }
  case Builtin::BroadcastLike:
    backprop(*args[0], unbroadcast(std::move(dy), args[0]->type), nullptr);
    return;
  case Builtin::Conv2d:
  case Builtin::MaxPool2d:
  case Builtin::AvgPool2d:
  case Builtin::Dropout:
  case Builtin::Embedding:
  case Builtin::LayerNorm:
    backpropLayer(n, std::move(dy));
    return;
  case Builtin::Fill:
    if (isa<TensorType>(n.type)) {
      backprop(*args[0], unbroadcast(std::move(dy), args[0]->type), nullptr);
      return;
    }
    break;
  default:
    break;
  }
  notDifferentiable(n.range,
                    std::string("'") + sema::builtinName(n.builtin) + "'",
                    ": it has no derivative with respect to its "
                    "floating-point arguments");
}

void ReverseMode::backpropReduction(const sema::BuiltinCallExpr &n, ExprPtr dy,
                                    const sema::Local *out) {
  const Expr &a = *n.args[0];
  const auto *t = cast<TensorType>(a.type);
  sema::ScalarKind e = t->element;
  switch (n.builtin) {
  case Builtin::Sum:
    backprop(a, expand(std::move(dy), n.axis, a), nullptr);
    return;
  case Builtin::Mean: {
    // The count of elements each result averages.
    double known = 1;
    ExprPtr count;
    for (size_t k = 0; k < t->rank(); ++k) {
      if (n.axis && static_cast<int>(k) != *n.axis)
        continue;
      if (t->dims[k] != sema::kDynamicDim) {
        known *= static_cast<double>(t->dims[k]);
      } else if (k == 0 && findLike(a)) {
        std::vector<ExprPtr> rowsArgs;
        rowsArgs.push_back(clone(*findLike(a)));
        count = b_.castTo(b_.builtin(sema::Builtin::Rows, std::move(rowsArgs),
                                     b_.types.scalar(ast::ScalarKind::I32)),
                          e);
      } else {
        notDifferentiable(n.range, "'mean' over a dimension of unknown size "
                                   "other than the first");
        return;
      }
    }
    ExprPtr total = b_.literal(known, e);
    if (count)
      total = b_.binary(Op::Mul, std::move(total), std::move(count));
    backprop(
        a,
        expand(b_.binary(Op::Div, std::move(dy), std::move(total)), n.axis, a),
        nullptr);
    return;
  }
  default: {
    // max/min: the adjoint goes to the elements equal to the result, split
    // evenly between ties.
    if (!out)
      throw std::logic_error("autodiff: a reduction's value was not bound");
    ExprPtr hit = share(b_.castTo(
        b_.binary(Op::Eq, clone(a), keepDims(b_, b_.ref(out), n.axis, t)), e));
    ExprPtr ties = b_.sum(clone(*hit), n.axis);
    ExprPtr per = keepDims(
        b_, b_.binary(Op::Div, std::move(dy), std::move(ties)), n.axis, t);
    backprop(a, b_.binary(Op::Mul, clone(*hit), std::move(per)), nullptr);
    return;
  }
  }
}

void ReverseMode::backpropNorm(const sema::BuiltinCallExpr &n, ExprPtr dy,
                               const sema::Local *out) {
  const Expr &x = *n.args[0];
  sema::ScalarKind e = elementOf(x.type);
  if (n.builtin == Builtin::Norm) {
    if (!out)
      throw std::logic_error("autodiff: norm's value was not bound");
    // d|x| = x / |x|
    backprop(x,
             b_.binary(Op::Mul, b_.binary(Op::Div, std::move(dy), b_.ref(out)),
                       clone(x)),
             nullptr);
    return;
  }
  // clip_by_norm(x, c) = x * (c / |x| when |x| > c, else 1)
  const Expr &c = *n.args[1];
  std::vector<ExprPtr> normArgs;
  normArgs.push_back(clone(x));
  ExprPtr norm =
      share(b_.builtin(Builtin::Norm, std::move(normArgs), b_.types.scalar(e)));
  ExprPtr clipped =
      share(b_.castTo(b_.binary(Op::Gt, clone(*norm), clone(c)), e));
  ExprPtr d = share(std::move(dy));
  ExprPtr dot = share(b_.inner(clone(*d), clone(x)));
  if (isActive(x)) {
    // clipped: (c / |x|) (dy - x <x, dy> / |x|^2); else dy
    ExprPtr radial =
        b_.binary(Op::Mul,
                  b_.binary(Op::Div, clone(*dot),
                            b_.binary(Op::Mul, clone(*norm), clone(*norm))),
                  clone(x));
    ExprPtr inside =
        b_.binary(Op::Mul,
                  b_.binary(Op::Mul, clone(*clipped),
                            b_.binary(Op::Div, clone(c), clone(*norm))),
                  b_.binary(Op::Sub, clone(*d), std::move(radial)));
    ExprPtr keep = b_.binary(
        Op::Mul, b_.binary(Op::Sub, b_.literal(1, e), clone(*clipped)),
        clone(*d));
    backprop(x, b_.binary(Op::Add, std::move(keep), std::move(inside)),
             nullptr);
  }
  if (isActive(c))
    backprop(c,
             b_.binary(Op::Div,
                       b_.binary(Op::Mul, clone(*clipped), clone(*dot)),
                       clone(*norm)),
             nullptr);
}

} // namespace fedc::autodiff
