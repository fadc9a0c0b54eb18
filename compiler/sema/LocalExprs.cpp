// Expressions: names, operators with NumPy broadcasting, `@`, numeric-struct
// arithmetic, calls of user fns (with generic inference), casts, indexing,
// fields and literals. Builtins are in Builtins.cpp, intrinsics in
// FederatedExprs.cpp.
#include "sema/Checker.h"
#include "sema/Literals.h"

#include <llvm/Support/Casting.h>

#include <cfloat>
#include <cmath>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

bool isArithmetic(ast::BinaryOp op) {
  switch (op) {
  case ast::BinaryOp::Add:
  case ast::BinaryOp::Sub:
  case ast::BinaryOp::Mul:
  case ast::BinaryOp::Div:
  case ast::BinaryOp::Rem:
    return true;
  default:
    return false;
  }
}

bool isAdaptable(const Expr &e) {
  const auto *lit = dyn_cast<LiteralExpr>(&e);
  return lit && lit->adaptable;
}

} // namespace

ExprPtr Checker::errorExpr(SourceRange r) {
  return std::make_unique<ErrorExpr>(types_.error(), r);
}

Local *Checker::bindLocal(const ast::Ident &name, const Type *type,
                          bool isMutable, Local::Kind kind) {
  auto local = std::make_unique<Local>(
      Local{name.name, type, isMutable, name.range, kind, SourceRange()});
  Local *l = local.get();
  current_->fn->locals.push_back(std::move(local));
  auto &scope = current_->scopes.back();
  if (auto it = scope.find(name.name); it != scope.end()) {
    diags_.report(name.range, DiagId::Redefinition).arg(name.name);
    diags_.report(it->second->range, DiagId::NotePreviousDefinition)
        .arg(name.name);
  }
  scope[name.name] = l;
  return l;
}

const Local *Checker::lookupLocal(const std::string &name) const {
  if (!current_)
    return nullptr;
  for (auto it = current_->scopes.rbegin(); it != current_->scopes.rend(); ++it)
    if (auto found = it->find(name); found != it->end())
      return found->second;
  return nullptr;
}

bool Checker::expectType(ExprPtr &e, const Type *expected,
                         const std::string &what) {
  if (containsError(e->type) || containsError(expected))
    return true;
  adapt(e, expected);
  if (isa<PlacementLiteralType>(e->type)) {
    diags_.report(e->range, DiagId::PlacementNotAValue)
        .arg(placementSpelling(*e));
    return false;
  }
  if (assignable(e->type, expected))
    return true;
  if (reportLiteralRange(*e, expected))
    return false;
  if (isa<PlacedType>(e->type) || isa<PlacedType>(expected))
    return expectPlacement(e, expected, what);
  diags_.report(e->range, DiagId::TypeMismatch)
      .arg(what)
      .arg(formatType(expected))
      .arg(formatType(e->type));
  return false;
}

