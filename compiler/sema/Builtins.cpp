// The builtins of local code (docs/language.md, "Builtins"): one typing rule
// per family — constructors, elementwise math, reductions, shape functions,
// sequence functions.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <array>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

enum TypeArgRule { NoTypeArgument, TypeArgument };
enum AxisRule { NoAxis, Axis, Window };

struct BuiltinInfo {
  const char *name;
  Builtin builtin;
  TypeArgRule typeArgument;
  AxisRule axis;
};

constexpr BuiltinInfo kBuiltins[] = {
#define BUILTIN(Name, spelling, TypeArg, AxisArg, Typing, Lowering)            \
  {spelling, Builtin::Name, TypeArg, AxisArg},
#include "sema/Builtins.def"
};

const BuiltinInfo &info(Builtin b) { return kBuiltins[static_cast<size_t>(b)]; }

bool takesTypeArgument(Builtin b) {
  return info(b).typeArgument == TypeArgument;
}

bool takesAxis(Builtin b) { return info(b).axis == Axis; }

// The named arguments a builtin reads itself.
bool takesNamed(Builtin b, const std::string &name) {
  if (name == "axis")
    return takesAxis(b);
  return info(b).axis == Window && (name == "stride" || name == "padding");
}

int64_t elementCount(const TensorType *t) {
  int64_t n = 1;
  for (int64_t d : t->dims) {
    if (d == kDynamicDim)
      return -1;
    n *= d;
  }
  return n;
}

} // namespace

std::optional<Builtin> lookupBuiltin(const std::string &name) {
  for (const BuiltinInfo &b : kBuiltins)
    if (name == b.name)
      return b.builtin;
  return std::nullopt;
}

const char *builtinName(Builtin b) { return info(b).name; }

ExprPtr Checker::elementMismatch(SourceRange r, const TensorType *a,
                                 const TensorType *c) {
  diags_.report(r, DiagId::ElementTypeMismatch)
      .arg(ast::scalarName(a->element))
      .arg(ast::scalarName(c->element))
      .arg(ast::scalarName(a->isFloat() ? a->element : c->element));
  return errorExpr(r);
}

const Type *Checker::typeArgument(const ast::CallExpr &e,
                                  const std::string &name, bool required) {
  if (e.typeArgs.empty()) {
    if (required)
      diags_.report(e.callee->range(), DiagId::MissingTypeArgument).arg(name);
    return required ? types_.error() : nullptr;
  }
  if (e.typeArgs.size() > 1) {
    reportArgumentCount(e.typeArgs[1]->range(), name, "1 type argument",
                        e.typeArgs.size());
    return types_.error();
  }
  return resolveType(*e.typeArgs[0], current_ ? current_->bindings : nullptr,
                     TypeUse::TypeArgument);
}

std::optional<int> Checker::axisArgument(const ast::CallExpr &e,
                                         const TensorType *t,
                                         ExprPtr &axisExpr) {
  for (const ast::Arg &a : e.args) {
    if (!a.name || a.name->name != "axis")
      continue;
    axisExpr = check(*a.value);
    std::optional<int64_t> axis = integerConstant(*axisExpr);
    if (!axis) {
      if (!containsError(axisExpr->type))
        diags_.report(axisExpr->range, DiagId::ConstantRequired).arg("axis");
      return std::nullopt;
    }
    int64_t rank = static_cast<int64_t>(t->rank());
    int64_t normalized = *axis < 0 ? *axis + rank : *axis;
    if (normalized < 0 || normalized >= rank) {
      diags_.report(axisExpr->range, DiagId::AxisOutOfRange)
          .arg(*axis)
          .arg(formatType(t));
      return std::nullopt;
    }
    return static_cast<int>(normalized);
  }
  return std::nullopt;
}

bool Checker::arity(BuiltinCall &call, size_t n) {
  if (call.args.size() == n)
    return true;
  reportArgumentCount(call.e.range(), call.name, n, call.args.size());
  return false;
}

