// The driver of reverse-mode differentiation: one adjoint fn per request,
// forward sweep then reverse sweep (ReverseMode.h), and the entry point
// sema calls once every fn is checked (Autodiff.h).
#include "autodiff/ReverseMode.h"
#include "autodiff/Autodiff.h"

#include <llvm/Support/Casting.h>

#include <stdexcept>

namespace fedc::autodiff {

using llvm::cast;
using llvm::dyn_cast;
using sema::Expr;

ReverseMode::ReverseMode(sema::Program &program,
                         const sema::AdjointRequest &request,
                         DiagnosticEngine &diags)
    : program_(program), request_(request), diags_(diags), fn_(*request.fn),
      b_(program.types, request.primal->decl->range()),
      primal_(request.primal) {}

bool ReverseMode::run() {
  const sema::Function &primal = *request_.primal;
  const sema::Stmt *offending = nullptr;
  if (!returnsOnlyAtEnd(primal, &offending)) {
    notDifferentiable(offending->range, "a 'return' inside a block",
                      ": assign the result to a var and return it at the end");
    return false;
  }
  for (const sema::Local *p : fn_.params) {
    names_.insert(p->name);
    depthOf_[p] = 0;
  }
  for (size_t i = 0; i < primal.params.size(); ++i)
    env_[primal.params[i]] = fn_.params[i];
  for (unsigned k : request_.wrt)
    active_.insert(fn_.params[k]);
  const sema::Local *seed = fn_.params.back();

  std::vector<Record> records;
  records_ = &records;
  frames_.push_back({fn_.body.get(), {}});
  const auto &body = primal.body->body;
  for (size_t i = 0; i + 1 < body.size(); ++i)
    forwardStmt(*body[i]);
  const auto &ret = cast<sema::ReturnStmt>(*body.back());
  const sema::Local *value = materialize(forwardExpr(*ret.value), "value");
  if (failed_)
    return false;

  accumulate(value, {}, b_.ref(seed));
  reverseRecords(records);
  std::vector<ExprPtr> grads;
  for (unsigned k : request_.wrt) {
    const sema::Local *p = fn_.params[k];
    ExprPtr g = takeAdjoint(p);
    grads.push_back(g ? std::move(g) : b_.zerosLike(p->type, *b_.ref(p)));
  }
  const sema::Type *gradType =
      request_.withValue ? cast<sema::TupleType>(fn_.result)->elements[1]
                         : fn_.result;
  ExprPtr g = grads.size() == 1 ? std::move(grads[0])
                                : b_.aggregate(gradType, std::move(grads));
  if (request_.withValue) {
    std::vector<ExprPtr> result;
    result.push_back(b_.ref(value));
    result.push_back(std::move(g));
    g = b_.aggregate(fn_.result, std::move(result));
  }
  emit(std::make_unique<sema::ReturnStmt>(b_.at, std::move(g)));
  // Forward values neither the result nor the reverse sweep reads (the
  // loss itself, for grad) are dropped.
  removeDeadLets(fn_);
  return !failed_;
}

bool ReverseMode::isActive(const Expr &e) const {
  if (!containsFloat(e.type))
    return false;
  switch (e.kind()) {
  case Expr::Kind::LocalRef:
    return isActive(cast<sema::RefExpr>(e).local);
  case Expr::Kind::Unary:
    return isActive(*cast<sema::UnaryExpr>(e).operand);
  case Expr::Kind::Binary: {
    const auto &bin = cast<sema::BinaryExpr>(e);
    return isActive(*bin.lhs) || isActive(*bin.rhs);
  }
  case Expr::Kind::Call:
    for (const ExprPtr &a : cast<sema::CallExpr>(e).args)
      if (isActive(*a))
        return true;
    return false;
  case Expr::Kind::BuiltinCall:
    // Random samples shaped like x do not depend on x's values.
    if (cast<sema::BuiltinCallExpr>(e).builtin ==
        sema::Builtin::RandomUniformLike)
      return false;
    for (const ExprPtr &a : cast<sema::BuiltinCallExpr>(e).args)
      if (isActive(*a))
        return true;
    return false;
  case Expr::Kind::Cast:
    return isActive(*cast<sema::CastExpr>(e).operand);
  case Expr::Kind::Index:
    return isActive(*cast<sema::IndexExpr>(e).base);
  case Expr::Kind::Member:
    return isActive(*cast<sema::MemberExpr>(e).base);
  case Expr::Kind::StructLiteral:
  case Expr::Kind::TupleLiteral:
    for (const ExprPtr &a : cast<sema::AggregateExpr>(e).elements)
      if (isActive(*a))
        return true;
    return false;
  default:
    return false;
  }
}

sema::Local *ReverseMode::newLocal(const std::string &name,
                                   const sema::Type *type, bool isMutable,
                                   sema::Local::Kind kind) {
  std::string unique = name;
  for (int k = 1; !names_.insert(unique).second; ++k)
    unique = name + "." + std::to_string(k);
  auto l = std::make_unique<sema::Local>();
  l->name = unique;
  l->type = type;
  l->isMutable = isMutable;
  l->range = b_.at;
  l->kind = kind;
  fn_.locals.push_back(std::move(l));
  sema::Local *out = fn_.locals.back().get();
  depthOf_[out] = depth();
  return out;
}

void ReverseMode::notDifferentiable(SourceRange where, const std::string &what,
                                    const std::string &why) {
  failed_ = true;
  diags_.report(where, DiagId::NotDifferentiable)
      .arg(what)
      .arg(primal_->name)
      .arg(why);
  diags_.report(request_.requestedAt, DiagId::NoteGradRequestedHere)
      .arg(request_.primal->name);
}

void synthesizeAdjoints(sema::Program &program, DiagnosticEngine &diags) {
  for (size_t i = 0; i < program.adjoints.size(); ++i) {
    const sema::AdjointRequest &r = program.adjoints[i];
    if (r.primal->hasErrors || !r.primal->body)
      continue;
    try {
      ReverseMode(program, r, diags).run();
    } catch (const std::logic_error &e) {
      // A construct the pass does not cover: an error, never a crash.
      diags.report(r.requestedAt, DiagId::NotDifferentiable)
          .arg("this program")
          .arg(r.primal->name)
          .arg(std::string(" (") + e.what() + ")");
    }
  }
}

} // namespace fedc::autodiff
