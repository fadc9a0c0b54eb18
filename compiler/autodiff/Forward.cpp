// The forward sweep (ReverseMode.h): the primal body copied into the
// adjoint in SSA form. Every `let` and every update of a `var` binds a new
// immutable local; an `if` or a loop binds the vars it assigns to a `var`
// (a Join) stored at the end of each arm or iteration. Calls of local fns
// are inlined. Operands that the reverse sweep reads are bound to `let`s,
// the rest of an expression stays one tree, so code generation still fuses
// it (`relu(x @ w + b)` stays one GEMM with a fused epilogue).
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;
using sema::Builtin;
using sema::Expr;

namespace {

void addOnce(std::vector<const sema::Local *> &out, const sema::Local *l) {
  if (std::find(out.begin(), out.end(), l) == out.end())
    out.push_back(l);
}

bool containsReturn(const sema::Stmt &s, const sema::Stmt **where) {
  switch (s.kind()) {
  case sema::Stmt::Kind::Return:
    *where = &s;
    return true;
  case sema::Stmt::Kind::Block:
    for (const sema::StmtPtr &c : cast<sema::BlockStmt>(s).body)
      if (containsReturn(*c, where))
        return true;
    return false;
  case sema::Stmt::Kind::If: {
    const auto &i = cast<sema::IfStmt>(s);
    for (const auto &[cond, body] : i.branches)
      if (containsReturn(*body, where))
        return true;
    return i.elseBody && containsReturn(*i.elseBody, where);
  }
  case sema::Stmt::Kind::ForRange:
    return containsReturn(*cast<sema::ForRangeStmt>(s).body, where);
  case sema::Stmt::Kind::ForEach:
    return containsReturn(*cast<sema::ForEachStmt>(s).body, where);
  case sema::Stmt::Kind::While:
    return containsReturn(*cast<sema::WhileStmt>(s).body, where);
  default:
    return false;
  }
}

} // namespace

bool ReverseMode::returnsOnlyAtEnd(const sema::Function &fn,
                                   const sema::Stmt **offending) {
  const auto &body = fn.body->body;
  if (body.empty() || !isa<sema::ReturnStmt>(*body.back()) ||
      !cast<sema::ReturnStmt>(*body.back()).value) {
    *offending = body.empty() ? nullptr : body.back().get();
    if (!*offending)
      return false;
    containsReturn(**offending, offending);
    return false;
  }
  for (size_t i = 0; i + 1 < body.size(); ++i)
    if (containsReturn(*body[i], offending))
      return false;
  return true;
}

const sema::Local *ReverseMode::rootLocal(const Expr &target) {
  const Expr *e = &target;
  while (true) {
    if (const auto *m = dyn_cast<sema::MemberExpr>(e))
      e = m->base.get();
    else if (const auto *i = dyn_cast<sema::IndexExpr>(e))
      e = i->base.get();
    else
      break;
  }
  return cast<sema::RefExpr>(*e).local;
}

void ReverseMode::assignedIn(const sema::Stmt &s,
                             std::vector<const sema::Local *> &out) {
  switch (s.kind()) {
  case sema::Stmt::Kind::Assign:
    addOnce(out, rootLocal(*cast<sema::AssignStmt>(s).target));
    break;
  case sema::Stmt::Kind::Block:
    for (const sema::StmtPtr &c : cast<sema::BlockStmt>(s).body)
      assignedIn(*c, out);
    break;
  case sema::Stmt::Kind::If: {
    const auto &i = cast<sema::IfStmt>(s);
    for (const auto &[cond, body] : i.branches)
      assignedIn(*body, out);
    if (i.elseBody)
      assignedIn(*i.elseBody, out);
    break;
  }
  case sema::Stmt::Kind::ForRange:
    assignedIn(*cast<sema::ForRangeStmt>(s).body, out);
    break;
  case sema::Stmt::Kind::ForEach:
    assignedIn(*cast<sema::ForEachStmt>(s).body, out);
    break;
  case sema::Stmt::Kind::While:
    assignedIn(*cast<sema::WhileStmt>(s).body, out);
    break;
  default:
    break;
  }
}

