// Statements. A `var` owns its data: its tensors are copied on declaration
// and assignment (into the same buffer when the shape is static), so writes
// through x[i] never reach another value, and a loop can free the
// temporaries of each iteration (arena mark/release) when no var with a
// dynamic shape is assigned inside it.
#include "codegen/Emitter.h"

#include <llvm/IR/Constants.h>
#include <llvm/Support/Casting.h>

#include <functional>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

bool hasDynamicDims(const Type *t) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    for (int64_t d : tensor->dims)
      if (d == sema::kDynamicDim)
        return true;
    return false;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t)) {
    for (const sema::Field &f : s->fields)
      if (hasDynamicDims(f.type))
        return true;
    return false;
  }
  if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    for (const Type *e : tuple->elements)
      if (hasDynamicDims(e))
        return true;
  }
  return false;
}

// Whether `e` reads a local that satisfies `is` (a var, or one var).
bool reads(const sema::Expr &e,
           const std::function<bool(const sema::Local *)> &is) {
  auto any = [&](const std::vector<sema::ExprPtr> &xs) {
    for (const sema::ExprPtr &x : xs)
      if (reads(*x, is))
        return true;
    return false;
  };
  switch (e.kind()) {
  case sema::Expr::Kind::LocalRef:
    return is(cast<sema::RefExpr>(e).local);
  case sema::Expr::Kind::Unary:
    return reads(*cast<sema::UnaryExpr>(e).operand, is);
  case sema::Expr::Kind::Binary:
    return reads(*cast<sema::BinaryExpr>(e).lhs, is) ||
           reads(*cast<sema::BinaryExpr>(e).rhs, is);
  case sema::Expr::Kind::Call:
    return any(cast<sema::CallExpr>(e).args);
  case sema::Expr::Kind::BuiltinCall:
    return any(cast<sema::BuiltinCallExpr>(e).args);
  case sema::Expr::Kind::Cast:
    return reads(*cast<sema::CastExpr>(e).operand, is);
  case sema::Expr::Kind::Index:
    return reads(*cast<sema::IndexExpr>(e).base, is) ||
           any(cast<sema::IndexExpr>(e).indices);
  case sema::Expr::Kind::Member:
    return reads(*cast<sema::MemberExpr>(e).base, is);
  case sema::Expr::Kind::StructLiteral:
  case sema::Expr::Kind::TupleLiteral:
    return any(cast<sema::AggregateExpr>(e).elements);
  default:
    return false;
  }
}

// Strips `[...]` levels (x[0][1] is x[0, 1]) and returns the indices in order.
const sema::Expr *stripIndices(const sema::Expr *e,
                               std::vector<const sema::Expr *> &indices) {
  while (const auto *i = dyn_cast<sema::IndexExpr>(e)) {
    std::vector<const sema::Expr *> level;
    for (const sema::ExprPtr &x : i->indices)
      level.push_back(x.get());
    indices.insert(indices.begin(), level.begin(), level.end());
    e = i->base.get();
  }
  return e;
}

const sema::Local *rootLocal(const sema::Expr *e, std::vector<int> &path) {
  while (const auto *m = dyn_cast<sema::MemberExpr>(e)) {
    path.insert(path.begin(), m->index);
    e = m->base.get();
  }
  const auto *ref = dyn_cast<sema::RefExpr>(e);
  return ref ? ref->local : nullptr;
}

// Whether the temporaries of one iteration of `body` can be freed at its
// end: nothing allocated inside may outlive it, which only assignments to
// vars with dynamic shapes (they get fresh buffers) can cause.
bool releasable(const sema::Stmt &s) {
  switch (s.kind()) {
  case sema::Stmt::Kind::Assign: {
    std::vector<int> path;
    std::vector<const sema::Expr *> indices;
    const sema::Expr *target =
        stripIndices(cast<sema::AssignStmt>(s).target.get(), indices);
    const sema::Local *l = rootLocal(target, path);
    return !l || !hasDynamicDims(l->type);
  }
  case sema::Stmt::Kind::Block:
    for (const sema::StmtPtr &c : cast<sema::BlockStmt>(s).body)
      if (!releasable(*c))
        return false;
    return true;
  case sema::Stmt::Kind::If: {
    const auto &i = cast<sema::IfStmt>(s);
    for (const auto &[c, body] : i.branches)
      if (!releasable(*body))
        return false;
    return !i.elseBody || releasable(*i.elseBody);
  }
  case sema::Stmt::Kind::ForRange:
    return releasable(*cast<sema::ForRangeStmt>(s).body);
  case sema::Stmt::Kind::ForEach:
    return releasable(*cast<sema::ForEachStmt>(s).body);
  case sema::Stmt::Kind::While:
    return releasable(*cast<sema::WhileStmt>(s).body);
  default:
    // A var declared inside is freed with the iteration: fine. A var with
    // a dynamic shape assigned later is caught at its assignment.
    return true;
  }
}

