// Values: locals, literals, calls, indexing, members; the helpers every
// emitter file uses (loops, arena allocation, checks, ABI flattening).
#include "codegen/Emitter.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/Support/Casting.h>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

const sema::TensorType *tensorOf(const Type *t) {
  return dyn_cast<sema::TensorType>(t);
}

} // namespace

FunctionEmitter::FunctionEmitter(ModuleEmitter &m, const sema::Function &fn)
    : m_(m), fn_(fn), f_(m.function(fn)), b(m.context) {
  b.SetInsertPoint(llvm::BasicBlock::Create(m.context, "entry", f_));
  ctx_ = f_->getArg(0);
  std::vector<llvm::Value *> leaves;
  for (unsigned i = 1; i < f_->arg_size(); ++i)
    leaves.push_back(f_->getArg(i));
  size_t next = 0;
  for (const sema::Local *p : fn.params)
    lets_[p] = unflatten(p->type, leaves, next);
}

namespace {
bool isUnsigned(ast::ScalarKind k) {
  return fedrt::elementKind(k) == fedrt::ElementKind::Unsigned ||
         fedrt::elementKind(k) == fedrt::ElementKind::Bool;
}
} // namespace

llvm::CmpInst::Predicate
FunctionEmitter::intPredicate(llvm::CmpInst::Predicate pred,
                              ast::ScalarKind k) {
  return isUnsigned(k) ? llvm::ICmpInst::getUnsignedPredicate(pred) : pred;
}

llvm::Value *FunctionEmitter::intCast(llvm::Value *x, ast::ScalarKind from,
                                      llvm::Type *to) {
  return isUnsigned(from) ? b.CreateZExtOrTrunc(x, to)
                          : b.CreateSExtOrTrunc(x, to);
}

llvm::Value *FunctionEmitter::intToFloat(llvm::Value *x, ast::ScalarKind from,
                                         llvm::Type *to) {
  return isUnsigned(from) ? b.CreateUIToFP(x, to) : b.CreateSIToFP(x, to);
}

llvm::Value *FunctionEmitter::floatToInt(llvm::Value *x, ast::ScalarKind to,
                                         llvm::Type *t) {
  // Saturating: out-of-range values clamp, NaN gives 0 (no UB).
  return b.CreateIntrinsic(isUnsigned(to) ? llvm::Intrinsic::fptoui_sat
                                          : llvm::Intrinsic::fptosi_sat,
                           {t, x->getType()}, {x});
}

void FunctionEmitter::returnFailure() {
  if (f_->getReturnType()->isVoidTy())
    b.CreateRetVoid();
  else
    b.CreateRet(llvm::Constant::getNullValue(f_->getReturnType()));
}

void FunctionEmitter::at(SourceRange r) {
  if (llvm::DISubprogram *sp = m_.subprogram(fn_))
    b.SetCurrentDebugLocation(m_.location(r.begin, sp));
}

void FunctionEmitter::emitBody() {
  at(fn_.decl->range());
  emitBlock(*fn_.body);
  if (!terminated()) {
    // Sema proved every path of a fn with a result returns; only unit fns
    // fall off the end.
    b.CreateRet(llvm::Constant::getNullValue(f_->getReturnType()));
  }
}

bool FunctionEmitter::terminated() const {
  return b.GetInsertBlock()->getTerminator() != nullptr;
}

llvm::Value *FunctionEmitter::constant(ast::ScalarKind k, double v) {
  llvm::Type *t = m_.elementType(k);
  if (t->isFloatingPointTy())
    return llvm::ConstantFP::get(t, v);
  return llvm::ConstantInt::get(
      t, static_cast<uint64_t>(static_cast<int64_t>(v)), true);
}

void FunctionEmitter::returnIfFailed() {
  llvm::Value *flag = b.CreateLoad(b.getInt32Ty(), ctx_, "failed");
  auto *bad = llvm::BasicBlock::Create(m_.context, "failed", f_);
  auto *ok = llvm::BasicBlock::Create(m_.context, "ok", f_);
  b.CreateCondBr(b.CreateICmpNE(flag, b.getInt32(0)), bad, ok);
  b.SetInsertPoint(bad);
  returnFailure();
  b.SetInsertPoint(ok);
}