void ReverseMode::assignedInArm(const sema::IfStmt &s, size_t branch,
                                bool thenArm,
                                std::vector<const sema::Local *> &out) {
  if (thenArm) {
    assignedIn(*s.branches[branch].second, out);
    return;
  }
  for (size_t k = branch + 1; k < s.branches.size(); ++k)
    assignedIn(*s.branches[k].second, out);
  if (s.elseBody)
    assignedIn(*s.elseBody, out);
}

void ReverseMode::emitLet(const sema::Local *l, ExprPtr init, bool record) {
  if (isActive(*init))
    active_.insert(l);
  const Expr *value = init.get();
  emit(std::make_unique<sema::LetStmt>(b_.at, l, std::move(init)));
  if (record && records_) {
    Record r;
    r.kind = Record::Kind::Let;
    r.local = l;
    r.init = value;
    records_->push_back(std::move(r));
  }
}

const sema::Local *ReverseMode::materialize(ExprPtr e,
                                            const std::string &name) {
  if (const auto *r = dyn_cast<sema::RefExpr>(e.get());
      r && e->kind() == Expr::Kind::LocalRef)
    return r->local;
  const sema::Local *l = newLocal(name, e->type, false);
  emitLet(l, std::move(e));
  return l;
}

ExprPtr ReverseMode::bind(ExprPtr e, const std::string &name) {
  if (isTrivial(*e))
    return e;
  return b_.ref(materialize(std::move(e), name));
}

std::vector<Join>
ReverseMode::joinsOf(const std::vector<const sema::Local *> &assigned) {
  std::vector<Join> joins;
  for (const sema::Local *x : assigned) {
    auto it = env_.find(x);
    if (it == env_.end())
      continue; // declared inside the construct
    const sema::Local *prev = it->second;
    const sema::Local *joined = newLocal(x->name, x->type, true);
    emitLet(joined, b_.ref(prev));
    env_[x] = joined;
    joins.push_back({x, prev, joined});
  }
  return joins;
}

void ReverseMode::forwardBlock(const sema::BlockStmt &b) {
  for (const sema::StmtPtr &s : b.body)
    forwardStmt(*s);
}

void ReverseMode::forwardStmt(const sema::Stmt &s) {
  switch (s.kind()) {
  case sema::Stmt::Kind::Let: {
    const auto &let = cast<sema::LetStmt>(s);
    ExprPtr value = forwardExpr(*let.init);
    const sema::Local *l = newLocal(let.local->name, let.local->type, false);
    emitLet(l, std::move(value));
    env_[let.local] = l;
    break;
  }
  case sema::Stmt::Kind::Assign:
    forwardAssign(cast<sema::AssignStmt>(s));
    break;
  case sema::Stmt::Kind::If:
    forwardIf(cast<sema::IfStmt>(s), 0);
    break;
  case sema::Stmt::Kind::ForRange:
  case sema::Stmt::Kind::ForEach:
    forwardLoop(s);
    break;
  case sema::Stmt::Kind::While:
    notDifferentiable(s.range, "a 'while' loop",
                      ": its number of iterations is known only when it "
                      "ends; write it as 'for i in 0..n'");
    break;
  case sema::Stmt::Kind::Block:
    forwardBlock(cast<sema::BlockStmt>(s));
    break;
  case sema::Stmt::Kind::Return:
    notDifferentiable(s.range, "a 'return' inside a block");
    break;
  case sema::Stmt::Kind::Expr:
    break; // local code is pure: an unused value changes nothing
  }
}

