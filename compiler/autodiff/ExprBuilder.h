// Builds typed expressions for the adjoint code: every node gets the type
// sema would give it, so the generated fns need no second type check.
// Internal to compiler/autodiff.
#pragma once

#include "sema/TypedAST.h"

#include <llvm/Support/Casting.h>

#include <optional>

namespace fedc::autodiff {

using sema::ExprPtr;
using sema::Type;

class ExprBuilder {
public:
  ExprBuilder(sema::TypeContext &types, SourceRange at)
      : types(types), at(at) {}

  ExprPtr ref(const sema::Local *l) const;
  ExprPtr literal(double v, sema::ScalarKind element) const;
  // Elementwise arithmetic and comparisons with NumPy broadcasting;
  // Add/Sub/Mul/Div also take numeric structs (struct op struct, scalar
  // op struct, struct op scalar).
  ExprPtr binary(ast::BinaryOp op, ExprPtr a, ExprPtr b) const;
  ExprPtr neg(ExprPtr a) const;
  ExprPtr matmul(ExprPtr a, ExprPtr b) const;
  ExprPtr builtin(sema::Builtin b, std::vector<ExprPtr> args,
                  const Type *result) const;
  // sum(x) or sum(x, axis: k); the result type follows.
  ExprPtr sum(ExprPtr x, std::optional<int> axis = std::nullopt) const;
  ExprPtr unary(sema::Builtin b, ExprPtr x) const; // exp, log, ... same type
  ExprPtr transpose(ExprPtr x) const;
  ExprPtr reshape(ExprPtr x, const Type *to) const;
  ExprPtr broadcastLike(ExprPtr x, ExprPtr like) const;
  ExprPtr castTo(ExprPtr x, sema::ScalarKind element) const;
  ExprPtr member(ExprPtr base, int index) const;
  ExprPtr aggregate(const Type *t, std::vector<ExprPtr> elements) const;
  // zeros<T>() for static T; otherwise zeros shaped like `like` (a value of
  // type T that is in scope).
  ExprPtr zerosLike(const Type *t, const sema::Expr &like) const;
  // Sum over the leaves of a * b (two values of one numeric type): the
  // inner product of structs, tensors or scalars.
  ExprPtr inner(ExprPtr a, ExprPtr b) const;

  const sema::TensorType *tensorOf(const Type *t) const {
    return llvm::dyn_cast<sema::TensorType>(t);
  }
  const Type *broadcastType(const Type *a, const Type *b,
                            sema::ScalarKind element) const;

  sema::TypeContext &types;
  SourceRange at;
};

// A deep copy of a typed expression (references stay).
ExprPtr clone(const sema::Expr &e);
// Locals, literals, constants and field selections of them: free to copy.
bool isTrivial(const sema::Expr &e);
bool hasStaticShape(const Type *t);
// A trivial expression inside `e` with e's type, reached through
// elementwise nodes only (so equal in shape to e at run time), or null: it
// gives a reduction's adjoint its shape without keeping e's value.
const sema::Expr *findLike(const sema::Expr &e);
bool containsFloat(const Type *t);

} // namespace fedc::autodiff
