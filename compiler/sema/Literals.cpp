// Literals: how they adapt to the type their context needs, and constant
// folding, exact for integers (docs/language.md, "Literals adapt" and
// "Constant expressions fold exactly").
#include "sema/Literals.h"
#include "sema/Checker.h"

#include "fedrt/Types.h"

#include <llvm/Support/Casting.h>

#include <cfloat>
#include <cmath>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

// The range of integer element `k` as int64 (u8: 0..255).
std::pair<int64_t, int64_t> integerRange(ScalarKind k) {
  switch (k) {
  case ScalarKind::U8:
    return {0, 255};
  case ScalarKind::I8:
    return {-128, 127};
  case ScalarKind::I32:
    return {INT32_MIN, INT32_MAX};
  default:
    return {INT64_MIN, INT64_MAX};
  }
}

bool fitsInteger(int64_t v, ScalarKind k) {
  auto [lo, hi] = integerRange(k);
  return v >= lo && v <= hi;
}

// Two's-complement truncation to k's width (what an integer cast does).
int64_t wrapInteger(int64_t v, ScalarKind k) {
  switch (k) {
  case ScalarKind::U8:
    return static_cast<uint8_t>(v);
  case ScalarKind::I8:
    return static_cast<int8_t>(v);
  case ScalarKind::I32:
    return static_cast<int32_t>(v);
  default:
    return v;
  }
}