void ReverseMode::forwardAssign(const sema::AssignStmt &s) {
  const sema::Local *x = rootLocal(*s.target);
  const sema::Local *current = env_.at(x);
  ExprPtr value = forwardExpr(*s.value);
  ast::BinaryOp op = ast::compoundOperator(s.op);
  bool compound = s.op != ast::AssignOp::Assign;
  if (compound && (op == ast::BinaryOp::Mul || op == ast::BinaryOp::Div ||
                   needsOutput(*value)))
    value = bind(std::move(value), "t");
  // The chain of fields from x to the target; an element makes it null.
  std::vector<int> path;
  bool element = false;
  for (const Expr *e = s.target.get(); !isa<sema::RefExpr>(e);) {
    if (const auto *m = dyn_cast<sema::MemberExpr>(e)) {
      path.insert(path.begin(), m->index);
      e = m->base.get();
    } else {
      element = true;
      e = cast<sema::IndexExpr>(*e).base.get();
    }
  }
  if (element) {
    if (isActive(*value) || isActive(current)) {
      notDifferentiable(s.target->range,
                        "an assignment to an element of '" + x->name + "'",
                        ": build the tensor with whole-tensor operations");
      return;
    }
    // Not differentiated: a var updated in place, as written.
    sema::Local *copy = newLocal(x->name, x->type, true);
    emitLet(copy, b_.ref(current), false);
    env_[x] = copy;
    emit(std::make_unique<sema::AssignStmt>(
        s.range, s.op, forwardExpr(*s.target), std::move(value)));
    return;
  }
  // Rebuild x with the field at `path` replaced.
  std::function<ExprPtr(ExprPtr, size_t)> rebuild = [&](ExprPtr base,
                                                        size_t depth) {
    if (depth == path.size()) {
      if (!compound)
        return std::move(value);
      return b_.binary(op, std::move(base), std::move(value));
    }
    const sema::Type *t = base->type;
    size_t n = isa<sema::StructType>(t)
                   ? cast<sema::StructType>(t)->fields.size()
                   : cast<sema::TupleType>(t)->elements.size();
    std::vector<ExprPtr> fields;
    for (size_t i = 0; i < n; ++i) {
      ExprPtr f = b_.member(clone(*base), static_cast<int>(i));
      fields.push_back(static_cast<int>(i) == path[depth]
                           ? rebuild(std::move(f), depth + 1)
                           : std::move(f));
    }
    return b_.aggregate(t, std::move(fields));
  };
  ExprPtr next = rebuild(b_.ref(current), 0);
  const sema::Local *l = newLocal(x->name, x->type, false);
  emitLet(l, std::move(next));
  env_[x] = l;
}

void ReverseMode::forwardArm(const sema::IfStmt &s, size_t branch,
                             bool thenArm) {
  if (thenArm)
    forwardBlock(*s.branches[branch].second);
  else if (branch + 1 < s.branches.size())
    forwardIf(s, branch + 1);
  else if (s.elseBody)
    forwardBlock(*s.elseBody);
}

void ReverseMode::forwardIf(const sema::IfStmt &s, size_t branch) {
  const sema::Local *cond =
      materialize(forwardExpr(*s.branches[branch].first), "cond");
  std::vector<const sema::Local *> assigned;
  assignedInArm(s, branch, true, assigned);
  assignedInArm(s, branch, false, assigned);
  std::vector<Join> joins = joinsOf(assigned);
  Env entry = env_;
  std::vector<Record> *outer = records_;
  // A join is active when either arm makes it so: retry until stable.
  for (size_t attempt = 0;; ++attempt) {
    std::unique_ptr<sema::BlockStmt> arms[2];
    bool changed = false;
    for (int k = 0; k < 2; ++k) {
      arms[k] = std::make_unique<sema::BlockStmt>(s.range);
      std::vector<Record> scratch;
      records_ = &scratch;
      pushFrame(arms[k].get());
      env_ = entry;
      forwardArm(s, branch, k == 0);
      for (const Join &j : joins) {
        const sema::Local *end = env_.at(j.primal);
        if (end == j.joined)
          continue;
        if (isActive(end) && !isActive(j.joined)) {
          active_.insert(j.joined);
          changed = true;
        }
        emit(std::make_unique<sema::AssignStmt>(s.range, ast::AssignOp::Assign,
                                                b_.ref(j.joined), b_.ref(end)));
      }
      frames_.pop_back();
    }
    records_ = outer;
    if (changed && attempt <= joins.size())
      continue;
    auto out = std::make_unique<sema::IfStmt>(s.range);
    out->branches.emplace_back(b_.ref(cond), std::move(arms[0]));
    out->elseBody = std::move(arms[1]);
    emit(std::move(out));
    break;
  }
  env_ = entry;
  Record r;
  r.kind = Record::Kind::If;
  r.ifStmt = &s;
  r.branch = branch;
  r.cond = cond;
  r.entry = entry;
  r.joins = joins;
  r.owner = primal_;
  records_->push_back(std::move(r));
}