ExprPtr Checker::wrongArgument(BuiltinCall &call, size_t i, const char *needs) {
  diags_.report(call.args[i]->range, DiagId::InvalidTypeForBuiltin)
      .arg(call.name)
      .arg(needs)
      .arg(formatType(call.args[i]->type));
  return errorExpr(call.e.range());
}

std::unique_ptr<BuiltinCallExpr> Checker::makeBuiltin(BuiltinCall &call,
                                                      const Type *result) {
  return std::make_unique<BuiltinCallExpr>(result, call.e.range(), call.b,
                                           std::move(call.args));
}

const TensorType *Checker::tensorArg(BuiltinCall &call, size_t i) {
  return dyn_cast<TensorType>(call.args[i]->type);
}

ExprPtr Checker::checkBuiltin(const ast::CallExpr &e, Builtin b) {
  std::string name = cast<ast::NameExpr>(*e.callee).name;
  size_t positional = 0;
  for (const ast::Arg &a : e.args)
    positional += a.name ? 0 : 1;
  // min/max: two arguments compare elementwise, one argument reduces.
  if (b == Builtin::Minimum && positional == 1)
    b = Builtin::ReduceMin;
  if (b == Builtin::Maximum && positional == 1)
    b = Builtin::ReduceMax;

  for (const ast::Arg &a : e.args)
    if (a.name && !takesNamed(b, a.name->name)) {
      diags_.report(a.name->range, DiagId::UnknownNamedArgument)
          .arg(name)
          .arg(a.name->name);
      return errorExpr(e.range());
    }
  if (!takesTypeArgument(b) && !e.typeArgs.empty()) {
    diags_.report(e.typeArgs.front()->range(), DiagId::TypeArgumentsNotAllowed)
        .arg(name);
    return errorExpr(e.range());
  }
  // len(batches(data, n)) counts batches: the one place besides a for loop
  // where batches() may appear.
  const ast::Expr *savedIterable = forIterable_;
  if (b == Builtin::Len && e.args.size() == 1)
    forIterable_ = e.args[0].value.get();
  std::vector<ExprPtr> args = positionalArgs(e, name);
  forIterable_ = savedIterable;
  for (const ExprPtr &a : args)
    if (containsError(a->type))
      return errorExpr(e.range());
  if (rejectPlacedArguments(args, name, e.range()))
    return errorExpr(e.range());
  // Each builtin's typing rule, from the table.
  using TypingRule = ExprPtr (Checker::*)(BuiltinCall &);
  static constexpr TypingRule kRules[] = {
#define BUILTIN(Name, spelling, TypeArg, Axis, Typing, Lowering)               \
  &Checker::type##Typing,
#include "sema/Builtins.def"
  };
  BuiltinCall call{e, b, name, std::move(args)};
  return (this->*kRules[static_cast<size_t>(b)])(call);
}

ExprPtr Checker::typeConstructor(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  const std::string &name = call.name;
  Builtin b = call.b;
  const Type *t = typeArgument(e, name, true);
  if (t->isError())
    return errorExpr(e.range());
  const TensorType *element = commonElement(types_, t);
  bool staticShape = firstOffendingLeaf(t, [](const TensorType *leaf) {
                       return elementCount(leaf) >= 0;
                     }).empty();
  if (!isNumeric(t) || !element || !staticShape) {
    diags_.report(e.typeArgs[0]->range(), DiagId::InvalidTypeForBuiltin)
        .arg(name)
        .arg("a numeric type with static dimensions")
        .arg(formatType(t));
    return errorExpr(e.range());
  }
  size_t n = b == Builtin::Fill            ? 1
             : b == Builtin::RandomNormal  ? 2
             : b == Builtin::RandomUniform ? 3
                                           : 0;
  if (!arity(call, n))
    return errorExpr(e.range());
  if (b == Builtin::Fill && !expectType(args[0], element, "fill value"))
    return errorExpr(e.range());
  if (b == Builtin::RandomNormal || b == Builtin::RandomUniform) {
    if (!isFloating(t)) {
      diags_.report(e.typeArgs[0]->range(), DiagId::InvalidTypeForBuiltin)
          .arg(name)
          .arg("a floating-point type")
          .arg(formatType(t));
      return errorExpr(e.range());
    }
    if (!expectType(args[0], types_.scalar(ScalarKind::I64), "seed"))
      return errorExpr(e.range());
    if (b == Builtin::RandomNormal && !expectType(args[1], element, "stddev"))
      return errorExpr(e.range());
    if (b == Builtin::RandomUniform && (!expectType(args[1], element, "low") ||
                                        !expectType(args[2], element, "high")))
      return errorExpr(e.range());
  }
  auto typed = makeBuiltin(call, t);
  typed->typeArg = t;
  return typed;
}

