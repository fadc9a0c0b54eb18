// Builtins that are not elementwise: constructors, reductions (fused with
// their elementwise argument), softmax, one_hot, shape functions, `@`
// through the runtime's Eigen GEMM, norms and sequences.
#include "codegen/Emitter.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/Support/Casting.h>

#include <cmath>
#include <limits>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;

Value FunctionEmitter::emitMatMul(const sema::BinaryExpr &e) {
  // `transpose(x) @ d` reads x transposed instead of materializing it.
  auto operand = [&](const sema::Expr &x, bool &transposed) -> Value {
    const auto *call = dyn_cast<sema::BuiltinCallExpr>(&x);
    transposed = call && call->builtin == sema::Builtin::Transpose;
    return emit(transposed ? *call->args[0] : x);
  };
  bool ta = false, tb = false;
  Value a = operand(*e.lhs, ta);
  Value c = operand(*e.rhs, tb);
  const auto *lt = cast<sema::TensorType>(e.lhs->type);
  const auto *rt = cast<sema::TensorType>(e.rhs->type);
  // As matrices: a vector on the left is [1, k], on the right [k, 1].
  llvm::Value *m, *k, *n, *k2;
  if (lt->rank() == 1) {
    m = i64(1);
    k = a.dims[0];
  } else {
    m = ta ? a.dims[1] : a.dims[0];
    k = ta ? a.dims[0] : a.dims[1];
  }
  if (rt->rank() == 1) {
    k2 = c.dims[0];
    n = i64(1);
  } else {
    k2 = tb ? c.dims[1] : c.dims[0];
    n = tb ? c.dims[0] : c.dims[1];
  }
  check(b.CreateICmpEQ(k, k2), e.range, "'@' inner dimensions differ", k2, k);
  Value out;
  const auto *result = cast<sema::TensorType>(e.type);
  if (lt->rank() == 2)
    out.dims.push_back(m);
  if (rt->rank() == 2)
    out.dims.push_back(n);
  out.data = alloc(result->element, b.CreateMul(m, n));
  if (lt->isFloat()) {
    b.CreateCall(
        lt->element == ast::ScalarKind::F32 ? m_.matmulF32 : m_.matmulF64,
        {m, n, k, a.data, b.getInt32(ta), c.data, b.getInt32(tb), out.data});
  } else {
    // Integer products: a plain triple loop, checked like every integer
    // operation (docs/language.md, "Integers").
    ast::ScalarKind el = lt->element;
    loopNest({m, n}, [&](const std::vector<llvm::Value *> &ij) {
      llvm::Value *slot = entryAlloca(b.getInt64Ty());
      b.CreateStore(i64(0), slot);
      loop(k, [&](llvm::Value *p) {
        llvm::Value *ai = ta ? b.CreateAdd(b.CreateMul(p, m), ij[0])
                             : b.CreateAdd(b.CreateMul(ij[0], k), p);
        llvm::Value *bi = tb ? b.CreateAdd(b.CreateMul(ij[1], k), p)
                             : b.CreateAdd(b.CreateMul(p, n), ij[1]);
        llvm::Value *prod = integerProduct(load(el, a.data, ai),
                                           load(el, c.data, bi), el, e.range);
        b.CreateStore(
            checkedAccumulate(b.CreateLoad(b.getInt64Ty(), slot), prod, e.range,
                              std::string("integer overflow in '@' (") +
                                  ast::scalarName(el) + ")"),
            slot);
      });
      store(checkedNarrow(b.CreateLoad(b.getInt64Ty(), slot), el, e.range,
                          std::string("integer overflow in '@' (") +
                              ast::scalarName(el) + ")"),
            out.data, b.CreateAdd(b.CreateMul(ij[0], n), ij[1]));
    });
    flushFaults();
  }
  if (result->isScalar()) {
    Value s;
    s.scalar = load(result->element, out.data, i64(0));
    return s;
  }
  return out;
}

// Reductions (docs/language.md, "Reductions"): sums and means accumulate
// in f64 (f32 and f64 elements) or in checked i64 (integers) in index
// order, so results are deterministic and a sum of 10^7 f32 values is
// exact to f32 rounding; max/min/argmax propagate NaN as NumPy does.
struct FunctionEmitter::Reduction {
  sema::Builtin kind;
  ast::ScalarKind in, out; // element read, element of the result
  llvm::Type *acc;         // accumulator: f64, i64, or the element's type
  llvm::Value *init;
  bool extremum() const {
    return kind == sema::Builtin::ReduceMax ||
           kind == sema::Builtin::ReduceMin || kind == sema::Builtin::Argmax;
  }
  bool max() const {
    return kind == sema::Builtin::ReduceMax || kind == sema::Builtin::Argmax;
  }
};