void ReverseMode::forwardLoopBody(const sema::Stmt &s, const sema::Local *var) {
  if (const auto *fr = dyn_cast<sema::ForRangeStmt>(&s)) {
    env_[fr->var] = var;
    forwardBlock(*fr->body);
  } else {
    const auto &fe = cast<sema::ForEachStmt>(s);
    env_[fe.var] = var;
    forwardBlock(*fe.body);
  }
}

void ReverseMode::forwardLoop(const sema::Stmt &s) {
  const auto *fr = dyn_cast<sema::ForRangeStmt>(&s);
  const auto *fe = dyn_cast<sema::ForEachStmt>(&s);
  const sema::Local *lo = nullptr, *hi = nullptr;
  if (fr) {
    lo = materialize(forwardExpr(*fr->lo), "lo");
    hi = materialize(forwardExpr(*fr->hi), "hi");
  }
  const sema::Local *primalVar = fr ? fr->var : fe->var;
  const sema::BlockStmt &primalBody = fr ? *fr->body : *fe->body;
  std::vector<const sema::Local *> assigned;
  assignedIn(primalBody, assigned);
  std::vector<Join> joins = joinsOf(assigned);
  Env entry = env_;
  std::vector<Record> *outer = records_;
  Record taped; // its tapes, when the loop needs them
  for (size_t attempt = 0;; ++attempt) {
    auto body = std::make_unique<sema::BlockStmt>(s.range);
    std::vector<Record> scratch;
    records_ = &scratch;
    pushFrame(body.get());
    env_ = entry;
    const sema::Local *var = newLocal(primalVar->name, primalVar->type, false,
                                      sema::Local::Kind::LoopVar);
    forwardLoopBody(s, var);
    bool changed = false;
    for (const Join &j : joins) {
      const sema::Local *end = env_.at(j.primal);
      if (end == j.joined)
        continue;
      if (isActive(end) && !isActive(j.joined)) {
        active_.insert(j.joined);
        changed = true;
      }
      emit(std::make_unique<sema::AssignStmt>(s.range, ast::AssignOp::Assign,
                                              b_.ref(j.joined), b_.ref(end)));
    }
    frames_.pop_back();
    records_ = outer;
    if (changed && attempt <= joins.size())
      continue;
    env_ = entry;
    if (fr)
      tapeLoop(*fr, joins, var, lo, hi, *body, taped);
    if (fr) {
      auto loop = std::make_unique<sema::ForRangeStmt>(s.range);
      loop->var = var;
      loop->lo = b_.ref(lo);
      loop->hi = b_.ref(hi);
      loop->body = std::move(body);
      emit(std::move(loop));
    } else {
      auto loop = std::make_unique<sema::ForEachStmt>(s.range);
      loop->var = var;
      loop->iterable = forwardExpr(*fe->iterable);
      loop->body = std::move(body);
      emit(std::move(loop));
    }
    break;
  }
  env_ = entry;
  Record r;
  r.kind = Record::Kind::Loop;
  r.loop = &s;
  r.lo = lo;
  r.hi = hi;
  r.entry = entry;
  r.joins = joins;
  r.owner = primal_;
  r.tapes = taped.tapes;
  r.trips = taped.trips;
  records_->push_back(std::move(r));
}

