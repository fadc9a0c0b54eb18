// The typing rules of the layer builtins (docs/language.md, "Layers"):
// conv2d, max_pool2d, avg_pool2d over NHWC image batches, dropout,
// embedding and layer_norm. Output sizes come from fedrt/Window.h, the
// header the runtime's kernels index with.
#include "sema/Checker.h"

#include "fedrt/Window.h"

#include <llvm/Support/Casting.h>

#include <sstream>

namespace fedc::sema {

using llvm::dyn_cast;

bool Checker::windowOptions(const ast::CallExpr &e, const std::string &name,
                            int64_t defaultStride,
                            BuiltinCallExpr::Window &window) {
  window.stride = defaultStride;
  for (const ast::Arg &a : e.args) {
    if (!a.name)
      continue;
    if (a.name->name == "padding") {
      const auto *s = dyn_cast<ast::StringLiteralExpr>(a.value.get());
      if (!s || (s->value != "same" && s->value != "valid")) {
        diags_.report(a.value->range(), DiagId::InvalidPadding)
            .arg(s ? "\"" + s->value + "\"" : std::string("an expression"));
        return false;
      }
      window.same = s->value == "same";
      continue;
    }
    // stride: (the table admits no other name here)
    ExprPtr v = check(*a.value);
    if (containsError(v->type))
      return false;
    std::optional<int64_t> stride = integerConstant(*v);
    if (!stride) {
      diags_.report(v->range, DiagId::ConstantRequired).arg("stride");
      return false;
    }
    if (*stride <= 0) {
      diags_.report(v->range, DiagId::OptionNotPositive)
          .arg(name + "'s stride")
          .arg(*stride);
      return false;
    }
    window.stride = *stride;
  }
  return true;
}

const TensorType *Checker::imageArgument(BuiltinCall &call, size_t i) {
  const TensorType *t = tensorArg(call, i);
  bool ok = t && t->isFloat() && t->rank() == 4;
  for (size_t d = 1; ok && d < 4; ++d)
    ok = t->dims[d] != kDynamicDim;
  if (!ok) {
    wrongArgument(call, i,
                  "a floating-point [batch, height, width, channels] tensor "
                  "with static height, width and channels");
    return nullptr;
  }
  return t;
}

const TensorType *Checker::windowResult(BuiltinCall &call, const TensorType *x,
                                        const BuiltinCallExpr::Window &w,
                                        int64_t channels) {
  int64_t h = x->dims[1], wd = x->dims[2];
  if (!w.same && (w.kh > h || w.kw > wd)) {
    diags_.report(call.e.range(), DiagId::WindowLargerThanInput)
        .arg(call.name)
        .arg(w.kh)
        .arg(w.kw)
        .arg(h)
        .arg(wd);
    return nullptr;
  }
  return types_.tensor(
      x->element, {x->dims[0], fedrt::windowOutput(h, w.kh, w.stride, w.same),
                   fedrt::windowOutput(wd, w.kw, w.stride, w.same), channels});
}

// The typed call of a windowed builtin (conv2d, the pools) over `x` with
// window `w` and `channels` output channels, or an error expression.
ExprPtr Checker::windowed(BuiltinCall &call, const TensorType *x,
                          const BuiltinCallExpr::Window &w, int64_t channels) {
  const TensorType *result = windowResult(call, x, w, channels);
  if (!result)
    return errorExpr(call.e.range());
  auto typed = makeBuiltin(call, result);
  typed->window = w;
  return typed;
}

// conv2d(x: T[n, h, w, c], filter: T[kh, kw, c, o], stride: s, padding: p)
// -> T[n, oh, ow, o].
ExprPtr Checker::typeConv2d(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *x = imageArgument(call, 0);
  if (!x)
    return errorExpr(e.range());
  const TensorType *f = tensorArg(call, 1);
  bool staticFilter = f && f->rank() == 4;
  for (size_t d = 0; staticFilter && d < 4; ++d)
    staticFilter = f->dims[d] != kDynamicDim;
  if (!staticFilter || f->element != x->element)
    return wrongArgument(
        call, 1,
        x->element == ScalarKind::F32
            ? "an f32[kh, kw, in, out] filter of static shape"
            : "an f64[kh, kw, in, out] filter of static shape");
  if (f->dims[2] != x->dims[3]) {
    diags_.report(e.range(), DiagId::ChannelMismatch)
        .arg(formatType(x))
        .arg(formatType(f))
        .arg(x->dims[3])
        .arg(f->dims[2]);
    return errorExpr(e.range());
  }
  BuiltinCallExpr::Window w;
  if (!windowOptions(e, call.name, 1, w))
    return errorExpr(e.range());
  w.kh = f->dims[0];
  w.kw = f->dims[1];
  return windowed(call, x, w, f->dims[3]);
}

// max_pool2d(x, size) / avg_pool2d(x, size), size x size windows, stride
// defaulting to the size (windows side by side).
ExprPtr Checker::typePool2d(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *x = imageArgument(call, 0);
  if (!x)
    return errorExpr(e.range());
  if (!expectType(call.args[1], types_.scalar(ScalarKind::I32), "window size"))
    return errorExpr(e.range());
  std::optional<int64_t> size = integerConstant(*call.args[1]);
  if (!size) {
    diags_.report(call.args[1]->range, DiagId::ConstantRequired)
        .arg("the window size");
    return errorExpr(e.range());
  }
  if (*size <= 0) {
    diags_.report(call.args[1]->range, DiagId::OptionNotPositive)
        .arg(call.name + "'s window size")
        .arg(*size);
    return errorExpr(e.range());
  }
  BuiltinCallExpr::Window w;
  if (!windowOptions(e, call.name, *size, w))
    return errorExpr(e.range());
  w.kh = w.kw = *size;
  return windowed(call, x, w, x->dims[3]);
}

// dropout(x, rate, seed: i64): x's type; a constant rate is checked here,
// any other where it runs.
ExprPtr Checker::typeDropout(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 3))
    return errorExpr(e.range());
  const TensorType *x = tensorArg(call, 0);
  if (!x || !x->isFloat())
    return wrongArgument(call, 0, "a floating-point tensor");
  if (!expectType(call.args[1], types_.scalar(x->element), "dropout rate") ||
      !expectType(call.args[2], types_.scalar(ScalarKind::I64), "seed"))
    return errorExpr(e.range());
  if (std::optional<double> rate = numberConstant(*call.args[1]);
      rate && !(*rate >= 0 && *rate < 1)) {
    std::ostringstream text;
    text << *rate; // shortest form: 1, -0.5
    diags_.report(call.args[1]->range, DiagId::RateOutOfRange).arg(text.str());
    return errorExpr(e.range());
  }
  return makeBuiltin(call, x);
}