FunctionEmitter::Reduction
FunctionEmitter::reductionOf(const sema::BuiltinCallExpr &e) {
  Reduction r;
  r.kind = e.builtin;
  r.in = cast<sema::TensorType>(e.args[0]->type)->element;
  r.out = cast<sema::TensorType>(e.type)->element;
  llvm::Type *inType = m_.elementType(r.in);
  if (r.extremum()) {
    r.acc = inType;
    double inf = std::numeric_limits<double>::infinity();
    unsigned bits =
        inType->isFloatingPointTy() ? 0 : inType->getIntegerBitWidth();
    bool isUnsigned =
        intPredicate(llvm::CmpInst::ICMP_SLT, r.in) != llvm::CmpInst::ICMP_SLT;
    r.init =
        inType->isFloatingPointTy()
            ? llvm::ConstantFP::get(inType, r.max() ? -inf : inf)
            : llvm::ConstantInt::get(
                  inType,
                  r.max()
                      ? (isUnsigned ? llvm::APInt::getMinValue(bits)
                                    : llvm::APInt::getSignedMinValue(bits))
                      : (isUnsigned ? llvm::APInt::getMaxValue(bits)
                                    : llvm::APInt::getSignedMaxValue(bits)));
    return r;
  }
  r.acc = inType->isFloatingPointTy() ? b.getDoubleTy() : b.getInt64Ty();
  r.init = llvm::Constant::getNullValue(r.acc);
  return r;
}

// Whether `x` replaces `cur` as the extremum: strictly better, or the
// first NaN (which then stays).
llvm::Value *FunctionEmitter::replacesExtremum(const Reduction &r,
                                               llvm::Value *x,
                                               llvm::Value *cur) {
  if (!x->getType()->isFloatingPointTy())
    return b.CreateICmp(intPredicate(r.max() ? llvm::CmpInst::ICMP_SGT
                                             : llvm::CmpInst::ICMP_SLT,
                                     r.in),
                        x, cur);
  llvm::Value *better =
      r.max() ? b.CreateFCmpOGT(x, cur) : b.CreateFCmpOLT(x, cur);
  llvm::Value *firstNaN =
      b.CreateAnd(b.CreateFCmpUNO(x, x), b.CreateFCmpORD(cur, cur));
  return b.CreateOr(better, firstNaN);
}

// acc (+) x for a sum, or the extremum of the two.
llvm::Value *FunctionEmitter::accumulate(const Reduction &r, llvm::Value *acc,
                                         llvm::Value *x, SourceRange where) {
  if (r.extremum())
    return b.CreateSelect(replacesExtremum(r, x, acc), x, acc);
  if (r.acc->isFloatingPointTy())
    return b.CreateFAdd(acc, b.CreateFPExt(x, r.acc));
  // Elements of at most 32 bits cannot overflow an i64 sum below 2^32
  // elements (the arena holds at most 2^30): a plain add, which vectorizes;
  // the result's range is checked once (finishReduction).
  if (r.in != ast::ScalarKind::I64)
    return b.CreateAdd(acc, intCast(x, r.in, r.acc));
  return checkedAccumulate(acc, intCast(x, r.in, r.acc), where,
                           std::string("integer overflow in sum (") +
                               ast::scalarName(r.out) + ")");
}

// The accumulator as the result's element: a mean divides by `count` in
// f64 first; an integer sum is range-checked.
llvm::Value *FunctionEmitter::finishReduction(const Reduction &r,
                                              llvm::Value *acc,
                                              llvm::Value *count,
                                              SourceRange where) {
  if (r.extremum())
    return acc;
  llvm::Type *out = m_.elementType(r.out);
  if (r.acc->isFloatingPointTy()) {
    if (r.kind == sema::Builtin::Mean)
      acc = b.CreateFDiv(acc, b.CreateSIToFP(count, r.acc));
    return b.CreateFPTrunc(acc, out);
  }
  return checkedNarrow(acc, r.out, where,
                       std::string("integer overflow in sum (") +
                           ast::scalarName(r.out) + ")");
}