void ReverseMode::tensorLeaves(const Type *t, std::vector<int> &path,
                               std::vector<Leaf> &out) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    out.emplace_back(path, tensor);
    return;
  }
  std::vector<const Type *> parts;
  if (const auto *st = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : st->fields)
      parts.push_back(f.type);
  else if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    parts = tuple->elements;
  for (size_t k = 0; k < parts.size(); ++k) {
    path.push_back(static_cast<int>(k));
    tensorLeaves(parts[k], path, out);
    path.pop_back();
  }
}

void ReverseMode::tapeLoop(const sema::ForRangeStmt &s,
                           const std::vector<Join> &joins,
                           const sema::Local *var, const sema::Local *lo,
                           const sema::Local *hi, sema::BlockStmt &body,
                           Record &r) {
  std::set<const sema::Local *> carried;
  for (const Join &j : joins)
    if (isActive(j.joined) && containsFloat(j.primal->type))
      carried.insert(j.primal);
  if (carried.empty() || checkAccumulatingLoop(s, carried, /*report=*/false))
    return; // nothing to differentiate, or the loop's sum suffices
  for (const Join &j : joins)
    if (!hasStaticShape(j.primal->type))
      return; // a tape has fixed-size slots: reported by reverseLoop
  const auto *index = cast<sema::TensorType>(var->type);
  const sema::Local *trips = newLocal("trips", index, false);
  std::vector<ExprPtr> span;
  span.push_back(b_.binary(ast::BinaryOp::Sub, b_.ref(hi), b_.ref(lo)));
  span.push_back(b_.literal(0, index->element));
  emitLet(trips, b_.builtin(Builtin::Maximum, std::move(span), index), false);
  std::vector<sema::StmtPtr> writes;
  for (const Join &j : joins) {
    std::vector<Leaf> leaves;
    std::vector<int> path;
    tensorLeaves(j.primal->type, path, leaves);
    std::vector<const sema::Local *> tapes;
    for (const auto &[leafPath, t] : leaves) {
      std::vector<int64_t> dims = {sema::kDynamicDim};
      dims.insert(dims.end(), t->dims.begin(), t->dims.end());
      const Type *tapeType = b_.types.tensor(t->element, dims);
      std::vector<ExprPtr> n;
      n.push_back(b_.ref(trips));
      auto call = std::make_unique<sema::BuiltinCallExpr>(
          tapeType, b_.at, Builtin::Tape, std::move(n));
      call->typeArg = t;
      const sema::Local *tape =
          newLocal(j.primal->name + ".tape", tapeType, true);
      emitLet(tape, std::move(call), false);
      // tape[i - lo] = x.leaf, first in the body: the value the iteration
      // starts from.
      ExprPtr value = b_.ref(j.joined);
      for (int field : leafPath)
        value = b_.member(std::move(value), field);
      std::vector<ExprPtr> at;
      at.push_back(b_.binary(ast::BinaryOp::Sub, b_.ref(var), b_.ref(lo)));
      writes.push_back(std::make_unique<sema::AssignStmt>(
          b_.at, ast::AssignOp::Assign,
          std::make_unique<sema::IndexExpr>(t, b_.at, b_.ref(tape),
                                            std::move(at)),
          std::move(value)));
      tapes.push_back(tape);
    }
    r.tapes.push_back(std::move(tapes));
  }
  body.body.insert(body.body.begin(), std::make_move_iterator(writes.begin()),
                   std::make_move_iterator(writes.end()));
  r.trips = trips;
}

// ---------------------------------------------------------------------------
// Expressions