ExprPtr Checker::check(const ast::Expr &e) {
  if (stack_.exhausted()) {
    diags_.report(e.range(), DiagId::NestingTooDeep).arg(1000);
    return errorExpr(e.range());
  }
  switch (e.kind()) {
  case ast::Expr::Kind::IntLiteral: {
    int64_t v = cast<ast::IntLiteralExpr>(e).value;
    bool wide = v > INT32_MAX || v < INT32_MIN;
    auto lit = std::make_unique<LiteralExpr>(
        types_.scalar(wide ? ScalarKind::I64 : ScalarKind::I32), e.range());
    lit->intValue = v;
    lit->adaptable = true;
    return lit;
  }
  case ast::Expr::Kind::FloatLiteral: {
    const auto &f = cast<ast::FloatLiteralExpr>(e);
    if (!std::isfinite(f.value))
      diags_.report(e.range(), DiagId::FloatLiteralOutOfRange)
          .arg(f.spelling)
          .arg("f64");
    // Like integers: a literal beyond f32's range is an f64 literal, which
    // adapts to f32 only where its value fits.
    bool wide = std::isfinite(f.value) && std::fabs(f.value) > FLT_MAX;
    auto lit = std::make_unique<LiteralExpr>(
        types_.scalar(wide ? ScalarKind::F64 : ScalarKind::F32), e.range());
    lit->floatValue = f.value;
    lit->adaptable = true;
    return lit;
  }
  case ast::Expr::Kind::BoolLiteral: {
    auto lit = std::make_unique<LiteralExpr>(types_.scalar(ScalarKind::Bool),
                                             e.range());
    lit->boolValue = cast<ast::BoolLiteralExpr>(e).value;
    return lit;
  }
  case ast::Expr::Kind::Name:
    return checkName(cast<ast::NameExpr>(e));
  case ast::Expr::Kind::PlacementLiteral: {
    auto ref = std::make_unique<RefExpr>(Expr::Kind::PlacementRef,
                                         types_.placementLiteral(), e.range());
    ref->placement = cast<ast::PlacementLiteralExpr>(e).placement;
    return ref;
  }
  case ast::Expr::Kind::Unary:
    return checkUnary(cast<ast::UnaryExpr>(e));
  case ast::Expr::Kind::Binary:
    return checkBinary(cast<ast::BinaryExpr>(e));
  case ast::Expr::Kind::Call:
    return checkCall(cast<ast::CallExpr>(e));
  case ast::Expr::Kind::Cast:
    return checkCast(cast<ast::CastExpr>(e));
  case ast::Expr::Kind::Index:
    return checkIndex(cast<ast::IndexExpr>(e));
  case ast::Expr::Kind::Member:
    return checkMember(cast<ast::MemberExpr>(e));
  case ast::Expr::Kind::StructLiteral:
    return checkStructLiteral(cast<ast::StructLiteralExpr>(e));
  case ast::Expr::Kind::Tuple:
    return checkTuple(cast<ast::TupleExpr>(e));
  case ast::Expr::Kind::StringLiteral:
    // Builtins read their string options from the AST (LayerBuiltins.cpp);
    // any other string is misplaced.
    diags_.report(e.range(), DiagId::StringNotAllowed);
    return errorExpr(e.range());
  case ast::Expr::Kind::Error:
    return errorExpr(e.range());
  }
  return errorExpr(e.range());
}

// A name that is a global: a constant (inlined), a fn (a reference), or a
// struct or process (not values).
ExprPtr Checker::checkGlobalName(const ast::NameExpr &e,
                                 const GlobalSymbol &g) {
  const std::string &name = e.name;
  switch (g.kind) {
  case GlobalSymbol::Kind::Const: {
    const Constant *c = g.constant;
    if (!ensureConstant(*g.constant, e.range()))
      return errorExpr(e.range());
    // Constants are inlined: a literal copy adapts like a literal when
    // the constant was declared without a type.
    if (const auto *lit = llvm::dyn_cast_or_null<LiteralExpr>(c->value.get())) {
      auto copy = std::make_unique<LiteralExpr>(c->type, e.range());
      copy->intValue = lit->intValue;
      copy->floatValue = lit->floatValue;
      copy->boolValue = lit->boolValue;
      copy->adaptable = !c->declaredType && lit->adaptable;
      return copy;
    }
    auto ref =
        std::make_unique<RefExpr>(Expr::Kind::ConstRef, c->type, e.range());
    ref->constant = c;
    return ref;
  }
  case GlobalSymbol::Kind::Fn: {
    const auto *decl = cast<ast::FnDecl>(g.decl);
    auto ref = std::make_unique<RefExpr>(Expr::Kind::FunctionRef,
                                         types_.error(), e.range());
    ref->fnDecl = decl;
    if (decl->genericParams.empty()) {
      const Function *fn = instance(*decl, {}, e.range());
      std::vector<const Type *> params;
      for (const Local *p : fn->params)
        params.push_back(p->type);
      ref->type = types_.function(params, fn->result);
      ref->function = fn;
    }
    return ref;
  }
  case GlobalSymbol::Kind::Struct:
    diags_.report(e.range(), DiagId::NotAValue).arg(name).arg("a struct type");
    return errorExpr(e.range());
  case GlobalSymbol::Kind::Process:
    diags_.report(e.range(), DiagId::NotAValue).arg(name).arg("a process");
    return errorExpr(e.range());
  }
  return errorExpr(e.range());
}

