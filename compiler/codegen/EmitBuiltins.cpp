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
    // Integer products: a plain triple loop (wrapping arithmetic).
    ast::ScalarKind el = lt->element;
    llvm::Type *et = m_.elementType(el);
    loopNest({m, n}, [&](const std::vector<llvm::Value *> &ij) {
      llvm::Value *slot = entryAlloca(et);
      b.CreateStore(llvm::Constant::getNullValue(et), slot);
      loop(k, [&](llvm::Value *p) {
        llvm::Value *ai = ta ? b.CreateAdd(b.CreateMul(p, m), ij[0])
                             : b.CreateAdd(b.CreateMul(ij[0], k), p);
        llvm::Value *bi = tb ? b.CreateAdd(b.CreateMul(ij[1], k), p)
                             : b.CreateAdd(b.CreateMul(p, n), ij[1]);
        llvm::Value *prod =
            b.CreateMul(load(el, a.data, ai), load(el, c.data, bi));
        b.CreateStore(b.CreateAdd(b.CreateLoad(et, slot), prod), slot);
      });
      store(b.CreateLoad(et, slot), out.data,
            b.CreateAdd(b.CreateMul(ij[0], n), ij[1]));
    });
  }
  if (result->isScalar()) {
    Value s;
    s.scalar = load(result->element, out.data, i64(0));
    return s;
  }
  return out;
}

