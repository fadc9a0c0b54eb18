// Deep copies of typed expressions (sema/TypedAST.h), for code that
// lowering moves into the stage functions it synthesizes.
#include "sema/TypedAST.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;

namespace {

std::vector<ExprPtr> cloneAll(const std::vector<ExprPtr> &xs,
                              const LocalMap &locals) {
  std::vector<ExprPtr> out;
  out.reserve(xs.size());
  for (const ExprPtr &x : xs)
    out.push_back(cloneExpr(*x, locals));
  return out;
}

ExprPtr cloneLiteral(const LiteralExpr &l) {
  auto c = std::make_unique<LiteralExpr>(l.type, l.range);
  c->intValue = l.intValue;
  c->floatValue = l.floatValue;
  c->boolValue = l.boolValue;
  c->adaptable = l.adaptable;
  return c;
}

ExprPtr cloneRef(const RefExpr &r, const LocalMap &locals) {
  auto c = std::make_unique<RefExpr>(r.kind(), r.type, r.range);
  c->local = r.local ? locals(r.local) : nullptr;
  c->constant = r.constant;
  c->function = r.function;
  c->fnDecl = r.fnDecl;
  c->placement = r.placement;
  return c;
}

ExprPtr cloneIntrinsicCall(const IntrinsicCallExpr &i, const LocalMap &locals) {
  auto c = std::make_unique<IntrinsicCallExpr>(i.type, i.range, i.intrinsic,
                                               cloneAll(i.args, locals));
  c->weighted = i.weighted;
  c->bitwidth = i.bitwidth;
  c->secureRange = i.secureRange;
  c->dp = i.dp;
  c->function = i.function;
  c->accumulate = i.accumulate;
  c->merge = i.merge;
  c->report = i.report;
  return c;
}

} // namespace

ExprPtr cloneExpr(const Expr &e, const LocalMap &locals) {
  ExprPtr out;
  switch (e.kind()) {
  case Expr::Kind::Literal:
    out = cloneLiteral(cast<LiteralExpr>(e));
    break;
  case Expr::Kind::LocalRef:
  case Expr::Kind::ConstRef:
  case Expr::Kind::FunctionRef:
  case Expr::Kind::PlacementRef:
    out = cloneRef(cast<RefExpr>(e), locals);
    break;
  case Expr::Kind::IntrinsicCall:
    out = cloneIntrinsicCall(cast<IntrinsicCallExpr>(e), locals);
    break;
  case Expr::Kind::Unary: {
    const auto &u = cast<UnaryExpr>(e);
    out = std::make_unique<UnaryExpr>(u.type, u.range, u.op,
                                      cloneExpr(*u.operand, locals));
    break;
  }
  case Expr::Kind::Binary: {
    const auto &b = cast<BinaryExpr>(e);
    out = std::make_unique<BinaryExpr>(b.type, b.range, b.op,
                                       cloneExpr(*b.lhs, locals),
                                       cloneExpr(*b.rhs, locals));
    break;
  }
  case Expr::Kind::Call: {
    const auto &c = cast<CallExpr>(e);
    out = std::make_unique<CallExpr>(c.type, c.range, c.callee,
                                     cloneAll(c.args, locals));
    break;
  }
  case Expr::Kind::BuiltinCall: {
    const auto &b = cast<BuiltinCallExpr>(e);
    auto c = std::make_unique<BuiltinCallExpr>(b.type, b.range, b.builtin,
                                               cloneAll(b.args, locals));
    c->axis = b.axis;
    c->typeArg = b.typeArg;
    c->window = b.window;
    out = std::move(c);
    break;
  }
  case Expr::Kind::Cast: {
    const auto &c = cast<CastExpr>(e);
    out = std::make_unique<CastExpr>(c.type, c.range,
                                     cloneExpr(*c.operand, locals));
    break;
  }
  case Expr::Kind::Index: {
    const auto &i = cast<IndexExpr>(e);
    out =
        std::make_unique<IndexExpr>(i.type, i.range, cloneExpr(*i.base, locals),
                                    cloneAll(i.indices, locals));
    break;
  }
  case Expr::Kind::Member: {
    const auto &m = cast<MemberExpr>(e);
    out = std::make_unique<MemberExpr>(
        m.type, m.range, cloneExpr(*m.base, locals), m.index, m.name);
    break;
  }
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral: {
    const auto &a = cast<AggregateExpr>(e);
    out = std::make_unique<AggregateExpr>(e.kind(), a.type, a.range,
                                          cloneAll(a.elements, locals));
    break;
  }
  case Expr::Kind::Error:
    out = std::make_unique<ErrorExpr>(e.type, e.range);
    break;
  }
  out->placementOrigin = e.placementOrigin;
  return out;
}

} // namespace fedc::sema