bool ReverseMode::needsOperand(const Expr &node, size_t index) const {
  switch (node.kind()) {
  case Expr::Kind::Binary: {
    ast::BinaryOp op = cast<sema::BinaryExpr>(node).op;
    return op == ast::BinaryOp::Mul || op == ast::BinaryOp::Div ||
           op == ast::BinaryOp::MatMul;
  }
  case Expr::Kind::Index:
  case Expr::Kind::Member:
    return true;
  case Expr::Kind::BuiltinCall: {
    const auto &call = cast<sema::BuiltinCallExpr>(node);
    switch (call.builtin) {
    case Builtin::Log:
    case Builtin::Abs:
    case Builtin::Pow:
    case Builtin::Minimum:
    case Builtin::Maximum:
    case Builtin::ReduceMax:
    case Builtin::ReduceMin:
    case Builtin::Norm:
    case Builtin::ClipByNorm:
    case Builtin::Dot:
      return true;
    case Builtin::Sum:
    case Builtin::Mean:
      return index == 0 && !hasStaticShape(call.args[0]->type);
    // The layers' adjoints read their operands (LayerRules.cpp): the
    // images, filter, ids and table; dropout's rate and seed.
    case Builtin::Conv2d:
    case Builtin::Embedding:
    case Builtin::Dropout:
      return true;
    case Builtin::MaxPool2d:
    case Builtin::AvgPool2d:
    case Builtin::LayerNorm:
      return index == 0;
    default:
      return false;
    }
  }
  default:
    return false;
  }
}

bool ReverseMode::needsOutput(const Expr &node) const {
  const auto *call = dyn_cast<sema::BuiltinCallExpr>(&node);
  if (!call || !isActive(node))
    return false;
  switch (call->builtin) {
  case Builtin::Exp:
  case Builtin::Sqrt:
  case Builtin::Tanh:
  case Builtin::Sigmoid:
  case Builtin::Relu:
  case Builtin::Softmax:
  case Builtin::LogSoftmax:
  case Builtin::ReduceMax:
  case Builtin::ReduceMin:
  case Builtin::Norm:
    return true;
  default:
    return false;
  }
}

ExprPtr ReverseMode::inlineCall(const sema::CallExpr &call) {
  const sema::Function &callee = *call.callee;
  const sema::Stmt *offending = nullptr;
  if (callee.adjointOf) {
    notDifferentiable(call.range, "a gradient inside the fn differentiated",
                      ": fedc computes first derivatives only");
    return std::make_unique<sema::ErrorExpr>(call.type, call.range);
  }
  if (!returnsOnlyAtEnd(callee, &offending) || ++inlineDepth_ > 64) {
    notDifferentiable(call.range, "the call of '" + callee.name + "'",
                      ", which returns from inside a block: assign its "
                      "result to a var and return it at the end");
    return std::make_unique<sema::ErrorExpr>(call.type, call.range);
  }
  std::vector<const sema::Local *> args;
  for (size_t i = 0; i < call.args.size(); ++i)
    args.push_back(
        materialize(forwardExpr(*call.args[i]), callee.params[i]->name));
  Env saved = std::move(env_);
  env_.clear();
  for (size_t i = 0; i < args.size(); ++i)
    env_[callee.params[i]] = args[i];
  const sema::Function *caller = primal_;
  primal_ = &callee;
  const auto &body = callee.body->body;
  for (size_t i = 0; i + 1 < body.size(); ++i)
    forwardStmt(*body[i]);
  ExprPtr result = forwardExpr(*cast<sema::ReturnStmt>(*body.back()).value);
  primal_ = caller;
  env_ = std::move(saved);
  --inlineDepth_;
  return result;
}

// Children first; then, if the node is active, the operands its adjoint
// reads (and interior nodes whose own adjoint reads their value) are bound
// to lets.
void ReverseMode::bindOperands(const Expr &e, std::vector<ExprPtr *> operands) {
  bool active = false;
  for (ExprPtr *c : operands)
    active = active || isActive(**c);
  if (!active)
    return;
  const auto *call = dyn_cast<sema::BuiltinCallExpr>(&e);
  bool shapeOnly =
      call && (call->builtin == Builtin::Sum || call->builtin == Builtin::Mean);
  for (size_t i = 0; i < operands.size(); ++i) {
    ExprPtr &c = *operands[i];
    bool needed = needsOperand(e, i) && !(shapeOnly && findLike(*c));
    if (!isTrivial(*c) && (needed || needsOutput(*c)))
      c = bind(std::move(c), "t");
  }
}

