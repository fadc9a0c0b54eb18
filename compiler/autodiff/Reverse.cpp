// The reverse sweep (ReverseMode.h): adjoints accumulate per local — as a
// list of pending terms summed into one expression where the local was
// defined (so codegen fuses the sum), or, when an arm or a loop body adds
// to a local of an enclosing block, in a `var` declared before that
// construct. An `if` is reversed by an `if` on the same condition and a
// loop by a loop over the same iterations; each recomputes its arm or
// body's forward values first, so the sweep keeps one iteration's values.
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

#include <algorithm>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;
using sema::Expr;

void ReverseMode::emit(sema::StmtPtr s) {
  frames_.back().block->body.push_back(std::move(s));
}

void ReverseMode::pushFrame(sema::BlockStmt *block) {
  frames_.push_back({block, {}});
}

void ReverseMode::popFrameEmitting(sema::StmtPtr s) {
  frames_.pop_back();
  Frame &f = frames_.back();
  for (sema::StmtPtr &h : f.hoisted)
    f.block->body.push_back(std::move(h));
  f.hoisted.clear();
  emit(std::move(s));
}

ExprPtr ReverseMode::share(ExprPtr e) {
  if (isTrivial(*e))
    return e;
  const sema::Local *l = newLocal("d", e->type, false);
  emit(std::make_unique<sema::LetStmt>(b_.at, l, std::move(e)));
  return b_.ref(l);
}

void ReverseMode::accumulate(const sema::Local *l, std::vector<int> path,
                             ExprPtr d) {
  if (!isActive(l) || discarded_.count(l))
    return;
  Adjoint &a = adjoints_[l];
  if (depthOf_.at(l) == depth()) {
    a.pending[path].push_back(std::move(d));
    return;
  }
  ensureVar(l);
  ExprPtr target = b_.ref(a.var);
  for (int i : path)
    target = b_.member(std::move(target), i);
  emit(std::make_unique<sema::AssignStmt>(b_.at, ast::AssignOp::Add,
                                          std::move(target), std::move(d)));
}

void ReverseMode::ensureVar(const sema::Local *l) {
  Adjoint &a = adjoints_[l];
  if (a.var)
    return;
  ExprPtr init = assemble(l, l->type, {});
  if (!init)
    init = b_.zerosLike(l->type, *b_.ref(l));
  sema::Local *v = newLocal("d_" + l->name, l->type, true);
  int k = depthOf_.at(l);
  depthOf_[v] = k;
  auto decl = std::make_unique<sema::LetStmt>(b_.at, v, std::move(init));
  if (k == depth())
    emit(std::move(decl));
  else
    frames_[static_cast<size_t>(k)].hoisted.push_back(std::move(decl));
  a.var = v;
}

ExprPtr ReverseMode::assemble(const sema::Local *l, const sema::Type *t,
                              const std::vector<int> &path) {
  Adjoint &a = adjoints_[l];
  ExprPtr whole;
  if (auto it = a.pending.find(path); it != a.pending.end()) {
    for (ExprPtr &term : it->second)
      whole = whole ? b_.binary(ast::BinaryOp::Add, std::move(whole),
                                std::move(term))
                    : std::move(term);
    a.pending.erase(it);
  }
  bool deeper = false;
  for (const auto &[p, terms] : a.pending)
    deeper = deeper || (p.size() > path.size() &&
                        std::equal(path.begin(), path.end(), p.begin()));
  if (!deeper || (!isa<sema::StructType>(t) && !isa<sema::TupleType>(t)))
    return whole;
  size_t n = isa<sema::StructType>(t)
                 ? cast<sema::StructType>(t)->fields.size()
                 : cast<sema::TupleType>(t)->elements.size();
  std::vector<ExprPtr> fields;
  for (size_t i = 0; i < n; ++i) {
    std::vector<int> sub = path;
    sub.push_back(static_cast<int>(i));
    ExprPtr value = b_.ref(l);
    for (int k : sub)
      value = b_.member(std::move(value), k);
    ExprPtr field = assemble(l, value->type, sub);
    fields.push_back(field ? std::move(field)
                           : b_.zerosLike(value->type, *value));
  }
  ExprPtr agg = b_.aggregate(t, std::move(fields));
  return whole ? b_.binary(ast::BinaryOp::Add, std::move(whole), std::move(agg))
               : std::move(agg);
}

