// The typed program: sema's output and the input of federated lowering and
// code generation. Names are resolved to the things they denote, every
// expression has a type (with placement), builtins and intrinsics are
// identified, named arguments are resolved, and generic local fns exist once
// per distinct binding of their parameters (monomorphized).
#pragma once

#include "ast/AST.h"
#include "sema/Types.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedc::sema {

struct Function;
struct Constant;

// A parameter, `let`/`var` binding or loop variable.
struct Local {
  enum class Kind { Param, Binding, LoopVar };
  std::string name;
  const Type *type;
  bool isMutable;
  SourceRange range;
  Kind kind = Kind::Binding;
  // For a placed value: where it got its placement (the parameter, or the
  // intrinsic call that produced a `let`'s value).
  SourceRange placementOrigin;
};

enum class Builtin {
#define BUILTIN(Name, spelling, TypeArg, Axis, Typing, Lowering) Name,
#include "sema/Builtins.def"
};
const char *builtinName(Builtin b);

enum class Intrinsic {
#define INTRINSIC(Name, spelling, named, Typing, Node, Kind) Name,
#include "sema/Intrinsics.def"
};
const char *intrinsicName(Intrinsic i);

class Expr {
public:
  enum class Kind {
    Literal,
    LocalRef,
    ConstRef,
    FunctionRef,
    PlacementRef,
    Unary,
    Binary,
    Call,
    BuiltinCall,
    IntrinsicCall,
    Cast,
    Index,
    Member,
    StructLiteral,
    TupleLiteral,
    Error
  };
  Kind kind() const { return kind_; }
  virtual ~Expr() = default;

  const Type *type;
  SourceRange range;
  // For placed values: where the value got its placement (a parameter, or
  // the intrinsic that produced it), for "placed here" notes.
  SourceRange placementOrigin;

protected:
  Expr(Kind k, const Type *t, SourceRange r) : type(t), range(r), kind_(k) {}

private:
  Kind kind_;
};
using ExprPtr = std::unique_ptr<Expr>;

// Integer, float and bool constants (the type says which).
class LiteralExpr : public Expr {
public:
  LiteralExpr(const Type *t, SourceRange r) : Expr(Kind::Literal, t, r) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Literal; }
  int64_t intValue = 0;
  double floatValue = 0;
  bool boolValue = false;
  // True for a literal as written, whose type may still adapt to its
  // context (`2 * x` with x: f64 makes the 2 an f64).
  bool adaptable = false;
};

class RefExpr : public Expr {
public:
  RefExpr(Kind k, const Type *t, SourceRange r) : Expr(k, t, r) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::LocalRef || e->kind() == Kind::ConstRef ||
           e->kind() == Kind::FunctionRef || e->kind() == Kind::PlacementRef;
  }
  const Local *local = nullptr;
  const Constant *constant = nullptr;
  const Function *function = nullptr;  // null for a generic fn
  const ast::FnDecl *fnDecl = nullptr; // for function references
  Placement placement = Placement::Server;
};

// `SERVER` or `CLIENTS` for a placement reference, for messages.
inline const char *placementSpelling(const Expr &e) {
  const auto *r = static_cast<const RefExpr *>(&e);
  return e.kind() == Expr::Kind::PlacementRef ? ast::placementName(r->placement)
                                              : "this";
}

class UnaryExpr : public Expr {
public:
  UnaryExpr(const Type *t, SourceRange r, ast::UnaryOp op, ExprPtr operand)
      : Expr(Kind::Unary, t, r), op(op), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Unary; }
  ast::UnaryOp op;
  ExprPtr operand;
};

class BinaryExpr : public Expr {
public:
  BinaryExpr(const Type *t, SourceRange r, ast::BinaryOp op, ExprPtr lhs,
             ExprPtr rhs)
      : Expr(Kind::Binary, t, r), op(op), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Binary; }
  ast::BinaryOp op;
  ExprPtr lhs, rhs;
};

// A call of a local fn instance (federated fn calls are inlined by sema's
// consumers; they appear as Call of a federated Function).
class CallExpr : public Expr {
public:
  CallExpr(const Type *t, SourceRange r, const Function *callee,
           std::vector<ExprPtr> args)
      : Expr(Kind::Call, t, r), callee(callee), args(std::move(args)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Call; }
  const Function *callee;
  std::vector<ExprPtr> args;
};