ExprPtr Checker::typeUnaryMath(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  Builtin b = call.b;
  const TensorType *f32 = types_.scalar(ScalarKind::F32);
  if (!arity(call, 1))
    return errorExpr(e.range());
  bool needsFloat =
      b != Builtin::Abs && b != Builtin::Relu && b != Builtin::Sign;
  adapt(args[0], f32);
  bool vectorNeeded = b == Builtin::Softmax || b == Builtin::LogSoftmax;
  // Elementwise math maps a float struct field by field (sqrt(v), sign(d):
  // what optimizers need); relu takes tensors.
  bool onStructs = b == Builtin::Exp || b == Builtin::Log ||
                   b == Builtin::Sqrt || b == Builtin::Tanh ||
                   b == Builtin::Sigmoid || b == Builtin::Abs ||
                   b == Builtin::Sign;
  if (const auto *s = dyn_cast<StructType>(args[0]->type);
      s && onStructs && isNumeric(s)) {
    if (!firstOffendingLeaf(s, [](const TensorType *t) {
           return t->isFloat();
         }).empty())
      return wrongArgument(call, 0,
                           "a floating-point tensor or a struct of them");
    return makeBuiltin(call, s);
  }
  const TensorType *t = tensorArg(call, 0);
  if (!t || t->isBool() || (needsFloat && !t->isFloat()) ||
      (vectorNeeded && t->isScalar()))
    return wrongArgument(call, 0,
                         vectorNeeded ? "a floating-point tensor of rank >= 1"
                         : needsFloat ? "a floating-point tensor"
                                      : "a numeric tensor");
  return makeBuiltin(call, t);
}

ExprPtr Checker::typeBinaryMath(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *a = tensorArg(call, 0), *c = tensorArg(call, 1);
  if (!a || a->isBool())
    return wrongArgument(call, 0, "a numeric tensor");
  if (!c || c->isBool())
    return wrongArgument(call, 1, "a numeric tensor");
  adapt(args[0], types_.scalar(c->element));
  adapt(args[1], types_.scalar(cast<TensorType>(args[0]->type)->element));
  a = tensorArg(call, 0);
  c = tensorArg(call, 1);
  if (a->element != c->element) {
    return elementMismatch(e.range(), a, c);
  }
  std::optional<std::vector<int64_t>> dims = broadcast(a, c, e.range());
  if (!dims)
    return errorExpr(e.range());
  return makeBuiltin(call, types_.tensor(a->element, *dims));
}

ExprPtr Checker::typeReduction(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  Builtin b = call.b;
  if (!arity(call, 1))
    return errorExpr(e.range());
  const TensorType *t = tensorArg(call, 0);
  if (!t || t->isBool() || (b == Builtin::Mean && !t->isFloat()) ||
      (b == Builtin::Argmax && t->isScalar()))
    return wrongArgument(call, 0,
                         b == Builtin::Mean ? "a floating-point tensor"
                         : b == Builtin::Argmax
                             ? "a numeric tensor of rank >= 1"
                             : "a numeric tensor");
  ExprPtr axisExpr;
  std::optional<int> axis = axisArgument(e, t, axisExpr);
  if (axisExpr && !axis)
    return errorExpr(e.range());
  // Argmax gives indices; a sum of bytes (u8, i8) is an i64, as NumPy's.
  ScalarKind element = b == Builtin::Argmax ? ScalarKind::I32 : t->element;
  if (b == Builtin::Sum && fedrt::elementSize(t->element) == 1)
    element = ScalarKind::I64;
  std::vector<int64_t> dims;
  if (axis) {
    dims = t->dims;
    dims.erase(dims.begin() + *axis);
  }
  auto typed = makeBuiltin(call, types_.tensor(element, dims));
  typed->axis = axis;
  return typed;
}