ExprPtr ReverseMode::forwardAccess(const Expr &e) {
  if (const auto *m = dyn_cast<sema::MemberExpr>(&e)) {
    ExprPtr base = forwardExpr(*m->base);
    if (isActive(*base) && !isTrivial(*base))
      base = bind(std::move(base), "t");
    return std::make_unique<sema::MemberExpr>(
        m->type, m->range, std::move(base), m->index, m->name);
  }
  const auto &i = cast<sema::IndexExpr>(e);
  ExprPtr base = forwardExpr(*i.base);
  std::vector<ExprPtr> indices;
  for (const ExprPtr &x : i.indices)
    indices.push_back(forwardExpr(*x));
  if (isActive(*base)) {
    base = bind(std::move(base), "t");
    for (ExprPtr &x : indices)
      x = bind(std::move(x), "i");
  }
  return std::make_unique<sema::IndexExpr>(i.type, i.range, std::move(base),
                                           std::move(indices));
}

ExprPtr ReverseMode::forwardExpr(const Expr &e) {
  switch (e.kind()) {
  case Expr::Kind::LocalRef: {
    auto it = env_.find(cast<sema::RefExpr>(e).local);
    if (it == env_.end())
      throw std::logic_error("autodiff: unbound local '" +
                             cast<sema::RefExpr>(e).local->name + "'");
    ExprPtr r = b_.ref(it->second);
    r->range = e.range;
    return r;
  }
  case Expr::Kind::Call:
    return inlineCall(cast<sema::CallExpr>(e));
  case Expr::Kind::Unary: {
    const auto &u = cast<sema::UnaryExpr>(e);
    ExprPtr x = forwardExpr(*u.operand);
    bindOperands(e, {&x});
    return std::make_unique<sema::UnaryExpr>(u.type, u.range, u.op,
                                             std::move(x));
  }
  case Expr::Kind::Binary: {
    const auto &bin = cast<sema::BinaryExpr>(e);
    ExprPtr lhs = forwardExpr(*bin.lhs), rhs = forwardExpr(*bin.rhs);
    bindOperands(e, {&lhs, &rhs});
    if (bin.op == ast::BinaryOp::Rem && (isActive(*lhs) || isActive(*rhs)))
      notDifferentiable(bin.range, "'%' on floating-point values",
                        ": it is not differentiable where it jumps");
    return std::make_unique<sema::BinaryExpr>(bin.type, bin.range, bin.op,
                                              std::move(lhs), std::move(rhs));
  }
  case Expr::Kind::BuiltinCall: {
    const auto &call = cast<sema::BuiltinCallExpr>(e);
    auto out = std::make_unique<sema::BuiltinCallExpr>(
        call.type, call.range, call.builtin, std::vector<ExprPtr>{});
    std::vector<ExprPtr *> operands;
    for (const ExprPtr &a : call.args)
      out->args.push_back(forwardExpr(*a));
    for (ExprPtr &a : out->args)
      operands.push_back(&a);
    bindOperands(e, operands);
    out->axis = call.axis;
    out->typeArg = call.typeArg;
    out->window = call.window;
    return out;
  }
  case Expr::Kind::Cast: {
    const auto &c = cast<sema::CastExpr>(e);
    ExprPtr x = forwardExpr(*c.operand);
    bindOperands(e, {&x});
    return std::make_unique<sema::CastExpr>(c.type, c.range, std::move(x));
  }
  case Expr::Kind::Index:
  case Expr::Kind::Member:
    return forwardAccess(e);
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral: {
    const auto &a = cast<sema::AggregateExpr>(e);
    auto out = std::make_unique<sema::AggregateExpr>(e.kind(), a.type, a.range,
                                                     std::vector<ExprPtr>{});
    std::vector<ExprPtr *> operands;
    for (const ExprPtr &x : a.elements)
      out->elements.push_back(forwardExpr(*x));
    for (ExprPtr &x : out->elements)
      operands.push_back(&x);
    bindOperands(e, operands);
    return out;
  }
  default:
    return clone(e);
  }
}

} // namespace fedc::autodiff
