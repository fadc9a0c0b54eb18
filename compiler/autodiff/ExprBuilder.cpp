// Typed expression construction for the adjoint code (ExprBuilder.h).
#include "autodiff/ExprBuilder.h"

#include <stdexcept>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;
using sema::Expr;
using sema::TensorType;

ExprPtr clone(const Expr &e) {
  return sema::cloneExpr(e, [](const sema::Local *l) { return l; });
}

bool isTrivial(const Expr &e) {
  switch (e.kind()) {
  case Expr::Kind::Literal:
  case Expr::Kind::LocalRef:
  case Expr::Kind::ConstRef:
    return true;
  case Expr::Kind::Member:
    return isTrivial(*cast<sema::MemberExpr>(e).base);
  default:
    return false;
  }
}

bool hasStaticShape(const Type *t) {
  if (const auto *tensor = dyn_cast<TensorType>(t)) {
    for (int64_t d : tensor->dims)
      if (d == sema::kDynamicDim)
        return false;
    return true;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t)) {
    for (const sema::Field &f : s->fields)
      if (!hasStaticShape(f.type))
        return false;
    return true;
  }
  if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    for (const Type *e : tuple->elements)
      if (!hasStaticShape(e))
        return false;
    return true;
  }
  return false;
}

const Expr *findLike(const Expr &e) {
  if (isTrivial(e))
    return &e;
  auto same = [&](const Expr &c) -> const Expr * {
    const Expr *found = c.type == e.type ? findLike(c) : nullptr;
    return found && found->type == e.type ? found : nullptr;
  };
  if (const auto *u = dyn_cast<sema::UnaryExpr>(&e))
    return same(*u->operand);
  if (const auto *b = dyn_cast<sema::BinaryExpr>(&e)) {
    if (b->op == ast::BinaryOp::MatMul)
      return nullptr;
    if (const Expr *l = same(*b->lhs))
      return l;
    return same(*b->rhs);
  }
  if (const auto *call = dyn_cast<sema::BuiltinCallExpr>(&e)) {
    if (call->axis || call->typeArg)
      return nullptr;
    for (const ExprPtr &a : call->args)
      if (const Expr *found = same(*a))
        return found;
  }
  return nullptr;
}

bool containsFloat(const Type *t) {
  if (const auto *tensor = dyn_cast<TensorType>(t))
    return tensor->isFloat();
  if (const auto *s = dyn_cast<sema::StructType>(t)) {
    for (const sema::Field &f : s->fields)
      if (containsFloat(f.type))
        return true;
    return false;
  }
  if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    for (const Type *e : tuple->elements)
      if (containsFloat(e))
        return true;
  }
  return false;
}

ExprPtr ExprBuilder::ref(const sema::Local *l) const {
  auto r = std::make_unique<sema::RefExpr>(Expr::Kind::LocalRef, l->type, at);
  r->local = l;
  return r;
}

ExprPtr ExprBuilder::literal(double v, sema::ScalarKind element) const {
  auto lit = std::make_unique<sema::LiteralExpr>(types.scalar(element), at);
  lit->floatValue = v;
  lit->intValue = static_cast<int64_t>(v);
  return lit;
}

const Type *ExprBuilder::broadcastType(const Type *a, const Type *b,
                                       sema::ScalarKind element) const {
  const auto *x = cast<TensorType>(a), *y = cast<TensorType>(b);
  size_t rank = std::max(x->rank(), y->rank());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t p = i < rank - x->rank() ? 1 : x->dims[i - (rank - x->rank())];
    int64_t q = i < rank - y->rank() ? 1 : y->dims[i - (rank - y->rank())];
    if (p == q || q == 1)
      out[i] = p;
    else if (p == 1)
      out[i] = q;
    else
      out[i] = p == sema::kDynamicDim ? q : p;
  }
  return types.tensor(element, out);
}

ExprPtr ExprBuilder::binary(ast::BinaryOp op, ExprPtr a, ExprPtr b) const {
  const Type *t;
  if (!isa<TensorType>(a->type))
    t = a->type; // struct op struct, struct op scalar
  else if (!isa<TensorType>(b->type))
    t = b->type; // scalar op struct
  else {
    bool compare = op == ast::BinaryOp::Lt || op == ast::BinaryOp::Le ||
                   op == ast::BinaryOp::Gt || op == ast::BinaryOp::Ge ||
                   op == ast::BinaryOp::Eq || op == ast::BinaryOp::Ne;
    t = broadcastType(a->type, b->type,
                      compare ? sema::ScalarKind::Bool
                              : cast<TensorType>(a->type)->element);
  }
  return std::make_unique<sema::BinaryExpr>(t, at, op, std::move(a),
                                            std::move(b));
}

ExprPtr ExprBuilder::neg(ExprPtr a) const {
  const Type *t = a->type;
  return std::make_unique<sema::UnaryExpr>(t, at, ast::UnaryOp::Neg,
                                           std::move(a));
}

ExprPtr ExprBuilder::matmul(ExprPtr a, ExprPtr b) const {
  const auto *x = cast<TensorType>(a->type), *y = cast<TensorType>(b->type);
  std::vector<int64_t> dims;
  if (x->rank() == 2)
    dims.push_back(x->dims[0]);
  if (y->rank() == 2)
    dims.push_back(y->dims[1]);
  return std::make_unique<sema::BinaryExpr>(types.tensor(x->element, dims), at,
                                            ast::BinaryOp::MatMul, std::move(a),
                                            std::move(b));
}