ExprPtr ReverseMode::takeAdjoint(const sema::Local *l) {
  auto it = adjoints_.find(l);
  if (it == adjoints_.end())
    return nullptr;
  ExprPtr total = assemble(l, l->type, {});
  if (const sema::Local *v = it->second.var)
    total = total ? b_.binary(ast::BinaryOp::Add, b_.ref(v), std::move(total))
                  : b_.ref(v);
  adjoints_.erase(l);
  return total;
}

void ReverseMode::reverseRecords(std::vector<Record> &records) {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    switch (it->kind) {
    case Record::Kind::Let:
      reverseLet(*it);
      break;
    case Record::Kind::If:
      reverseIf(*it);
      break;
    case Record::Kind::Loop:
      reverseLoop(*it);
      break;
    }
  }
}

void ReverseMode::reverseLet(const Record &r) {
  if (!isActive(r.local))
    return;
  ExprPtr d = takeAdjoint(r.local);
  if (d)
    backprop(*r.init, std::move(d), r.local);
}

namespace {

bool armAssigns(const sema::IfStmt &s, size_t branch, bool thenArm,
                const sema::Local *x,
                void (*scan)(const sema::IfStmt &, size_t, bool,
                             std::vector<const sema::Local *> &)) {
  std::vector<const sema::Local *> assigned;
  scan(s, branch, thenArm, assigned);
  return std::find(assigned.begin(), assigned.end(), x) != assigned.end();
}

} // namespace

void ReverseMode::reverseIf(const Record &r) {
  std::vector<std::pair<const Join *, ExprPtr>> seeds;
  for (const Join &j : r.joins)
    if (isActive(j.joined))
      if (ExprPtr d = takeAdjoint(j.joined))
        seeds.emplace_back(&j, share(std::move(d)));
  if (seeds.empty())
    return;
  const sema::Function *outerFn = primal_;
  primal_ = r.owner;
  auto out = std::make_unique<sema::IfStmt>(r.ifStmt->range);
  std::unique_ptr<sema::BlockStmt> arms[2];
  for (int k = 0; k < 2; ++k) {
    bool thenArm = k == 0;
    arms[k] = std::make_unique<sema::BlockStmt>(r.ifStmt->range);
    pushFrame(arms[k].get());
    Env saved = env_;
    env_ = r.entry;
    for (const Join &j : r.joins)
      env_[j.primal] = j.prev;
    bool replay = false;
    for (const auto &[j, d] : seeds)
      replay = replay || armAssigns(*r.ifStmt, r.branch, thenArm, j->primal,
                                    &ReverseMode::assignedInArm);
    std::vector<Record> records;
    std::vector<Record> *outer = records_;
    records_ = &records;
    if (replay)
      forwardArm(*r.ifStmt, r.branch, thenArm);
    records_ = outer;
    for (const auto &[j, d] : seeds)
      accumulate(env_.at(j->primal), {}, clone(*d));
    reverseRecords(records);
    env_ = std::move(saved);
    frames_.pop_back();
  }
  out->branches.emplace_back(b_.ref(r.cond), std::move(arms[0]));
  out->elseBody = std::move(arms[1]);
  pushFrame(nullptr);
  popFrameEmitting(std::move(out));
  primal_ = outerFn;
}

std::vector<Record> ReverseMode::replayLoopBody(const sema::Stmt &loop,
                                                const sema::Local *var) {
  std::vector<Record> records;
  std::vector<Record> *outer = records_;
  records_ = &records;
  forwardLoopBody(loop, var);
  records_ = outer;
  return records;
}

bool ReverseMode::accumulatesOnly(
    const Record &r, const std::set<const sema::Local *> &accumulated) {
  // Every differentiated float the loop carries must only accumulate, not
  // only those whose adjoint leaves the loop (one that feeds another
  // through the iterations needs its value per iteration: a tape, which
  // forwardLoop gives range loops over tensors).
  std::set<const sema::Local *> carried = accumulated;
  for (const Join &j : r.joins)
    if (isActive(j.joined) && containsFloat(j.primal->type))
      carried.insert(j.primal);
  if (checkAccumulatingLoop(*r.loop, carried, /*report=*/false))
    return true;
  reportUntapedLoop(r, carried);
  return false;
}

sema::StmtPtr
ReverseMode::sameIterations(const Record &r, const sema::Local *var,
                            std::unique_ptr<sema::BlockStmt> body) {
  if (isa<sema::ForRangeStmt>(r.loop)) {
    auto l = std::make_unique<sema::ForRangeStmt>(r.loop->range);
    l->var = var;
    l->lo = b_.ref(r.lo);
    l->hi = b_.ref(r.hi);
    l->body = std::move(body);
    return l;
  }
  auto l = std::make_unique<sema::ForEachStmt>(r.loop->range);
  l->var = var;
  Env saved = env_;
  env_ = r.entry;
  l->iterable = forwardExpr(*cast<sema::ForEachStmt>(r.loop)->iterable);
  env_ = std::move(saved);
  l->body = std::move(body);
  return l;
}

