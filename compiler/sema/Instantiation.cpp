// Function instances: every local fn once per distinct binding of its shape
// and type parameters (inferred from the arguments at each call), every
// federated fn once. Bodies are checked when an instance is first requested;
// a request for an instance still being checked is recursion.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <algorithm>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;

namespace {

bool isGenericParam(const ast::FnDecl &decl, const std::string &name) {
  return std::any_of(decl.genericParams.begin(), decl.genericParams.end(),
                     [&](const ast::Ident &g) { return g.name == name; });
}

std::string dimText(int64_t d) {
  return d == kDynamicDim ? "?" : std::to_string(d);
}

} // namespace

std::string Checker::instanceName(const ast::FnDecl &decl,
                                  const Bindings &bindings) const {
  if (decl.genericParams.empty())
    return decl.name.name;
  std::string s = decl.name.name + "<";
  for (size_t i = 0; i < decl.genericParams.size(); ++i) {
    const std::string &g = decl.genericParams[i].name;
    s += (i ? ", " : "") + g + "=";
    auto it = bindings.find(g);
    if (it == bindings.end())
      s += "?";
    else if (it->second.dim)
      s += dimText(*it->second.dim);
    else
      s += formatType(it->second.type);
  }
  return s + ">";
}

void Checker::checkFunctions() {
  for (const ast::FnDecl *decl : fnDecls_) {
    if (!decl->genericParams.empty()) {
      if (decl->isFederated)
        diags_
            .report(decl->genericParams.front().range,
                    DiagId::TypeArgumentsNotAllowed)
            .arg("federated fn " + decl->name.name);
      continue; // generic local fns are checked per instance, when called
    }
    instance(*decl, {}, decl->name.range);
  }
}

Function *Checker::instance(const ast::FnDecl &decl, const Bindings &bindings,
                            SourceRange at) {
  std::string key = instanceName(decl, bindings);
  if (auto it = instances_.find(key); it != instances_.end()) {
    Function *fn = it->second;
    bool inProgress =
        std::any_of(checking_.begin(), checking_.end(),
                    [&](const auto &entry) { return entry.first == fn; });
    if (inProgress)
      diags_.report(at, DiagId::RecursiveCall).arg(decl.name.name);
    return fn;
  }
  auto owned = std::make_unique<Function>();
  Function *fn = owned.get();
  fn->name = key;
  fn->decl = &decl;
  fn->isFederated = decl.isFederated;
  instances_[key] = fn;
  program_.functions.push_back(std::move(owned));
  checkBody(*fn, bindings, at);
  return fn;
}

void Checker::emitInstantiationNotes() {
  for (auto it = checking_.rbegin(); it != checking_.rend(); ++it)
    if (!it->first->decl->genericParams.empty())
      diags_.report(it->second, DiagId::NoteInstantiatedHere)
          .arg(it->first->name);
}

void Checker::checkBody(Function &fn, const Bindings &bindings,
                        SourceRange requestedAt) {
  const ast::FnDecl &decl = *fn.decl;
  unsigned errorsBefore = diags_.errorCount();
  FunctionState state{&fn, &bindings, {}, {}};
  FunctionState *outer = current_;
  current_ = &state;
  checking_.emplace_back(&fn, requestedAt);

  TypeUse use = decl.isFederated ? TypeUse::Federated : TypeUse::Local;
  state.scopes.emplace_back();
  for (const ast::Param &p : decl.params) {
    fn.params.push_back(bindLocal(p.name, resolveType(*p.type, &bindings, use),
                                  false, Local::Kind::Param));
  }
  fn.result =
      decl.result ? resolveType(*decl.result, &bindings, use) : types_.unit();

  if (!stack_.exhausted()) {
    collectBindings(*decl.body);
    fn.body = checkBlock(*decl.body);
    const auto *unit = dyn_cast<TupleType>(fn.result);
    if (!(unit && unit->isUnit()) && !fn.result->isError() &&
        !alwaysReturns(*fn.body)) {
      SourceLoc close = SourceLoc::fromRaw(decl.body->range().end.raw() - 1);
      diags_.report(close, DiagId::MissingReturn)
          .arg(decl.name.name)
          .arg(formatType(fn.result));
    }
  } else {
    diags_.report(decl.name.range, DiagId::NestingTooDeep).arg(1000);
    fn.body = std::make_unique<BlockStmt>(decl.body->range());
  }

  checking_.pop_back();
  current_ = outer;
  fn.checked = true;
  fn.hasErrors = diags_.errorCount() != errorsBefore;
}

