// Fused elementwise code: a tree of elementwise operations (operators,
// casts, math builtins, and selections through struct literals and fields)
// becomes one loop nest over the broadcast result shape, computing each
// element from its leaves, with no temporaries in between. LLVM's loop
// vectorizer turns the innermost loop into SIMD.
#include "codegen/Emitter.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/Support/Casting.h>

#include <map>
#include <string_view>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

// The builtins the table (sema/Builtins.def) lowers as Elementwise.
bool isElementwiseBuiltin(sema::Builtin b) {
  static constexpr bool kElementwise[] = {
#define BUILTIN(Name, spelling, TypeArg, Axis, Typing, Lowering)               \
  std::string_view(#Lowering) == "Elementwise",
#include "sema/Builtins.def"
  };
  return kElementwise[static_cast<size_t>(b)];
}

// The type of leaf `path` of `t`.
const Type *typeAt(const Type *t, const std::vector<int> &path,
                   size_t from = 0) {
  for (size_t k = from; k < path.size(); ++k) {
    if (const auto *s = dyn_cast<sema::StructType>(t))
      t = s->fields[path[k]].type;
    else if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      t = tuple->elements[path[k]];
  }
  return t;
}

bool isAggregate(const Type *t) {
  return isa<sema::StructType>(t) || isa<sema::TupleType>(t);
}

Value valueAt(const Value &v, const std::vector<int> &path) {
  const Value *x = &v;
  for (int i : path)
    x = &x->fields.at(static_cast<size_t>(i));
  return *x;
}

} // namespace

bool FunctionEmitter::isElementwise(const sema::Expr &e) {
  switch (e.kind()) {
  case sema::Expr::Kind::Unary:
  case sema::Expr::Kind::Cast:
    return true;
  case sema::Expr::Kind::Binary:
    return cast<sema::BinaryExpr>(e).op != ast::BinaryOp::MatMul;
  case sema::Expr::Kind::BuiltinCall:
    return isElementwiseBuiltin(cast<sema::BuiltinCallExpr>(e).builtin);
  case sema::Expr::Kind::Member: {
    // Selecting from a fused struct (`(m - lr * g).w`) fuses too.
    const sema::Expr &base = *cast<sema::MemberExpr>(e).base;
    return isAggregate(base.type) &&
           (isElementwise(base) ||
            base.kind() == sema::Expr::Kind::StructLiteral ||
            base.kind() == sema::Expr::Kind::TupleLiteral);
  }
  default:
    return false;
  }
}

FusedPtr FunctionEmitter::leafNode(const Value &v, const Type *t) {
  auto n = std::make_unique<Fused>();
  n->kind = Fused::Kind::Leaf;
  n->leaf = v;
  const auto *tensor = cast<sema::TensorType>(t);
  n->element = tensor->element;
  n->rank = tensor->rank();
  return n;
}

FusedPtr FunctionEmitter::build(const sema::Expr &e,
                                const std::vector<int> &path) {
  const Type *leafType = typeAt(e.type, path);
  // Operands of aggregate type follow the path; scalars broadcast.
  auto operand = [&](const sema::Expr &x) {
    return build(x, isAggregate(x.type) ? path : std::vector<int>{});
  };
  auto node = [&](Fused::Kind kind, Fused::Op op) {
    auto n = std::make_unique<Fused>();
    n->kind = kind;
    n->op = op;
    const auto *t = cast<sema::TensorType>(leafType);
    n->element = t->element;
    n->rank = t->rank();
    n->range = e.range;
    return n;
  };
  switch (e.kind()) {
  case sema::Expr::Kind::StructLiteral:
  case sema::Expr::Kind::TupleLiteral:
    if (!path.empty())
      return build(*cast<sema::AggregateExpr>(e).elements[path[0]],
                   std::vector<int>(path.begin() + 1, path.end()));
    break;
  case sema::Expr::Kind::Member:
    if (isElementwise(e)) {
      const auto &m = cast<sema::MemberExpr>(e);
      std::vector<int> inner{m.index};
      inner.insert(inner.end(), path.begin(), path.end());
      return build(*m.base, inner);
    }
    break;
  case sema::Expr::Kind::Unary: {
    const auto &u = cast<sema::UnaryExpr>(e);
    auto n = node(Fused::Kind::Unary, u.op);
    n->children.push_back(operand(*u.operand));
    return n;
  }
  case sema::Expr::Kind::Binary: {
    const auto &bin = cast<sema::BinaryExpr>(e);
    if (bin.op == ast::BinaryOp::MatMul)
      break;
    auto n = node(Fused::Kind::Binary, bin.op);
    n->children.push_back(operand(*bin.lhs));
    n->children.push_back(operand(*bin.rhs));
    n->operandElement = n->children[0]->element;
    return n;
  }
  case sema::Expr::Kind::Cast: {
    auto n = node(Fused::Kind::Cast, {});
    n->children.push_back(operand(*cast<sema::CastExpr>(e).operand));
    n->operandElement = n->children[0]->element;
    return n;
  }
  case sema::Expr::Kind::BuiltinCall: {
    const auto &call = cast<sema::BuiltinCallExpr>(e);
    if (!isElementwiseBuiltin(call.builtin))
      break;
    auto n = node(Fused::Kind::Math, call.builtin);
    for (const sema::ExprPtr &a : call.args)
      n->children.push_back(operand(*a));
    return n;
  }
  default:
    break;
  }
  // Anything else is computed whole, once, and read element by element.
  return leafNode(valueAt(emit(e), path), leafType);
}

