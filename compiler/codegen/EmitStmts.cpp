// Statements. A `var` owns its data: its tensors are copied on declaration
// and assignment (into the same buffer when the shape is static), so writes
// through x[i] never reach another value, and a loop can free the
// temporaries of each iteration (arena mark/release) when no var with a
// dynamic shape is assigned inside it.
#include "codegen/Emitter.h"

#include <llvm/IR/Constants.h>
#include <llvm/Support/Casting.h>

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
    const sema::Expr *target = cast<sema::AssignStmt>(s).target.get();
    if (const auto *i = dyn_cast<sema::IndexExpr>(target))
      target = i->base.get();
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
    if (!let.local->isMutable) {
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
    emitReturn(r.value ? emit(*r.value) : Value{});
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

void FunctionEmitter::storeTensor(Value &cur, const Type *t,
                                  const Value &fresh) {
  // A static shape is written back into the var's own buffer; a dynamic one
  // gets a fresh copy (its size may change).
  if (hasDynamicDims(t)) {
    cur = copy(t, fresh);
    return;
  }
  const auto *tensor = cast<sema::TensorType>(t);
  uint64_t size = m_.module->getDataLayout().getTypeAllocSize(
      m_.elementType(tensor->element));
  b.CreateMemMove(
      cur.data, llvm::MaybeAlign(), fresh.data, llvm::MaybeAlign(),
      b.CreateMul(elementCount(cur.dims), i64(static_cast<int64_t>(size))));
}

void FunctionEmitter::emitAssign(const sema::AssignStmt &s) {
  ast::BinaryOp op = ast::compoundOperator(s.op);
  bool compound = s.op != ast::AssignOp::Assign;
  const auto *index = dyn_cast<sema::IndexExpr>(s.target.get());
  std::vector<int> path;
  const sema::Local *local =
      rootLocal(index ? index->base.get() : s.target.get(), path);
  const VarSlot &slot = vars_.at(local);
  Value current = readVar(slot);
  Value &place = valueAt(current, path);
  const Type *placeType = typeAt(local->type, path);

  // The new value of one tensor leaf: value, or current `op` value.
  auto combined = [&](const Value &cur, const Type *leafType,
                      const std::vector<int> &leafPath) -> FusedPtr {
    const sema::Expr &value = *s.value;
    bool aggregate =
        isa<sema::StructType>(value.type) || isa<sema::TupleType>(value.type);
    FusedPtr rhs = build(value, aggregate ? leafPath : std::vector<int>{});
    if (!compound)
      return rhs;
    auto n = std::make_unique<Fused>();
    n->kind = Fused::Kind::Binary;
    n->op = static_cast<int>(op);
    n->children.push_back(leafNode(cur, leafType));
    n->element = n->operandElement = n->children[0]->element;
    n->rank = n->children[0]->rank;
    n->children.push_back(std::move(rhs));
    return n;
  };

  if (index) {
    // Write into the var's own buffer: x[i] = v, x.f[i, j] += v.
    const auto *t = cast<sema::TensorType>(placeType);
    llvm::Value *offset = i64(0);
    for (size_t k = 0; k < t->rank(); ++k) {
      llvm::Value *i = i64(0);
      if (k < index->indices.size()) {
        i = b.CreateSExt(emit(*index->indices[k]).scalar, b.getInt64Ty());
        check(b.CreateICmpULT(i, place.dims[k]), index->indices[k]->range,
              "index out of bounds for dimension " + std::to_string(k), i,
              place.dims[k]);
      }
      offset = b.CreateAdd(b.CreateMul(offset, place.dims[k]), i);
    }
    Value dst;
    llvm::Type *et = m_.elementType(t->element);
    const Type *dstType = s.target->type;
    if (index->indices.size() == t->rank()) {
      dst.scalar = load(t->element, place.data, offset);
      FusedPtr tree = combined(dst, dstType, {});
      store(elementAt(*tree, {}, {}), place.data, offset);
      return;
    }
    dst.data = b.CreateInBoundsGEP(et, place.data, offset);
    dst.dims.assign(place.dims.begin() +
                        static_cast<std::ptrdiff_t>(index->indices.size()),
                    place.dims.end());
    FusedPtr tree = combined(dst, dstType, {});
    loopNest(dst.dims, [&](const std::vector<llvm::Value *> &idx) {
      store(elementAt(*tree, idx, dst.dims), dst.data,
            linearIndex(dst.dims, idx));
    });
    return;
  }

  // Whole var or field: every tensor leaf gets its new value; static shapes
  // are written back into the same buffer, dynamic ones into a fresh one.
  std::function<void(Value &, const Type *, std::vector<int> &)> assignLeaves =
      [&](Value &cur, const Type *t, std::vector<int> &leafPath) {
        if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
          FusedPtr tree = combined(cur, t, leafPath);
          if (tensor->isScalar()) {
            cur.scalar = elementAt(*tree, {}, {});
            return;
          }
          storeTensor(cur, t, materialize(*tree, s.range));
          return;
        }
        size_t n = cur.fields.size();
        for (size_t i = 0; i < n; ++i) {
          leafPath.push_back(static_cast<int>(i));
          assignLeaves(cur.fields[i], typeAt(t, {static_cast<int>(i)}),
                       leafPath);
          leafPath.pop_back();
        }
      };
  std::vector<int> leafPath;
  if (!compound && !isa<sema::TensorType>(placeType)) {
    // Evaluate the whole right-hand side first: it may read the var.
    Value v = emit(*s.value);
    std::function<void(Value &, const Value &, const Type *)> store_ =
        [&](Value &cur, const Value &nv, const Type *t) {
          if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
            if (tensor->isScalar())
              cur.scalar = nv.scalar;
            else
              storeTensor(cur, t, nv);
            return;
          }
          for (size_t i = 0; i < cur.fields.size(); ++i)
            store_(cur.fields[i], nv.fields[i],
                   typeAt(t, {static_cast<int>(i)}));
        };
    store_(place, v, placeType);
  } else {
    assignLeaves(place, placeType, leafPath);
  }
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
  b.CreateCondBr(b.CreateICmpNE(emit(*s.condition).scalar, b.getInt8(0)), body,
                 exit);
  b.SetInsertPoint(body);
  llvm::Value *mark = release ? b.CreateCall(m_.arenaMark, {ctx_}) : nullptr;
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