void Checker::unify(const ast::TypeExpr &param, const Type *arg,
                    SourceRange argRange, const ast::FnDecl &decl,
                    Bindings &bindings, bool &ok) {
  if (arg->isError())
    return;
  switch (param.kind()) {
  case ast::TypeExpr::Kind::Tensor: {
    const auto &p = cast<ast::TensorTypeExpr>(param);
    const auto *t = dyn_cast<TensorType>(arg);
    if (!t || t->rank() != p.dims.size())
      return; // the argument check reports the mismatch
    for (size_t i = 0; i < p.dims.size(); ++i) {
      const ast::Dim &d = p.dims[i];
      if (d.kind != ast::Dim::Kind::Named || !isGenericParam(decl, d.name))
        continue;
      Binding &b = bindings[d.name];
      if (b.type) {
        diags_.report(d.range, DiagId::GenericMisuse).arg(d.name);
        ok = false;
      } else if (!b.dim || *b.dim == kDynamicDim) {
        b.dim = t->dims[i];
        b.from = argRange;
      } else if (t->dims[i] != kDynamicDim && t->dims[i] != *b.dim) {
        diags_.report(argRange, DiagId::GenericConflict)
            .arg(d.name)
            .arg(dimText(*b.dim))
            .arg(dimText(t->dims[i]));
        ok = false;
      }
    }
    return;
  }
  case ast::TypeExpr::Kind::Named: {
    const auto &p = cast<ast::NamedTypeExpr>(param);
    if (!isGenericParam(decl, p.name))
      return;
    Binding &b = bindings[p.name];
    if (b.dim) {
      diags_.report(param.range(), DiagId::GenericMisuse).arg(p.name);
      ok = false;
    } else if (!b.type) {
      b.type = arg;
      b.from = argRange;
    } else if (b.type != arg && !assignable(arg, b.type)) {
      diags_.report(argRange, DiagId::GenericConflict)
          .arg(p.name)
          .arg(formatType(b.type))
          .arg(formatType(arg));
      ok = false;
    }
    return;
  }
  case ast::TypeExpr::Kind::Seq:
    if (const auto *s = dyn_cast<SeqType>(arg))
      unify(*cast<ast::SeqTypeExpr>(param).element, s->element, argRange, decl,
            bindings, ok);
    return;
  case ast::TypeExpr::Kind::Tuple: {
    const auto &p = cast<ast::TupleTypeExpr>(param);
    const auto *t = dyn_cast<TupleType>(arg);
    if (t && t->elements.size() == p.elements.size())
      for (size_t i = 0; i < p.elements.size(); ++i)
        unify(*p.elements[i], t->elements[i], argRange, decl, bindings, ok);
    return;
  }
  default:
    return;
  }
}

bool Checker::inferBindings(
    const ast::FnDecl &decl,
    const std::vector<std::pair<const Type *, SourceRange>> &args,
    SourceRange call, Bindings &bindings) {
  bool ok = true;
  for (size_t i = 0; i < decl.params.size() && i < args.size(); ++i)
    unify(*decl.params[i].type, args[i].first, args[i].second, decl, bindings,
          ok);
  for (const ast::Ident &g : decl.genericParams) {
    auto it = bindings.find(g.name);
    if (it == bindings.end() || (!it->second.dim && !it->second.type)) {
      diags_.report(call, DiagId::CannotInfer).arg(g.name).arg(decl.name.name);
      ok = false;
    }
  }
  return ok;
}

bool Checker::checkArguments(const Function &fn, std::vector<ExprPtr> &args,
                             SourceRange call, const std::string &what) {
  if (args.size() != fn.params.size()) {
    reportArgumentCount(call, what, fn.params.size(), args.size());
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < args.size(); ++i)
    ok &= expectType(args[i], fn.params[i]->type,
                     "argument '" + fn.params[i]->name + "' of '" + what + "'");
  return ok;
}

} // namespace fedc::sema
