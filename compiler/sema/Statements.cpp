// Statements of local fns (bindings, assignment, control flow, returns on
// every path) and the dataflow-only body of federated fns.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

const char *describeStatement(const ast::Stmt &s) {
  switch (s.kind()) {
  case ast::Stmt::Kind::Let:
    return cast<ast::LetStmt>(s).isMutable ? "a 'var' binding" : "a binding";
  case ast::Stmt::Kind::Assign:
    return "an assignment";
  case ast::Stmt::Kind::If:
    return "an 'if'";
  case ast::Stmt::Kind::ForRange:
  case ast::Stmt::Kind::ForEach:
    return "a 'for' loop";
  case ast::Stmt::Kind::While:
    return "a 'while' loop";
  case ast::Stmt::Kind::Return:
    return "a second 'return'";
  case ast::Stmt::Kind::Block:
    return "a nested block";
  case ast::Stmt::Kind::Expr:
    return "an expression statement";
  }
  return "this statement";
}

void collect(const ast::Stmt &s, std::map<std::string, SourceRange> &out) {
  auto note = [&](const ast::Ident &id) { out.emplace(id.name, id.range); };
  switch (s.kind()) {
  case ast::Stmt::Kind::Let:
    note(cast<ast::LetStmt>(s).name);
    return;
  case ast::Stmt::Kind::Block:
    for (const ast::StmtPtr &c : cast<ast::BlockStmt>(s).body)
      collect(*c, out);
    return;
  case ast::Stmt::Kind::If: {
    const auto &i = cast<ast::IfStmt>(s);
    for (const ast::IfStmt::Branch &b : i.branches)
      collect(*b.body, out);
    if (i.elseBody)
      collect(*i.elseBody, out);
    return;
  }
  case ast::Stmt::Kind::ForRange:
    note(cast<ast::ForRangeStmt>(s).var);
    collect(*cast<ast::ForRangeStmt>(s).body, out);
    return;
  case ast::Stmt::Kind::ForEach:
    note(cast<ast::ForEachStmt>(s).var);
    collect(*cast<ast::ForEachStmt>(s).body, out);
    return;
  case ast::Stmt::Kind::While:
    collect(*cast<ast::WhileStmt>(s).body, out);
    return;
  default:
    return;
  }
}

// The variable an assignment target writes: x, x[i], x.f, x.f[i] ...
const Local *assignedLocal(const Expr &target) {
  const Expr *e = &target;
  for (;;) {
    if (const auto *i = dyn_cast<IndexExpr>(e))
      e = i->base.get();
    else if (const auto *m = dyn_cast<MemberExpr>(e))
      e = m->base.get();
    else
      break;
  }
  const auto *ref = dyn_cast<RefExpr>(e);
  return ref && ref->kind() == Expr::Kind::LocalRef ? ref->local : nullptr;
}

} // namespace

void Checker::collectBindings(const ast::BlockStmt &b) {
  collect(b, current_->laterBindings);
}

bool Checker::alwaysReturns(const BlockStmt &b) const {
  for (const StmtPtr &s : b.body) {
    if (isa<ReturnStmt>(*s))
      return true;
    if (const auto *block = dyn_cast<BlockStmt>(s.get());
        block && alwaysReturns(*block))
      return true;
    if (const auto *i = dyn_cast<IfStmt>(s.get()); i && i->elseBody) {
      bool all = alwaysReturns(*i->elseBody);
      for (const auto &[condition, body] : i->branches)
        all = all && alwaysReturns(*body);
      if (all)
        return true;
    }
  }
  return false;
}

std::unique_ptr<BlockStmt> Checker::checkBlock(const ast::BlockStmt &b) {
  auto block = std::make_unique<BlockStmt>(b.range());
  current_->scopes.emplace_back();
  bool returned = false;
  for (const ast::StmtPtr &s : b.body) {
    if (inFederated()) {
      bool allowed = (s->kind() == ast::Stmt::Kind::Let &&
                      !cast<ast::LetStmt>(*s).isMutable) ||
                     (s->kind() == ast::Stmt::Kind::Return && !returned);
      if (!allowed) {
        diags_.report(s->range(), DiagId::StatementInFederatedFn)
            .arg(describeStatement(*s));
        continue;
      }
      returned |= s->kind() == ast::Stmt::Kind::Return;
    }
    block->body.push_back(checkStmt(*s));
  }
  current_->scopes.pop_back();
  return block;
}