ExprPtr Checker::checkName(const ast::NameExpr &e) {
  const std::string &name = e.name;
  if (const Local *l = lookupLocal(name)) {
    auto ref =
        std::make_unique<RefExpr>(Expr::Kind::LocalRef, l->type, e.range());
    ref->local = l;
    ref->placementOrigin =
        l->placementOrigin.isValid() ? l->placementOrigin : l->range;
    return ref;
  }
  if (current_) {
    if (auto it = current_->laterBindings.find(name);
        it != current_->laterBindings.end()) {
      if (e.range().begin < it->second.begin) {
        diags_.report(e.range(), DiagId::UseBeforeDefinition).arg(name);
        diags_.report(it->second, DiagId::NoteDefinedHere).arg(name);
      } else {
        diags_.report(e.range(), DiagId::UnknownName)
            .arg(name)
            .arg("; the '" + name + "' on line " +
                 std::to_string(sm_.presumed(it->second.begin).line) +
                 " is not in scope here");
      }
      return errorExpr(e.range());
    }
  }
  if (const GlobalSymbol *g = lookupGlobal(name))
    return checkGlobalName(e, *g);
  if (current_ && current_->bindings) {
    if (auto it = current_->bindings->find(name);
        it != current_->bindings->end() && it->second.dim) {
      // A shape parameter used as a value: its size, when known.
      if (*it->second.dim == kDynamicDim) {
        diags_.report(e.range(), DiagId::ConstantRequired)
            .arg("shape parameter '" + name + "' (bound to '?' here)");
        return errorExpr(e.range());
      }
      auto lit = std::make_unique<LiteralExpr>(types_.scalar(ScalarKind::I32),
                                               e.range());
      lit->intValue = *it->second.dim;
      lit->adaptable = true;
      return lit;
    }
  }
  if (lookupBuiltin(name) || lookupIntrinsic(name)) {
    diags_.report(e.range(), DiagId::NotAValue)
        .arg(name)
        .arg(lookupBuiltin(name) ? "a builtin function"
                                 : "a federated intrinsic");
    return errorExpr(e.range());
  }
  std::vector<std::string> candidates = globalOrder_;
  if (current_)
    for (const auto &scope : current_->scopes)
      for (const auto &[n, l] : scope)
        candidates.push_back(n);
  diags_.report(e.range(), DiagId::UnknownName)
      .arg(name)
      .arg(suggestion(name, candidates));
  return errorExpr(e.range());
}

ExprPtr Checker::checkUnary(const ast::UnaryExpr &e) {
  ExprPtr operand = check(*e.operand);
  const Type *t = operand->type;
  if (containsError(t))
    return errorExpr(e.range());
  if (isa<PlacedType>(t)) {
    diags_.report(e.range(), DiagId::ArithmeticOnPlacedValue)
        .arg(ast::unaryOpSpelling(e.op))
        .arg(formatType(t));
    notePlacement(*operand);
    return errorExpr(e.range());
  }
  const auto *tensor = dyn_cast<TensorType>(t);
  bool ok = e.op == ast::UnaryOp::Not
                ? tensor && tensor->isBool()
                : (tensor && !tensor->isBool()) ||
                      (isa<StructType>(t) && isNumeric(t));
  if (!ok) {
    diags_.report(e.range(), DiagId::InvalidOperand)
        .arg(ast::unaryOpSpelling(e.op))
        .arg(formatType(t));
    return errorExpr(e.range());
  }
  if (auto *lit = dyn_cast<LiteralExpr>(operand.get())) {
    lit->range = e.range();
    if (e.op == ast::UnaryOp::Neg) {
      lit->intValue = -lit->intValue;
      lit->floatValue = -lit->floatValue;
    } else if (e.op == ast::UnaryOp::Not) {
      lit->boolValue = !lit->boolValue;
    }
    return operand;
  }
  return std::make_unique<UnaryExpr>(t, e.range(), e.op, std::move(operand));
}