Value &valueAt(Value &v, const std::vector<int> &path) {
  Value *x = &v;
  for (int i : path)
    x = &x->fields.at(static_cast<size_t>(i));
  return *x;
}

const Type *typeAt(const Type *t, const std::vector<int> &path) {
  for (int i : path) {
    if (const auto *s = dyn_cast<sema::StructType>(t))
      t = s->fields[static_cast<size_t>(i)].type;
    else if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      t = tuple->elements[static_cast<size_t>(i)];
  }
  return t;
}

} // namespace

Value FunctionEmitter::readVar(const VarSlot &slot) {
  std::vector<llvm::Type *> types;
  m_.leafTypes(slot.type, types);
  std::vector<llvm::Value *> leaves;
  for (size_t i = 0; i < types.size(); ++i)
    leaves.push_back(b.CreateLoad(types[i], slot.allocas[i]));
  size_t next = 0;
  return unflatten(slot.type, leaves, next);
}

void FunctionEmitter::writeVar(const VarSlot &slot, const Value &v) {
  std::vector<llvm::Value *> leaves = flatten(slot.type, v);
  for (size_t i = 0; i < leaves.size(); ++i)
    b.CreateStore(leaves[i], slot.allocas[i]);
}

void FunctionEmitter::emitBlock(const sema::BlockStmt &block) {
  for (const sema::StmtPtr &s : block.body) {
    if (terminated())
      return; // after a return
    cache_.clear();
    emitStmt(*s);
    if (!terminated())
      flushFaults(); // what the statement computed in place
  }
}

void FunctionEmitter::emitReturn(const Value &v) {
  std::vector<llvm::Value *> leaves = flatten(fn_.result, v);
  llvm::Value *result = llvm::UndefValue::get(f_->getReturnType());
  for (unsigned i = 0; i < leaves.size(); ++i)
    result = b.CreateInsertValue(result, leaves[i], i);
  b.CreateRet(result);
}

void FunctionEmitter::emitStmt(const sema::Stmt &s) {
  at(s.range);
  switch (s.kind()) {
  case sema::Stmt::Kind::Let: {
    const auto &let = cast<sema::LetStmt>(s);
    Value v = emit(*let.init);
    checkShape(let.local->type, v, let.init->range);
    if (!let.local->isMutable) {
      // A value that may be a view into a var's buffer is copied, or a
      // later write to the var would change it.
      if (reads(*let.init, [](const sema::Local *l) { return l->isMutable; }))
        v = copy(let.local->type, v);
      lets_[let.local] = v;
      return;
    }
    VarSlot slot{let.local->type, {}};
    std::vector<llvm::Type *> types;
    m_.leafTypes(let.local->type, types);
    for (llvm::Type *t : types)
      slot.allocas.push_back(entryAlloca(t));
    writeVar(slot, copy(let.local->type, v));
    vars_[let.local] = slot;
    return;
  }
  case sema::Stmt::Kind::Assign:
    emitAssign(cast<sema::AssignStmt>(s));
    return;
  case sema::Stmt::Kind::If:
    emitIf(cast<sema::IfStmt>(s));
    return;
  case sema::Stmt::Kind::ForRange:
    emitForRange(cast<sema::ForRangeStmt>(s));
    return;
  case sema::Stmt::Kind::ForEach:
    emitForEach(cast<sema::ForEachStmt>(s));
    return;
  case sema::Stmt::Kind::While:
    emitWhile(cast<sema::WhileStmt>(s));
    return;
  case sema::Stmt::Kind::Return: {
    const auto &r = cast<sema::ReturnStmt>(s);
    Value v = r.value ? emit(*r.value) : Value{};
    if (r.value)
      checkShape(fn_.result, v, r.value->range);
    emitReturn(v);
    return;
  }
  case sema::Stmt::Kind::Block:
    emitBlock(cast<sema::BlockStmt>(s));
    return;
  case sema::Stmt::Kind::Expr:
    emit(*cast<sema::ExprStmt>(s).expr); // pure: kept only for its checks
    return;
  }
}