ExprPtr Checker::checkCondition(const ast::Expr &e) {
  ExprPtr c = check(e);
  const auto *t = dyn_cast<TensorType>(c->type);
  if (!containsError(c->type) && !(t && t->isScalar() && t->isBool()))
    diags_.report(c->range, DiagId::ConditionNotBool).arg(formatType(c->type));
  return c;
}

StmtPtr Checker::checkStmt(const ast::Stmt &s) {
  switch (s.kind()) {
  case ast::Stmt::Kind::Let:
    return checkLet(cast<ast::LetStmt>(s));
  case ast::Stmt::Kind::Assign:
    return checkAssign(cast<ast::AssignStmt>(s));
  case ast::Stmt::Kind::If: {
    const auto &i = cast<ast::IfStmt>(s);
    auto out = std::make_unique<IfStmt>(s.range());
    for (const ast::IfStmt::Branch &b : i.branches) {
      ExprPtr c = checkCondition(*b.condition);
      out->branches.emplace_back(std::move(c), checkBlock(*b.body));
    }
    if (i.elseBody)
      out->elseBody = checkBlock(*i.elseBody);
    return out;
  }
  case ast::Stmt::Kind::ForRange:
  case ast::Stmt::Kind::ForEach:
    return checkFor(s);
  case ast::Stmt::Kind::While: {
    const auto &w = cast<ast::WhileStmt>(s);
    auto out = std::make_unique<WhileStmt>(s.range());
    out->condition = checkCondition(*w.condition);
    out->body = checkBlock(*w.body);
    return out;
  }
  case ast::Stmt::Kind::Return:
    return checkReturn(cast<ast::ReturnStmt>(s));
  case ast::Stmt::Kind::Block:
    return checkBlock(cast<ast::BlockStmt>(s));
  case ast::Stmt::Kind::Expr: {
    ExprPtr e = check(*cast<ast::ExprStmt>(s).expr);
    // Local fns are pure: a value nobody uses is computed for nothing.
    if (!containsError(e->type))
      diags_.report(e->range, DiagId::UnusedResult);
    return std::make_unique<ExprStmt>(s.range(), std::move(e));
  }
  }
  return std::make_unique<BlockStmt>(s.range());
}

StmtPtr Checker::checkLet(const ast::LetStmt &s) {
  ExprPtr init = check(*s.init);
  const Type *type = init->type;
  if (s.type) {
    const Type *declared =
        resolveType(*s.type, current_->bindings,
                    inFederated() ? TypeUse::Federated : TypeUse::Local);
    expectType(init, declared, "'" + s.name.name + "'");
    type = declared;
  } else if (isa<PlacementLiteralType>(type)) {
    diags_.report(init->range, DiagId::PlacementNotAValue)
        .arg(placementSpelling(*init));
    type = types_.error();
  } else if (init->kind() == Expr::Kind::FunctionRef) {
    diags_.report(init->range, DiagId::NotAValue)
        .arg(cast<RefExpr>(*init).fnDecl->name.name)
        .arg("a function");
    type = types_.error();
  }
  if (auto *lit = dyn_cast<LiteralExpr>(init.get()))
    lit->adaptable = false; // a bound literal has its type from now on
  Local *local = bindLocal(s.name, type, s.isMutable);
  local->placementOrigin = init->placementOrigin;
  return std::make_unique<LetStmt>(s.range(), local, std::move(init));
}