Value FunctionEmitter::lowerReduction(const sema::BuiltinCallExpr &e) {
  const sema::Expr &arg = *e.args[0];
  const auto *in = cast<sema::TensorType>(arg.type);
  FusedPtr tree = build(arg, {});
  std::vector<llvm::Value *> dims = shape(*tree, e.range);
  sema::Builtin kind = e.builtin;
  bool argmax = kind == sema::Builtin::Argmax;
  bool maxLike = argmax || kind == sema::Builtin::ReduceMax;
  bool minLike = kind == sema::Builtin::ReduceMin;
  // The accumulator has the result's element (a sum of bytes is i64), and
  // each element is widened to it as it is read.
  ast::ScalarKind accElement =
      argmax ? in->element : cast<sema::TensorType>(e.type)->element;
  llvm::Type *t = m_.elementType(accElement);
  bool isFloat = t->isFloatingPointTy();
  auto widen = [&](llvm::Value *x) {
    return accElement == in->element ? x : intCast(x, in->element, t);
  };
  bool isUnsigned =
      !isFloat && intPredicate(llvm::CmpInst::ICMP_SLT, accElement) !=
                      llvm::CmpInst::ICMP_SLT;
  llvm::Value *init;
  if (maxLike || minLike) {
    double inf = std::numeric_limits<double>::infinity();
    unsigned bits = isFloat ? 0 : t->getIntegerBitWidth();
    init =
        isFloat
            ? llvm::ConstantFP::get(t, maxLike ? -inf : inf)
            : llvm::ConstantInt::get(
                  t, maxLike
                         ? (isUnsigned ? llvm::APInt::getMinValue(bits)
                                       : llvm::APInt::getSignedMinValue(bits))
                         : (isUnsigned ? llvm::APInt::getMaxValue(bits)
                                       : llvm::APInt::getSignedMaxValue(bits)));
  } else {
    init = llvm::Constant::getNullValue(t);
  }
  // Reduce the elements `index` ranges over along `axisDims`, sequentially
  // (a fixed order, so results are deterministic).
  auto reduce = [&](const std::function<std::vector<llvm::Value *>(
                        const std::vector<llvm::Value *> &)> &fullIndex,
                    const std::vector<llvm::Value *> &axisDims)
      -> std::pair<llvm::Value *, llvm::Value *> {
    llvm::Value *acc = entryAlloca(t);
    llvm::Value *best = entryAlloca(b.getInt64Ty());
    llvm::Value *counter = entryAlloca(b.getInt64Ty());
    b.CreateStore(init, acc);
    b.CreateStore(i64(0), best);
    b.CreateStore(i64(0), counter);
    loopNest(axisDims, [&](const std::vector<llvm::Value *> &idx) {
      llvm::Value *x = widen(elementAt(*tree, fullIndex(idx), dims));
      llvm::Value *cur = b.CreateLoad(t, acc);
      llvm::Value *pos = b.CreateLoad(b.getInt64Ty(), counter);
      if (maxLike || minLike) {
        llvm::Value *better =
            isFloat
                ? (maxLike ? b.CreateFCmpOGT(x, cur) : b.CreateFCmpOLT(x, cur))
                : b.CreateICmp(intPredicate(maxLike ? llvm::CmpInst::ICMP_SGT
                                                    : llvm::CmpInst::ICMP_SLT,
                                            in->element),
                               x, cur);
        b.CreateStore(b.CreateSelect(better, x, cur), acc);
        b.CreateStore(
            b.CreateSelect(better, pos, b.CreateLoad(b.getInt64Ty(), best)),
            best);
      } else {
        b.CreateStore(isFloat ? b.CreateFAdd(cur, x) : b.CreateAdd(cur, x),
                      acc);
      }
      b.CreateStore(b.CreateAdd(pos, i64(1)), counter);
    });
    llvm::Value *value = b.CreateLoad(t, acc);
    if (kind == sema::Builtin::Mean)
      value = b.CreateFDiv(
          value, b.CreateSIToFP(b.CreateLoad(b.getInt64Ty(), counter), t));
    return {value, b.CreateLoad(b.getInt64Ty(), best)};
  };
  auto result = [&](std::pair<llvm::Value *, llvm::Value *> r) {
    return argmax ? b.CreateTrunc(r.second, b.getInt32Ty()) : r.first;
  };
  ast::ScalarKind outElement = argmax ? ast::ScalarKind::I32 : accElement;
  if (!e.axis) {
    Value v;
    v.scalar = result(reduce([](const auto &idx) { return idx; }, dims));
    return v;
  }
  size_t axis = static_cast<size_t>(*e.axis);
  Value out;
  for (size_t k = 0; k < dims.size(); ++k)
    if (k != axis)
      out.dims.push_back(dims[k]);
  out.data = alloc(outElement, elementCount(out.dims));
  if (!argmax) {
    // Walk the input in row-major order and fold each element into its
    // output slot: contiguous and vectorizable across output elements,
    // and every output still adds its inputs in index order.
    llvm::Value *count = elementCount(out.dims);
    loop(count, [&](llvm::Value *i) { store(init, out.data, i); });
    loopNest(dims, [&](const std::vector<llvm::Value *> &idx) {
      std::vector<llvm::Value *> outIdx;
      for (size_t k = 0; k < idx.size(); ++k)
        if (k != axis)
          outIdx.push_back(idx[k]);
      llvm::Value *at = linearIndex(out.dims, outIdx);
      llvm::Value *x = widen(elementAt(*tree, idx, dims));
      llvm::Value *cur = load(outElement, out.data, at);
      llvm::Value *next;
      if (maxLike || minLike)
        next = b.CreateSelect(
            isFloat
                ? (maxLike ? b.CreateFCmpOGT(x, cur) : b.CreateFCmpOLT(x, cur))
                : b.CreateICmp(intPredicate(maxLike ? llvm::CmpInst::ICMP_SGT
                                                    : llvm::CmpInst::ICMP_SLT,
                                            in->element),
                               x, cur),
            x, cur);
      else
        next = isFloat ? b.CreateFAdd(cur, x) : b.CreateAdd(cur, x);
      store(next, out.data, at);
    });
    if (kind == sema::Builtin::Mean) {
      llvm::Value *n = b.CreateSIToFP(dims[axis], t);
      loop(count, [&](llvm::Value *i) {
        store(b.CreateFDiv(load(outElement, out.data, i), n), out.data, i);
      });
    }
    return out;
  }
  loopNest(out.dims, [&](const std::vector<llvm::Value *> &outer) {
    auto full = [&](const std::vector<llvm::Value *> &inner) {
      std::vector<llvm::Value *> idx(outer.begin(), outer.end());
      idx.insert(idx.begin() + static_cast<std::ptrdiff_t>(axis), inner[0]);
      return idx;
    };
    store(result(reduce(full, {dims[axis]})), out.data,
          linearIndex(out.dims, outer));
  });
  return out;
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
  rowLoop([&](llvm::Value *r, llvm::Value *base) {
    llvm::Value *slot = entryAlloca(et);
    b.CreateStore(llvm::ConstantFP::get(et, 0.0), slot);
    loop(width, [&](llvm::Value *j) {
      b.CreateStore(b.CreateFAdd(b.CreateLoad(et, slot),
                                 load(k, out.data, b.CreateAdd(base, j))),
                    slot);
    });
    llvm::Value *sum = b.CreateLoad(et, slot);
    llvm::Value *scale =
        log ? b.CreateIntrinsic(llvm::Intrinsic::log, {et}, {sum})
            : b.CreateFDiv(llvm::ConstantFP::get(et, 1.0), sum);
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

Value FunctionEmitter::randomNormal(const Type *t, llvm::Value *seed,
                                    llvm::Value *stddev, int64_t &leaf) {
  Value out;
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    // Leaves of a struct draw from different streams: seed + leaf index
    // mixed so that Model { w, b } does not repeat w's numbers in b.
    llvm::Value *leafSeed = b.CreateAdd(
        seed, i64(static_cast<int64_t>(0x632BE59BD9B4E019ull *
                                       static_cast<uint64_t>(leaf++))));
    bool f32 = tensor->element == ast::ScalarKind::F32;
    llvm::Value *sd = b.CreateFPCast(stddev, m_.elementType(tensor->element));
    for (int64_t d : tensor->dims)
      out.dims.push_back(i64(d));
    llvm::Value *count = elementCount(out.dims);
    llvm::Value *data = alloc(tensor->element, count);
    b.CreateCall(f32 ? m_.randomNormalF32 : m_.randomNormalF64,
                 {leafSeed, sd, data, count});
    if (tensor->isScalar())
      out.scalar = load(tensor->element, data, i64(0));
    else
      out.data = data;
    return out;
  }
  if (const auto *s = dyn_cast<sema::StructType>(t))
    for (const sema::Field &f : s->fields)
      out.fields.push_back(randomNormal(f.type, seed, stddev, leaf));
  if (const auto *tuple = dyn_cast<sema::TupleType>(t))
    for (const Type *e : tuple->elements)
      out.fields.push_back(randomNormal(e, seed, stddev, leaf));
  return out;
}

llvm::Value *FunctionEmitter::squaredNorm(const Type *t, const Value &v) {
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    llvm::Type *et = m_.elementType(tensor->element);
    if (tensor->isScalar())
      return b.CreateFMul(v.scalar, v.scalar);
    llvm::Value *slot = entryAlloca(et);
    b.CreateStore(llvm::ConstantFP::get(et, 0.0), slot);
    loop(elementCount(v.dims), [&](llvm::Value *i) {
      llvm::Value *x = load(tensor->element, v.data, i);
      b.CreateStore(b.CreateFAdd(b.CreateLoad(et, slot), b.CreateFMul(x, x)),
                    slot);
    });
    return b.CreateLoad(et, slot);
  }
  llvm::Value *total = nullptr;
  auto add = [&](const Type *ft, const Value &fv) {
    llvm::Value *s = squaredNorm(ft, fv);
    total =
        total ? b.CreateFAdd(total, b.CreateFPCast(s, total->getType())) : s;
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
  return randomNormal(e.typeArg, seed, stddev, leaf);
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
    // Labels outside [0, n) give an all-zero row, as in TensorFlow.
    loop(classes, [&](llvm::Value *j) {
      store(b.CreateSelect(b.CreateICmpEQ(label, j), one, zero), out.data,
            b.CreateAdd(b.CreateMul(i, classes), j));
    });
  });
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
  v.scalar = b.CreateIntrinsic(llvm::Intrinsic::sqrt, {sq->getType()}, {sq});
  return v;
}