void FunctionEmitter::storeInto(Value &cur, const Type *t, const Value &fresh) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    if (tensor->isScalar()) {
      cur.scalar = fresh.scalar;
    } else if (hasDynamicDims(t)) {
      cur = copy(t, fresh); // its size may change
    } else {
      uint64_t size = m_.module->getDataLayout().getTypeAllocSize(
          m_.elementType(tensor->element));
      b.CreateMemMove(
          cur.data, llvm::MaybeAlign(), fresh.data, llvm::MaybeAlign(),
          b.CreateMul(elementCount(cur.dims), i64(static_cast<int64_t>(size))));
    }
    return;
  }
  for (size_t i = 0; i < cur.fields.size(); ++i)
    storeInto(cur.fields[i], typeAt(t, {static_cast<int>(i)}), fresh.fields[i]);
}

// The tree of one tensor leaf's new value: the assigned value's leaf, or
// `cur op value` for a compound assignment.
FusedPtr FunctionEmitter::assignedLeaf(const sema::AssignStmt &s,
                                       const Value &cur, const Type *leafType,
                                       const std::vector<int> &leafPath) {
  const sema::Expr &value = *s.value;
  bool aggregate =
      isa<sema::StructType>(value.type) || isa<sema::TupleType>(value.type);
  FusedPtr rhs = build(value, aggregate ? leafPath : std::vector<int>{});
  if (s.op == ast::AssignOp::Assign)
    return rhs;
  auto n = std::make_unique<Fused>();
  n->kind = Fused::Kind::Binary;
  n->op = ast::compoundOperator(s.op);
  n->children.push_back(leafNode(cur, leafType));
  n->element = n->operandElement = n->children[0]->element;
  n->rank = n->children[0]->rank;
  n->range = s.range;
  n->children.push_back(std::move(rhs));
  return n;
}

// x[i] = v, x.f[i, j] += v: written into the var's own buffer.
void FunctionEmitter::assignIndexed(
    const sema::AssignStmt &s, Value &place, const Type *placeType,
    const std::vector<const sema::Expr *> &indices, bool selfReference) {
  const auto *t = cast<sema::TensorType>(placeType);
  llvm::Value *offset = i64(0);
  for (size_t k = 0; k < t->rank(); ++k) {
    llvm::Value *i = i64(0);
    if (k < indices.size()) {
      i = intCast(emit(*indices[k]).scalar,
                  cast<sema::TensorType>(indices[k]->type)->element,
                  b.getInt64Ty());
      check(b.CreateICmpULT(i, place.dims[k]), indices[k]->range,
            "index out of bounds for dimension " + std::to_string(k), i,
            place.dims[k]);
    }
    offset = b.CreateAdd(b.CreateMul(offset, place.dims[k]), i);
  }
  Value dst;
  llvm::Type *et = m_.elementType(t->element);
  const Type *dstType = s.target->type;
  if (indices.size() == t->rank()) {
    dst.scalar = load(t->element, place.data, offset);
    FusedPtr tree = assignedLeaf(s, dst, dstType, {});
    store(elementAt(*tree, {}, {}), place.data, offset);
    return;
  }
  dst.data = b.CreateInBoundsGEP(et, place.data, offset);
  dst.dims.assign(place.dims.begin() +
                      static_cast<std::ptrdiff_t>(indices.size()),
                  place.dims.end());
  FusedPtr tree = assignedLeaf(s, dst, dstType, {});
  // The new value must fit the slice: each of its dims equal or 1.
  std::vector<llvm::Value *> dims = shape(*tree, s.range);
  for (size_t k = 0; k < dims.size(); ++k) {
    llvm::Value *want = dst.dims[dst.dims.size() - dims.size() + k];
    check(b.CreateOr(b.CreateICmpEQ(dims[k], want),
                     b.CreateICmpEQ(dims[k], i64(1))),
          s.value->range,
          "assigned value does not fit dimension " + std::to_string(k), dims[k],
          want);
  }
  if (selfReference) {
    Value fresh = materialize(*tree, s.range);
    FusedPtr copyTree = leafNode(fresh, dstType);
    tree = std::move(copyTree);
  }
  loopNest(dst.dims, [&](const std::vector<llvm::Value *> &idx) {
    store(elementAt(*tree, idx, dst.dims), dst.data,
          linearIndex(dst.dims, idx));
  });
}