void FunctionEmitter::check(llvm::Value *ok, SourceRange r,
                            const std::string &what, llvm::Value *got,
                            llvm::Value *expected) {
  if (auto *c = dyn_cast<llvm::ConstantInt>(ok); c && c->isOne())
    return; // proven at compile time
  auto *bad = llvm::BasicBlock::Create(m_.context, "check.failed", f_);
  auto *cont = llvm::BasicBlock::Create(m_.context, "check.ok", f_);
  b.CreateCondBr(ok, cont, bad,
                 llvm::MDBuilder(m_.context).createLikelyBranchWeights());
  b.SetInsertPoint(bad);
  llvm::Value *message =
      b.CreateGlobalStringPtr(m_.where(r) + ": " + what, "check.message");
  b.CreateCall(m_.fail,
               {ctx_, message, b.CreateSExtOrTrunc(got, b.getInt64Ty()),
                b.CreateSExtOrTrunc(expected, b.getInt64Ty())});
  returnFailure();
  b.SetInsertPoint(cont);
}

llvm::Value *
FunctionEmitter::elementCount(const std::vector<llvm::Value *> &dims) {
  llvm::Value *n = i64(1);
  for (llvm::Value *d : dims)
    n = b.CreateMul(n, d);
  return n;
}

llvm::Value *FunctionEmitter::alloc(ast::ScalarKind k, llvm::Value *count) {
  uint64_t size =
      m_.module->getDataLayout().getTypeAllocSize(m_.elementType(k));
  // A byte count beyond 64 bits asks for everything (the arena refuses).
  llvm::Value *product =
      b.CreateIntrinsic(llvm::Intrinsic::umul_with_overflow, {b.getInt64Ty()},
                        {count, i64(static_cast<int64_t>(size))});
  llvm::Value *bytes = b.CreateSelect(b.CreateExtractValue(product, 1), i64(-1),
                                      b.CreateExtractValue(product, 0));
  llvm::Value *data = b.CreateCall(m_.arenaAlloc, {ctx_, bytes});
  // Past the per-client limit the arena fails the call and hands back a
  // scratch buffer: return before anything writes the tensor into it.
  returnIfFailed();
  return data;
}

llvm::Value *FunctionEmitter::entryAlloca(llvm::Type *t) {
  llvm::BasicBlock &entry = f_->getEntryBlock();
  llvm::IRBuilder<> at(&entry, entry.getFirstInsertionPt());
  return at.CreateAlloca(t);
}

llvm::Value *FunctionEmitter::load(ast::ScalarKind k, llvm::Value *base,
                                   llvm::Value *index) {
  llvm::Type *t = m_.elementType(k);
  return b.CreateLoad(t, b.CreateInBoundsGEP(t, base, index));
}

void FunctionEmitter::store(llvm::Value *v, llvm::Value *base,
                            llvm::Value *index) {
  b.CreateStore(v, b.CreateInBoundsGEP(v->getType(), base, index));
}

void FunctionEmitter::loop(llvm::Value *count,
                           const std::function<void(llvm::Value *)> &body,
                           bool vectorize) {
  llvm::BasicBlock *before = b.GetInsertBlock();
  auto *header = llvm::BasicBlock::Create(m_.context, "loop", f_);
  auto *bodyBlock = llvm::BasicBlock::Create(m_.context, "loop.body", f_);
  auto *exit = llvm::BasicBlock::Create(m_.context, "loop.exit", f_);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode *i = b.CreatePHI(b.getInt64Ty(), 2, "i");
  i->addIncoming(i64(0), before);
  b.CreateCondBr(b.CreateICmpSLT(i, count), bodyBlock, exit);
  b.SetInsertPoint(bodyBlock);
  body(i);
  llvm::Value *next = b.CreateAdd(i, i64(1), "i.next", true, true);
  i->addIncoming(next, b.GetInsertBlock());
  llvm::BranchInst *latch = b.CreateBr(header);
  if (!vectorize) {
    // An outer loop of a row-major nest: vectorizing it would turn every
    // access into a strided gather; the inner loop is the contiguous one.
    llvm::LLVMContext &c = m_.context;
    llvm::Metadata *width[] = {
        llvm::MDString::get(c, "llvm.loop.vectorize.width"),
        llvm::ConstantAsMetadata::get(b.getInt32(1))};
    llvm::Metadata *ops[] = {nullptr, llvm::MDNode::get(c, width)};
    llvm::MDNode *id = llvm::MDNode::getDistinct(c, ops);
    id->replaceOperandWith(0, id);
    latch->setMetadata(llvm::LLVMContext::MD_loop, id);
  }
  b.SetInsertPoint(exit);
}