void ReverseMode::reverseLoop(const Record &r) {
  if (!r.tapes.empty()) {
    reverseTapedLoop(r);
    return;
  }
  std::vector<std::pair<const Join *, ExprPtr>> seeds;
  std::set<const sema::Local *> accumulated;
  for (const Join &j : r.joins)
    if (isActive(j.joined))
      if (ExprPtr d = takeAdjoint(j.joined)) {
        seeds.emplace_back(&j, share(std::move(d)));
        accumulated.insert(j.primal);
      }
  if (seeds.empty())
    return;
  const sema::Function *outerFn = primal_;
  primal_ = r.owner;
  if (!accumulatesOnly(r, accumulated)) {
    primal_ = outerFn;
    return;
  }
  const auto *fr = dyn_cast<sema::ForRangeStmt>(r.loop);
  const auto *fe = dyn_cast<sema::ForEachStmt>(r.loop);
  // Vars the loop carries that are not differentiated (counters) are
  // recomputed from their value before the loop.
  std::vector<std::pair<const Join *, const sema::Local *>> replayed;
  for (const Join &j : r.joins)
    if (!accumulated.count(j.primal)) {
      const sema::Local *v = newLocal(j.primal->name, j.primal->type, true);
      emitLet(v, b_.ref(j.prev), false);
      replayed.emplace_back(&j, v);
    }
  auto body = std::make_unique<sema::BlockStmt>(r.loop->range);
  pushFrame(body.get());
  Env saved = env_;
  env_ = r.entry;
  for (const auto &[j, v] : replayed)
    env_[j->primal] = v;
  for (const auto &[j, d] : seeds)
    discarded_.insert(j->joined);
  const sema::Local *primalVar = fr ? fr->var : fe->var;
  const sema::Local *var = newLocal(primalVar->name, primalVar->type, false,
                                    sema::Local::Kind::LoopVar);
  std::vector<Record> records = replayLoopBody(*r.loop, var);
  Env end = env_;
  for (const auto &[j, d] : seeds)
    accumulate(end.at(j->primal), {}, clone(*d));
  reverseRecords(records);
  for (const auto &[j, v] : replayed)
    if (end.at(j->primal) != v)
      emit(std::make_unique<sema::AssignStmt>(
          b_.at, ast::AssignOp::Assign, b_.ref(v), b_.ref(end.at(j->primal))));
  for (const auto &[j, d] : seeds)
    discarded_.erase(j->joined);
  sema::StmtPtr loop = sameIterations(r, var, std::move(body));
  env_ = std::move(saved);
  popFrameEmitting(std::move(loop));
  // x_final = x_before + the loop's terms: x_before's adjoint is x_final's.
  for (const auto &[j, d] : seeds)
    accumulate(j->joined, {}, clone(*d));
  primal_ = outerFn;
}

ExprPtr ReverseMode::readTapes(const Type *t,
                               const std::vector<const sema::Local *> &tapes,
                               size_t &next, const sema::Local *k) {
  if (isa<sema::TensorType>(t)) {
    std::vector<ExprPtr> at;
    at.push_back(b_.ref(k));
    return std::make_unique<sema::IndexExpr>(t, b_.at, b_.ref(tapes[next++]),
                                             std::move(at));
  }
  std::vector<const Type *> parts;
  if (const auto *st = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : st->fields)
      parts.push_back(f.type);
  else
    parts = cast<sema::TupleType>(t)->elements;
  std::vector<ExprPtr> elements;
  for (const Type *part : parts)
    elements.push_back(readTapes(part, tapes, next, k));
  return b_.aggregate(t, std::move(elements));
}

std::vector<const sema::Local *>
ReverseMode::seedTapedAdjoints(const Record &r) {
  // The adjoint of each differentiated carried value at the end of the
  // iteration being reversed: first the adjoint after the loop.
  std::vector<const sema::Local *> adjointVars(r.joins.size(), nullptr);
  bool any = false;
  for (size_t k = 0; k < r.joins.size(); ++k) {
    const Join &j = r.joins[k];
    if (!isActive(j.joined) || !containsFloat(j.primal->type))
      continue;
    ExprPtr d = takeAdjoint(j.joined);
    any = any || d;
    sema::Local *v = newLocal("d" + j.primal->name, j.primal->type, true);
    emit(std::make_unique<sema::LetStmt>(
        b_.at, v, d ? std::move(d) : b_.zerosLike(v->type, *b_.ref(j.joined))));
    adjointVars[k] = v;
  }
  return any ? adjointVars : std::vector<const sema::Local *>{};
}

