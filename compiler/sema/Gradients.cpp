// grad(f) and value_and_grad(f): typing the call `grad(f)(args...)`. The
// call becomes an ordinary call of an adjoint fn that sema declares here
// (f's parameters and a seed, returning (f's result, the gradients)) and
// compiler/autodiff defines by reverse-mode differentiation once every fn
// is checked (docs/language.md, "Gradients").
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;

namespace {

bool isGradName(const std::string &name) {
  return name == "grad" || name == "value_and_grad";
}

// argnums: a constant index or a tuple of them, as written.
std::optional<std::vector<unsigned>> literalIndices(const ast::Expr &e) {
  if (const auto *i = dyn_cast<ast::IntLiteralExpr>(&e)) {
    if (i->value < 0 || i->value > 1024)
      return std::nullopt;
    return std::vector<unsigned>{static_cast<unsigned>(i->value)};
  }
  const auto *t = dyn_cast<ast::TupleExpr>(&e);
  if (!t || t->elements.empty())
    return std::nullopt;
  std::vector<unsigned> out;
  for (const ast::ExprPtr &el : t->elements) {
    std::optional<std::vector<unsigned>> one = literalIndices(*el);
    if (!one || one->size() != 1)
      return std::nullopt;
    out.push_back(one->front());
  }
  return out;
}

} // namespace

bool Checker::isGradApplication(const ast::CallExpr &e) const {
  const auto *inner = dyn_cast<ast::CallExpr>(e.callee.get());
  if (!inner)
    return false;
  const auto *name = dyn_cast<ast::NameExpr>(inner->callee.get());
  return name && isGradName(name->name) && !lookupLocal(name->name) &&
         !lookupGlobal(name->name);
}

ExprPtr Checker::checkGradNotApplied(const ast::CallExpr &e,
                                     const std::string &name) {
  diags_.report(e.range(), DiagId::GradNotApplied).arg(name);
  return errorExpr(e.range());
}

ExprPtr Checker::checkGradCall(const ast::CallExpr &e) {
  const auto &inner = cast<ast::CallExpr>(*e.callee);
  const std::string &what = cast<ast::NameExpr>(*inner.callee).name;
  bool withValue = what == "value_and_grad";
  const ast::FnDecl *decl = nullptr;
  std::optional<std::vector<unsigned>> argnums;
  size_t positional = 0;
  bool ok = true;
  for (const ast::Arg &a : inner.args) {
    if (a.name && a.name->name == "argnums") {
      argnums = literalIndices(*a.value);
      if (!argnums) {
        diags_.report(a.value->range(), DiagId::GradArgnums)
            .arg("expected a parameter index or a tuple of them, as in "
                 "argnums: (0, 1)");
        ok = false;
      }
      continue;
    }
    if (a.name) {
      diags_.report(a.name->range, DiagId::UnknownNamedArgument)
          .arg(what)
          .arg(a.name->name);
      ok = false;
      continue;
    }
    if (positional++ > 0)
      continue;
    const auto *n = dyn_cast<ast::NameExpr>(a.value.get());
    const GlobalSymbol *g =
        n && !lookupLocal(n->name) ? lookupGlobal(n->name) : nullptr;
    if (g && g->kind == GlobalSymbol::Kind::Fn &&
        !cast<ast::FnDecl>(g->decl)->isFederated)
      decl = cast<ast::FnDecl>(g->decl);
    else {
      diags_.report(a.value->range(), DiagId::GradFunctionArgument)
          .arg(what)
          .arg(g && g->kind == GlobalSymbol::Kind::Fn
                   ? " (a federated fn has no gradient)"
                   : "");
      ok = false;
    }
  }
  if (positional != 1) {
    reportArgumentCount(inner.range(), what, 1, positional);
    ok = false;
  }
  if (!ok) {
    for (const ast::Arg &a : e.args)
      check(*a.value);
    return errorExpr(e.range());
  }
  ExprPtr typed = checkUserCall(e, *decl);
  auto *call = dyn_cast<CallExpr>(typed.get());
  if (!call)
    return typed;
  const Function *primal = call->callee;
  std::vector<unsigned> wrt = argnums ? *argnums : std::vector<unsigned>{0};
  if (!checkGradSignature(*primal, wrt, what, inner, argnums.has_value()))
    return errorExpr(e.range());
  Function *adjoint = adjointFunction(*primal, wrt, withValue, inner.range());
  call->args.push_back(floatLiteral(primal->result, 1.0, inner.range()));
  call->callee = adjoint;
  call->type = adjoint->result;
  return typed;
}