std::vector<llvm::Value *> FunctionEmitter::shape(const Fused &n,
                                                  SourceRange r) {
  if (n.kind == Fused::Kind::Leaf)
    return n.leaf.dims;
  std::vector<llvm::Value *> out(n.rank, nullptr);
  for (const FusedPtr &c : n.children) {
    std::vector<llvm::Value *> dims = shape(*c, r);
    size_t offset = n.rank - dims.size();
    for (size_t k = 0; k < dims.size(); ++k) {
      llvm::Value *&d = out[offset + k];
      llvm::Value *x = dims[k];
      if (!d || d == x) {
        d = x;
        continue;
      }
      auto *cd = dyn_cast<llvm::ConstantInt>(d);
      auto *cx = dyn_cast<llvm::ConstantInt>(x);
      if (cd && cx) {
        // Sema checked static shapes; only a 1 can differ.
        if (cd->isOne())
          d = x;
        continue;
      }
      // `?` involved: equal, or one of them is 1 (NumPy broadcasting).
      llvm::Value *ok = b.CreateOr(
          b.CreateICmpEQ(d, x),
          b.CreateOr(b.CreateICmpEQ(d, i64(1)), b.CreateICmpEQ(x, i64(1))));
      check(ok, r,
            "shapes do not broadcast in dimension " +
                std::to_string(offset + k),
            x, d);
      d = b.CreateSelect(b.CreateICmpEQ(d, i64(1)), x, d);
    }
  }
  for (llvm::Value *&d : out)
    if (!d)
      d = i64(1);
  return out;
}

llvm::Value *
FunctionEmitter::elementAt(const Fused &n,
                           const std::vector<llvm::Value *> &index,
                           const std::vector<llvm::Value *> &dims) {
  if (n.kind == Fused::Kind::Leaf) {
    if (n.rank == 0)
      return n.leaf.scalar;
    // Right-aligned; a dimension of size 1 is read at 0 (broadcast).
    size_t offset = index.size() - n.rank;
    std::vector<llvm::Value *> leafIndex;
    for (size_t k = 0; k < n.rank; ++k) {
      llvm::Value *d = n.leaf.dims[k];
      llvm::Value *i = index[offset + k];
      if (auto *c = dyn_cast<llvm::ConstantInt>(d)) {
        leafIndex.push_back(c->isOne() ? i64(0) : i);
      } else if (d == dims[offset + k]) {
        leafIndex.push_back(i);
      } else {
        leafIndex.push_back(
            b.CreateSelect(b.CreateICmpEQ(d, i64(1)), i64(0), i));
      }
    }
    return load(n.element, n.leaf.data, linearIndex(n.leaf.dims, leafIndex));
  }
  std::vector<llvm::Value *> args;
  for (const FusedPtr &c : n.children)
    args.push_back(elementAt(*c, index, dims));
  return scalarOp(n, args);
}

llvm::Value *FunctionEmitter::scalarOp(const Fused &n,
                                       const std::vector<llvm::Value *> &args) {
  llvm::Value *out = nullptr;
  switch (n.kind) {
  case Fused::Kind::Unary:
    out = scalarUnary(n, args[0]);
    break;
  case Fused::Kind::Binary:
    out = scalarBinary(n, args[0], args[1]);
    break;
  case Fused::Kind::Cast:
    out = scalarCast(n, args[0]);
    break;
  case Fused::Kind::Math:
    out = scalarMath(n, args);
    break;
  case Fused::Kind::Leaf:
    break;
  }
  if (!out)
    throw Unsupported{n.range, "this elementwise operation"};
  return out;
}