Value FunctionEmitter::lowerReduction(const sema::BuiltinCallExpr &e) {
  FusedPtr tree = build(*e.args[0], {});
  std::vector<llvm::Value *> dims = shape(*tree, e.range);
  Reduction r = reductionOf(e);
  bool argmax = r.kind == sema::Builtin::Argmax;
  // Folds the elements `fullIndex` reaches over `axisDims` in index order:
  // the accumulator and the position of the extremum.
  auto reduce = [&](const std::function<std::vector<llvm::Value *>(
                        const std::vector<llvm::Value *> &)> &fullIndex,
                    const std::vector<llvm::Value *> &axisDims) {
    llvm::Value *acc = entryAlloca(r.acc);
    llvm::Value *best = entryAlloca(b.getInt64Ty());
    llvm::Value *counter = entryAlloca(b.getInt64Ty());
    b.CreateStore(r.init, acc);
    b.CreateStore(i64(0), best);
    b.CreateStore(i64(0), counter);
    loopNest(axisDims, [&](const std::vector<llvm::Value *> &idx) {
      llvm::Value *x = elementAt(*tree, fullIndex(idx), dims);
      llvm::Value *cur = b.CreateLoad(r.acc, acc);
      llvm::Value *pos = b.CreateLoad(b.getInt64Ty(), counter);
      if (argmax)
        b.CreateStore(b.CreateSelect(replacesExtremum(r, x, cur), pos,
                                     b.CreateLoad(b.getInt64Ty(), best)),
                      best);
      b.CreateStore(accumulate(r, cur, x, e.range), acc);
      b.CreateStore(b.CreateAdd(pos, i64(1)), counter);
    });
    llvm::Value *value =
        argmax
            ? b.CreateTrunc(b.CreateLoad(b.getInt64Ty(), best), b.getInt32Ty())
            : finishReduction(r, b.CreateLoad(r.acc, acc),
                              b.CreateLoad(b.getInt64Ty(), counter), e.range);
    return value;
  };
  if (!e.axis) {
    Value v;
    v.scalar = reduce([](const auto &idx) { return idx; }, dims);
    flushFaults();
    return v;
  }
  size_t axis = static_cast<size_t>(*e.axis);
  Value out;
  for (size_t k = 0; k < dims.size(); ++k)
    if (k != axis)
      out.dims.push_back(dims[k]);
  llvm::Value *count = elementCount(out.dims);
  out.data = alloc(r.out, count);
  if (argmax) {
    loopNest(out.dims, [&](const std::vector<llvm::Value *> &outer) {
      auto full = [&](const std::vector<llvm::Value *> &inner) {
        std::vector<llvm::Value *> idx(outer.begin(), outer.end());
        idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(axis), inner[0]);
        return idx;
      };
      store(reduce(full, {dims[axis]}), out.data, linearIndex(out.dims, outer));
    });
    flushFaults();
    return out;
  }
  foldAlongAxis(r, *tree, dims, axis, out, e.range);
  flushFaults();
  return out;
}

void FunctionEmitter::foldAlongAxis(const Reduction &r, const Fused &tree,
                                    const std::vector<llvm::Value *> &dims,
                                    size_t axis, Value &out,
                                    SourceRange where) {
  llvm::Value *count = elementCount(out.dims);
  // Walk the input in row-major order and fold each element into its
  // accumulator: contiguous and vectorizable across outputs, and every
  // output still folds its inputs in index order. Accumulators are f64 or
  // i64 scratch (or the output itself for max/min), finished in one pass.
  bool inPlace = r.extremum();
  llvm::Value *accs =
      inPlace ? out.data
              : b.CreateCall(m_.arenaAlloc, {ctx_, b.CreateMul(count, i64(8))});
  if (!inPlace)
    returnIfFailed();
  loop(count, [&](llvm::Value *i) { store(r.init, accs, i); });
  loopNest(dims, [&](const std::vector<llvm::Value *> &idx) {
    std::vector<llvm::Value *> outIdx;
    for (size_t k = 0; k < idx.size(); ++k)
      if (k != axis)
        outIdx.push_back(idx[k]);
    llvm::Value *at = linearIndex(out.dims, outIdx);
    llvm::Value *x = elementAt(tree, idx, dims);
    llvm::Value *cur =
        b.CreateLoad(r.acc, b.CreateInBoundsGEP(r.acc, accs, at));
    store(accumulate(r, cur, x, where), accs, at);
  });
  if (!inPlace)
    loop(count, [&](llvm::Value *i) {
      llvm::Value *acc =
          b.CreateLoad(r.acc, b.CreateInBoundsGEP(r.acc, accs, i));
      store(finishReduction(r, acc, dims[axis], where), out.data, i);
    });
}

