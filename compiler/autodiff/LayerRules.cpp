// The vector-Jacobian products of the layer builtins: each is an internal
// builtin that calls the runtime's gradient kernel (sema/Builtins.def), with
// the window of the call it differentiates. Conventions (docs/language.md,
// "Layers"): a max pool's adjoint goes to the first maximal element of its
// window; dropout is linear in x for a fixed seed, so its adjoint is the
// same dropout of dy; dropout's rate is not differentiated.
#include "autodiff/ReverseMode.h"

#include <llvm/Support/Casting.h>

namespace fedc::autodiff {

using llvm::cast;
using sema::Builtin;

void ReverseMode::backpropLayer(const sema::BuiltinCallExpr &n, ExprPtr dy) {
  const auto &args = n.args;
  // An internal builtin over `operands`, typed like `like`, with n's window.
  auto kernel = [&](Builtin b, std::vector<ExprPtr> operands,
                    const sema::Type *like) {
    ExprPtr call = b_.builtin(b, std::move(operands), like);
    cast<sema::BuiltinCallExpr>(*call).window = n.window;
    return call;
  };
  auto list = [](ExprPtr a, ExprPtr b, ExprPtr c = nullptr) {
    std::vector<ExprPtr> v;
    v.push_back(std::move(a));
    v.push_back(std::move(b));
    if (c)
      v.push_back(std::move(c));
    return v;
  };
  switch (n.builtin) {
  case Builtin::Conv2d: {
    const sema::Expr &x = *args[0], &w = *args[1];
    bool both = isActive(x) && isActive(w);
    if (both)
      dy = share(std::move(dy));
    auto d = [&]() { return both ? clone(*dy) : std::move(dy); };
    if (isActive(x))
      backprop(x,
               kernel(Builtin::Conv2dInputGrad, list(d(), clone(w), clone(x)),
                      x.type),
               nullptr);
    if (isActive(w))
      backprop(w,
               kernel(Builtin::Conv2dFilterGrad, list(clone(x), d(), clone(w)),
                      w.type),
               nullptr);
    return;
  }
  case Builtin::MaxPool2d:
  case Builtin::AvgPool2d:
    backprop(*args[0],
             kernel(n.builtin == Builtin::MaxPool2d ? Builtin::MaxPool2dGrad
                                                    : Builtin::AvgPool2dGrad,
                    list(clone(*args[0]), std::move(dy)), args[0]->type),
             nullptr);
    return;
  case Builtin::Dropout:
    if (isActive(*args[1])) {
      notDifferentiable(args[1]->range, "dropout's rate",
                        ": the rate is a hyperparameter; compute it outside "
                        "the differentiated fn");
      return;
    }
    if (isActive(*args[0]))
      backprop(*args[0],
               kernel(Builtin::Dropout,
                      list(std::move(dy), clone(*args[1]), clone(*args[2])),
                      args[0]->type),
               nullptr);
    return;
  case Builtin::Embedding:
    backprop(*args[1],
             kernel(Builtin::EmbeddingGrad,
                    list(clone(*args[0]), std::move(dy), clone(*args[1])),
                    args[1]->type),
             nullptr);
    return;
  case Builtin::LayerNorm:
    backprop(*args[0],
             kernel(Builtin::LayerNormGrad,
                    list(clone(*args[0]), std::move(dy)), args[0]->type),
             nullptr);
    return;
  default:
    return;
  }
}

} // namespace fedc::autodiff