llvm::Value *FunctionEmitter::scalarUnary(const Fused &n, llvm::Value *x) {
  switch (std::get<ast::UnaryOp>(n.op)) {
  case ast::UnaryOp::Neg:
    return m_.elementType(n.element)->isFloatingPointTy()
               ? b.CreateFNeg(x)
               : checkedNegate(x, n.element, n.range, "'-'");
  case ast::UnaryOp::Plus:
    return x;
  case ast::UnaryOp::Not:
    return b.CreateXor(x, b.getInt8(1));
  }
  return nullptr;
}

llvm::Value *FunctionEmitter::scalarBinary(const Fused &n, llvm::Value *x,
                                           llvm::Value *y) {
  bool isFloat = m_.elementType(n.element)->isFloatingPointTy();
  ast::BinaryOp op = std::get<ast::BinaryOp>(n.op);
  switch (op) {
  case ast::BinaryOp::Add:
    return isFloat ? b.CreateFAdd(x, y)
                   : checkedArithmetic(op, x, y, n.element, n.range);
  case ast::BinaryOp::Sub:
    return isFloat ? b.CreateFSub(x, y)
                   : checkedArithmetic(op, x, y, n.element, n.range);
  case ast::BinaryOp::Mul:
    return isFloat ? b.CreateFMul(x, y)
                   : checkedArithmetic(op, x, y, n.element, n.range);
  case ast::BinaryOp::Div:
  case ast::BinaryOp::Rem: {
    bool div = op == ast::BinaryOp::Div;
    if (isFloat)
      return div ? b.CreateFDiv(x, y) : b.CreateFRem(x, y);
    return checkedDivision(!div, x, y, n.element, n.range);
  }
  case ast::BinaryOp::Lt:
  case ast::BinaryOp::Le:
  case ast::BinaryOp::Gt:
  case ast::BinaryOp::Ge:
  case ast::BinaryOp::Eq:
  case ast::BinaryOp::Ne:
    return b.CreateZExt(scalarCompare(op, n.operandElement, x, y),
                        b.getInt8Ty());
  case ast::BinaryOp::And:
    return b.CreateAnd(x, y);
  case ast::BinaryOp::Or:
    return b.CreateOr(x, y);
  case ast::BinaryOp::MatMul:
    break;
  }
  return nullptr;
}

llvm::Value *FunctionEmitter::scalarCompare(ast::BinaryOp op,
                                            ast::ScalarKind operands,
                                            llvm::Value *x, llvm::Value *y) {
  if (m_.elementType(operands)->isFloatingPointTy()) {
    // Ordered compares are false on NaN; != is the unordered one (true).
    static const std::map<ast::BinaryOp, llvm::CmpInst::Predicate> fcmp = {
        {ast::BinaryOp::Lt, llvm::CmpInst::FCMP_OLT},
        {ast::BinaryOp::Le, llvm::CmpInst::FCMP_OLE},
        {ast::BinaryOp::Gt, llvm::CmpInst::FCMP_OGT},
        {ast::BinaryOp::Ge, llvm::CmpInst::FCMP_OGE},
        {ast::BinaryOp::Eq, llvm::CmpInst::FCMP_OEQ},
        {ast::BinaryOp::Ne, llvm::CmpInst::FCMP_UNE}};
    return b.CreateFCmp(fcmp.at(op), x, y);
  }
  // Signed predicates; intPredicate turns them unsigned for unsigned kinds.
  static const std::map<ast::BinaryOp, llvm::CmpInst::Predicate> icmp = {
      {ast::BinaryOp::Lt, llvm::CmpInst::ICMP_SLT},
      {ast::BinaryOp::Le, llvm::CmpInst::ICMP_SLE},
      {ast::BinaryOp::Gt, llvm::CmpInst::ICMP_SGT},
      {ast::BinaryOp::Ge, llvm::CmpInst::ICMP_SGE},
      {ast::BinaryOp::Eq, llvm::CmpInst::ICMP_EQ},
      {ast::BinaryOp::Ne, llvm::CmpInst::ICMP_NE}};
  llvm::CmpInst::Predicate p = icmp.at(op);
  if (op != ast::BinaryOp::Eq && op != ast::BinaryOp::Ne)
    p = intPredicate(p, operands);
  return b.CreateICmp(p, x, y);
}