void FunctionEmitter::loopNest(
    const std::vector<llvm::Value *> &dims,
    const std::function<void(const std::vector<llvm::Value *> &)> &body) {
  std::vector<llvm::Value *> index;
  std::function<void(size_t)> level = [&](size_t k) {
    if (k == dims.size()) {
      body(index);
      return;
    }
    loop(
        dims[k],
        [&](llvm::Value *i) {
          index.push_back(i);
          level(k + 1);
          index.pop_back();
        },
        /*vectorize=*/k + 1 == dims.size());
  };
  level(0);
}

llvm::Value *
FunctionEmitter::linearIndex(const std::vector<llvm::Value *> &dims,
                             const std::vector<llvm::Value *> &index) {
  llvm::Value *linear = i64(0);
  for (size_t k = 0; k < dims.size(); ++k)
    linear = b.CreateAdd(b.CreateMul(linear, dims[k], "", true, true), index[k],
                         "", true, true);
  return linear;
}

std::vector<llvm::Value *> FunctionEmitter::flatten(const Type *t,
                                                    const Value &v) {
  std::vector<llvm::Value *> out;
  std::function<void(const Type *, const Value &)> walk = [&](const Type *type,
                                                              const Value
                                                                  &value) {
    if (const auto *tensor = tensorOf(type)) {
      if (tensor->isScalar()) {
        out.push_back(value.scalar);
      } else {
        out.push_back(value.data);
        out.insert(out.end(), value.dims.begin(), value.dims.end());
      }
    } else if (const auto *s = dyn_cast<sema::StructType>(type)) {
      for (size_t i = 0; i < s->fields.size(); ++i)
        walk(s->fields[i].type, value.fields[i]);
    } else if (const auto *tuple = dyn_cast<sema::TupleType>(type)) {
      for (size_t i = 0; i < tuple->elements.size(); ++i)
        walk(tuple->elements[i], value.fields[i]);
    } else if (isa<sema::SeqType>(type)) {
      if (value.batchSize)
        throw Unsupported{fn_.decl->range(), "passing batches(...) as a value"};
      out.push_back(value.length);
      out.insert(out.end(), value.columns.begin(), value.columns.end());
    }
  };
  walk(t, v);
  return out;
}

Value FunctionEmitter::unflatten(const Type *t,
                                 const std::vector<llvm::Value *> &leaves,
                                 size_t &next) {
  Value v;
  if (const auto *tensor = tensorOf(t)) {
    if (tensor->isScalar()) {
      v.scalar = leaves[next++];
    } else {
      v.data = leaves[next++];
      // Static dims are known from the type (sema guarantees them, and the
      // entry points' callers validate what comes from outside); constants
      // let LLVM fold broadcasting and vectorize with contiguous loads.
      for (size_t k = 0; k < tensor->rank(); ++k, ++next)
        v.dims.push_back(tensor->dims[k] == sema::kDynamicDim
                             ? leaves[next]
                             : i64(tensor->dims[k]));
    }
  } else if (const auto *s = dyn_cast<sema::StructType>(t)) {
    for (const sema::Field &f : s->fields)
      v.fields.push_back(unflatten(f.type, leaves, next));
  } else if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    for (const Type *e : tuple->elements)
      v.fields.push_back(unflatten(e, leaves, next));
  } else if (const auto *seq = dyn_cast<sema::SeqType>(t)) {
    v.length = leaves[next++];
    std::vector<llvm::Type *> record;
    std::function<size_t(const Type *)> count = [&](const Type *r) -> size_t {
      if (isa<sema::TensorType>(r))
        return 1;
      size_t n = 0;
      if (const auto *rs = dyn_cast<sema::StructType>(r))
        for (const sema::Field &f : rs->fields)
          n += count(f.type);
      if (const auto *rt = dyn_cast<sema::TupleType>(r))
        for (const Type *e : rt->elements)
          n += count(e);
      return n;
    };
    for (size_t c = count(seq->element); c > 0; --c)
      v.columns.push_back(leaves[next++]);
  }
  return v;
}