// embedding(ids: i32[...], table: T[rows, dim]) -> T[..., dim].
ExprPtr Checker::typeEmbedding(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *ids = tensorArg(call, 0);
  if (!ids || ids->element != ScalarKind::I32)
    return wrongArgument(call, 0, "an i32 tensor of ids");
  const TensorType *table = tensorArg(call, 1);
  if (!table || !table->isFloat() || table->rank() != 2)
    return wrongArgument(call, 1, "a floating-point [rows, dim] table");
  std::vector<int64_t> dims = ids->dims;
  dims.push_back(table->dims[1]);
  return makeBuiltin(call, types_.tensor(table->element, dims));
}

// layer_norm(x): x normalized along its last axis.
ExprPtr Checker::typeLayerNorm(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 1))
    return errorExpr(e.range());
  const TensorType *x = tensorArg(call, 0);
  if (!x || !x->isFloat() || x->isScalar())
    return wrongArgument(call, 0, "a floating-point tensor of rank >= 1");
  return makeBuiltin(call, x);
}

// flatten(x: T[n, d1, ..., dk]) -> T[n, d1 * ... * dk] (the reshape between
// a convolution and a dense layer; the trailing dims static).
ExprPtr Checker::typeFlatten(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 1))
    return errorExpr(e.range());
  const TensorType *x = tensorArg(call, 0);
  bool ok = x && x->rank() >= 2;
  int64_t rest = 1;
  for (size_t d = 1; ok && d < x->rank(); ++d)
    ok = x->dims[d] != kDynamicDim &&
         !__builtin_mul_overflow(rest, x->dims[d], &rest);
  if (!ok)
    return wrongArgument(call, 0,
                         "a tensor of rank >= 2 whose dims after the first "
                         "are static (their product within 64 bits)");
  const TensorType *to = types_.tensor(x->element, {x->dims[0], rest});
  auto typed = makeBuiltin(call, to);
  typed->typeArg = to;
  return typed;
}

} // namespace fedc::sema