llvm::Value *FunctionEmitter::scalarCast(const Fused &n, llvm::Value *x) {
  llvm::Type *t = m_.elementType(n.element);
  llvm::Type *from = x->getType();
  bool isFloat = t->isFloatingPointTy();
  if (n.element == ast::ScalarKind::Bool)
    return b.CreateZExt(
        from->isFloatingPointTy()
            ? b.CreateFCmpUNE(x, llvm::ConstantFP::get(from, 0))
            : b.CreateICmpNE(x, llvm::ConstantInt::get(from, 0)),
        b.getInt8Ty());
  if (from->isFloatingPointTy() && isFloat)
    return b.CreateFPCast(x, t);
  if (from->isFloatingPointTy())
    return floatToInt(x, n.element, t);
  if (isFloat)
    return intToFloat(x, n.operandElement, t);
  return intCast(x, n.operandElement, t);
}

// -1, 0 or 1; a float zero keeps its sign and NaN stays NaN (both
// comparisons false), as NumPy's and PyTorch's sign.
llvm::Value *FunctionEmitter::signOf(llvm::Value *x, sema::ScalarKind element) {
  llvm::Type *t = x->getType();
  bool isFloat = t->isFloatingPointTy();
  llvm::Value *zero = llvm::Constant::getNullValue(t);
  auto compare = [&](llvm::CmpInst::Predicate f, llvm::CmpInst::Predicate i) {
    return isFloat ? b.CreateFCmp(f, x, zero)
                   : b.CreateICmp(intPredicate(i, element), x, zero);
  };
  llvm::Value *pos = compare(llvm::CmpInst::FCMP_OGT, llvm::CmpInst::ICMP_SGT);
  llvm::Value *neg = compare(llvm::CmpInst::FCMP_OLT, llvm::CmpInst::ICMP_SLT);
  llvm::Value *plusOne =
      isFloat ? llvm::ConstantFP::get(t, 1.0) : llvm::ConstantInt::get(t, 1);
  llvm::Value *minusOne = isFloat ? llvm::ConstantFP::get(t, -1.0)
                                  : llvm::ConstantInt::getSigned(t, -1);
  return b.CreateSelect(pos, plusOne,
                        b.CreateSelect(neg, minusOne, isFloat ? x : zero));
}

llvm::Value *
FunctionEmitter::scalarMath(const Fused &n,
                            const std::vector<llvm::Value *> &args) {
  llvm::Type *t = m_.elementType(n.element);
  bool isFloat = t->isFloatingPointTy();
  auto intrinsic = [&](llvm::Intrinsic::ID id, std::vector<llvm::Value *> xs) {
    return b.CreateIntrinsic(id, {xs[0]->getType()}, xs);
  };
  llvm::Value *x = args[0];
  llvm::Value *one = isFloat ? llvm::ConstantFP::get(t, 1.0) : nullptr;
  switch (std::get<sema::Builtin>(n.op)) {
  case sema::Builtin::Exp:
    return intrinsic(llvm::Intrinsic::exp, {x});
  case sema::Builtin::Log:
    return intrinsic(llvm::Intrinsic::log, {x});
  case sema::Builtin::Sqrt:
    return intrinsic(llvm::Intrinsic::sqrt, {x});
  case sema::Builtin::Tanh: {
    // tanh(x) = 1 - 2 / (exp(2x) + 1), vectorizable through exp.
    llvm::Value *e2x = intrinsic(
        llvm::Intrinsic::exp, {b.CreateFMul(x, llvm::ConstantFP::get(t, 2.0))});
    return b.CreateFSub(one, b.CreateFDiv(llvm::ConstantFP::get(t, 2.0),
                                          b.CreateFAdd(e2x, one)));
  }
  case sema::Builtin::Sigmoid:
    return b.CreateFDiv(one, b.CreateFAdd(one, intrinsic(llvm::Intrinsic::exp,
                                                         {b.CreateFNeg(x)})));
  case sema::Builtin::Abs:
    if (isFloat)
      return intrinsic(llvm::Intrinsic::fabs, {x});
    if (intPredicate(llvm::CmpInst::ICMP_SLT, n.element) !=
        llvm::CmpInst::ICMP_SLT)
      return x; // unsigned
    // abs(INT_MIN) does not fit: the negation is checked.
    return b.CreateSelect(b.CreateICmpSLT(x, llvm::ConstantInt::get(t, 0)),
                          checkedNegate(x, n.element, n.range, "abs"), x);
  case sema::Builtin::Sign:
    return signOf(x, n.element);
  case sema::Builtin::Relu: {
    llvm::Value *zero = llvm::Constant::getNullValue(t);
    return b.CreateSelect(
        isFloat ? b.CreateFCmpOGT(x, zero)
                : b.CreateICmp(intPredicate(llvm::CmpInst::ICMP_SGT, n.element),
                               x, zero),
        x, zero);
  }
  case sema::Builtin::Pow:
    if (isFloat)
      return intrinsic(llvm::Intrinsic::pow, {x, args[1]});
    return checkedPower(x, args[1], n.element, n.range);
  // Floats: NaN in either argument gives NaN, whatever the order
  // (IEEE 754-2019 minimum/maximum; -0 < +0).
  case sema::Builtin::Minimum:
    if (isFloat)
      return intrinsic(llvm::Intrinsic::minimum, {x, args[1]});
    return b.CreateSelect(
        b.CreateICmp(intPredicate(llvm::CmpInst::ICMP_SLT, n.element), x,
                     args[1]),
        x, args[1]);
  case sema::Builtin::BroadcastLike: // x, in the shape of x and args[1]
    return x;
  case sema::Builtin::Maximum:
    if (isFloat)
      return intrinsic(llvm::Intrinsic::maximum, {x, args[1]});
    return b.CreateSelect(
        b.CreateICmp(intPredicate(llvm::CmpInst::ICMP_SGT, n.element), x,
                     args[1]),
        x, args[1]);
  default:
    break;
  }
  return nullptr;
}