std::optional<std::vector<int64_t>> Checker::broadcast(const TensorType *a,
                                                       const TensorType *b,
                                                       SourceRange where) {
  size_t rank = std::max(a->rank(), b->rank());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, as NumPy does.
    int64_t x = i < rank - a->rank() ? 1 : a->dims[i - (rank - a->rank())];
    int64_t y = i < rank - b->rank() ? 1 : b->dims[i - (rank - b->rank())];
    if (x == y || y == 1) {
      out[i] = x;
    } else if (x == 1) {
      out[i] = y;
    } else if (x == kDynamicDim || y == kDynamicDim) {
      // Checked at run time; the known size wins.
      out[i] = x == kDynamicDim ? y : x;
    } else {
      diags_.report(where, DiagId::ShapeMismatch)
          .arg(formatType(a))
          .arg(formatType(b))
          .arg(static_cast<int64_t>(i))
          .arg(x)
          .arg(y);
      return std::nullopt;
    }
  }
  return out;
}

const Type *Checker::invalidOperands(ast::BinaryOp op, const Type *a,
                                     const Type *b, const std::string &hint,
                                     SourceRange where, SourceLoc opLoc) {
  diags_.report(opLoc, DiagId::InvalidOperands)
      .arg(ast::binaryOpSpelling(op))
      .arg(formatType(a))
      .arg(formatType(b))
      .arg(hint)
      .range(where);
  return types_.error();
}

const Type *Checker::tensorArithmeticResult(ast::BinaryOp op, ExprPtr &lhs,
                                            ExprPtr &rhs, SourceRange where,
                                            SourceLoc opLoc) {
  const Type *a = lhs->type, *b = rhs->type; // as written, for messages
  const auto *ta = cast<TensorType>(a);
  const auto *tb = cast<TensorType>(b);
  // The literal side takes the other side's element type; between two
  // literals, an int meets a float as a float.
  bool literalL = isAdaptable(*lhs), literalR = isAdaptable(*rhs);
  if (literalL && literalR && ta->isFloat() == tb->isFloat()) {
    // Two literals of one kind meet at the wider (3000000000 + 1: i64).
    ExprPtr &narrow =
        fedrt::elementSize(ta->element) < fedrt::elementSize(tb->element) ? lhs
                                                                          : rhs;
    adapt(narrow, narrow.get() == lhs.get() ? tb : ta);
  } else if (literalL && (!literalR || tb->isFloat())) {
    adapt(lhs, types_.scalar(tb->element));
  } else if (literalR && (!literalL || ta->isFloat())) {
    adapt(rhs, types_.scalar(ta->element));
  }
  ta = cast<TensorType>(lhs->type);
  tb = cast<TensorType>(rhs->type);
  if (ta->isBool() || tb->isBool())
    return invalidOperands(
        op, a, b, "; arithmetic needs numbers, convert bools with f32(...)",
        where, opLoc);
  if (ta->element != tb->element &&
      (reportLiteralRange(*lhs, types_.scalar(tb->element)) ||
       reportLiteralRange(*rhs, types_.scalar(ta->element))))
    return types_.error();
  if (ta->element != tb->element) {
    ScalarKind wider = ta->isFloat() ? ta->element : tb->element;
    diags_.report(opLoc, DiagId::ElementTypeMismatch)
        .arg(ast::scalarName(ta->element))
        .arg(ast::scalarName(tb->element))
        .arg(ast::scalarName(wider))
        .range(where);
    return types_.error();
  }
  std::optional<std::vector<int64_t>> dims = broadcast(ta, tb, where);
  return dims ? types_.tensor(ta->element, *dims) : types_.error();
}