Value FunctionEmitter::lowerClipByNorm(const sema::BuiltinCallExpr &e) {
  const Type *t = e.args[0]->type;
  Value x = emit(*e.args[0]);
  llvm::Value *c = emit(*e.args[1]).scalar;
  llvm::Value *sq = squaredNorm(t, x);
  llvm::Value *norm =
      b.CreateIntrinsic(llvm::Intrinsic::sqrt, {sq->getType()}, {sq});
  // scale = c / norm when norm > c, else 1.
  llvm::Value *scale =
      b.CreateSelect(b.CreateFCmpOGT(norm, c), b.CreateFDiv(c, norm),
                     llvm::ConstantFP::get(norm->getType(), 1.0));
  std::function<Value(const Type *, const Value &)> scaled =
      [&](const Type *ft, const Value &fv) -> Value {
    if (const auto *tensor = dyn_cast<sema::TensorType>(ft)) {
      auto leaf = leafNode(fv, ft);
      auto mul = std::make_unique<Fused>();
      mul->kind = Fused::Kind::Binary;
      mul->op = ast::BinaryOp::Mul;
      mul->element = mul->operandElement = tensor->element;
      mul->rank = tensor->rank();
      mul->children.push_back(std::move(leaf));
      auto factor = std::make_unique<Fused>();
      factor->leaf.scalar =
          b.CreateFPCast(scale, m_.elementType(tensor->element));
      factor->element = tensor->element;
      mul->children.push_back(std::move(factor));
      return materialize(*mul, e.range);
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
  llvm::Type *et = m_.elementType(t->element);
  llvm::Value *slot = entryAlloca(et);
  b.CreateStore(llvm::Constant::getNullValue(et), slot);
  bool isFloat = et->isFloatingPointTy();
  loop(x.dims[0], [&](llvm::Value *i) {
    llvm::Value *p = isFloat ? b.CreateFMul(load(t->element, x.data, i),
                                            load(t->element, y.data, i))
                             : b.CreateMul(load(t->element, x.data, i),
                                           load(t->element, y.data, i));
    llvm::Value *cur = b.CreateLoad(et, slot);
    b.CreateStore(isFloat ? b.CreateFAdd(cur, p) : b.CreateAdd(cur, p), slot);
  });
  Value v;
  v.scalar = b.CreateLoad(et, slot);
  return v;
}

Value FunctionEmitter::lowerBatches(const sema::BuiltinCallExpr &e) {
  Value s = emit(*e.args[0]);
  s.batchSize = b.CreateSExt(emit(*e.args[1]).scalar, b.getInt64Ty());
  check(b.CreateICmpSGT(s.batchSize, i64(0)), e.range,
        "batch size must be positive", s.batchSize, i64(1));
  return s;
}

} // namespace fedc::codegen