class BuiltinCallExpr : public Expr {
public:
  BuiltinCallExpr(const Type *t, SourceRange r, Builtin b,
                  std::vector<ExprPtr> args)
      : Expr(Kind::BuiltinCall, t, r), builtin(b), args(std::move(args)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::BuiltinCall; }
  Builtin builtin;
  std::vector<ExprPtr> args;
  std::optional<int> axis;       // reductions with `axis:`, normalized >= 0
  const Type *typeArg = nullptr; // zeros<T>, reshape<T>, ...
  // conv2d and the pools, and their adjoints: the window (kh x kw; a
  // convolution's from its filter), `stride:` and `padding: "same"`.
  struct Window {
    int64_t kh = 0, kw = 0, stride = 1;
    bool same = false;
  } window;
};

// federated_dp_mean's parameters, as constants (docs/privacy.md).
struct DpParameters {
  double clip = 0.1; // the initial clip when adaptive
  double noiseMultiplier = 0;
  bool adaptive = false; // target_quantile given
  double targetQuantile = 0.5, clipLearningRate = 0.2;
  double clippedCountStddev = -1; // < 0: 0.05 x clients per round
  double maxWeight = 0;           // the weighted form's (0: unweighted)
};

class IntrinsicCallExpr : public Expr {
public:
  IntrinsicCallExpr(const Type *t, SourceRange r, Intrinsic i,
                    std::vector<ExprPtr> args)
      : Expr(Kind::IntrinsicCall, t, r), intrinsic(i), args(std::move(args)) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::IntrinsicCall;
  }
  Intrinsic intrinsic;
  std::vector<ExprPtr> args; // federated_mean's weight is args[1] when given
  bool weighted = false;
  int bitwidth = 0;       // federated_secure_sum; federated_secure_mean's bits
  double secureRange = 0; // federated_secure_mean: values clipped to ±it
  DpParameters dp;        // federated_dp_mean
  // The local fn instances the call names: federated_map's and
  // federated_eval's function; federated_aggregate's accumulate, merge and
  // report (its value and zero stay args[0] and args[1]).
  const Function *function = nullptr;
  const Function *accumulate = nullptr, *merge = nullptr, *report = nullptr;
};

class CastExpr : public Expr {
public:
  CastExpr(const Type *t, SourceRange r, ExprPtr operand)
      : Expr(Kind::Cast, t, r), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Cast; }
  ExprPtr operand;
};

class IndexExpr : public Expr {
public:
  IndexExpr(const Type *t, SourceRange r, ExprPtr base,
            std::vector<ExprPtr> indices)
      : Expr(Kind::Index, t, r), base(std::move(base)),
        indices(std::move(indices)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Index; }
  ExprPtr base;
  std::vector<ExprPtr> indices;
};

// A struct field or tuple element, by index. On a placed struct or tuple the
// selection applies to the member (`{Model}@CLIENTS`.w is `{f32[..]}@CLIENTS`).
class MemberExpr : public Expr {
public:
  MemberExpr(const Type *t, SourceRange r, ExprPtr base, int index,
             std::string name)
      : Expr(Kind::Member, t, r), base(std::move(base)), index(index),
        name(std::move(name)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Member; }
  ExprPtr base;
  int index;
  std::string name;
};

// Struct literals (fields in declaration order) and tuple literals.
class AggregateExpr : public Expr {
public:
  AggregateExpr(Kind k, const Type *t, SourceRange r,
                std::vector<ExprPtr> elements)
      : Expr(k, t, r), elements(std::move(elements)) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::StructLiteral || e->kind() == Kind::TupleLiteral;
  }
  std::vector<ExprPtr> elements;
};

class ErrorExpr : public Expr {
public:
  ErrorExpr(const Type *t, SourceRange r) : Expr(Kind::Error, t, r) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Error; }
};

// ---------------------------------------------------------------------------

class Stmt {
public:
  enum class Kind {
    Let,
    Assign,
    If,
    ForRange,
    ForEach,
    While,
    Return,
    Block,
    Expr
  };
  Kind kind() const { return kind_; }
  virtual ~Stmt() = default;
  SourceRange range;

protected:
  Stmt(Kind k, SourceRange r) : range(r), kind_(k) {}

private:
  Kind kind_;
};
using StmtPtr = std::unique_ptr<Stmt>;

class BlockStmt : public Stmt {
public:
  explicit BlockStmt(SourceRange r) : Stmt(Kind::Block, r) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Block; }
  std::vector<StmtPtr> body;
};

class LetStmt : public Stmt {
public:
  LetStmt(SourceRange r, const Local *local, ExprPtr init)
      : Stmt(Kind::Let, r), local(local), init(std::move(init)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Let; }
  const Local *local;
  ExprPtr init;
};

class AssignStmt : public Stmt {
public:
  AssignStmt(SourceRange r, ast::AssignOp op, ExprPtr target, ExprPtr value)
      : Stmt(Kind::Assign, r), op(op), target(std::move(target)),
        value(std::move(value)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Assign; }
  ast::AssignOp op;
  ExprPtr target, value;
};