bool Checker::checkGradSignature(const Function &primal,
                                 std::vector<unsigned> &wrt,
                                 const std::string &what,
                                 const ast::CallExpr &inner,
                                 bool explicitArgnums) {
  const auto *result = dyn_cast<TensorType>(primal.result);
  if (!result || !result->isScalar() || !result->isFloat()) {
    diags_.report(inner.range(), DiagId::GradResultNotScalar)
        .arg(what)
        .arg(primal.name)
        .arg(formatType(primal.result));
    return false;
  }
  std::vector<unsigned> seen;
  for (unsigned k : wrt) {
    if (k >= primal.params.size()) {
      diags_.report(inner.range(), DiagId::GradArgnums)
          .arg("'" + primal.name + "' has " +
               std::to_string(primal.params.size()) + " parameters, so " +
               std::to_string(k) + " is out of range");
      return false;
    }
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
      diags_.report(inner.range(), DiagId::GradArgnums)
          .arg("parameter " + std::to_string(k) + " is named twice");
      return false;
    }
    seen.push_back(k);
    const Local *p = primal.params[k];
    if (!isFloating(p->type) || containsSeq(p->type)) {
      diags_.report(inner.range(), DiagId::GradNotFloatParameter)
          .arg(what)
          .arg(p->name)
          .arg(primal.name)
          .arg(formatType(p->type))
          .arg(!explicitArgnums
                   ? "; the parameters to differentiate come first, or "
                     "name them with argnums:"
                   : "");
      diags_.report(p->range, DiagId::NoteDefinedHere).arg(p->name);
      return false;
    }
  }
  return true;
}

Function *Checker::adjointFunction(const Function &primal,
                                   const std::vector<unsigned> &wrt,
                                   bool withValue, SourceRange at) {
  for (const AdjointRequest &r : program_.adjoints)
    if (r.primal == &primal && r.wrt == wrt && r.withValue == withValue)
      return r.fn;
  auto owned = std::make_unique<Function>();
  Function *fn = owned.get();
  fn->name = primal.name + (withValue ? ".value_and_grad" : ".grad");
  if (wrt != std::vector<unsigned>{0})
    for (unsigned k : wrt)
      fn->name += "_" + std::to_string(k);
  fn->decl = primal.decl;
  fn->checked = true;
  fn->adjointOf = &primal;
  fn->body = std::make_unique<BlockStmt>(primal.decl->range());
  auto param = [&](const std::string &name, const Type *type,
                   SourceRange range) {
    auto l = std::make_unique<Local>();
    l->name = name;
    l->type = type;
    l->isMutable = false;
    l->range = range;
    l->kind = Local::Kind::Param;
    fn->params.push_back(l.get());
    fn->locals.push_back(std::move(l));
  };
  for (const Local *p : primal.params)
    param(p->name, p->type, p->range);
  param("seed", primal.result, primal.decl->range());
  std::vector<const Type *> grads;
  for (unsigned k : wrt)
    grads.push_back(primal.params[k]->type);
  const Type *g = grads.size() == 1 ? grads[0] : types_.tuple(grads);
  fn->result = withValue ? types_.tuple({primal.result, g}) : g;
  program_.adjoints.push_back({fn, &primal, wrt, withValue, at});
  program_.functions.push_back(std::move(owned));
  return fn;
}

ExprPtr Checker::floatLiteral(const Type *type, double value, SourceRange r) {
  auto lit = std::make_unique<LiteralExpr>(type, r);
  lit->floatValue = value;
  return lit;
}

} // namespace fedc::sema