Value FunctionEmitter::lowerSoftmax(const sema::BuiltinCallExpr &e) {
  bool log = e.builtin == sema::Builtin::LogSoftmax;
  Value x = emit(*e.args[0]);
  const auto *t = cast<sema::TensorType>(e.type);
  ast::ScalarKind k = t->element;
  llvm::Type *et = m_.elementType(k);
  std::vector<llvm::Value *> rowDims(x.dims.begin(), x.dims.end() - 1);
  llvm::Value *rows = elementCount(rowDims);
  llvm::Value *width = x.dims.back();
  llvm::Value *total = b.CreateMul(rows, width);
  Value out;
  out.dims = x.dims;
  out.data = alloc(k, total);
  auto exp = [&](llvm::Value *v) {
    return b.CreateIntrinsic(llvm::Intrinsic::exp, {et}, {v});
  };
  // Numerically stable: subtract each row's maximum. exp runs as one flat
  // pass over the whole block with nothing but the exp in it, so short rows
  // (10 classes) still vectorize through the vector math library; the other
  // passes are row by row; sums are sequential per row (deterministic).
  llvm::Value *maxes = alloc(k, rows);
  auto rowLoop =
      [&](const std::function<void(llvm::Value *, llvm::Value *)> &body) {
        loop(
            rows,
            [&](llvm::Value *r) {
              llvm::Value *base = b.CreateMul(r, width);
              body(r, base);
            },
            /*vectorize=*/false);
      };
  rowLoop([&](llvm::Value *r, llvm::Value *base) {
    llvm::Value *slot = entryAlloca(et);
    b.CreateStore(llvm::ConstantFP::getInfinity(et, true), slot);
    loop(width, [&](llvm::Value *j) {
      llvm::Value *v = load(k, x.data, b.CreateAdd(base, j));
      llvm::Value *cur = b.CreateLoad(et, slot);
      b.CreateStore(b.CreateSelect(b.CreateFCmpOGT(v, cur), v, cur), slot);
    });
    llvm::Value *m = b.CreateLoad(et, slot);
    store(m, maxes, r);
    loop(width, [&](llvm::Value *j) {
      llvm::Value *i = b.CreateAdd(base, j);
      store(b.CreateFSub(load(k, x.data, i), m), out.data, i);
    });
  });
  loop(total,
       [&](llvm::Value *i) { store(exp(load(k, out.data, i)), out.data, i); });
  // Denominators accumulate in f64 (a row of 10^6 logits sums exactly to
  // f32 rounding), then the scale is rounded once.
  llvm::Type *f64 = b.getDoubleTy();
  rowLoop([&](llvm::Value *r, llvm::Value *base) {
    llvm::Value *slot = entryAlloca(f64);
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), slot);
    loop(width, [&](llvm::Value *j) {
      b.CreateStore(
          b.CreateFAdd(
              b.CreateLoad(f64, slot),
              b.CreateFPExt(load(k, out.data, b.CreateAdd(base, j)), f64)),
          slot);
    });
    llvm::Value *sum = b.CreateLoad(f64, slot);
    llvm::Value *scale = b.CreateFPTrunc(
        log ? b.CreateIntrinsic(llvm::Intrinsic::log, {f64}, {sum})
            : b.CreateFDiv(llvm::ConstantFP::get(f64, 1.0), sum),
        et);
    llvm::Value *m = load(k, maxes, r);
    loop(width, [&](llvm::Value *j) {
      llvm::Value *i = b.CreateAdd(base, j);
      llvm::Value *v =
          log ? b.CreateFSub(b.CreateFSub(load(k, x.data, i), m), scale)
              : b.CreateFMul(load(k, out.data, i), scale);
      store(v, out.data, i);
    });
  });
  return out;
}

Value FunctionEmitter::randomTensor(const Type *t, llvm::Value *seed,
                                    bool uniform,
                                    const std::vector<llvm::Value *> &params,
                                    int64_t &leaf) {
  Value out;
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    // Leaves of a struct draw from different streams: seed + leaf index
    // mixed so that Model { w, b } does not repeat w's numbers in b.
    llvm::Value *leafSeed = b.CreateAdd(
        seed, i64(static_cast<int64_t>(0x632BE59BD9B4E019ull *
                                       static_cast<uint64_t>(leaf++))));
    bool f32 = tensor->element == ast::ScalarKind::F32;
    for (int64_t d : tensor->dims)
      out.dims.push_back(i64(d));
    llvm::Value *count = elementCount(out.dims);
    llvm::Value *data = alloc(tensor->element, count);
    std::vector<llvm::Value *> args{leafSeed};
    for (llvm::Value *p : params)
      args.push_back(b.CreateFPCast(p, m_.elementType(tensor->element)));
    args.push_back(data);
    args.push_back(count);
    llvm::FunctionCallee fn =
        uniform ? (f32 ? m_.randomUniformF32 : m_.randomUniformF64)
                : (f32 ? m_.randomNormalF32 : m_.randomNormalF64);
    b.CreateCall(fn, args);
    if (tensor->isScalar())
      out.scalar = load(tensor->element, data, i64(0));
    else
      out.data = data;
    return out;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : s->fields)
      out.fields.push_back(randomTensor(f.type, seed, uniform, params, leaf));
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (const Type *e : tuple->elements)
      out.fields.push_back(randomTensor(e, seed, uniform, params, leaf));
  return out;
}