Value FunctionEmitter::materialize(const Fused &n, SourceRange r) {
  Value v;
  if (n.rank == 0) {
    v.scalar = elementAt(n, {}, {});
    flushFaults();
    return v;
  }
  std::vector<llvm::Value *> dims = shape(n, r);
  v.dims = dims;
  llvm::Value *count = elementCount(dims);
  v.data = alloc(n.element, count);
  if (flatLeaves(n, dims)) {
    // One contiguous loop: vectorizes with plain loads whatever the rank.
    loop(count, [&](llvm::Value *i) { store(elementAtFlat(n, i), v.data, i); });
    flushFaults();
    return v;
  }
  loopNest(dims, [&](const std::vector<llvm::Value *> &index) {
    store(elementAt(n, index, dims), v.data, linearIndex(dims, index));
  });
  flushFaults();
  return v;
}

bool FunctionEmitter::flatLeaves(const Fused &n,
                                 const std::vector<llvm::Value *> &dims) const {
  if (n.kind != Fused::Kind::Leaf) {
    for (const FusedPtr &c : n.children)
      if (!flatLeaves(*c, dims))
        return false;
    return true;
  }
  if (n.rank == 0)
    return true;
  if (n.leaf.dims.size() != dims.size())
    return false;
  for (size_t k = 0; k < dims.size(); ++k) {
    if (n.leaf.dims[k] == dims[k])
      continue;
    auto *a = dyn_cast<llvm::ConstantInt>(n.leaf.dims[k]);
    auto *b = dyn_cast<llvm::ConstantInt>(dims[k]);
    if (!a || !b || a->getSExtValue() != b->getSExtValue())
      return false;
  }
  return true;
}

llvm::Value *FunctionEmitter::elementAtFlat(const Fused &n, llvm::Value *i) {
  if (n.kind == Fused::Kind::Leaf)
    return n.rank == 0 ? n.leaf.scalar : load(n.element, n.leaf.data, i);
  std::vector<llvm::Value *> args;
  for (const FusedPtr &c : n.children)
    args.push_back(elementAtFlat(*c, i));
  return scalarOp(n, args);
}

Value FunctionEmitter::emitElementwise(const sema::Expr &e, const Type *t,
                                       std::vector<int> &path) {
  const Type *leafType = typeAt(t, path);
  if (isAggregate(leafType)) {
    Value v;
    size_t n = isa<sema::StructType>(leafType)
                   ? cast<sema::StructType>(leafType)->fields.size()
                   : cast<sema::TupleType>(leafType)->elements.size();
    for (size_t i = 0; i < n; ++i) {
      path.push_back(static_cast<int>(i));
      v.fields.push_back(emitElementwise(e, t, path));
      path.pop_back();
    }
    return v;
  }
  FusedPtr tree = build(e, path);
  return materialize(*tree, e.range);
}

} // namespace fedc::codegen