// `cur op= value` for a whole var or field, leaf by leaf, into fresh
// memory.
Value FunctionEmitter::compoundValue(const sema::AssignStmt &s,
                                     const Value &cur, const Type *t,
                                     std::vector<int> &leafPath) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    FusedPtr tree = assignedLeaf(s, cur, t, leafPath);
    if (tensor->isScalar()) {
      Value v;
      v.scalar = elementAt(*tree, {}, {});
      return v;
    }
    return materialize(*tree, s.range);
  }
  Value v;
  for (size_t i = 0; i < cur.fields.size(); ++i) {
    leafPath.push_back(static_cast<int>(i));
    v.fields.push_back(compoundValue(
        s, cur.fields[i], typeAt(t, {static_cast<int>(i)}), leafPath));
    leafPath.pop_back();
  }
  return v;
}

void FunctionEmitter::emitAssign(const sema::AssignStmt &s) {
  std::vector<const sema::Expr *> indices;
  const sema::Expr *base = stripIndices(s.target.get(), indices);
  std::vector<int> path;
  const sema::Local *local = rootLocal(base, path);
  const VarSlot &slot = vars_.at(local);
  Value current = readVar(slot);
  Value &place = valueAt(current, path);
  const Type *placeType = typeAt(local->type, path);
  // The right side may read the var it writes (`m = P { a: m.b, b: m.a }`,
  // `x[0] = x[0] - x[0, 0]`): then it is computed whole, into fresh
  // memory, before anything is stored.
  bool selfReference =
      reads(*s.value, [&](const sema::Local *l) { return l == local; });
  if (!indices.empty()) {
    assignIndexed(s, place, placeType, indices, selfReference);
    return;
  }
  // Whole var or field: compute every leaf's new value first, then store.
  Value fresh;
  if (s.op != ast::AssignOp::Assign) {
    std::vector<int> leafPath;
    fresh = compoundValue(s, place, placeType, leafPath);
  } else {
    fresh = emit(*s.value);
    // Arithmetic (`m = m - lr * g`) is materialized into fresh memory
    // already: only a right side that can hand back the var's own buffers
    // needs the copy.
    bool materialized = isElementwise(*s.value) &&
                        (s.value->kind() == sema::Expr::Kind::Binary ||
                         s.value->kind() == sema::Expr::Kind::Unary);
    if (selfReference && !materialized)
      fresh = copy(placeType, fresh);
  }
  checkShape(placeType, fresh, s.value->range);
  storeInto(place, placeType, fresh);
  writeVar(slot, current);
}

void FunctionEmitter::emitIf(const sema::IfStmt &s) {
  auto *join = llvm::BasicBlock::Create(m_.context, "if.end", f_);
  for (const auto &[condition, body] : s.branches) {
    cache_.clear();
    llvm::Value *c = b.CreateICmpNE(emit(*condition).scalar, b.getInt8(0));
    auto *then = llvm::BasicBlock::Create(m_.context, "if.then", f_);
    auto *next = llvm::BasicBlock::Create(m_.context, "if.next", f_);
    b.CreateCondBr(c, then, next);
    b.SetInsertPoint(then);
    emitBlock(*body);
    if (!terminated())
      b.CreateBr(join);
    b.SetInsertPoint(next);
  }
  if (s.elseBody)
    emitBlock(*s.elseBody);
  if (!terminated())
    b.CreateBr(join);
  b.SetInsertPoint(join);
}

void FunctionEmitter::emitWhile(const sema::WhileStmt &s) {
  auto *header = llvm::BasicBlock::Create(m_.context, "while", f_);
  auto *body = llvm::BasicBlock::Create(m_.context, "while.body", f_);
  auto *exit = llvm::BasicBlock::Create(m_.context, "while.exit", f_);
  bool release = releasable(*s.body);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  cache_.clear();
  // Marked before the condition, so what it allocates is freed with the
  // iteration too.
  llvm::Value *mark = release ? b.CreateCall(m_.arenaMark, {ctx_}) : nullptr;
  b.CreateCondBr(b.CreateICmpNE(emit(*s.condition).scalar, b.getInt8(0)), body,
                 exit);
  b.SetInsertPoint(body);
  emitBlock(*s.body);
  if (!terminated()) {
    if (mark)
      b.CreateCall(m_.arenaRelease, {ctx_, mark});
    b.CreateBr(header);
  }
  b.SetInsertPoint(exit);
}