// The squared L2 norm of every leaf of `v`, accumulated in f64 (the
// clipping bound of differential privacy depends on it).
llvm::Value *FunctionEmitter::squaredNorm(const Type *t, const Value &v) {
  llvm::Type *f64 = b.getDoubleTy();
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    if (tensor->isScalar()) {
      llvm::Value *x = b.CreateFPExt(v.scalar, f64);
      return b.CreateFMul(x, x);
    }
    llvm::Value *slot = entryAlloca(f64);
    b.CreateStore(llvm::ConstantFP::get(f64, 0.0), slot);
    loop(elementCount(v.dims), [&](llvm::Value *i) {
      llvm::Value *x = b.CreateFPExt(load(tensor->element, v.data, i), f64);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(f64, slot), b.CreateFMul(x, x)),
                    slot);
    });
    return b.CreateLoad(f64, slot);
  }
  llvm::Value *total = llvm::ConstantFP::get(f64, 0.0);
  auto add = [&](const Type *ft, const Value &fv) {
    total = b.CreateFAdd(total, squaredNorm(ft, fv));
  };
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (size_t i = 0; i < s->fields.size(); ++i)
      add(s->fields[i].type, v.fields[i]);
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      add(tuple->elements[i], v.fields[i]);
  return total;
}

Value FunctionEmitter::emitBuiltin(const sema::BuiltinCallExpr &e) {
  // Each builtin's lowering, from the table (sema/Builtins.def).
  using Lowering = Value (FunctionEmitter::*)(const sema::BuiltinCallExpr &);
  static constexpr Lowering kLowerings[] = {
#define BUILTIN(Name, spelling, TypeArg, Axis, Typing, Lowering)               \
  &FunctionEmitter::lower##Lowering,
#include "sema/Builtins.def"
  };
  return (this->*kLowerings[static_cast<size_t>(e.builtin)])(e);
}

Value FunctionEmitter::lowerConstructor(const sema::BuiltinCallExpr &e) {
  return zerosLike(e.typeArg, e.builtin == sema::Builtin::Ones ? 1.0 : 0.0);
}

Value FunctionEmitter::lowerElementwise(const sema::BuiltinCallExpr &e) {
  std::vector<int> path;
  return emitElementwise(e, e.type, path);
}

Value FunctionEmitter::lowerFill(const sema::BuiltinCallExpr &e) {
  // Every leaf of T filled with the (scalar) value.
  llvm::Value *value = emit(*e.args[0]).scalar;
  std::function<Value(const Type *)> filled = [&](const Type *t) -> Value {
    Value v;
    if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
      // Sema gave the value T's common element type.
      llvm::Value *x = value;
      if (tensor->isScalar()) {
        v.scalar = x;
        return v;
      }
      for (int64_t d : tensor->dims)
        v.dims.push_back(i64(d));
      llvm::Value *count = elementCount(v.dims);
      v.data = alloc(tensor->element, count);
      loop(count, [&](llvm::Value *i) { store(x, v.data, i); });
      return v;
    }
    if (const auto *st = dyn_cast<sema::StructType>(t))
      for (const sema::Field &f : st->fields)
        v.fields.push_back(filled(f.type));
    if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      for (const Type *x : tuple->elements)
        v.fields.push_back(filled(x));
    return v;
  };
  return filled(e.typeArg);
}

Value FunctionEmitter::lowerRandomNormal(const sema::BuiltinCallExpr &e) {
  llvm::Value *seed = b.CreateSExt(emit(*e.args[0]).scalar, b.getInt64Ty());
  llvm::Value *stddev = emit(*e.args[1]).scalar;
  int64_t leaf = 0;
  return randomTensor(e.typeArg, seed, false, {stddev}, leaf);
}