Value FunctionEmitter::copy(const Type *t, const Value &v) {
  if (const auto *tensor = tensorOf(t)) {
    if (tensor->isScalar())
      return v;
    Value out;
    out.dims = v.dims;
    llvm::Value *count = elementCount(v.dims);
    out.data = alloc(tensor->element, count);
    uint64_t size = m_.module->getDataLayout().getTypeAllocSize(
        m_.elementType(tensor->element));
    b.CreateMemMove(out.data, llvm::MaybeAlign(64), v.data, llvm::MaybeAlign(),
                    b.CreateMul(count, i64(static_cast<int64_t>(size))));
    return out;
  }
  Value out = v;
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (size_t i = 0; i < s->fields.size(); ++i)
      out.fields[i] = copy(s->fields[i].type, v.fields[i]);
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      out.fields[i] = copy(tuple->elements[i], v.fields[i]);
  return out; // sequences are read-only views
}

void FunctionEmitter::checkShape(const Type *t, const Value &v, SourceRange r) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    for (size_t k = 0; k < tensor->rank() && k < v.dims.size(); ++k) {
      int64_t d = tensor->dims[k];
      if (d == sema::kDynamicDim || isa<llvm::ConstantInt>(v.dims[k]))
        continue; // '?' accepts anything; constants were checked by sema
      check(b.CreateICmpEQ(v.dims[k], i64(d)), r,
            "dimension " + std::to_string(k) + " does not match " +
                sema::formatType(t),
            v.dims[k], i64(d));
    }
    return;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (size_t i = 0; i < s->fields.size(); ++i)
      checkShape(s->fields[i].type, v.fields[i], r);
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      checkShape(tuple->elements[i], v.fields[i], r);
}

Value FunctionEmitter::zerosLike(const Type *t, double fill) {
  Value out;
  if (const auto *tensor = tensorOf(t)) {
    if (tensor->isScalar()) {
      out.scalar = constant(tensor->element, fill);
      return out;
    }
    for (int64_t d : tensor->dims) {
      if (d == sema::kDynamicDim)
        throw Unsupported{fn_.decl->range(), "a constructor with '?' dims"};
      out.dims.push_back(i64(d));
    }
    llvm::Value *count = elementCount(out.dims);
    out.data = alloc(tensor->element, count);
    llvm::Value *value = constant(tensor->element, fill);
    loop(count, [&](llvm::Value *i) { store(value, out.data, i); });
    return out;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : s->fields)
      out.fields.push_back(zerosLike(f.type, fill));
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (const Type *e : tuple->elements)
      out.fields.push_back(zerosLike(e, fill));
  return out;
}

Value FunctionEmitter::member(const Value &v, int index) {
  return v.fields.at(static_cast<size_t>(index));
}

Value FunctionEmitter::emit(const sema::Expr &e) {
  if (auto it = cache_.find(&e); it != cache_.end())
    return it->second;
  at(e.range);
  Value v = emitUncached(e);
  cache_[&e] = v;
  return v;
}

Value FunctionEmitter::emitLiteral(const sema::LiteralExpr &e) {
  const auto *t = cast<sema::TensorType>(e.type);
  Value v;
  if (t->isBool())
    v.scalar = b.getInt8(e.boolValue ? 1 : 0);
  else if (t->isFloat())
    v.scalar = constant(t->element, e.floatValue);
  else
    v.scalar = llvm::ConstantInt::get(m_.elementType(t->element),
                                      static_cast<uint64_t>(e.intValue), true);
  return v;
}