ExprPtr Checker::typeOneHot(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  const TensorType *i32 = types_.scalar(ScalarKind::I32);
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *labels = tensorArg(call, 0);
  if (!labels || !labels->isInteger())
    return wrongArgument(call, 0, "an integer tensor of labels");
  if (!expectType(args[1], i32, "number of classes"))
    return errorExpr(e.range());
  std::optional<int64_t> n = integerConstant(*args[1]);
  if (n && *n <= 0) {
    diags_.report(args[1]->range, DiagId::InvalidDimension).arg(*n);
    return errorExpr(e.range());
  }
  std::vector<int64_t> dims = labels->dims;
  dims.push_back(n.value_or(kDynamicDim));
  return makeBuiltin(call, types_.tensor(ScalarKind::F32, dims));
}

ExprPtr Checker::typeTranspose(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 1))
    return errorExpr(e.range());
  const TensorType *t = tensorArg(call, 0);
  if (!t || t->rank() != 2)
    return wrongArgument(call, 0, "a matrix");
  return makeBuiltin(call, types_.tensor(t->element, {t->dims[1], t->dims[0]}));
}

ExprPtr Checker::typeReshape(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  const std::string &name = call.name;
  const Type *target = typeArgument(e, name, true);
  if (target->isError() || !arity(call, 1))
    return errorExpr(e.range());
  const TensorType *t = tensorArg(call, 0);
  const auto *to = dyn_cast<TensorType>(target);
  if (!t)
    return wrongArgument(call, 0, "a tensor");
  if (!to || to->element != t->element) {
    diags_.report(e.typeArgs[0]->range(), DiagId::InvalidTypeForBuiltin)
        .arg(name)
        .arg(("a tensor type of " + std::string(ast::scalarName(t->element)))
                 .c_str())
        .arg(formatType(target));
    return errorExpr(e.range());
  }
  int64_t from = elementCount(t), into = elementCount(to);
  if (from >= 0 && into >= 0 && from != into) {
    diags_.report(e.range(), DiagId::ReshapeSizeMismatch)
        .arg(formatType(t))
        .arg(from)
        .arg(formatType(to))
        .arg(into);
    return errorExpr(e.range());
  }
  auto typed = makeBuiltin(call, to);
  typed->typeArg = to;
  return typed;
}

ExprPtr Checker::typeRows(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  const TensorType *i32 = types_.scalar(ScalarKind::I32);
  if (!arity(call, 1))
    return errorExpr(e.range());
  const TensorType *t = tensorArg(call, 0);
  if (!t || t->isScalar())
    return wrongArgument(call, 0, "a tensor of rank >= 1");
  return makeBuiltin(call, i32);
}

ExprPtr Checker::typeLen(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  const TensorType *i32 = types_.scalar(ScalarKind::I32);
  if (!arity(call, 1))
    return errorExpr(e.range());
  if (!isa<SeqType>(args[0]->type))
    return wrongArgument(call, 0, "a seq<T>");
  return makeBuiltin(call, i32);
}

ExprPtr Checker::typeNorm(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  Builtin b = call.b;
  if (!arity(call, b == Builtin::Norm ? 1 : 2))
    return errorExpr(e.range());
  const Type *t = args[0]->type;
  const TensorType *element = commonElement(types_, t);
  if (!isFloating(t) || !element)
    return wrongArgument(call, 0, "a floating-point tensor or struct");
  if (b == Builtin::Norm)
    return makeBuiltin(call, element);
  if (!expectType(args[1], element, "clip norm"))
    return errorExpr(e.range());
  return makeBuiltin(call, t);
}