ExprPtr ExprBuilder::builtin(sema::Builtin b, std::vector<ExprPtr> args,
                             const Type *result) const {
  return std::make_unique<sema::BuiltinCallExpr>(result, at, b,
                                                 std::move(args));
}

ExprPtr ExprBuilder::sum(ExprPtr x, std::optional<int> axis) const {
  const auto *t = cast<TensorType>(x->type);
  std::vector<int64_t> dims;
  if (axis)
    for (size_t k = 0; k < t->rank(); ++k)
      if (static_cast<int>(k) != *axis)
        dims.push_back(t->dims[k]);
  std::vector<ExprPtr> args;
  args.push_back(std::move(x));
  auto call = std::make_unique<sema::BuiltinCallExpr>(
      types.tensor(t->element, dims), at, sema::Builtin::Sum, std::move(args));
  call->axis = axis;
  return call;
}

ExprPtr ExprBuilder::unary(sema::Builtin b, ExprPtr x) const {
  const Type *t = x->type;
  std::vector<ExprPtr> args;
  args.push_back(std::move(x));
  return builtin(b, std::move(args), t);
}

ExprPtr ExprBuilder::transpose(ExprPtr x) const {
  const auto *t = cast<TensorType>(x->type);
  const Type *to = types.tensor(t->element, {t->dims[1], t->dims[0]});
  std::vector<ExprPtr> args;
  args.push_back(std::move(x));
  return builtin(sema::Builtin::Transpose, std::move(args), to);
}

ExprPtr ExprBuilder::reshape(ExprPtr x, const Type *to) const {
  if (x->type == to)
    return x;
  std::vector<ExprPtr> args;
  args.push_back(std::move(x));
  auto call = std::make_unique<sema::BuiltinCallExpr>(
      to, at, sema::Builtin::Reshape, std::move(args));
  call->typeArg = to;
  return call;
}

ExprPtr ExprBuilder::broadcastLike(ExprPtr x, ExprPtr like) const {
  const auto *t = cast<TensorType>(x->type);
  const Type *to = broadcastType(t, like->type, t->element);
  if (to == x->type)
    return x;
  std::vector<ExprPtr> args;
  args.push_back(std::move(x));
  args.push_back(std::move(like));
  return builtin(sema::Builtin::BroadcastLike, std::move(args), to);
}

ExprPtr ExprBuilder::castTo(ExprPtr x, sema::ScalarKind element) const {
  const auto *t = cast<TensorType>(x->type);
  if (t->element == element)
    return x;
  const Type *to = types.tensor(element, t->dims);
  return std::make_unique<sema::CastExpr>(to, at, std::move(x));
}

ExprPtr ExprBuilder::member(ExprPtr base, int index) const {
  const Type *t;
  std::string name = std::to_string(index);
  if (const auto *s = dyn_cast<sema::StructType>(base->type)) {
    t = s->fields[static_cast<size_t>(index)].type;
    name = s->fields[static_cast<size_t>(index)].name;
  } else {
    t = cast<sema::TupleType>(base->type)->elements[static_cast<size_t>(index)];
  }
  return std::make_unique<sema::MemberExpr>(t, at, std::move(base), index,
                                            name);
}

ExprPtr ExprBuilder::aggregate(const Type *t,
                               std::vector<ExprPtr> elements) const {
  return std::make_unique<sema::AggregateExpr>(isa<sema::StructType>(t)
                                                   ? Expr::Kind::StructLiteral
                                                   : Expr::Kind::TupleLiteral,
                                               t, at, std::move(elements));
}

ExprPtr ExprBuilder::zerosLike(const Type *t, const Expr &like) const {
  if (hasStaticShape(t) && !isa<sema::TupleType>(t)) {
    auto call = std::make_unique<sema::BuiltinCallExpr>(
        t, at, sema::Builtin::Zeros, std::vector<ExprPtr>{});
    call->typeArg = t;
    return call;
  }
  if (const auto *tensor = dyn_cast<TensorType>(t))
    return broadcastLike(literal(0, tensor->element), clone(like));
  std::vector<ExprPtr> elements;
  size_t n = isa<sema::StructType>(t)
                 ? cast<sema::StructType>(t)->fields.size()
                 : cast<sema::TupleType>(t)->elements.size();
  for (size_t i = 0; i < n; ++i) {
    ExprPtr field = member(clone(like), static_cast<int>(i));
    elements.push_back(zerosLike(field->type, *field));
  }
  return aggregate(t, std::move(elements));
}

ExprPtr ExprBuilder::inner(ExprPtr a, ExprPtr b) const {
  if (isa<TensorType>(a->type)) {
    ExprPtr product = binary(ast::BinaryOp::Mul, std::move(a), std::move(b));
    return cast<TensorType>(product->type)->isScalar()
               ? std::move(product)
               : sum(std::move(product));
  }
  size_t n = isa<sema::StructType>(a->type)
                 ? cast<sema::StructType>(a->type)->fields.size()
                 : cast<sema::TupleType>(a->type)->elements.size();
  ExprPtr total;
  for (size_t i = 0; i < n; ++i) {
    ExprPtr term = inner(member(clone(*a), static_cast<int>(i)),
                         member(clone(*b), static_cast<int>(i)));
    total = total
                ? binary(ast::BinaryOp::Add, std::move(total), std::move(term))
                : std::move(term);
  }
  if (!total)
    throw std::logic_error("inner product of an empty aggregate");
  return total;
}

} // namespace fedc::autodiff
