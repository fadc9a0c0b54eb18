// Calls: dispatch to user fns, builtins and intrinsics; argument matching by
// position and name; generic inference for user fns.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;

std::vector<ExprPtr> Checker::positionalArgs(const ast::CallExpr &e,
                                             const std::string &callee) {
  std::vector<ExprPtr> args;
  for (const ast::Arg &a : e.args) {
    if (a.name)
      continue; // the builtin or intrinsic reads its named arguments
    args.push_back(check(*a.value));
  }
  return args;
}

void Checker::reportArgumentCount(SourceRange call, const std::string &callee,
                                  size_t takes, size_t given) {
  reportArgumentCount(
      call, callee,
      std::to_string(takes) + (takes == 1 ? " argument" : " arguments"), given);
}

void Checker::reportArgumentCount(SourceRange call, const std::string &callee,
                                  const std::string &takes, size_t given) {
  diags_.report(call, DiagId::ArgumentCount)
      .arg(callee)
      .arg(takes)
      .arg(static_cast<int64_t>(given));
}

bool Checker::rejectPlacedArguments(const std::vector<ExprPtr> &args,
                                    const std::string &callee,
                                    SourceRange call) {
  for (const ExprPtr &a : args)
    if (containsPlaced(a->type)) {
      diags_.report(call, DiagId::LocalCallOnPlacedValue)
          .arg(callee)
          .arg(formatType(a->type));
      notePlacement(*a);
      return true;
    }
  return false;
}

ExprPtr Checker::checkCall(const ast::CallExpr &e) {
  if (isGradApplication(e))
    return checkGradCall(e);
  const auto *callee = dyn_cast<ast::NameExpr>(e.callee.get());
  if (!callee || lookupLocal(callee->name)) {
    diags_.report(e.callee->range(), DiagId::NotCallable)
        .arg(callee ? callee->name : "this expression");
    for (const ast::Arg &a : e.args)
      check(*a.value);
    return errorExpr(e.range());
  }
  const std::string &name = callee->name;
  if (const GlobalSymbol *g = lookupGlobal(name)) {
    if (g->kind == GlobalSymbol::Kind::Fn)
      return checkUserCall(e, *cast<ast::FnDecl>(g->decl));
    diags_.report(e.callee->range(), DiagId::NotAValue)
        .arg(name)
        .arg(g->kind == GlobalSymbol::Kind::Struct
                 ? "a struct type (build one with " + name + " { ... })"
             : g->kind == GlobalSymbol::Kind::Const ? "a constant"
                                                    : "a process");
    return errorExpr(e.range());
  }
  if (std::optional<Builtin> b = lookupBuiltin(name))
    return checkBuiltin(e, *b);
  if (name == "grad" || name == "value_and_grad")
    return checkGradNotApplied(e, name);
  if (std::optional<Intrinsic> i = lookupIntrinsic(name)) {
    if (!inFederated()) {
      diags_.report(e.callee->range(), DiagId::FederatedInLocalFn)
          .arg("federated intrinsic")
          .arg(name);
      return errorExpr(e.range());
    }
    return checkIntrinsic(e, *i);
  }
  // Everything a call can name, from the tables.
  std::vector<std::string> candidates = globalOrder_;
#define BUILTIN(Name, spelling, ...)                                           \
  if (spelling[0] != '%') /* internal */                                       \
    candidates.emplace_back(spelling);
#include "sema/Builtins.def"
#define INTRINSIC(Name, spelling, ...) candidates.emplace_back(spelling);
#include "sema/Intrinsics.def"
  candidates.insert(candidates.end(), {"grad", "value_and_grad"});
  diags_.report(e.callee->range(), DiagId::UnknownName)
      .arg(name)
      .arg(suggestion(name, candidates));
  for (const ast::Arg &a : e.args)
    check(*a.value);
  return errorExpr(e.range());
}

bool Checker::orderArguments(const ast::CallExpr &e, const ast::FnDecl &decl,
                             std::vector<ExprPtr> &args) {
  const std::string &name = decl.name.name;
  args.resize(decl.params.size());
  size_t extra = 0;
  size_t position = 0;
  bool ok = true;
  for (const ast::Arg &a : e.args) {
    ExprPtr value = check(*a.value);
    size_t index = position;
    if (a.name) {
      index = decl.params.size();
      for (size_t k = 0; k < decl.params.size(); ++k)
        if (decl.params[k].name.name == a.name->name)
          index = k;
      if (index == decl.params.size()) {
        diags_.report(a.name->range, DiagId::UnknownNamedArgument)
            .arg(name)
            .arg(a.name->name);
        ok = false;
        continue;
      }
    } else {
      ++position;
    }
    if (index >= args.size()) {
      ++extra;
      continue;
    }
    if (args[index]) {
      diags_
          .report(a.name ? a.name->range : value->range,
                  DiagId::DuplicateArgument)
          .arg(decl.params[index].name.name);
      ok = false;
      continue;
    }
    args[index] = std::move(value);
  }
  size_t given = extra;
  for (const ExprPtr &a : args)
    given += a ? 1 : 0;
  if (!ok)
    return false;
  if (given != decl.params.size()) {
    reportArgumentCount(e.range(), name, decl.params.size(), given);
    return false;
  }
  return true;
}

ExprPtr Checker::checkUserCall(const ast::CallExpr &e,
                               const ast::FnDecl &decl) {
  const std::string &name = decl.name.name;
  if (!e.typeArgs.empty())
    diags_.report(e.typeArgs.front()->range(), DiagId::TypeArgumentsNotAllowed)
        .arg(name);
  std::vector<ExprPtr> args;
  if (!orderArguments(e, decl, args))
    return errorExpr(e.range());
  for (const ExprPtr &a : args)
    if (containsError(a->type))
      return errorExpr(e.range());

  if (decl.isFederated && !inFederated()) {
    diags_.report(e.callee->range(), DiagId::FederatedInLocalFn)
        .arg("federated fn")
        .arg(name);
    return errorExpr(e.range());
  }
  if (!decl.isFederated && rejectPlacedArguments(args, name, e.range()))
    return errorExpr(e.range());

  Bindings bindings;
  if (!decl.genericParams.empty()) {
    std::vector<std::pair<const Type *, SourceRange>> argView;
    argView.reserve(args.size());
    for (const ExprPtr &a : args)
      argView.emplace_back(a->type, a->range);
    if (!inferBindings(decl, argView, e.range(), bindings))
      return errorExpr(e.range());
  }
  const Function *fn = instance(decl, bindings, e.range());
  if (!checkArguments(*fn, args, e.range(), fn->name))
    return errorExpr(e.range());
  auto call =
      std::make_unique<CallExpr>(fn->result, e.range(), fn, std::move(args));
  call->placementOrigin = e.range();
  return call;
}

} // namespace fedc::sema
