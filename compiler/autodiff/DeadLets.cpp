// Dead-let removal on a finished adjoint (ReverseMode.h): the forward sweep
// keeps every value the primal computes, but `grad` does not return the
// loss, and some values serve only a rule that turned out not to need
// them. Local code is pure, so a `let` nothing reads can go.
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

#include <functional>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using sema::Expr;

namespace {

void readsIn(const Expr &e, std::set<const sema::Local *> &out) {
  if (const auto *r = dyn_cast<sema::RefExpr>(&e)) {
    if (r->local)
      out.insert(r->local);
    return;
  }
  auto all = [&](const std::vector<sema::ExprPtr> &xs) {
    for (const sema::ExprPtr &x : xs)
      readsIn(*x, out);
  };
  switch (e.kind()) {
  case Expr::Kind::Unary:
    readsIn(*cast<sema::UnaryExpr>(e).operand, out);
    break;
  case Expr::Kind::Binary:
    readsIn(*cast<sema::BinaryExpr>(e).lhs, out);
    readsIn(*cast<sema::BinaryExpr>(e).rhs, out);
    break;
  case Expr::Kind::Call:
    all(cast<sema::CallExpr>(e).args);
    break;
  case Expr::Kind::BuiltinCall:
    all(cast<sema::BuiltinCallExpr>(e).args);
    break;
  case Expr::Kind::Cast:
    readsIn(*cast<sema::CastExpr>(e).operand, out);
    break;
  case Expr::Kind::Index:
    readsIn(*cast<sema::IndexExpr>(e).base, out);
    all(cast<sema::IndexExpr>(e).indices);
    break;
  case Expr::Kind::Member:
    readsIn(*cast<sema::MemberExpr>(e).base, out);
    break;
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral:
    all(cast<sema::AggregateExpr>(e).elements);
    break;
  default:
    break;
  }
}

void readsIn(const sema::Stmt &s, std::set<const sema::Local *> &out) {
  switch (s.kind()) {
  case sema::Stmt::Kind::Let:
    readsIn(*cast<sema::LetStmt>(s).init, out);
    break;
  case sema::Stmt::Kind::Assign:
    readsIn(*cast<sema::AssignStmt>(s).target, out);
    readsIn(*cast<sema::AssignStmt>(s).value, out);
    break;
  case sema::Stmt::Kind::If: {
    const auto &i = cast<sema::IfStmt>(s);
    for (const auto &[cond, body] : i.branches) {
      readsIn(*cond, out);
      readsIn(*body, out);
    }
    if (i.elseBody)
      readsIn(*i.elseBody, out);
    break;
  }
  case sema::Stmt::Kind::ForRange: {
    const auto &f = cast<sema::ForRangeStmt>(s);
    readsIn(*f.lo, out);
    readsIn(*f.hi, out);
    readsIn(*f.body, out);
    break;
  }
  case sema::Stmt::Kind::ForEach:
    readsIn(*cast<sema::ForEachStmt>(s).iterable, out);
    readsIn(*cast<sema::ForEachStmt>(s).body, out);
    break;
  case sema::Stmt::Kind::While:
    readsIn(*cast<sema::WhileStmt>(s).condition, out);
    readsIn(*cast<sema::WhileStmt>(s).body, out);
    break;
  case sema::Stmt::Kind::Block:
    for (const sema::StmtPtr &c : cast<sema::BlockStmt>(s).body)
      readsIn(*c, out);
    break;
  case sema::Stmt::Kind::Return:
    if (const auto &v = cast<sema::ReturnStmt>(s).value)
      readsIn(*v, out);
    break;
  case sema::Stmt::Kind::Expr:
    readsIn(*cast<sema::ExprStmt>(s).expr, out);
    break;
  }
}

// Removes unread lets from `b` and the blocks inside it; true if any.
bool sweep(sema::BlockStmt &b, const std::set<const sema::Local *> &read) {
  bool removed = false;
  std::vector<sema::StmtPtr> kept;
  for (sema::StmtPtr &s : b.body) {
    if (const auto *let = dyn_cast<sema::LetStmt>(s.get());
        let && !read.count(let->local)) {
      removed = true;
      continue;
    }
    if (auto *i = dyn_cast<sema::IfStmt>(s.get())) {
      for (auto &[cond, body] : i->branches)
        removed |= sweep(*body, read);
      if (i->elseBody)
        removed |= sweep(*i->elseBody, read);
    } else if (auto *f = dyn_cast<sema::ForRangeStmt>(s.get())) {
      removed |= sweep(*f->body, read);
    } else if (auto *f = dyn_cast<sema::ForEachStmt>(s.get())) {
      removed |= sweep(*f->body, read);
    } else if (auto *nested = dyn_cast<sema::BlockStmt>(s.get())) {
      removed |= sweep(*nested, read);
    }
    kept.push_back(std::move(s));
  }
  b.body = std::move(kept);
  return removed;
}

} // namespace

void removeDeadLets(sema::Function &fn) {
  while (true) {
    std::set<const sema::Local *> read;
    readsIn(*fn.body, read);
    if (!sweep(*fn.body, read))
      return;
  }
}

} // namespace fedc::autodiff