Value FunctionEmitter::emitCall(const sema::CallExpr &e) {
  std::vector<llvm::Value *> args{ctx_};
  for (size_t i = 0; i < e.args.size(); ++i) {
    Value arg = emit(*e.args[i]);
    checkShape(e.callee->params[i]->type, arg, e.args[i]->range);
    std::vector<llvm::Value *> leaves = flatten(e.callee->params[i]->type, arg);
    args.insert(args.end(), leaves.begin(), leaves.end());
  }
  llvm::Value *result = b.CreateCall(m_.function(*e.callee), args);
  returnIfFailed();
  std::vector<llvm::Value *> leaves;
  auto *type = cast<llvm::StructType>(result->getType());
  for (unsigned i = 0; i < type->getNumElements(); ++i)
    leaves.push_back(b.CreateExtractValue(result, i));
  size_t next = 0;
  return unflatten(e.type, leaves, next);
}

Value FunctionEmitter::emitIndex(const sema::IndexExpr &e) {
  Value base = emit(*e.base);
  const auto *t = cast<sema::TensorType>(e.base->type);
  llvm::Value *offset = i64(0);
  for (size_t k = 0; k < t->rank(); ++k) {
    llvm::Value *i = i64(0);
    if (k < e.indices.size()) {
      i = intCast(emit(*e.indices[k]).scalar,
                  cast<sema::TensorType>(e.indices[k]->type)->element,
                  b.getInt64Ty());
      check(b.CreateICmpULT(i, base.dims[k]), e.indices[k]->range,
            "index out of bounds for dimension " + std::to_string(k), i,
            base.dims[k]);
    }
    offset = b.CreateAdd(b.CreateMul(offset, base.dims[k]), i);
  }
  Value v;
  if (e.indices.size() == t->rank()) {
    v.scalar = load(t->element, base.data, offset);
  } else {
    v.data = b.CreateInBoundsGEP(m_.elementType(t->element), base.data, offset);
    v.dims.assign(base.dims.begin() +
                      static_cast<std::ptrdiff_t>(e.indices.size()),
                  base.dims.end());
  }
  return v;
}

Value FunctionEmitter::emitUncached(const sema::Expr &e) {
  if (isElementwise(e)) {
    std::vector<int> path;
    return emitElementwise(e, e.type, path);
  }
  switch (e.kind()) {
  case sema::Expr::Kind::Literal:
    return emitLiteral(cast<sema::LiteralExpr>(e));
  case sema::Expr::Kind::LocalRef: {
    const sema::Local *local = cast<sema::RefExpr>(e).local;
    if (auto it = lets_.find(local); it != lets_.end())
      return it->second;
    return readVar(vars_.at(local));
  }
  case sema::Expr::Kind::ConstRef:
    return emit(*cast<sema::RefExpr>(e).constant->value);
  case sema::Expr::Kind::Binary:
    return emitMatMul(cast<sema::BinaryExpr>(e));
  case sema::Expr::Kind::Call:
    return emitCall(cast<sema::CallExpr>(e));
  case sema::Expr::Kind::BuiltinCall:
    return emitBuiltin(cast<sema::BuiltinCallExpr>(e));
  case sema::Expr::Kind::Index:
    return emitIndex(cast<sema::IndexExpr>(e));
  case sema::Expr::Kind::Member: {
    const auto &mem = cast<sema::MemberExpr>(e);
    return member(emit(*mem.base), mem.index);
  }
  case sema::Expr::Kind::StructLiteral:
  case sema::Expr::Kind::TupleLiteral: {
    Value v;
    for (const sema::ExprPtr &x : cast<sema::AggregateExpr>(e).elements)
      v.fields.push_back(emit(*x));
    checkShape(e.type, v, e.range);
    return v;
  }
  default:
    throw Unsupported{e.range, "this expression"};
  }
}

} // namespace fedc::codegen
