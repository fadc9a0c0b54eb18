#include "lsp/Lookup.h"

#include <llvm/Support/Casting.h>

namespace fedc::lsp {

using llvm::cast;
using llvm::dyn_cast;
using llvm::dyn_cast_or_null;
using namespace sema;

namespace {

bool contains(SourceRange r, SourceLoc loc) {
  return r.isValid() && !(loc < r.begin) && loc < r.end;
}

// Walks one function body; `found` ends as the innermost match.
class Finder {
public:
  Finder(SourceLoc loc, Found &found) : loc_(loc), found_(found) {}

  void local(const Local *l) {
    if (l && contains(l->range, loc_)) {
      found_.local = l;
      found_.expr = nullptr;
      found_.range = l->range;
    }
  }

  void expr(const Expr *e) {
    if (!e || !contains(e->range, loc_))
      return;
    found_.expr = e;
    found_.local = nullptr;
    found_.range = e->range;
    switch (e->kind()) {
    case Expr::Kind::Unary:
      return expr(cast<UnaryExpr>(e)->operand.get());
    case Expr::Kind::Binary:
      expr(cast<BinaryExpr>(e)->lhs.get());
      return expr(cast<BinaryExpr>(e)->rhs.get());
    case Expr::Kind::Call:
      return exprs(cast<CallExpr>(e)->args);
    case Expr::Kind::BuiltinCall:
      return exprs(cast<BuiltinCallExpr>(e)->args);
    case Expr::Kind::IntrinsicCall:
      return exprs(cast<IntrinsicCallExpr>(e)->args);
    case Expr::Kind::Cast:
      return expr(cast<CastExpr>(e)->operand.get());
    case Expr::Kind::Index:
      expr(cast<IndexExpr>(e)->base.get());
      return exprs(cast<IndexExpr>(e)->indices);
    case Expr::Kind::Member:
      return expr(cast<MemberExpr>(e)->base.get());
    case Expr::Kind::StructLiteral:
    case Expr::Kind::TupleLiteral:
      return exprs(cast<AggregateExpr>(e)->elements);
    default:
      return; // literals, references, errors: leaves
    }
  }

  void stmt(const Stmt *s) {
    if (!s || !contains(s->range, loc_))
      return;
    switch (s->kind()) {
    case Stmt::Kind::Block:
      for (const StmtPtr &b : cast<BlockStmt>(s)->body)
        stmt(b.get());
      return;
    case Stmt::Kind::Let: {
      // Anywhere on `let x = ` but the value: the binding.
      const auto *let = cast<LetStmt>(s);
      if (!let->init || !contains(let->init->range, loc_)) {
        found_ = Found{found_.function, nullptr, let->local,
                       let->local ? let->local->range : s->range};
        return;
      }
      return expr(let->init.get());
    }
    case Stmt::Kind::Assign:
      expr(cast<AssignStmt>(s)->target.get());
      return expr(cast<AssignStmt>(s)->value.get());
    case Stmt::Kind::If: {
      const auto *i = cast<IfStmt>(s);
      for (const auto &[condition, body] : i->branches) {
        expr(condition.get());
        stmt(body.get());
      }
      return stmt(i->elseBody.get());
    }
    case Stmt::Kind::ForRange: {
      const auto *f = cast<ForRangeStmt>(s);
      local(f->var);
      expr(f->lo.get());
      expr(f->hi.get());
      return stmt(f->body.get());
    }
    case Stmt::Kind::ForEach: {
      const auto *f = cast<ForEachStmt>(s);
      local(f->var);
      expr(f->iterable.get());
      return stmt(f->body.get());
    }
    case Stmt::Kind::While:
      expr(cast<WhileStmt>(s)->condition.get());
      return stmt(cast<WhileStmt>(s)->body.get());
    case Stmt::Kind::Return:
      return expr(cast<ReturnStmt>(s)->value.get());
    case Stmt::Kind::Expr:
      return expr(cast<ExprStmt>(s)->expr.get());
    }
  }

private:
  void exprs(const std::vector<ExprPtr> &list) {
    for (const ExprPtr &e : list)
      expr(e.get());
  }

  SourceLoc loc_;
  Found &found_;
};

std::string typeText(const Type *t) { return t ? formatType(t) : "?"; }

// The struct a value of type `t` is (through a placement or a batch view).
const StructType *structOf(const Type *t) {
  if (const auto *p = dyn_cast_or_null<PlacedType>(t))
    t = p->member;
  const auto *s = dyn_cast_or_null<StructType>(t);
  if (s && !s->decl && s->batchOf)
    s = dyn_cast<StructType>(s->batchOf);
  return s && s->decl ? s : nullptr;
}

} // namespace

Found findAt(const Program &program, SourceLoc loc) {
  for (const auto &fn : program.functions) {
    if (!fn->body)
      continue;
    Found found;
    found.function = fn.get();
    Finder finder(loc, found);
    for (const Local *p : fn->params)
      finder.local(p);
    finder.stmt(fn->body.get());
    if (found)
      return found;
  }
  return {};
}

std::string describeLocal(const Local &local) {
  const char *kind = local.kind == Local::Kind::Param     ? ""
                     : local.kind == Local::Kind::LoopVar ? "for "
                     : local.isMutable                    ? "var "
                                                          : "let ";
  return kind + local.name + ": " + typeText(local.type);
}

std::string describeFunction(const Function &fn) {
  std::string text = fn.isFederated ? "federated fn " : "fn ";
  text += fn.name + "(";
  for (size_t i = 0; i < fn.params.size(); ++i)
    text += (i ? ", " : "") + fn.params[i]->name + ": " +
            typeText(fn.params[i]->type);
  return text + ") -> " + typeText(fn.result);
}

SourceRange declarationOf(const Found &found) {
  if (found.local)
    return found.local->range;
  const Expr *e = found.expr;
  if (!e)
    return {};
  if (const auto *ref = dyn_cast<RefExpr>(e)) {
    if (ref->local)
      return ref->local->range;
    if (ref->constant)
      return ref->constant->range;
    if (ref->function && ref->function->decl)
      return ref->function->decl->name.range;
    if (ref->fnDecl)
      return ref->fnDecl->name.range;
    return {};
  }
  if (const auto *call = dyn_cast<CallExpr>(e))
    return call->callee && call->callee->decl ? call->callee->decl->name.range
                                              : SourceRange();
  if (const auto *member = dyn_cast<MemberExpr>(e)) {
    const StructType *s = structOf(member->base->type);
    if (s && member->index >= 0 &&
        static_cast<size_t>(member->index) < s->decl->fields.size())
      return s->decl->fields[member->index].name.range;
    return {};
  }
  if (e->kind() == Expr::Kind::StructLiteral)
    if (const StructType *s = structOf(e->type))
      return s->decl->name.range;
  return {};
}

} // namespace fedc::lsp