Value FunctionEmitter::lowerRandomUniform(const sema::BuiltinCallExpr &e) {
  llvm::Value *seed = b.CreateSExt(emit(*e.args[0]).scalar, b.getInt64Ty());
  llvm::Value *low = emit(*e.args[1]).scalar;
  llvm::Value *high = emit(*e.args[2]).scalar;
  int64_t leaf = 0;
  return randomTensor(e.typeArg, seed, true, {low, high}, leaf);
}

Value FunctionEmitter::lowerOneHot(const sema::BuiltinCallExpr &e) {
  Value labels = emit(*e.args[0]);
  const auto *lt = cast<sema::TensorType>(e.args[0]->type);
  llvm::Value *classes = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  Value out;
  out.dims = labels.dims;
  out.dims.push_back(classes);
  llvm::Value *count = elementCount(labels.dims);
  out.data = alloc(ast::ScalarKind::F32, b.CreateMul(count, classes));
  llvm::Value *zero = constant(ast::ScalarKind::F32, 0.0);
  llvm::Value *one = constant(ast::ScalarKind::F32, 1.0);
  loop(count, [&](llvm::Value *i) {
    llvm::Value *label =
        lt->isScalar() ? labels.scalar : load(lt->element, labels.data, i);
    label = intCast(label, lt->element, b.getInt64Ty());
    // A label outside [0, n) is an error (TensorFlow gives an all-zero
    // row, which silently makes that example's loss 0).
    noteFault(b.CreateICmpUGE(label, classes), e.args[0]->range,
              "one_hot: a label is outside [0, classes)");
    loop(classes, [&](llvm::Value *j) {
      store(b.CreateSelect(b.CreateICmpEQ(label, j), one, zero), out.data,
            b.CreateAdd(b.CreateMul(i, classes), j));
    });
  });
  flushFaults();
  return out;
}

Value FunctionEmitter::lowerTranspose(const sema::BuiltinCallExpr &e) {
  Value x = emit(*e.args[0]);
  const auto *t = cast<sema::TensorType>(e.type);
  Value out;
  out.dims = {x.dims[1], x.dims[0]};
  out.data = alloc(t->element, elementCount(out.dims));
  loopNest(out.dims, [&](const std::vector<llvm::Value *> &idx) {
    store(load(t->element, x.data, linearIndex(x.dims, {idx[1], idx[0]})),
          out.data, linearIndex(out.dims, idx));
  });
  return out;
}

Value FunctionEmitter::lowerReshape(const sema::BuiltinCallExpr &e) {
  Value x = emit(*e.args[0]);
  const auto *to = cast<sema::TensorType>(e.typeArg);
  Value out;
  out.data = x.data;
  llvm::Value *known = i64(1);
  int dynamicAt = -1;
  for (size_t k = 0; k < to->rank(); ++k) {
    if (to->dims[k] == sema::kDynamicDim) {
      dynamicAt = static_cast<int>(k);
      out.dims.push_back(nullptr);
    } else {
      out.dims.push_back(i64(to->dims[k]));
      known = b.CreateMul(known, out.dims.back());
    }
  }
  llvm::Value *total = elementCount(x.dims);
  if (dynamicAt >= 0) {
    check(b.CreateICmpEQ(b.CreateURem(total, known), i64(0)), e.range,
          "reshape: element count does not divide", total, known);
    out.dims[static_cast<size_t>(dynamicAt)] = b.CreateUDiv(total, known);
  } else {
    check(b.CreateICmpEQ(total, known), e.range, "reshape: element count",
          total, known);
  }
  return out;
}

Value FunctionEmitter::lowerRows(const sema::BuiltinCallExpr &e) {
  Value v;
  v.scalar = b.CreateTrunc(emit(*e.args[0]).dims[0], b.getInt32Ty());
  return v;
}

Value FunctionEmitter::lowerLen(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  llvm::Value *n = s.length;
  if (s.batchSize) // ceil(len / n)
    n = b.CreateUDiv(b.CreateAdd(n, b.CreateSub(s.batchSize, i64(1))),
                     s.batchSize);
  Value v;
  v.scalar = b.CreateTrunc(n, b.getInt32Ty());
  return v;
}

Value FunctionEmitter::lowerNorm(const sema::BuiltinCallExpr &e) {
  Value v;
  llvm::Value *sq = squaredNorm(e.args[0]->type, emit(*e.args[0]));
  v.scalar = b.CreateFPTrunc(
      b.CreateIntrinsic(llvm::Intrinsic::sqrt, {sq->getType()}, {sq}),
      m_.elementType(cast<sema::TensorType>(e.type)->element));
  return v;
}