StmtPtr Checker::checkAssign(const ast::AssignStmt &s) {
  ExprPtr target = check(*s.target);
  ExprPtr value = check(*s.value);
  auto out = [&] {
    return std::make_unique<AssignStmt>(s.range(), s.op, std::move(target),
                                        std::move(value));
  };
  if (containsError(target->type))
    return out();
  const Local *local = assignedLocal(*target);
  if (!local) {
    diags_.report(target->range, DiagId::NotAssignable);
    return out();
  }
  if (!local->isMutable) {
    diags_.report(target->range, DiagId::AssignToImmutable)
        .arg(local->name)
        .arg(local->kind == Local::Kind::Param ? "parameters are immutable; "
                                                 "copy it into a 'var' first"
             : local->kind == Local::Kind::LoopVar
                 ? "loop variables are immutable"
                 : "it is declared with 'let'");
    if (local->kind == Local::Kind::Binding)
      diags_.report(local->range, DiagId::NoteDeclareWithVar);
    return out();
  }
  if (s.op == ast::AssignOp::Assign) {
    expectType(value, target->type, "assignment to '" + local->name + "'");
    return out();
  }
  if (containsError(value->type))
    return out();
  ast::BinaryOp op = ast::compoundOperator(s.op);
  ExprPtr current = check(*s.target);
  const Type *result =
      arithmeticResult(op, current, value, s.range(), s.range().begin);
  if (!result->isError() && !assignable(result, target->type))
    diags_.report(s.range(), DiagId::TypeMismatch)
        .arg(std::string("result of '") + ast::assignOpSpelling(s.op) + "'")
        .arg(formatType(target->type))
        .arg(formatType(result));
  return out();
}

StmtPtr Checker::checkFor(const ast::Stmt &s) {
  current_->scopes.emplace_back();
  StmtPtr result;
  if (const auto *r = dyn_cast<ast::ForRangeStmt>(&s)) {
    auto out = std::make_unique<ForRangeStmt>(s.range());
    out->lo = check(*r->lo);
    out->hi = check(*r->hi);
    adapt(out->lo, out->hi->type);
    adapt(out->hi, out->lo->type);
    const Type *t = out->lo->type;
    const auto *tensor = dyn_cast<TensorType>(t);
    if (!containsError(t) &&
        !(tensor && tensor->isScalar() && tensor->isInteger())) {
      diags_.report(out->lo->range, DiagId::TypeMismatch)
          .arg("range start")
          .arg("an integer scalar")
          .arg(formatType(t));
      t = types_.error();
    } else {
      expectType(out->hi, t, "range end");
    }
    out->var = bindLocal(r->var, t, false, Local::Kind::LoopVar);
    out->body = checkBlock(*r->body);
    result = std::move(out);
  } else {
    const auto &f = cast<ast::ForEachStmt>(s);
    auto out = std::make_unique<ForEachStmt>(s.range());
    forIterable_ = f.iterable.get();
    out->iterable = check(*f.iterable);
    forIterable_ = nullptr;
    const Type *element = types_.error();
    if (const auto *seq = dyn_cast<SeqType>(out->iterable->type))
      element = seq->element;
    else if (!containsError(out->iterable->type))
      diags_.report(out->iterable->range, DiagId::NotASequence)
          .arg(formatType(out->iterable->type));
    out->var = bindLocal(f.var, element, false, Local::Kind::LoopVar);
    out->body = checkBlock(*f.body);
    result = std::move(out);
  }
  current_->scopes.pop_back();
  return result;
}

StmtPtr Checker::checkReturn(const ast::ReturnStmt &s) {
  const Function &fn = *current_->fn;
  const auto *unit = dyn_cast<TupleType>(fn.result);
  bool returnsUnit = unit && unit->isUnit();
  if (!s.value) {
    if (!returnsUnit && !fn.result->isError())
      diags_.report(s.range(), DiagId::TypeMismatch)
          .arg("return value of '" + fn.decl->name.name + "'")
          .arg(formatType(fn.result))
          .arg("nothing");
    return std::make_unique<ReturnStmt>(s.range(), nullptr);
  }
  ExprPtr value = check(*s.value);
  if (returnsUnit && value->type != fn.result) {
    diags_.report(value->range, DiagId::ReturnValueInUnitFn)
        .arg(fn.decl->name.name);
  } else {
    expectType(value, fn.result,
               "return value of '" + fn.decl->name.name + "'");
  }
  return std::make_unique<ReturnStmt>(s.range(), std::move(value));
}

} // namespace fedc::sema