ExprPtr Checker::typeDot(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const TensorType *a = tensorArg(call, 0), *c = tensorArg(call, 1);
  if (!a || a->rank() != 1 || a->isBool())
    return wrongArgument(call, 0, "a numeric vector");
  if (!c || c->rank() != 1 || c->isBool())
    return wrongArgument(call, 1, "a numeric vector");
  if (a->element != c->element) {
    return elementMismatch(e.range(), a, c);
  }
  if (a->dims[0] != c->dims[0] && a->dims[0] != kDynamicDim &&
      c->dims[0] != kDynamicDim) {
    diags_.report(e.range(), DiagId::ShapeMismatch)
        .arg(formatType(a))
        .arg(formatType(c))
        .arg(0)
        .arg(a->dims[0])
        .arg(c->dims[0]);
    return errorExpr(e.range());
  }
  return makeBuiltin(call, types_.scalar(a->element));
}

// shuffle(data, seed: i64), take(data, n: i32), skip(data, n: i32): a
// seq<T> of the same records (reordered, or the first n, or all but the
// first n).
ExprPtr Checker::typeSequence(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  if (!arity(call, 2))
    return errorExpr(e.range());
  const auto *s = dyn_cast<SeqType>(args[0]->type);
  if (!s)
    return wrongArgument(call, 0, "a seq<T>");
  if (call.b == Builtin::Shuffle) {
    if (!expectType(args[1], types_.scalar(ScalarKind::I64), "seed"))
      return errorExpr(e.range());
    return makeBuiltin(call, s);
  }
  if (!expectType(args[1], types_.scalar(ScalarKind::I32), "count"))
    return errorExpr(e.range());
  if (std::optional<int64_t> n = integerConstant(*args[1]); n && *n < 0) {
    diags_.report(args[1]->range, DiagId::NegativeCount).arg(call.name).arg(*n);
    return errorExpr(e.range());
  }
  return makeBuiltin(call, s);
}

// random_uniform_like(x, seed: i64): uniform [0, 1) samples of x's type,
// shape `?` dims included (a dropout mask for a batch).
ExprPtr Checker::typeRandomLike(BuiltinCall &call) {
  if (!arity(call, 2))
    return errorExpr(call.e.range());
  const TensorType *t = tensorArg(call, 0);
  if (!t || !t->isFloat())
    return wrongArgument(call, 0, "a floating-point tensor");
  if (!expectType(call.args[1], types_.scalar(ScalarKind::I64), "seed"))
    return errorExpr(call.e.range());
  return makeBuiltin(call, t);
}

ExprPtr Checker::typeInternal(BuiltinCall &call) {
  // lookupBuiltin never finds an internal spelling, so no call reaches here.
  return errorExpr(call.e.range());
}

ExprPtr Checker::typeBatches(BuiltinCall &call) {
  const ast::CallExpr &e = call.e;
  std::vector<ExprPtr> &args = call.args;
  const TensorType *i32 = types_.scalar(ScalarKind::I32);
  if (&e != forIterable_) {
    diags_.report(e.range(), DiagId::BatchesOutsideFor);
    return errorExpr(e.range());
  }
  if (!arity(call, 2))
    return errorExpr(e.range());
  const auto *s = dyn_cast<SeqType>(args[0]->type);
  if (!s)
    return wrongArgument(call, 0, "a seq<T>");
  if (!expectType(args[1], i32, "batch size"))
    return errorExpr(e.range());
  if (std::optional<int64_t> n = integerConstant(*args[1]); n && *n <= 0) {
    diags_.report(args[1]->range, DiagId::InvalidDimension).arg(*n);
    return errorExpr(e.range());
  }
  const Type *batch = types_.batchOf(s->element);
  if (!batch)
    return wrongArgument(call, 0, "a sequence of numeric records");
  return makeBuiltin(call, types_.seq(batch));
}

} // namespace fedc::sema