Value FunctionEmitter::lowerClipByNorm(const sema::BuiltinCallExpr &e) {
  const Type *t = e.args[0]->type;
  Value x = emit(*e.args[0]);
  llvm::Type *f64 = b.getDoubleTy();
  llvm::Value *c = b.CreateFPExt(emit(*e.args[1]).scalar, f64);
  llvm::Value *sq = squaredNorm(t, x);
  llvm::Value *norm = b.CreateIntrinsic(llvm::Intrinsic::sqrt, {f64}, {sq});
  // scale = c / norm when norm > c, else 1; in f64, and each element is
  // scaled in f64 before rounding, so the clipped norm is c to f32
  // rounding of the elements.
  llvm::Value *scale =
      b.CreateSelect(b.CreateFCmpOGT(norm, c), b.CreateFDiv(c, norm),
                     llvm::ConstantFP::get(f64, 1.0));
  std::function<Value(const Type *, const Value &)> scaled =
      [&](const Type *ft, const Value &fv) -> Value {
    if (const auto *tensor = dyn_cast<sema::TensorType>(ft)) {
      auto cast = [&](FusedPtr child, ast::ScalarKind from,
                      ast::ScalarKind to) {
        auto node = std::make_unique<Fused>();
        node->kind = Fused::Kind::Cast;
        node->element = to;
        node->operandElement = from;
        node->rank = tensor->rank();
        node->children.push_back(std::move(child));
        return node;
      };
      auto mul = std::make_unique<Fused>();
      mul->kind = Fused::Kind::Binary;
      mul->op = ast::BinaryOp::Mul;
      mul->element = mul->operandElement = ast::ScalarKind::F64;
      mul->rank = tensor->rank();
      mul->children.push_back(
          cast(leafNode(fv, ft), tensor->element, ast::ScalarKind::F64));
      auto factor = std::make_unique<Fused>();
      factor->leaf.scalar = scale;
      factor->element = ast::ScalarKind::F64;
      mul->children.push_back(std::move(factor));
      return materialize(
          *cast(std::move(mul), ast::ScalarKind::F64, tensor->element),
          e.range);
    }
    Value out;
    if (const auto *s = dyn_cast<sema::StructType>(ft))
      for (size_t i = 0; i < s->fields.size(); ++i)
        out.fields.push_back(scaled(s->fields[i].type, fv.fields[i]));
    if (const auto *tuple = dyn_cast<sema::TupleType>(ft))
      for (size_t i = 0; i < tuple->elements.size(); ++i)
        out.fields.push_back(scaled(tuple->elements[i], fv.fields[i]));
    return out;
  };
  return scaled(t, x);
}

Value FunctionEmitter::lowerDot(const sema::BuiltinCallExpr &e) {
  Value x = emit(*e.args[0]), y = emit(*e.args[1]);
  const auto *t = cast<sema::TensorType>(e.type);
  check(b.CreateICmpEQ(x.dims[0], y.dims[0]), e.range, "dot: lengths differ",
        y.dims[0], x.dims[0]);
  // Accumulated in f64, or in checked i64 (like sum).
  ast::ScalarKind el = t->element;
  bool isFloat = m_.elementType(el)->isFloatingPointTy();
  llvm::Type *acc = isFloat ? b.getDoubleTy() : b.getInt64Ty();
  std::string overflow =
      std::string("integer overflow in dot (") + ast::scalarName(el) + ")";
  llvm::Value *slot = entryAlloca(acc);
  b.CreateStore(llvm::Constant::getNullValue(acc), slot);
  loop(x.dims[0], [&](llvm::Value *i) {
    llvm::Value *xi = load(el, x.data, i), *yi = load(el, y.data, i);
    llvm::Value *cur = b.CreateLoad(acc, slot);
    if (isFloat)
      b.CreateStore(b.CreateFAdd(cur, b.CreateFMul(b.CreateFPExt(xi, acc),
                                                   b.CreateFPExt(yi, acc))),
                    slot);
    else
      b.CreateStore(checkedAccumulate(cur, integerProduct(xi, yi, el, e.range),
                                      e.range, overflow),
                    slot);
  });
  Value v;
  llvm::Value *total = b.CreateLoad(acc, slot);
  v.scalar = isFloat ? b.CreateFPTrunc(total, m_.elementType(el))
                     : checkedNarrow(total, el, e.range, overflow);
  flushFaults();
  return v;
}