const Type *Checker::arithmeticResult(ast::BinaryOp op, ExprPtr &lhs,
                                      ExprPtr &rhs, SourceRange where,
                                      SourceLoc opLoc) {
  const Type *a = lhs->type, *b = rhs->type;
  const auto *ta = dyn_cast<TensorType>(a), *tb = dyn_cast<TensorType>(b);
  const auto *sa = dyn_cast<StructType>(a), *sb = dyn_cast<StructType>(b);
  if (ta && tb)
    return tensorArithmeticResult(op, lhs, rhs, where, opLoc);
  // Numeric structs are elementwise, field by field (what an optimizer
  // needs: m / (sqrt(v) + eps)): + - * / between two of one struct type,
  // and with a scalar on either side.
  bool arithmetic = op == ast::BinaryOp::Add || op == ast::BinaryOp::Sub ||
                    op == ast::BinaryOp::Mul || op == ast::BinaryOp::Div;
  if (sa && sb) {
    if (sa == sb && arithmetic && isNumeric(a))
      return a;
    return invalidOperands(op, a, b,
                           sa == sb && arithmetic
                               ? "; struct arithmetic needs numeric fields"
                           : sa == sb ? "; structs take '+', '-', '*' and '/'"
                                      : "",
                           where, opLoc);
  }
  const StructType *s = sa ? sa : sb;
  const TensorType *scalar = sa ? tb : ta;
  ExprPtr &scalarExpr = sa ? rhs : lhs;
  if (s && scalar && arithmetic && isNumeric(s)) {
    const TensorType *element = commonElement(types_, s);
    if (!scalar->isScalar())
      return invalidOperands(op, a, b,
                             "; a struct combines with a scalar or a struct "
                             "of its type",
                             where, opLoc);
    if (element)
      adapt(scalarExpr, element);
    if (!element || scalarExpr->type != element) {
      diags_.report(opLoc, DiagId::ElementTypeMismatch)
          .arg(formatType(scalarExpr->type))
          .arg(element ? formatType(element) : "mixed element types")
          .arg(element ? ast::scalarName(element->element) : "f32")
          .range(where);
      return types_.error();
    }
    return s;
  }
  return invalidOperands(op, a, b, "", where, opLoc);
}

ExprPtr Checker::checkBinary(const ast::BinaryExpr &e) {
  ExprPtr lhs = check(*e.lhs);
  ExprPtr rhs = check(*e.rhs);
  if (containsError(lhs->type) || containsError(rhs->type))
    return errorExpr(e.range());
  for (const ExprPtr *side : {&lhs, &rhs}) {
    const Type *t = (*side)->type;
    if (isa<PlacedType>(t)) {
      diags_.report(e.opLoc, DiagId::ArithmeticOnPlacedValue)
          .arg(ast::binaryOpSpelling(e.op))
          .arg(formatType(t))
          .range(e.range());
      notePlacement(**side);
      return errorExpr(e.range());
    }
    if (isa<PlacementLiteralType>(t)) {
      diags_.report((*side)->range, DiagId::PlacementNotAValue)
          .arg(placementSpelling(**side));
      return errorExpr(e.range());
    }
  }
  if (e.op == ast::BinaryOp::MatMul)
    return checkMatMul(e, std::move(lhs), std::move(rhs));

  const Type *result = nullptr;
  if (isArithmetic(e.op)) {
    result = arithmeticResult(e.op, lhs, rhs, e.range(), e.opLoc);
  } else {
    auto *ta = dyn_cast<TensorType>(lhs->type);
    auto *tb = dyn_cast<TensorType>(rhs->type);
    if (ta && tb) {
      if (isAdaptable(*lhs))
        adapt(lhs, types_.scalar(tb->element));
      if (isAdaptable(*rhs))
        adapt(rhs, types_.scalar(ta->element));
      ta = cast<TensorType>(lhs->type);
      tb = cast<TensorType>(rhs->type);
    }
    bool logical = e.op == ast::BinaryOp::And || e.op == ast::BinaryOp::Or;
    bool equality = e.op == ast::BinaryOp::Eq || e.op == ast::BinaryOp::Ne;
    bool ok = ta && tb &&
              (logical ? ta->isBool() && tb->isBool()
                       : (equality || (!ta->isBool() && !tb->isBool())));
    if (!ok) {
      diags_.report(e.opLoc, DiagId::InvalidOperands)
          .arg(ast::binaryOpSpelling(e.op))
          .arg(formatType(lhs->type))
          .arg(formatType(rhs->type))
          .arg(logical ? "; '&&' and '||' take bools" : "")
          .range(e.range());
      return errorExpr(e.range());
    }
    if (ta->element != tb->element) {
      diags_.report(e.opLoc, DiagId::ElementTypeMismatch)
          .arg(ast::scalarName(ta->element))
          .arg(ast::scalarName(tb->element))
          .arg(ast::scalarName(ta->isFloat() ? ta->element : tb->element))
          .range(e.range());
      return errorExpr(e.range());
    }
    std::optional<std::vector<int64_t>> dims = broadcast(ta, tb, e.range());
    result = dims ? types_.tensor(ScalarKind::Bool, *dims) : types_.error();
  }
  if (result->isError())
    return errorExpr(e.range());
  auto *la = dyn_cast<LiteralExpr>(lhs.get());
  auto *lb = dyn_cast<LiteralExpr>(rhs.get());
  if (la && lb && la->type == lb->type && result == la->type)
    if (auto folded = fold(e.op, *la, *lb, e.range()))
      return folded;
  return std::make_unique<BinaryExpr>(result, e.range(), e.op, std::move(lhs),
                                      std::move(rhs));
}

