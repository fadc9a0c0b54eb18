// `const` declarations: evaluated on first use, in any order, and folded to
// literals where possible, so integer constants can size tensor dimensions.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

// A constant's value may not call user fns: it is computed once, at
// compile time or at start-up, before any fn runs.
const Expr *findUserCall(const Expr &e) {
  if (isa<CallExpr>(e))
    return &e;
  auto first = [](const std::vector<ExprPtr> &xs) -> const Expr * {
    for (const ExprPtr &x : xs)
      if (const Expr *found = findUserCall(*x))
        return found;
    return nullptr;
  };
  switch (e.kind()) {
  case Expr::Kind::Unary:
    return findUserCall(*cast<UnaryExpr>(e).operand);
  case Expr::Kind::Binary: {
    const auto &b = cast<BinaryExpr>(e);
    if (const Expr *l = findUserCall(*b.lhs))
      return l;
    return findUserCall(*b.rhs);
  }
  case Expr::Kind::BuiltinCall:
    return first(cast<BuiltinCallExpr>(e).args);
  case Expr::Kind::Cast:
    return findUserCall(*cast<CastExpr>(e).operand);
  case Expr::Kind::Index:
    return findUserCall(*cast<IndexExpr>(e).base);
  case Expr::Kind::Member:
    return findUserCall(*cast<MemberExpr>(e).base);
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral:
    return first(cast<AggregateExpr>(e).elements);
  default:
    return nullptr;
  }
}

} // namespace

std::optional<int64_t> Checker::integerConstant(const Expr &e) const {
  const auto *lit = dyn_cast<LiteralExpr>(&e);
  const auto *t = dyn_cast<TensorType>(e.type);
  if (lit && t && t->isScalar() && t->isInteger())
    return lit->intValue;
  return std::nullopt;
}

std::optional<double> Checker::numberConstant(const Expr &e) const {
  const auto *lit = dyn_cast<LiteralExpr>(&e);
  const auto *t = dyn_cast<TensorType>(e.type);
  if (!lit || !t || !t->isScalar() || t->isBool())
    return std::nullopt;
  return t->isFloat() ? lit->floatValue : static_cast<double>(lit->intValue);
}

bool Checker::ensureConstant(Constant &c, SourceRange use) {
  if (c.state == Constant::State::Evaluating) {
    diags_.report(use, DiagId::ConstantCycle).arg(c.name);
    return false;
  }
  if (c.state == Constant::State::Pending) {
    c.state = Constant::State::Evaluating;
    // A constant is checked outside of any function.
    FunctionState *outer = current_;
    current_ = nullptr;
    const ast::ConstDecl &decl = *c.decl;
    ExprPtr value = check(*decl.value);
    if (decl.type) {
      const Type *declared = resolveType(*decl.type, nullptr, TypeUse::Local);
      expectType(value, declared, "constant '" + c.name + "'");
      c.type = declared;
      c.declaredType = true;
    } else {
      // An untyped constant keeps its literal's default type but adapts at
      // each use (constants are inlined as literals, see LocalExprs.cpp).
      c.type = value->type;
    }
    if (const Expr *call = findUserCall(*value)) {
      diags_.report(call->range, DiagId::ConstNotConstant).arg(c.name);
      c.type = types_.error();
    }
    c.intValue = integerConstant(*value);
    c.value = std::move(value);
    current_ = outer;
    c.state = Constant::State::Done;
  }
  return c.type && !containsError(c.type);
}

void Checker::evaluateConstants() {
  for (const ast::ConstDecl *decl : constDecls_) {
    Constant &c = *lookupGlobal(decl->name.name)->constant;
    ensureConstant(c, c.range);
  }
}

} // namespace fedc::sema
