// `const` declarations: checked in declaration order and folded to literals
// where possible, so integer constants can size tensor dimensions.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::dyn_cast;

std::optional<int64_t> Checker::integerConstant(const Expr &e) const {
  const auto *lit = dyn_cast<LiteralExpr>(&e);
  const auto *t = dyn_cast<TensorType>(e.type);
  if (lit && t && t->isScalar() && t->isInteger())
    return lit->intValue;
  return std::nullopt;
}

void Checker::evaluateConstant(Constant &c, const ast::ConstDecl &decl) {
  ExprPtr value = check(*decl.value);
  if (decl.type) {
    const Type *declared = resolveType(*decl.type, nullptr, TypeUse::Local);
    expectType(value, declared, "constant '" + c.name + "'");
    c.type = declared;
    c.declaredType = true;
  } else {
    // An untyped constant keeps its literal's default type but adapts at
    // each use (see LocalExprs.cpp: constants are inlined as literals).
    c.type = value->type;
  }
  c.intValue = integerConstant(*value);
  c.value = std::move(value);
}

void Checker::evaluateConstants() {
  for (const ast::ConstDecl *decl : constDecls_)
    evaluateConstant(*lookupGlobal(decl->name.name)->constant, *decl);
}

} // namespace fedc::sema
