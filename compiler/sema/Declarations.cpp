// Module-level names: structs, constants, fns and processes from the root
// module and everything it imports, in one scope.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <algorithm>

namespace fedc::sema {

using llvm::dyn_cast;

namespace {

size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

std::string
Checker::suggestion(const std::string &name,
                    const std::vector<std::string> &candidates) const {
  std::string best;
  size_t bestDistance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string &c : candidates) {
    size_t d = editDistance(name, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::string Checker::globalSuggestion(const std::string &name) const {
  return suggestion(name, globalOrder_);
}

void Checker::declare(const std::string &name, GlobalSymbol symbol) {
  if (lookupBuiltin(name) || lookupIntrinsic(name)) {
    diags_.report(symbol.nameRange, DiagId::RedefinesBuiltin).arg(name);
    return;
  }
  auto [it, inserted] = globals_.emplace(name, symbol);
  if (!inserted) {
    diags_.report(symbol.nameRange, DiagId::Redefinition).arg(name);
    diags_.report(it->second.nameRange, DiagId::NotePreviousDefinition)
        .arg(name);
    return;
  }
  globalOrder_.push_back(name);
}

bool Checker::ownsName(const std::string &name, const ast::Decl *decl) const {
  const GlobalSymbol *g = lookupGlobal(name);
  return g && g->decl == decl;
}

const GlobalSymbol *Checker::lookupGlobal(const std::string &name) const {
  auto it = globals_.find(name);
  return it == globals_.end() ? nullptr : &it->second;
}

void Checker::collectDeclarations(
    const std::vector<const ast::Module *> &modules) {
  for (const ast::Module *m : modules) {
    for (const ast::DeclPtr &d : m->decls) {
      if (const auto *s = dyn_cast<ast::StructDecl>(d.get())) {
        GlobalSymbol sym{GlobalSymbol::Kind::Struct, s, s->name.range};
        sym.structType = types_.createStruct(s->name.name, s);
        declare(s->name.name, sym);
        if (ownsName(s->name.name, s)) {
          structDecls_.push_back(s);
          program_.structs.push_back(sym.structType);
        }
      } else if (const auto *c = dyn_cast<ast::ConstDecl>(d.get())) {
        auto constant = std::make_unique<Constant>();
        constant->name = c->name.name;
        constant->range = c->name.range;
        constant->decl = c;
        GlobalSymbol sym{GlobalSymbol::Kind::Const, c, c->name.range};
        sym.constant = constant.get();
        declare(c->name.name, sym);
        if (ownsName(c->name.name, c)) {
          constDecls_.push_back(c);
          program_.constants.push_back(std::move(constant));
        }
      } else if (const auto *f = dyn_cast<ast::FnDecl>(d.get())) {
        declare(f->name.name, {GlobalSymbol::Kind::Fn, f, f->name.range});
        if (ownsName(f->name.name, f))
          fnDecls_.push_back(f);
      } else if (const auto *p = dyn_cast<ast::ProcessDecl>(d.get())) {
        declare(p->name.name, {GlobalSymbol::Kind::Process, p, p->name.range});
        if (ownsName(p->name.name, p))
          processDecls_.push_back(p);
      }
    }
  }
}

} // namespace fedc::sema