std::string int128Spelling(__int128 v) {
  bool negative = v < 0;
  unsigned __int128 u = negative ? -static_cast<unsigned __int128>(v)
                                 : static_cast<unsigned __int128>(v);
  std::string digits;
  do {
    digits.insert(digits.begin(),
                  static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  return negative ? "-" + digits : digits;
}

std::unique_ptr<LiteralExpr>
Checker::foldInteger(ast::BinaryOp op, const LiteralExpr &a,
                     const LiteralExpr &b, std::unique_ptr<LiteralExpr> out) {
  const auto *t = cast<TensorType>(a.type);
  SourceRange r = out->range;
  // Exact in 128 bits: no operation of two int64 leaves that range.
  __int128 x = a.intValue, y = b.intValue, v = 0;
  switch (op) {
  case ast::BinaryOp::Add:
    v = x + y;
    break;
  case ast::BinaryOp::Sub:
    v = x - y;
    break;
  case ast::BinaryOp::Mul:
    v = x * y;
    break;
  case ast::BinaryOp::Div:
  case ast::BinaryOp::Rem:
    if (y == 0) {
      diags_.report(r, DiagId::DivisionByZero)
          .arg(op == ast::BinaryOp::Div ? "division" : "remainder");
      return nullptr;
    }
    v = op == ast::BinaryOp::Div ? x / y : x % y;
    break;
  default:
    return nullptr;
  }
  bool fits64 = v >= INT64_MIN && v <= INT64_MAX;
  if (fits64 && fitsInteger(static_cast<int64_t>(v), t->element)) {
    out->intValue = static_cast<int64_t>(v);
    return out;
  }
  if (fits64 && out->adaptable) {
    out->type = types_.scalar(ScalarKind::I64);
    out->intValue = static_cast<int64_t>(v);
    return out;
  }
  diags_.report(r, DiagId::ConstantOverflow)
      .arg(std::to_string(a.intValue) + " " + ast::binaryOpSpelling(op) + " " +
           std::to_string(b.intValue))
      .arg(ast::scalarName(t->element))
      .arg(int128Spelling(v));
  return nullptr;
}

std::unique_ptr<LiteralExpr>
Checker::foldFloat(ast::BinaryOp op, const LiteralExpr &a, const LiteralExpr &b,
                   std::unique_ptr<LiteralExpr> out) {
  const auto *t = cast<TensorType>(a.type);
  double x = a.floatValue, y = b.floatValue;
  if (!out->adaptable && t->element == ScalarKind::F32) {
    // Typed f32 operands fold in f32, as the operation runs; untyped
    // literals fold in f64 and round once where they are used.
    float fx = static_cast<float>(x), fy = static_cast<float>(y), v = 0;
    switch (op) {
    case ast::BinaryOp::Add:
      v = fx + fy;
      break;
    case ast::BinaryOp::Sub:
      v = fx - fy;
      break;
    case ast::BinaryOp::Mul:
      v = fx * fy;
      break;
    case ast::BinaryOp::Div:
      v = fx / fy;
      break;
    default:
      return nullptr;
    }
    out->floatValue = v;
    return out;
  }
  switch (op) {
  case ast::BinaryOp::Add:
    out->floatValue = x + y;
    break;
  case ast::BinaryOp::Sub:
    out->floatValue = x - y;
    break;
  case ast::BinaryOp::Mul:
    out->floatValue = x * y;
    break;
  case ast::BinaryOp::Div:
    out->floatValue = x / y;
    break;
  default:
    return nullptr;
  }
  // Untyped literals beyond f32's range meet as f64, like a literal
  // written with that value.
  if (out->adaptable && t->element == ScalarKind::F32 &&
      std::isfinite(out->floatValue) && std::fabs(out->floatValue) > FLT_MAX)
    out->type = types_.scalar(ScalarKind::F64);
  return out;
  return nullptr;
}

// Folds `a op b` of two scalar literals of one type; null when it cannot
// (comparisons, or an error it reported). Integers follow docs/language.md
// "Integers": a result that does not fit is a compile-time error, except
// between untyped literals, whose result takes the wider type it needs (as
// if written as one literal); division by zero is always an error.
std::unique_ptr<LiteralExpr> Checker::fold(ast::BinaryOp op,
                                           const LiteralExpr &a,
                                           const LiteralExpr &b,
                                           SourceRange r) {
  const auto *t = cast<TensorType>(a.type);
  auto out = std::make_unique<LiteralExpr>(a.type, r);
  out->adaptable = a.adaptable && b.adaptable;
  if (t->isInteger())
    return foldInteger(op, a, b, std::move(out));
  if (t->isFloat())
    return foldFloat(op, a, b, std::move(out));
  return nullptr;
}

void Checker::adapt(ExprPtr &e, const Type *to) {
  // (k, 1) where (f32, i64) is expected: adapt element by element.
  if (auto *tuple = dyn_cast<AggregateExpr>(e.get());
      tuple && tuple->kind() == Expr::Kind::TupleLiteral) {
    const auto *target = dyn_cast<TupleType>(to);
    if (!target || target->elements.size() != tuple->elements.size())
      return;
    std::vector<const Type *> types;
    for (size_t i = 0; i < tuple->elements.size(); ++i) {
      adapt(tuple->elements[i], target->elements[i]);
      types.push_back(tuple->elements[i]->type);
    }
    tuple->type = types_.tuple(types);
    return;
  }
  auto *lit = dyn_cast<LiteralExpr>(e.get());
  const auto *target = dyn_cast<TensorType>(to);
  if (!lit || !lit->adaptable || !target || !target->isScalar() ||
      lit->type == to)
    return;
  const auto *from = cast<TensorType>(lit->type);
  if (from->isInteger() && target->isInteger()) {
    // Only to a type that holds the value: `300` stays i32 where u8 is
    // expected, and the mismatch is reported there.
    unsigned char scratch[8];
    if (fedrt::storeInteger(lit->intValue, target->element, scratch))
      lit->type = to;
    return;
  }
  if (from->isInteger() && target->isFloat()) {
    lit->floatValue = static_cast<double>(lit->intValue);
    lit->type = to;
  } else if (from->isFloat() && target->isFloat()) {
    if (target->element == ScalarKind::F64 ||
        std::fabs(lit->floatValue) <= FLT_MAX)
      lit->type = to;
  }
}

bool Checker::reportLiteralRange(const Expr &e, const Type *to) {
  const auto *lit = dyn_cast<LiteralExpr>(&e);
  const auto *from = lit ? dyn_cast<TensorType>(lit->type) : nullptr;
  const auto *target = dyn_cast<TensorType>(to);
  if (!lit || !lit->adaptable || !from || !target || !target->isScalar() ||
      from == target)
    return false;
  if (from->isInteger() && target->isInteger()) {
    auto [lo, hi] = integerRange(target->element);
    diags_.report(e.range, DiagId::IntegerOutOfRange)
        .arg(lit->intValue)
        .arg(ast::scalarName(target->element))
        .arg(lo)
        .arg(hi);
    return true;
  }
  if (from->isFloat() && target->isFloat()) {
    diags_.report(e.range, DiagId::FloatLiteralOutOfRange)
        .arg(std::string(sm_.text(sm_.fileOf(e.range.begin))
                             .substr(sm_.offsetOf(e.range.begin),
                                     sm_.offsetOf(e.range.end) -
                                         sm_.offsetOf(e.range.begin))))
        .arg(ast::scalarName(target->element));
    return true;
  }
  return false;
}

} // namespace fedc::sema