ExprPtr Checker::checkMatMul(const ast::BinaryExpr &e, ExprPtr lhs,
                             ExprPtr rhs) {
  const auto *a = dyn_cast<TensorType>(lhs->type);
  const auto *b = dyn_cast<TensorType>(rhs->type);
  for (const auto *t : {a, b}) {
    const Type *shown =
        t ? static_cast<const Type *>(t) : (t == a ? lhs->type : rhs->type);
    if (!t || t->isBool() || t->rank() < 1 || t->rank() > 2) {
      diags_.report(e.opLoc, DiagId::MatmulRank)
          .arg(formatType(shown))
          .range(e.range());
      return errorExpr(e.range());
    }
  }
  if (a->element != b->element) {
    diags_.report(e.opLoc, DiagId::ElementTypeMismatch)
        .arg(ast::scalarName(a->element))
        .arg(ast::scalarName(b->element))
        .arg(ast::scalarName(a->isFloat() ? a->element : b->element))
        .range(e.range());
    return errorExpr(e.range());
  }
  int64_t inner = a->dims.back(), other = b->dims.front();
  if (inner != other && inner != kDynamicDim && other != kDynamicDim) {
    diags_.report(e.opLoc, DiagId::MatmulShapeMismatch)
        .arg(formatType(a))
        .arg(formatType(b))
        .arg(inner)
        .arg(other)
        .range(e.range());
    return errorExpr(e.range());
  }
  std::vector<int64_t> dims(a->dims.begin(), a->dims.end() - 1);
  dims.insert(dims.end(), b->dims.begin() + 1, b->dims.end());
  return std::make_unique<BinaryExpr>(types_.tensor(a->element, dims),
                                      e.range(), e.op, std::move(lhs),
                                      std::move(rhs));
}

