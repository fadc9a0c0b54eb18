// Which loops differentiate. The reverse of a `for` loop runs the same
// iterations again (Reverse.cpp), so it holds when every floating-point
// var the loop carries into the result only accumulates: `x += e`,
// `x -= e` or `x = x + e`, with `e` not reading such a var. Then x's
// adjoint is the same in every iteration. Anything else — `x *= e`, a
// read of x in the body, an update of one field or element — would need
// each iteration's value of x, and is reported here at the read or update.
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

#include <functional>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using sema::Expr;

namespace {

void forEachChild(const Expr &e, const std::function<void(const Expr &)> &f) {
  switch (e.kind()) {
  case Expr::Kind::Unary:
    f(*cast<sema::UnaryExpr>(e).operand);
    break;
  case Expr::Kind::Binary:
    f(*cast<sema::BinaryExpr>(e).lhs);
    f(*cast<sema::BinaryExpr>(e).rhs);
    break;
  case Expr::Kind::Call:
    for (const sema::ExprPtr &a : cast<sema::CallExpr>(e).args)
      f(*a);
    break;
  case Expr::Kind::BuiltinCall:
    for (const sema::ExprPtr &a : cast<sema::BuiltinCallExpr>(e).args)
      f(*a);
    break;
  case Expr::Kind::Cast:
    f(*cast<sema::CastExpr>(e).operand);
    break;
  case Expr::Kind::Index:
    f(*cast<sema::IndexExpr>(e).base);
    for (const sema::ExprPtr &i : cast<sema::IndexExpr>(e).indices)
      f(*i);
    break;
  case Expr::Kind::Member:
    f(*cast<sema::MemberExpr>(e).base);
    break;
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral:
    for (const sema::ExprPtr &a : cast<sema::AggregateExpr>(e).elements)
      f(*a);
    break;
  default:
    break;
  }
}

} // namespace

bool ReverseMode::checkAccumulatingLoop(
    const sema::Stmt &loop, const std::set<const sema::Local *> &accumulated) {
  bool ok = true;
  auto fail = [&](SourceRange where, const sema::Local *x,
                  const std::string &what) {
    if (!ok)
      return;
    ok = false;
    notDifferentiable(where,
                      "the 'for' loop carrying '" + x->name +
                          "' from one iteration to the next",
                      ": it " + what +
                          "; grad differentiates loops whose floating-point "
                          "vars only accumulate (" +
                          x->name + " += e, " + x->name + " -= e)");
  };
  std::function<void(const Expr &)> reads = [&](const Expr &e) {
    if (const auto *r = dyn_cast<sema::RefExpr>(&e);
        r && e.kind() == Expr::Kind::LocalRef && accumulated.count(r->local))
      fail(e.range, r->local, "reads '" + r->local->name + "'");
    forEachChild(e, reads);
  };
  std::function<void(const sema::Stmt &)> visit = [&](const sema::Stmt &s) {
    switch (s.kind()) {
    case sema::Stmt::Kind::Let:
      reads(*cast<sema::LetStmt>(s).init);
      break;
    case sema::Stmt::Kind::Assign: {
      const auto &a = cast<sema::AssignStmt>(s);
      const sema::Local *x = rootLocal(*a.target);
      if (!accumulated.count(x)) {
        reads(*a.target);
        reads(*a.value);
        break;
      }
      if (a.target->kind() != Expr::Kind::LocalRef) {
        fail(a.target->range, x, "updates a part of '" + x->name + "'");
        break;
      }
      if (a.op == ast::AssignOp::Add || a.op == ast::AssignOp::Sub) {
        reads(*a.value);
        break;
      }
      const auto *bin = dyn_cast<sema::BinaryExpr>(a.value.get());
      auto isX = [&](const Expr &e) {
        const auto *r = dyn_cast<sema::RefExpr>(&e);
        return r && e.kind() == Expr::Kind::LocalRef && r->local == x;
      };
      if (a.op == ast::AssignOp::Assign && bin &&
          (bin->op == ast::BinaryOp::Add || bin->op == ast::BinaryOp::Sub) &&
          isX(*bin->lhs)) {
        reads(*bin->rhs);
        break;
      }
      if (a.op == ast::AssignOp::Assign && bin &&
          bin->op == ast::BinaryOp::Add && isX(*bin->rhs)) {
        reads(*bin->lhs);
        break;
      }
      fail(a.range, x,
           a.op == ast::AssignOp::Assign
               ? "sets '" + x->name + "' to a new value"
               : std::string("updates '") + x->name + "' with '" +
                     ast::assignOpSpelling(a.op) + "'");
      break;
    }
    case sema::Stmt::Kind::If: {
      const auto &i = cast<sema::IfStmt>(s);
      for (const auto &[cond, body] : i.branches) {
        reads(*cond);
        visit(*body);
      }
      if (i.elseBody)
        visit(*i.elseBody);
      break;
    }
    case sema::Stmt::Kind::ForRange: {
      const auto &f = cast<sema::ForRangeStmt>(s);
      reads(*f.lo);
      reads(*f.hi);
      visit(*f.body);
      break;
    }
    case sema::Stmt::Kind::ForEach:
      reads(*cast<sema::ForEachStmt>(s).iterable);
      visit(*cast<sema::ForEachStmt>(s).body);
      break;
    case sema::Stmt::Kind::While:
      reads(*cast<sema::WhileStmt>(s).condition);
      visit(*cast<sema::WhileStmt>(s).body);
      break;
    case sema::Stmt::Kind::Block:
      for (const sema::StmtPtr &c : cast<sema::BlockStmt>(s).body)
        visit(*c);
      break;
    case sema::Stmt::Kind::Return:
      if (const auto &v = cast<sema::ReturnStmt>(s).value)
        reads(*v);
      break;
    case sema::Stmt::Kind::Expr:
      reads(*cast<sema::ExprStmt>(s).expr);
      break;
    }
  };
  if (const auto *f = dyn_cast<sema::ForRangeStmt>(&loop))
    visit(*f->body);
  else
    visit(*cast<sema::ForEachStmt>(loop).body);
  return ok;
}

} // namespace fedc::autodiff