std::vector<const sema::Local *> ReverseMode::restoreIteration(
    const Record &r, const sema::Local *k,
    const std::vector<const sema::Local *> &adjoints) {
  std::vector<const sema::Local *> starts;
  for (size_t n = 0; n < r.joins.size(); ++n) {
    const Join &j = r.joins[n];
    const sema::Local *x = newLocal(j.primal->name, j.primal->type, false);
    size_t next = 0;
    emit(std::make_unique<sema::LetStmt>(
        b_.at, x, readTapes(j.primal->type, r.tapes[n], next, k)));
    if (adjoints[n])
      active_.insert(x);
    env_[j.primal] = x;
    starts.push_back(x);
  }
  return starts;
}

void ReverseMode::stepTapedAdjoints(
    const Record &r, const std::vector<const sema::Local *> &starts,
    const std::vector<const sema::Local *> &adjoints) {
  // The adjoints at the iteration's start, all computed before any
  // adjoint var is overwritten (they read each other's old values).
  std::vector<const sema::Local *> next(r.joins.size(), nullptr);
  for (size_t n = 0; n < r.joins.size(); ++n) {
    if (!adjoints[n])
      continue;
    ExprPtr d = takeAdjoint(starts[n]);
    next[n] = newLocal("d" + r.joins[n].primal->name, starts[n]->type, false);
    emit(std::make_unique<sema::LetStmt>(
        b_.at, next[n],
        d ? std::move(d) : b_.zerosLike(starts[n]->type, *b_.ref(starts[n]))));
  }
  for (size_t n = 0; n < r.joins.size(); ++n)
    if (next[n])
      emit(std::make_unique<sema::AssignStmt>(
          b_.at, ast::AssignOp::Assign, b_.ref(adjoints[n]), b_.ref(next[n])));
}

void ReverseMode::reverseTapedLoop(const Record &r) {
  std::vector<const sema::Local *> adjoints = seedTapedAdjoints(r);
  if (adjoints.empty())
    return; // nothing after the loop depends on it
  const sema::Function *outerFn = primal_;
  primal_ = r.owner;
  const auto &fr = cast<sema::ForRangeStmt>(*r.loop);
  const auto *index = cast<sema::TensorType>(fr.var->type);
  auto body = std::make_unique<sema::BlockStmt>(r.loop->range);
  pushFrame(body.get());
  Env saved = env_;
  env_ = r.entry;
  // Iteration k = trips - 1 - rev of the forward loop, for rev in
  // 0..trips; its loop variable lo + k.
  const sema::Local *rev =
      newLocal("rev", index, false, sema::Local::Kind::LoopVar);
  const sema::Local *k = newLocal("k", index, false);
  emitLet(k,
          b_.binary(ast::BinaryOp::Sub,
                    b_.binary(ast::BinaryOp::Sub, b_.ref(r.trips),
                              b_.literal(1, index->element)),
                    b_.ref(rev)),
          false);
  const sema::Local *i = newLocal(fr.var->name, index, false);
  emitLet(i, b_.binary(ast::BinaryOp::Add, b_.ref(r.lo), b_.ref(k)), false);
  std::vector<const sema::Local *> starts = restoreIteration(r, k, adjoints);
  std::vector<Record> records = replayLoopBody(*r.loop, i);
  for (size_t n = 0; n < r.joins.size(); ++n)
    if (adjoints[n])
      accumulate(env_.at(r.joins[n].primal), {}, b_.ref(adjoints[n]));
  reverseRecords(records);
  stepTapedAdjoints(r, starts, adjoints);
  auto loop = std::make_unique<sema::ForRangeStmt>(r.loop->range);
  loop->var = rev;
  loop->lo = b_.literal(0, index->element);
  loop->hi = b_.ref(r.trips);
  loop->body = std::move(body);
  env_ = std::move(saved);
  popFrameEmitting(std::move(loop));
  // The adjoint at the start of the first iteration is the value before
  // the loop's.
  for (size_t n = 0; n < r.joins.size(); ++n)
    if (adjoints[n])
      accumulate(r.joins[n].joined, {}, b_.ref(adjoints[n]));
  primal_ = outerFn;
}

} // namespace fedc::autodiff