ExprPtr Checker::checkCast(const ast::CastExpr &e) {
  ExprPtr operand = check(*e.operand);
  const Type *t = operand->type;
  if (containsError(t))
    return errorExpr(e.range());
  const auto *tensor = dyn_cast<TensorType>(t);
  if (!tensor) {
    diags_.report(e.range(), DiagId::InvalidCast)
        .arg(formatType(t))
        .arg(ast::scalarName(e.target));
    if (isa<PlacedType>(t))
      notePlacement(*operand);
    return errorExpr(e.range());
  }
  const Type *result = types_.tensor(e.target, tensor->dims);
  if (auto *lit = dyn_cast<LiteralExpr>(operand.get())) {
    const auto *rt = cast<TensorType>(result);
    double asFloat = tensor->isFloat()     ? lit->floatValue
                     : tensor->isInteger() ? static_cast<double>(lit->intValue)
                                           : (lit->boolValue ? 1.0 : 0.0);
    // Exactly what the cast does at run time (docs/language.md,
    // "Integers"): integers wrap to the target's width, floats saturate
    // (NaN to 0), f32 rounds.
    if (rt->isInteger()) {
      auto [lo, hi] = integerRange(rt->element);
      int64_t v = lit->intValue;
      if (!tensor->isInteger())
        v = std::isnan(asFloat)                  ? 0
            : asFloat <= static_cast<double>(lo) ? lo
            : asFloat >= static_cast<double>(hi)
                ? hi
                : static_cast<int64_t>(asFloat);
      else if (rt->element != ScalarKind::I64)
        v = wrapInteger(v, rt->element);
      lit->intValue = v;
      asFloat = static_cast<double>(v);
    } else if (rt->element == ScalarKind::F32) {
      asFloat = static_cast<double>(static_cast<float>(asFloat));
    }
    lit->floatValue = asFloat;
    lit->boolValue = asFloat != 0.0;
    lit->type = rt;
    lit->adaptable = false;
    lit->range = e.range();
    return operand;
  }
  return std::make_unique<CastExpr>(result, e.range(), std::move(operand));
}

ExprPtr Checker::checkIndex(const ast::IndexExpr &e) {
  ExprPtr base = check(*e.base);
  std::vector<ExprPtr> indices;
  for (const ast::ExprPtr &i : e.indices)
    indices.push_back(check(*i));
  if (containsError(base->type))
    return errorExpr(e.range());
  const auto *t = dyn_cast<TensorType>(base->type);
  if (!t || t->isScalar()) {
    diags_.report(e.range(), DiagId::NotIndexable).arg(formatType(base->type));
    if (isa<PlacedType>(base->type))
      notePlacement(*base);
    return errorExpr(e.range());
  }
  if (indices.size() > t->rank()) {
    diags_.report(e.range(), DiagId::TooManyIndices)
        .arg(static_cast<int64_t>(indices.size()))
        .arg(formatType(t))
        .arg(static_cast<int64_t>(t->rank()));
    return errorExpr(e.range());
  }
  bool ok = true;
  for (size_t k = 0; k < indices.size(); ++k) {
    ExprPtr &i = indices[k];
    const auto *it = dyn_cast<TensorType>(i->type);
    if (containsError(i->type))
      continue;
    if (!it || !it->isScalar() || !it->isInteger()) {
      diags_.report(i->range, DiagId::TypeMismatch)
          .arg("index")
          .arg("an integer scalar")
          .arg(formatType(i->type));
      ok = false;
      continue;
    }
    if (std::optional<int64_t> v = integerConstant(*i)) {
      int64_t size = t->dims[k];
      if (*v < 0 || (size != kDynamicDim && *v >= size)) {
        diags_.report(i->range, DiagId::IndexOutOfBounds)
            .arg(*v)
            .arg(static_cast<int64_t>(k))
            .arg(size == kDynamicDim ? std::string("?") : std::to_string(size));
        ok = false;
      }
    }
  }
  if (!ok)
    return errorExpr(e.range());
  std::vector<int64_t> dims(t->dims.begin() +
                                static_cast<std::ptrdiff_t>(indices.size()),
                            t->dims.end());
  return std::make_unique<IndexExpr>(types_.tensor(t->element, dims), e.range(),
                                     std::move(base), std::move(indices));
}