Value FunctionEmitter::lowerBatches(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  s.batchSize = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  check(b.CreateICmpSGT(s.batchSize, i64(0)), e.range,
        "batch size must be positive", s.batchSize, i64(1));
  return s;
}

// random_uniform_like(x, seed): x's shape (known at run time), uniform
// [0, 1) from one stream of the seed.
Value FunctionEmitter::lowerRandomUniformLike(const sema::BuiltinCallExpr &e) {
  Value x = emit(*e.args[0]);
  llvm::Value *seed = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  const auto *t = cast<sema::TensorType>(e.type);
  Value out;
  out.dims = x.dims;
  llvm::Value *count = elementCount(out.dims);
  llvm::Value *data = alloc(t->element, count);
  bool f32 = t->element == ast::ScalarKind::F32;
  b.CreateCall(f32 ? m_.randomUniformF32 : m_.randomUniformF64,
               {seed, constant(t->element, 0.0), constant(t->element, 1.0),
                data, count});
  if (t->isScalar())
    out.scalar = load(t->element, data, i64(0));
  else
    out.data = data;
  return out;
}

// shuffle(data, seed): the records in a seeded order, gathered column by
// column into the arena (a batch must stay a contiguous view).
Value FunctionEmitter::lowerShuffle(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  llvm::Value *seed = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  std::vector<RecordLeaf> leaves =
      recordLeaves(cast<sema::SeqType>(e.args[0]->type)->element, e.range);
  llvm::Value *rows = alloc(ast::ScalarKind::I64, s.length);
  b.CreateCall(m_.shuffleRows, {seed, s.length, rows});
  Value out = s;
  for (size_t j = 0; j < leaves.size(); ++j) {
    llvm::Value *column = alloc(leaves[j].type->element,
                                b.CreateMul(s.length, i64(leaves[j].size)));
    int64_t rowBytes =
        leaves[j].size *
        static_cast<int64_t>(m_.module->getDataLayout().getTypeAllocSize(
            m_.elementType(leaves[j].type->element)));
    b.CreateCall(m_.gatherRows,
                 {s.columns[j], column, rows, s.length, i64(rowBytes)});
    out.columns[j] = column;
  }
  return out;
}

// take(data, n) and skip(data, n): views of the first n records and of the
// rest (n past the end takes everything, or skips everything).
Value FunctionEmitter::lowerTake(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  llvm::Value *n = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  check(b.CreateICmpSGE(n, i64(0)), e.args[1]->range,
        "take: the count must be >= 0", n, i64(0));
  s.length = b.CreateSelect(b.CreateICmpULT(n, s.length), n, s.length);
  return s;
}

Value FunctionEmitter::lowerSkip(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  llvm::Value *n = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  check(b.CreateICmpSGE(n, i64(0)), e.args[1]->range,
        "skip: the count must be >= 0", n, i64(0));
  llvm::Value *skipped =
      b.CreateSelect(b.CreateICmpULT(n, s.length), n, s.length);
  std::vector<RecordLeaf> leaves =
      recordLeaves(cast<sema::SeqType>(e.args[0]->type)->element, e.range);
  for (size_t j = 0; j < leaves.size(); ++j)
    s.columns[j] = b.CreateInBoundsGEP(
        m_.elementType(leaves[j].type->element), s.columns[j],
        b.CreateMul(skipped, i64(leaves[j].size)));
  s.length = b.CreateSub(s.length, skipped);
  return s;
}

Value FunctionEmitter::lowerTape(const sema::BuiltinCallExpr &e) {
  // %tape<T>(n): n zeroed copies of tensor T in one buffer, [n, dims of T].
  const auto *t = cast<sema::TensorType>(e.typeArg);
  const auto *nt = cast<sema::TensorType>(e.args[0]->type);
  llvm::Value *n =
      intCast(emit(*e.args[0]).scalar, nt->element, b.getInt64Ty());
  int64_t each = 1;
  for (int64_t d : t->dims)
    each *= d;
  llvm::Value *limit = i64(INT64_MAX / 16 / std::max<int64_t>(each, 1));
  check(b.CreateICmpULE(n, limit), e.range,
        "too many iterations to keep for the gradient", n, limit);
  Value out;
  out.dims.push_back(n);
  for (int64_t d : t->dims)
    out.dims.push_back(i64(d));
  llvm::Value *count = b.CreateMul(n, i64(each));
  out.data = alloc(t->element, count);
  llvm::Value *zero = constant(t->element, 0.0);
  loop(count, [&](llvm::Value *i) { store(zero, out.data, i); });
  return out;
}

} // namespace fedc::codegen