class IfStmt : public Stmt {
public:
  explicit IfStmt(SourceRange r) : Stmt(Kind::If, r) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::If; }
  std::vector<std::pair<ExprPtr, std::unique_ptr<BlockStmt>>> branches;
  std::unique_ptr<BlockStmt> elseBody;
};

class ForRangeStmt : public Stmt {
public:
  explicit ForRangeStmt(SourceRange r) : Stmt(Kind::ForRange, r) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::ForRange; }
  const Local *var = nullptr;
  ExprPtr lo, hi;
  std::unique_ptr<BlockStmt> body;
};

class ForEachStmt : public Stmt {
public:
  explicit ForEachStmt(SourceRange r) : Stmt(Kind::ForEach, r) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::ForEach; }
  const Local *var = nullptr;
  ExprPtr iterable; // a seq<T>, or batches(data, n)
  std::unique_ptr<BlockStmt> body;
};

class WhileStmt : public Stmt {
public:
  explicit WhileStmt(SourceRange r) : Stmt(Kind::While, r) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::While; }
  ExprPtr condition;
  std::unique_ptr<BlockStmt> body;
};

class ReturnStmt : public Stmt {
public:
  ReturnStmt(SourceRange r, ExprPtr value)
      : Stmt(Kind::Return, r), value(std::move(value)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Return; }
  ExprPtr value; // null for `return;`
};

class ExprStmt : public Stmt {
public:
  ExprStmt(SourceRange r, ExprPtr e)
      : Stmt(Kind::Expr, r), expr(std::move(e)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Expr; }
  ExprPtr expr;
};

// A deep copy of `e` whose local references go through `locals` (lowering
// moves unplaced expressions of federated fns into stage functions).
using LocalMap = std::function<const Local *(const Local *)>;
ExprPtr cloneExpr(const Expr &e, const LocalMap &locals);

// ---------------------------------------------------------------------------

struct Constant {
  std::string name;
  SourceRange range;
  const Type *type = nullptr;
  ExprPtr value; // folded to a literal when possible
  std::optional<int64_t> intValue;
  bool declaredType = false; // untyped constants adapt like literals
  enum class State { Pending, Evaluating, Done } state = State::Pending;
  const ast::ConstDecl *decl = nullptr;
};

// A local fn instance or a federated fn.
struct Function {
  std::string name;        // `matvec<N=64, K=10>` for instances
  const ast::FnDecl *decl; // where it was written
  bool isFederated = false;
  std::vector<const Local *> params;
  const Type *result = nullptr;
  std::unique_ptr<BlockStmt> body;
  std::vector<std::unique_ptr<Local>> locals; // owns params and bindings
  bool checked = false;
  bool hasErrors = false;
  // For an adjoint that grad/value_and_grad asked for: the fn it
  // differentiates (compiler/autodiff writes the body).
  const Function *adjointOf = nullptr;
};

// An adjoint fn sema created for `grad(f)` or `value_and_grad(f)`: `fn` takes
// f's parameters and a seed (the result's adjoint, 1 when called) and
// returns the adjoints of the parameters in `wrt` (one value, or a tuple of
// them when there are several), preceded by f's result when `withValue`:
// (result, adjoints). Its body is written by compiler/autodiff (reverse
// mode) after every fn is checked.
struct AdjointRequest {
  Function *fn = nullptr;
  const Function *primal = nullptr;
  std::vector<unsigned> wrt;
  bool withValue = false;
  SourceRange requestedAt;
};

struct Process {
  std::string name;
  SourceRange range;
  const Function *init = nullptr;
  const Function *next = nullptr;
  const Function *eval = nullptr; // optional
  const Type *state = nullptr;    // S
  const Type *metrics = nullptr;  // M of next, if it returns metrics
  // Client state (docs/language.md, "Client state"): C, and client_init,
  // the local fn () -> C giving a client its first state.
  const Type *clientState = nullptr;
  const Function *clientInit = nullptr;
};

struct Program {
  // The parsed modules (the root and what it imports); typed nodes refer to
  // their declarations.
  std::vector<std::unique_ptr<ast::Module>> modules;
  TypeContext types;
  std::vector<const StructType *> structs;
  std::vector<std::unique_ptr<Constant>> constants;
  std::vector<std::unique_ptr<Function>> functions; // in order of checking
  std::optional<Process> process;
  const Function *main = nullptr; // a one-shot `federated fn main`
  std::vector<AdjointRequest> adjoints;
};

} // namespace fedc::sema