void FunctionEmitter::emitForEach(const sema::ForEachStmt &s) {
  cache_.clear();
  Value seq = emit(*s.iterable);
  const auto *seqType = cast<sema::SeqType>(s.iterable->type);
  const Type *record = seqType->element;
  // Each leaf of a record, in column order, with its static size.
  struct Leaf {
    const sema::TensorType *type;
    int64_t size;
  };
  std::vector<Leaf> leaves;
  std::function<void(const Type *)> collect = [&](const Type *t) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
      int64_t size = 1;
      for (int64_t d : tensor->dims) {
        if (d == sema::kDynamicDim)
          throw Unsupported{s.iterable->range, "records with '?' dimensions"};
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
  // For batches the sema element is the batch type; its record is the
  // batched struct (or the tensor/tuple) the data was declared with.
  const Type *dataRecord = seq.batchSize ? nullptr : record;
  if (seq.batchSize) {
    const auto *plain = dyn_cast<sema::SeqType>(
        cast<sema::BuiltinCallExpr>(*s.iterable).args[0]->type);
    dataRecord = plain->element;
  }
  collect(dataRecord);

  size_t column = 0;
  // Builds the value of one record (or one batch) from the columns.
  std::function<Value(const Type *, llvm::Value *, llvm::Value *)> view =
      [&](const Type *t, llvm::Value *start, llvm::Value *rows) -> Value {
    Value v;
    if (isa<sema::TensorType>(t)) {
      const Leaf &leaf = leaves[column];
      llvm::Value *col = seq.columns[column++];
      llvm::Type *et = m_.elementType(leaf.type->element);
      llvm::Value *at =
          b.CreateInBoundsGEP(et, col, b.CreateMul(start, i64(leaf.size)));
      if (!rows) {
        if (leaf.type->isScalar()) {
          v.scalar = b.CreateLoad(et, at);
        } else {
          v.data = at;
          for (int64_t d : leaf.type->dims)
            v.dims.push_back(i64(d));
        }
      } else {
        v.data = at;
        v.dims.push_back(rows);
        for (int64_t d : leaf.type->dims)
          v.dims.push_back(i64(d));
      }
      return v;
    }
    if (const auto *st = dyn_cast<sema::StructType>(t))
      for (const sema::Field &f : st->fields)
        v.fields.push_back(view(f.type, start, rows));
    if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      for (const Type *e : tuple->elements)
        v.fields.push_back(view(e, start, rows));
    return v;
  };

  bool release = releasable(*s.body);
  llvm::Value *count =
      seq.batchSize
          ? b.CreateUDiv(
                b.CreateAdd(seq.length, b.CreateSub(seq.batchSize, i64(1))),
                seq.batchSize)
          : seq.length;
  loop(count, [&](llvm::Value *i) {
    llvm::Value *mark = release ? b.CreateCall(m_.arenaMark, {ctx_}) : nullptr;
    column = 0;
    if (seq.batchSize) {
      llvm::Value *start = b.CreateMul(i, seq.batchSize);
      llvm::Value *left = b.CreateSub(seq.length, start);
      llvm::Value *rows = b.CreateSelect(b.CreateICmpSLT(left, seq.batchSize),
                                         left, seq.batchSize);
      lets_[s.var] = view(dataRecord, start, rows);
    } else {
      lets_[s.var] = view(dataRecord, i, nullptr);
    }
    emitBlock(*s.body);
    if (terminated())
      b.SetInsertPoint(llvm::BasicBlock::Create(m_.context, "dead", f_));
    else if (mark)
      b.CreateCall(m_.arenaRelease, {ctx_, mark});
  });
}

} // namespace fedc::codegen
