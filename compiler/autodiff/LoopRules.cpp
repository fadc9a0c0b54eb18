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
using llvm::isa;
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

// Walks a loop body for reads and updates of the accumulated vars; the
// first one that breaks the rule is reported through `fail`.
class AccumulationCheck {
public:
  using Fail = std::function<void(SourceRange, const sema::Local *,
                                  const std::string &)>;
  AccumulationCheck(const std::set<const sema::Local *> &accumulated, Fail fail)
      : accumulated_(accumulated), fail_(std::move(fail)) {}

  void reads(const Expr &e) {
    if (const auto *r = dyn_cast<sema::RefExpr>(&e);
        r && e.kind() == Expr::Kind::LocalRef && accumulated_.count(r->local))
      fail_(e.range, r->local, "reads '" + r->local->name + "'");
    forEachChild(e, [this](const Expr &c) { reads(c); });
  }

  void visit(const sema::Stmt &s) {
    switch (s.kind()) {
    case sema::Stmt::Kind::Let:
      reads(*cast<sema::LetStmt>(s).init);
      break;
    case sema::Stmt::Kind::Assign:
      assign(cast<sema::AssignStmt>(s));
      break;
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
  }

private:
  // `x += e`, `x -= e`, `x = x + e`, `x = x - e`, `x = e + x`: e is read.
  void assign(const sema::AssignStmt &a) {
    const sema::Local *x = rootOf(*a.target);
    if (!accumulated_.count(x)) {
      reads(*a.target);
      reads(*a.value);
      return;
    }
    if (a.target->kind() != Expr::Kind::LocalRef) {
      fail_(a.target->range, x, "updates a part of '" + x->name + "'");
      return;
    }
    if (a.op == ast::AssignOp::Add || a.op == ast::AssignOp::Sub) {
      reads(*a.value);
      return;
    }
    const auto *bin = dyn_cast<sema::BinaryExpr>(a.value.get());
    auto isX = [&](const Expr &e) {
      const auto *r = dyn_cast<sema::RefExpr>(&e);
      return r && e.kind() == Expr::Kind::LocalRef && r->local == x;
    };
    bool plain = a.op == ast::AssignOp::Assign && bin;
    if (plain &&
        (bin->op == ast::BinaryOp::Add || bin->op == ast::BinaryOp::Sub) &&
        isX(*bin->lhs)) {
      reads(*bin->rhs);
      return;
    }
    if (plain && bin->op == ast::BinaryOp::Add && isX(*bin->rhs)) {
      reads(*bin->lhs);
      return;
    }
    fail_(a.range, x,
          a.op == ast::AssignOp::Assign
              ? "sets '" + x->name + "' to a new value"
              : std::string("updates '") + x->name + "' with '" +
                    ast::assignOpSpelling(a.op) + "'");
  }

  static const sema::Local *rootOf(const Expr &target) {
    const Expr *e = &target;
    while (true) {
      if (const auto *m = dyn_cast<sema::MemberExpr>(e))
        e = m->base.get();
      else if (const auto *i = dyn_cast<sema::IndexExpr>(e))
        e = i->base.get();
      else
        return cast<sema::RefExpr>(*e).local;
    }
  }

  const std::set<const sema::Local *> &accumulated_;
  Fail fail_;
};

} // namespace

bool ReverseMode::checkAccumulatingLoop(
    const sema::Stmt &loop, const std::set<const sema::Local *> &accumulated,
    bool report) {
  bool ok = true;
  AccumulationCheck check(
      accumulated,
      [&](SourceRange where, const sema::Local *x, const std::string &what) {
        if (!ok)
          return;
        ok = false;
        if (!report)
          return;
        notDifferentiable(where,
                          "the 'for' loop carrying '" + x->name +
                              "' from one iteration to the next",
                          ": it " + what +
                              "; grad differentiates a loop over data whose "
                              "floating-point vars only accumulate (" +
                              x->name + " += e, " + x->name +
                              " -= e); a loop over a range (for i in 0..n) may "
                              "update them freely");
      });
  if (const auto *f = dyn_cast<sema::ForRangeStmt>(&loop))
    check.visit(*f->body);
  else
    check.visit(*cast<sema::ForEachStmt>(loop).body);
  return ok;
}

void ReverseMode::reportUntapedLoop(
    const Record &r, const std::set<const sema::Local *> &carried) {
  if (!isa<sema::ForRangeStmt>(r.loop)) {
    checkAccumulatingLoop(*r.loop, carried, /*report=*/true);
    return;
  }
  // A range loop is taped unless a carried value's shape is known only at
  // run time (a tape has fixed-size slots).
  for (const Join &j : r.joins)
    if (!hasStaticShape(j.primal->type)) {
      notDifferentiable(
          r.loop->range,
          "the 'for' loop carrying '" + j.primal->name + "' (" +
              sema::formatType(j.primal->type) +
              ") from one iteration to the next",
          ": grad saves the values a loop over a range carries per "
          "iteration, which needs their shapes at compile time; give '" +
              j.primal->name +
              "' static dimensions, or only accumulate "
              "into it (" +
              j.primal->name + " += e)");
      return;
    }
}

} // namespace fedc::autodiff