ExprPtr Checker::checkMember(const ast::MemberExpr &e) {
  ExprPtr base = check(*e.base);
  const Type *t = base->type;
  if (containsError(t))
    return errorExpr(e.range());
  // Field selection on a placed struct or tuple selects in its member.
  const auto *placed = dyn_cast<PlacedType>(t);
  const Type *member = placed ? placed->member : t;
  const Type *fieldType = nullptr;
  int index = -1;
  if (const auto *s = dyn_cast<StructType>(member); s && !e.tupleIndex) {
    index = s->fieldIndex(e.member.name);
    if (index >= 0) {
      fieldType = s->fields[index].type;
    } else {
      std::vector<std::string> names;
      for (const Field &f : s->fields)
        names.push_back(f.name);
      diags_.report(e.member.range, DiagId::UnknownField)
          .arg(formatType(t))
          .arg(e.member.name)
          .arg(suggestion(e.member.name, names));
      return errorExpr(e.range());
    }
  } else if (const auto *tuple = dyn_cast<TupleType>(member);
             tuple && e.tupleIndex) {
    index = static_cast<int>(*e.tupleIndex);
    if (static_cast<size_t>(index) >= tuple->elements.size()) {
      diags_.report(e.member.range, DiagId::TupleIndexOutOfRange)
          .arg(formatType(t))
          .arg(static_cast<int64_t>(index));
      return errorExpr(e.range());
    }
    fieldType = tuple->elements[index];
  } else {
    diags_.report(e.member.range, DiagId::UnknownField)
        .arg(formatType(t))
        .arg(e.member.name)
        .arg("");
    return errorExpr(e.range());
  }
  const Type *result =
      placed && !containsPlaced(fieldType)
          ? types_.placed(fieldType, placed->placement, placed->allEqual)
          : fieldType;
  auto out = std::make_unique<MemberExpr>(result, e.range(), std::move(base),
                                          index, e.member.name);
  out->placementOrigin = out->base->placementOrigin;
  return out;
}

ExprPtr Checker::checkStructLiteral(const ast::StructLiteralExpr &e) {
  const GlobalSymbol *g = lookupGlobal(e.type.name);
  if (!g || g->kind != GlobalSymbol::Kind::Struct) {
    diags_.report(e.type.range, DiagId::UnknownType)
        .arg(e.type.name)
        .arg(globalSuggestion(e.type.name));
    for (const ast::FieldInit &f : e.fields)
      check(*f.value);
    return errorExpr(e.range());
  }
  const StructType *s = g->structType;
  std::vector<ExprPtr> values(s->fields.size());
  std::vector<std::string> names;
  for (const Field &f : s->fields)
    names.push_back(f.name);
  bool ok = true;
  for (const ast::FieldInit &f : e.fields) {
    ExprPtr v = check(*f.value);
    int index = s->fieldIndex(f.name.name);
    if (index < 0) {
      diags_.report(f.name.range, DiagId::UnknownField)
          .arg(s->name)
          .arg(f.name.name)
          .arg(suggestion(f.name.name, names));
      ok = false;
      continue;
    }
    if (values[index]) {
      diags_.report(f.name.range, DiagId::DuplicateField).arg(f.name.name);
      ok = false;
      continue;
    }
    if (inFederated() && containsPlaced(v->type)) {
      diags_.report(v->range, DiagId::ExpectedUnplacedValue)
          .arg("a struct literal")
          .arg(formatType(v->type));
      notePlacement(*v);
      ok = false;
    } else {
      ok &= expectType(v, s->fields[index].type,
                       "field '" + f.name.name + "' of " + s->name);
    }
    values[index] = std::move(v);
  }
  std::string missing;
  size_t missingCount = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i])
      continue;
    missing += (missingCount++ ? ", '" : "'") + s->fields[i].name + "'";
    values[i] = errorExpr(e.range());
  }
  if (missingCount) {
    diags_.report(e.range(), DiagId::MissingFields)
        .arg((missingCount == 1 ? "field " : "fields ") + missing)
        .arg(s->name);
    ok = false;
  }
  if (!ok)
    return errorExpr(e.range());
  return std::make_unique<AggregateExpr>(Expr::Kind::StructLiteral, s,
                                         e.range(), std::move(values));
}

ExprPtr Checker::checkTuple(const ast::TupleExpr &e) {
  std::vector<ExprPtr> elements;
  std::vector<const Type *> types;
  for (const ast::ExprPtr &x : e.elements) {
    elements.push_back(check(*x));
    types.push_back(elements.back()->type);
  }
  return std::make_unique<AggregateExpr>(Expr::Kind::TupleLiteral,
                                         types_.tuple(types), e.range(),
                                         std::move(elements));
}

} // namespace fedc::sema
