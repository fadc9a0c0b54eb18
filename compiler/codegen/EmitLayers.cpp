// The layer builtins and their adjoints (sema/Builtins.def, "Layers"):
// calls of the runtime's kernels (runtime/core/Conv.cpp, Layers.cpp;
// abi.h), the result allocated here from the arena.
#include "codegen/Emitter.h"

#include "fedrt/abi.h"

#include <llvm/Support/Casting.h>

namespace fedc::codegen {

using llvm::cast;
using sema::Builtin;

llvm::FunctionCallee FunctionEmitter::kernel(const std::string &name,
                                             ast::ScalarKind k) {
  return m_.runtime.at("fedrt_" + name +
                       (k == ast::ScalarKind::F32 ? "_f32" : "_f64"));
}

Value FunctionEmitter::allocLike(const sema::TensorType *t, const Value &like) {
  Value out;
  for (size_t k = 0; k < t->rank(); ++k)
    out.dims.push_back(t->dims[k] == sema::kDynamicDim ? like.dims[k]
                                                       : i64(t->dims[k]));
  out.data = alloc(t->element, elementCount(out.dims));
  return out;
}

llvm::Value *FunctionEmitter::windowGeometry(const sema::BuiltinCallExpr &e,
                                             const Value &x,
                                             const sema::TensorType *xt,
                                             int64_t outChannels) {
  auto *array = llvm::ArrayType::get(b.getInt64Ty(), FEDRT_WINDOW_FIELDS);
  llvm::Value *g = entryAlloca(array);
  auto set = [&](int field, llvm::Value *v) {
    b.CreateStore(v, b.CreateConstInBoundsGEP2_64(array, g, 0, field));
  };
  // Height, width and channels are static (sema); the batch may not be.
  set(FEDRT_WINDOW_N, x.dims[0]);
  set(FEDRT_WINDOW_H, i64(xt->dims[1]));
  set(FEDRT_WINDOW_W, i64(xt->dims[2]));
  set(FEDRT_WINDOW_C, i64(xt->dims[3]));
  set(FEDRT_WINDOW_KH, i64(e.window.kh));
  set(FEDRT_WINDOW_KW, i64(e.window.kw));
  set(FEDRT_WINDOW_O, i64(outChannels));
  set(FEDRT_WINDOW_STRIDE, i64(e.window.stride));
  set(FEDRT_WINDOW_SAME, i64(e.window.same ? 1 : 0));
  return g;
}

Value FunctionEmitter::lowerKernel(const sema::BuiltinCallExpr &e) {
  const auto *type = cast<sema::TensorType>(e.type);
  ast::ScalarKind el = type->element;
  auto tensorOf = [&](size_t i) {
    return cast<sema::TensorType>(e.args[i]->type);
  };
  switch (e.builtin) {
  case Builtin::Conv2d: {
    Value x = emit(*e.args[0]), w = emit(*e.args[1]);
    Value y = allocLike(type, x);
    llvm::Value *g = windowGeometry(e, x, tensorOf(0), tensorOf(1)->dims[3]);
    b.CreateCall(kernel("conv2d", el), {ctx_, g, x.data, w.data, y.data});
    returnIfFailed(); // the kernel's scratch exhausted the arena
    return y;
  }
  case Builtin::Conv2dInputGrad: { // (dy, w, x)
    Value dy = emit(*e.args[0]), w = emit(*e.args[1]), x = emit(*e.args[2]);
    Value dx = allocLike(type, x);
    llvm::Value *g = windowGeometry(e, x, tensorOf(2), tensorOf(1)->dims[3]);
    b.CreateCall(kernel("conv2d_input_grad", el),
                 {ctx_, g, dy.data, w.data, dx.data});
    returnIfFailed();
    return dx;
  }
  case Builtin::Conv2dFilterGrad: { // (x, dy, w)
    Value x = emit(*e.args[0]), dy = emit(*e.args[1]);
    Value dw = allocLike(type, x);
    llvm::Value *g = windowGeometry(e, x, tensorOf(0), tensorOf(2)->dims[3]);
    b.CreateCall(kernel("conv2d_filter_grad", el),
                 {ctx_, g, x.data, dy.data, dw.data});
    returnIfFailed();
    return dw;
  }
  case Builtin::MaxPool2d:
  case Builtin::AvgPool2d: {
    Value x = emit(*e.args[0]);
    Value y = allocLike(type, x);
    llvm::Value *g = windowGeometry(e, x, tensorOf(0), 0);
    bool max = e.builtin == Builtin::MaxPool2d;
    b.CreateCall(kernel(max ? "max_pool2d" : "avg_pool2d", el),
                 {g, x.data, y.data});
    return y;
  }
  case Builtin::MaxPool2dGrad:
  case Builtin::AvgPool2dGrad: { // (x, dy)
    Value x = emit(*e.args[0]), dy = emit(*e.args[1]);
    Value dx = allocLike(type, x);
    llvm::Value *g = windowGeometry(e, x, tensorOf(0), 0);
    if (e.builtin == Builtin::MaxPool2dGrad)
      b.CreateCall(kernel("max_pool2d_grad", el),
                   {g, x.data, dy.data, dx.data});
    else
      b.CreateCall(kernel("avg_pool2d_grad", el), {g, dy.data, dx.data});
    return dx;
  }
  case Builtin::Dropout:
    return lowerDropout(e);
  case Builtin::Embedding:
    return lowerEmbedding(e);
  case Builtin::EmbeddingGrad:
    return lowerEmbeddingGrad(e);
  case Builtin::LayerNorm:
  case Builtin::LayerNormGrad:
    return lowerLayerNorm(e);
  default:
    throw Unsupported{e.range, std::string("the builtin '") +
                                   sema::builtinName(e.builtin) + "'"};
  }
}

// dropout(x, rate, seed): the rate checked where it runs (sema checked a
// constant one).
Value FunctionEmitter::lowerDropout(const sema::BuiltinCallExpr &e) {
  const auto *type = cast<sema::TensorType>(e.type);
  Value x = emit(*e.args[0]);
  llvm::Value *rate = emit(*e.args[1]).scalar;
  llvm::Value *seed = b.CreateSExt(emit(*e.args[2]).scalar, b.getInt64Ty());
  llvm::Value *zero = constant(type->element, 0.0);
  llvm::Value *one = constant(type->element, 1.0);
  check(b.CreateAnd(b.CreateFCmpOGE(rate, zero), b.CreateFCmpOLT(rate, one)),
        e.args[1]->range, "the dropout rate must be in [0, 1)",
        llvm::ConstantInt::get(b.getInt64Ty(), FEDRT_NO_VALUES),
        llvm::ConstantInt::get(b.getInt64Ty(), FEDRT_NO_VALUES));
  if (type->isScalar()) {
    llvm::Value *in = alloc(type->element, i64(1));
    llvm::Value *out = alloc(type->element, i64(1));
    store(x.scalar, in, i64(0));
    b.CreateCall(kernel("dropout", type->element),
                 {seed, rate, in, out, i64(1)});
    Value s;
    s.scalar = load(type->element, out, i64(0));
    return s;
  }
  Value y = allocLike(type, x);
  b.CreateCall(kernel("dropout", type->element),
               {seed, rate, x.data, y.data, elementCount(x.dims)});
  return y;
}

Value FunctionEmitter::lowerEmbedding(const sema::BuiltinCallExpr &e) {
  const auto *type = cast<sema::TensorType>(e.type);
  Value ids = emit(*e.args[0]), table = emit(*e.args[1]);
  Value out;
  out.dims = ids.dims;
  out.dims.push_back(table.dims[1]);
  llvm::Value *count = elementCount(ids.dims);
  out.data = alloc(type->element, elementCount(out.dims));
  llvm::Value *idData = ids.data;
  if (!idData) { // a single id
    idData = alloc(ast::ScalarKind::I32, i64(1));
    store(ids.scalar, idData, i64(0));
  }
  llvm::Value *bad = b.CreateCall(
      kernel("embedding", type->element),
      {count, table.dims[0], table.dims[1], idData, table.data, out.data});
  llvm::Value *none = llvm::ConstantInt::get(b.getInt64Ty(), FEDRT_NO_VALUES);
  check(b.CreateICmpEQ(bad, none), e.args[0]->range,
        "embedding id outside the table's rows", bad, table.dims[0]);
  return out;
}

Value FunctionEmitter::lowerEmbeddingGrad(const sema::BuiltinCallExpr &e) {
  // (ids, dy, table)
  const auto *type = cast<sema::TensorType>(e.type);
  Value ids = emit(*e.args[0]), dy = emit(*e.args[1]), table = emit(*e.args[2]);
  Value out = allocLike(type, table);
  llvm::Value *idData = ids.data;
  if (!idData) {
    idData = alloc(ast::ScalarKind::I32, i64(1));
    store(ids.scalar, idData, i64(0));
  }
  b.CreateCall(kernel("embedding_grad", type->element),
               {elementCount(ids.dims), out.dims[0], out.dims[1], idData,
                dy.data, out.data});
  return out;
}

// layer_norm(x) and %layer_norm_grad(x, dy): rows of the last axis.
Value FunctionEmitter::lowerLayerNorm(const sema::BuiltinCallExpr &e) {
  const auto *type = cast<sema::TensorType>(e.type);
  Value x = emit(*e.args[0]);
  Value out = allocLike(type, x);
  std::vector<llvm::Value *> outer(x.dims.begin(), x.dims.end() - 1);
  llvm::Value *rows = elementCount(outer), *dim = x.dims.back();
  if (e.builtin == Builtin::LayerNorm) {
    b.CreateCall(kernel("layer_norm", type->element),
                 {rows, dim, x.data, out.data});
    return out;
  }
  Value dy = emit(*e.args[1]);
  b.CreateCall(kernel("layer_norm_grad", type->element),
               {rows, dim, x.data, dy.data, out.data});
  return out;
}

} // namespace fedc::codegen