void FunctionEmitter::emitForRange(const sema::ForRangeStmt &s) {
  cache_.clear();
  llvm::Value *lo = emit(*s.lo).scalar;
  llvm::Value *hi = emit(*s.hi).scalar;
  llvm::Type *t = lo->getType();
  llvm::Value *count = b.CreateSub(b.CreateSExt(hi, b.getInt64Ty()),
                                   b.CreateSExt(lo, b.getInt64Ty()));
  bool release = releasable(*s.body);
  loop(count, [&](llvm::Value *i) {
    llvm::Value *mark = release ? b.CreateCall(m_.arenaMark, {ctx_}) : nullptr;
    Value v;
    v.scalar = b.CreateAdd(lo, b.CreateTrunc(i, t));
    lets_[s.var] = v;
    emitBlock(*s.body);
    if (terminated()) {
      // The body returned; continue emitting the latch in a dead block.
      b.SetInsertPoint(llvm::BasicBlock::Create(m_.context, "dead", f_));
    } else if (mark) {
      b.CreateCall(m_.arenaRelease, {ctx_, mark});
    }
  });
}

// Each tensor leaf of a record, in column order, with its static size.
std::vector<FunctionEmitter::RecordLeaf>
FunctionEmitter::recordLeaves(const Type *record, SourceRange where) {
  std::vector<RecordLeaf> leaves;
  std::function<void(const Type *)> collect = [&](const Type *t) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
      int64_t size = 1;
      for (int64_t d : tensor->dims) {
        if (d == sema::kDynamicDim)
          throw Unsupported{where, "records with '?' dimensions"};
        size *= d;
      }
      leaves.push_back({tensor, size});
    } else if (const auto *st = dyn_cast<sema::StructType>(t)) {
      for (const sema::Field &f : st->fields)
        collect(f.type);
    } else if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
      for (const Type *e : tuple->elements)
        collect(e);
    }
  };
  collect(record);
  return leaves;
}

// The value of one record (rows null) or one batch of `rows` records
// starting at record `start`, viewing the seq's columns in place.
Value FunctionEmitter::recordView(const Type *t, const Value &seq,
                                  const std::vector<RecordLeaf> &leaves,
                                  size_t &column, llvm::Value *start,
                                  llvm::Value *rows) {
  Value v;
  if (isa<sema::TensorType>(t)) {
    const RecordLeaf &leaf = leaves[column];
    llvm::Value *col = seq.columns[column++];
    llvm::Type *et = m_.elementType(leaf.type->element);
    llvm::Value *at =
        b.CreateInBoundsGEP(et, col, b.CreateMul(start, i64(leaf.size)));
    if (!rows && leaf.type->isScalar()) {
      v.scalar = b.CreateLoad(et, at);
      return v;
    }
    v.data = at;
    if (rows)
      v.dims.push_back(rows);
    for (int64_t d : leaf.type->dims)
      v.dims.push_back(i64(d));
    return v;
  }
  if (const auto *st = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : st->fields)
      v.fields.push_back(recordView(f.type, seq, leaves, column, start, rows));
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (const Type *e : tuple->elements)
      v.fields.push_back(recordView(e, seq, leaves, column, start, rows));
  return v;
}

void FunctionEmitter::emitForEach(const sema::ForEachStmt &s) {
  cache_.clear();
  Value seq = emit(*s.iterable);
  // For batches the sema element is the batch type; its record is the
  // batched struct (or the tensor/tuple) the data was declared with.
  const Type *dataRecord = cast<sema::SeqType>(s.iterable->type)->element;
  if (seq.batchSize)
    dataRecord = cast<sema::SeqType>(
                     cast<sema::BuiltinCallExpr>(*s.iterable).args[0]->type)
                     ->element;
  std::vector<RecordLeaf> leaves = recordLeaves(dataRecord, s.iterable->range);

  bool release = releasable(*s.body);
  llvm::Value *count =
      seq.batchSize
          ? b.CreateUDiv(
                b.CreateAdd(seq.length, b.CreateSub(seq.batchSize, i64(1))),
                seq.batchSize)
          : seq.length;
  loop(count, [&](llvm::Value *i) {
    llvm::Value *mark = release ? b.CreateCall(m_.arenaMark, {ctx_}) : nullptr;
    size_t column = 0;
    if (seq.batchSize) {
      llvm::Value *start = b.CreateMul(i, seq.batchSize);
      llvm::Value *left = b.CreateSub(seq.length, start);
      llvm::Value *rows = b.CreateSelect(b.CreateICmpSLT(left, seq.batchSize),
                                         left, seq.batchSize);
      lets_[s.var] = recordView(dataRecord, seq, leaves, column, start, rows);
    } else {
      lets_[s.var] = recordView(dataRecord, seq, leaves, column, i, nullptr);
    }
    emitBlock(*s.body);
    if (terminated())
      b.SetInsertPoint(llvm::BasicBlock::Create(m_.context, "dead", f_));
    else if (mark)
      b.CreateCall(m_.arenaRelease, {ctx_, mark});
  });
}

} // namespace fedc::codegen
