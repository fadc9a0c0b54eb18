// The semantic checker's shared state. Its work is split by construct over
// several files, as Clang splits Sema: declarations (Declarations.cpp), types
// (TypeResolution.cpp), constants (Constants.cpp), function instances and
// generics (Instantiation.cpp), calls (Calls.cpp), local expressions
// (LocalExprs.cpp), builtins (Builtins.cpp, one typing rule per family of
// Builtins.def), statements (Statements.cpp), federated code and placement
// rules (FederatedExprs.cpp, one rule per family of Intrinsics.def) and
// processes (Processes.cpp). Cloning typed expressions (Clone.cpp) and the
// --emit=typed dump (TypedPrinter.cpp) work on its output. Internal to
// compiler/sema.
#pragma once

#include "ast/AST.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "basic/StackGuard.h"
#include "sema/TypedAST.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fedc::sema {

// What a generic parameter is bound to: a dimension or a type.
struct Binding {
  std::optional<int64_t> dim; // kDynamicDim for `?`
  const Type *type = nullptr;
  SourceRange from; // the argument it was inferred from
};
using Bindings = std::map<std::string, Binding>;

// A name at module level.
struct GlobalSymbol {
  enum class Kind { Struct, Const, Fn, Process } kind;
  const ast::Decl *decl;
  SourceRange nameRange;
  StructType *structType = nullptr;
  Constant *constant = nullptr;
};

class Checker {
public:
  Checker(Program &program, const SourceManager &sm, DiagnosticEngine &diags)
      : program_(program), types_(program.types), sm_(sm), diags_(diags) {}

  // The phases, in order.
  void collectDeclarations(const std::vector<const ast::Module *> &modules);
  void resolveStructs();
  void evaluateConstants();
  void checkFunctions();
  void checkProcesses();
  // Context notes for the error just reported inside generic instances.
  void emitInstantiationNotes();

private:
  // --- declarations (Declarations.cpp) -----------------------------------
  void declare(const std::string &name, GlobalSymbol symbol);
  const GlobalSymbol *lookupGlobal(const std::string &name) const;
  // True when `name` was declared by `decl` (not a rejected redefinition).
  bool ownsName(const std::string &name, const ast::Decl *decl) const;
  std::string suggestion(const std::string &name,
                         const std::vector<std::string> &candidates) const;
  std::string globalSuggestion(const std::string &name) const;

  // --- types (TypeResolution.cpp) -----------------------------------------
  enum class TypeUse { Local, Federated, Field, TypeArgument };
  const Type *resolveType(const ast::TypeExpr &type, const Bindings *bindings,
                          TypeUse use);
  const Type *resolveTypeUnchecked(const ast::TypeExpr &type,
                                   const Bindings *bindings);
  const Type *resolveNamedType(const ast::NamedTypeExpr &t,
                               const Bindings *bindings);
  const Type *resolveSeqType(const ast::SeqTypeExpr &t,
                             const Bindings *bindings);
  const Type *resolvePlacedType(const ast::PlacedTypeExpr &t,
                                const Bindings *bindings);
  std::optional<int64_t> resolveDim(const ast::Dim &dim,
                                    const Bindings *bindings);
  void checkPlacedWellFormed(const ast::TypeExpr &type, const Type *t);
  bool assignable(const Type *from, const Type *to) const;
  bool containsStruct(const Type *t, const StructType *target) const;

  // --- constants (Constants.cpp) --------------------------------------------
  // Evaluates `c` if it has not been yet (constants are order-independent;
  // a cycle is an error). False when it has no usable value.
  bool ensureConstant(Constant &c, SourceRange use);
  std::optional<int64_t> integerConstant(const Expr &e) const;
  // A literal number, integer or float (a folded const included).
  std::optional<double> numberConstant(const Expr &e) const;

  // --- instances and generics (Instantiation.cpp) ---------------------------
  // The instance of `decl` for `bindings`, checked on first request; `at` is
  // where the request came from (for recursion and instantiation notes).
  Function *instance(const ast::FnDecl &decl, const Bindings &bindings,
                     SourceRange at);
  bool
  inferBindings(const ast::FnDecl &decl,
                const std::vector<std::pair<const Type *, SourceRange>> &args,
                SourceRange call, Bindings &bindings);
  void unify(const ast::TypeExpr &param, const Type *arg, SourceRange argRange,
             const ast::FnDecl &decl, Bindings &bindings, bool &ok);
  std::string instanceName(const ast::FnDecl &decl,
                           const Bindings &bindings) const;
  void checkBody(Function &fn, const Bindings &bindings,
                 SourceRange requestedAt);
  // Checks `args` against `fn`'s parameters (arity, types, literal
  // adaptation); `what` names the callee in messages.
  // "'f' takes 2 arguments, 1 given" (or what `takes` says it takes).
  void reportArgumentCount(SourceRange call, const std::string &callee,
                           size_t takes, size_t given);
  void reportArgumentCount(SourceRange call, const std::string &callee,
                           const std::string &takes, size_t given);
  bool checkArguments(const Function &fn, std::vector<ExprPtr> &args,
                      SourceRange call, const std::string &what);

  // --- per-function state ---------------------------------------------------
  struct FunctionState {
    Function *fn;
    const Bindings *bindings;
    std::vector<std::map<std::string, const Local *>> scopes;
    // Every name bound anywhere in the body, for "used before definition".
    std::map<std::string, SourceRange> laterBindings;
  };
  FunctionState *current_ = nullptr;
  // The iterable of the `for` being checked, or len()'s argument: where
  // batches() may appear.
  const ast::Expr *forIterable_ = nullptr;
  bool inFederated() const { return current_ && current_->fn->isFederated; }
  Local *bindLocal(const ast::Ident &name, const Type *type, bool isMutable,
                   Local::Kind kind = Local::Kind::Binding);
  const Local *lookupLocal(const std::string &name) const;

  // --- local expressions (LocalExprs.cpp) -----------------------------------
  ExprPtr check(const ast::Expr &e);
  ExprPtr checkName(const ast::NameExpr &e);
  ExprPtr checkGlobalName(const ast::NameExpr &e, const GlobalSymbol &g);
  ExprPtr checkUnary(const ast::UnaryExpr &e);
  ExprPtr checkBinary(const ast::BinaryExpr &e);
  ExprPtr checkMatMul(const ast::BinaryExpr &e, ExprPtr lhs, ExprPtr rhs);
  ExprPtr checkCall(const ast::CallExpr &e);
  ExprPtr checkUserCall(const ast::CallExpr &e, const ast::FnDecl &decl);
  // `e`'s arguments by `decl`'s parameters (positional, then by name),
  // each checked once; false after reporting unknown, repeated, missing or
  // extra arguments.
  bool orderArguments(const ast::CallExpr &e, const ast::FnDecl &decl,
                      std::vector<ExprPtr> &args);
  // grad(f)(args...) and value_and_grad(f)(args...) (Gradients.cpp).
  bool isGradApplication(const ast::CallExpr &e) const;
  ExprPtr checkGradCall(const ast::CallExpr &e);
  ExprPtr checkGradNotApplied(const ast::CallExpr &e, const std::string &name);
  bool checkGradSignature(const Function &primal, std::vector<unsigned> &wrt,
                          const std::string &what, const ast::CallExpr &inner,
                          bool explicitArgnums);
  Function *adjointFunction(const Function &primal,
                            const std::vector<unsigned> &wrt, bool withValue,
                            SourceRange at);
  ExprPtr floatLiteral(const Type *type, double value, SourceRange r);
  ExprPtr checkCast(const ast::CastExpr &e);
  ExprPtr checkIndex(const ast::IndexExpr &e);
  ExprPtr checkMember(const ast::MemberExpr &e);
  ExprPtr checkStructLiteral(const ast::StructLiteralExpr &e);
  ExprPtr checkTuple(const ast::TupleExpr &e);
  ExprPtr errorExpr(SourceRange r);
  // Makes an adaptable literal take the scalar type `to` (`2` in `2 * x`)
  // when its value fits `to`.
  void adapt(ExprPtr &e, const Type *to);
  // Reports an adaptable literal whose value does not fit scalar `to`
  // ([IntegerOutOfRange], [FloatLiteralOutOfRange]); false if it did not.
  bool reportLiteralRange(const Expr &e, const Type *to);
  // Folds `a op b` of two scalar literals of one type (LocalExprs.cpp).
  std::unique_ptr<LiteralExpr> fold(ast::BinaryOp op, const LiteralExpr &a,
                                    const LiteralExpr &b, SourceRange r);
  std::unique_ptr<LiteralExpr> foldInteger(ast::BinaryOp op,
                                           const LiteralExpr &a,
                                           const LiteralExpr &b,
                                           std::unique_ptr<LiteralExpr> out);
  std::unique_ptr<LiteralExpr> foldFloat(ast::BinaryOp op, const LiteralExpr &a,
                                         const LiteralExpr &b,
                                         std::unique_ptr<LiteralExpr> out);
  // Checks that `e` can be used where `expected` is; adapts literals.
  bool expectType(ExprPtr &e, const Type *expected, const std::string &what);
  std::optional<std::vector<int64_t>>
  broadcast(const TensorType *a, const TensorType *b, SourceRange where);
  const Type *arithmeticResult(ast::BinaryOp op, ExprPtr &lhs, ExprPtr &rhs,
                               SourceRange where, SourceLoc opLoc);
  // Both operands tensors: literal adaptation, equal elements, broadcast.
  const Type *tensorArithmeticResult(ast::BinaryOp op, ExprPtr &lhs,
                                     ExprPtr &rhs, SourceRange where,
                                     SourceLoc opLoc);
  // Reports [InvalidOperands] (with `hint`) and returns the error type.
  const Type *invalidOperands(ast::BinaryOp op, const Type *a, const Type *b,
                              const std::string &hint, SourceRange where,
                              SourceLoc opLoc);
  std::vector<ExprPtr> positionalArgs(const ast::CallExpr &e,
                                      const std::string &callee);
  // A local fn or builtin applied to placed values: reports that it belongs
  // in federated_map. True if it reported.
  bool rejectPlacedArguments(const std::vector<ExprPtr> &args,
                             const std::string &callee, SourceRange call);

  // --- builtins (Builtins.cpp) -----------------------------------------------
  // A builtin call being typed: its arguments checked, not yet consumed.
  struct BuiltinCall {
    const ast::CallExpr &e;
    Builtin b;
    std::string name;
    std::vector<ExprPtr> args;
  };
  // Named and type arguments by the table (Builtins.def), then the
  // builtin's typing rule.
  ExprPtr checkBuiltin(const ast::CallExpr &e, Builtin b);
  // The typing rules, one per family (the table's Typing column).
  ExprPtr typeConstructor(BuiltinCall &call);
  ExprPtr typeUnaryMath(BuiltinCall &call);
  ExprPtr typeBinaryMath(BuiltinCall &call);
  ExprPtr typeReduction(BuiltinCall &call);
  ExprPtr typeOneHot(BuiltinCall &call);
  ExprPtr typeTranspose(BuiltinCall &call);
  ExprPtr typeReshape(BuiltinCall &call);
  ExprPtr typeRows(BuiltinCall &call);
  ExprPtr typeLen(BuiltinCall &call);
  ExprPtr typeNorm(BuiltinCall &call);
  ExprPtr typeDot(BuiltinCall &call);
  ExprPtr typeBatches(BuiltinCall &call);
  ExprPtr typeSequence(BuiltinCall &call);
  ExprPtr typeRandomLike(BuiltinCall &call);
  ExprPtr typeInternal(BuiltinCall &call); // unreachable from source
  // --- layers (LayerBuiltins.cpp) ---
  ExprPtr typeConv2d(BuiltinCall &call);
  ExprPtr typePool2d(BuiltinCall &call);
  ExprPtr typeDropout(BuiltinCall &call);
  ExprPtr typeEmbedding(BuiltinCall &call);
  ExprPtr typeLayerNorm(BuiltinCall &call);
  ExprPtr typeFlatten(BuiltinCall &call);
  // `stride:` and `padding:` of a windowed builtin into `window` (stride
  // defaulting to `defaultStride`); false once it reported.
  bool windowOptions(const ast::CallExpr &e, const std::string &name,
                     int64_t defaultStride, BuiltinCallExpr::Window &window);
  // An NHWC image batch of floats with static height, width and channels;
  // null once it reported.
  const TensorType *imageArgument(BuiltinCall &call, size_t i);
  // The [n, oh, ow, channels] result of a window over `x`, or null once it
  // reported a window that does not fit.
  const TensorType *windowResult(BuiltinCall &call, const TensorType *x,
                                 const BuiltinCallExpr::Window &w,
                                 int64_t channels);
  // The typed windowed call (its result from windowResult), or an error.
  ExprPtr windowed(BuiltinCall &call, const TensorType *x,
                   const BuiltinCallExpr::Window &w, int64_t channels);
  // Helpers of the rules: "takes n arguments"; "needs X, found T"; the
  // typed call; argument i as a tensor (or null).
  bool arity(BuiltinCall &call, size_t n);
  ExprPtr wrongArgument(BuiltinCall &call, size_t i, const char *needs);
  std::unique_ptr<BuiltinCallExpr> makeBuiltin(BuiltinCall &call,
                                               const Type *result);
  const TensorType *tensorArg(BuiltinCall &call, size_t i);
  const Type *typeArgument(const ast::CallExpr &e, const std::string &name,
                           bool required);
  ExprPtr elementMismatch(SourceRange r, const TensorType *a,
                          const TensorType *c);
  std::optional<int> axisArgument(const ast::CallExpr &e, const TensorType *t,
                                  ExprPtr &axisExpr);

  // --- statements (Statements.cpp) ------------------------------------------
  std::unique_ptr<BlockStmt> checkBlock(const ast::BlockStmt &b);
  StmtPtr checkStmt(const ast::Stmt &s);
  StmtPtr checkLet(const ast::LetStmt &s);
  StmtPtr checkAssign(const ast::AssignStmt &s);
  StmtPtr checkFor(const ast::Stmt &s);
  StmtPtr checkReturn(const ast::ReturnStmt &s);
  ExprPtr checkCondition(const ast::Expr &e);
  bool alwaysReturns(const BlockStmt &b) const;
  void collectBindings(const ast::BlockStmt &b);

  // --- federated code (FederatedExprs.cpp) ----------------------------------
  // Named and type arguments by the table (Intrinsics.def), then the
  // intrinsic's typing rule (the table's Typing column).
  ExprPtr checkIntrinsic(const ast::CallExpr &e, Intrinsic i);
  ExprPtr checkPlacing(const ast::CallExpr &e, Intrinsic i,
                       std::vector<ExprPtr> args);
  ExprPtr checkBroadcast(const ast::CallExpr &e, Intrinsic i,
                         std::vector<ExprPtr> args);
  ExprPtr checkMap(const ast::CallExpr &e, Intrinsic i,
                   std::vector<ExprPtr> args);
  ExprPtr checkAggregation(const ast::CallExpr &e, Intrinsic i,
                           std::vector<ExprPtr> args);
  // The member type's leaves fit aggregation `i` (floats for a mean,
  // integers for a secure sum, numbers otherwise). False if it reported.
  bool aggregatedLeavesFit(Intrinsic i, const Expr &x, const Type *member);
  // The member type of aggregation `i`'s result (bytes widened to i64);
  // null after reporting a struct with byte fields.
  const Type *aggregationResult(Intrinsic i, const Expr &x, const Type *member);
  // weight: and bitwidth: of federated_mean and federated_secure_sum, into
  // `call`. False if it reported.
  bool aggregationKeywords(const ast::CallExpr &e, IntrinsicCallExpr &call);
  ExprPtr checkAggregate(const ast::CallExpr &e, Intrinsic i,
                         std::vector<ExprPtr> args);
  ExprPtr checkZip(const ast::CallExpr &e, Intrinsic i,
                   std::vector<ExprPtr> args);
  // round_number() and client_seed(): no arguments, an i64 placed value.
  ExprPtr checkRunContext(const ast::CallExpr &e, Intrinsic i,
                          std::vector<ExprPtr> args);
  // federated_dp_mean (Privacy.cpp).
  ExprPtr checkDpMean(const ast::CallExpr &e, Intrinsic i,
                      std::vector<ExprPtr> args);
  bool dpParameter(IntrinsicCallExpr &call, const ast::Arg &a);
  // The call of a float mean with keyword parameters (federated_dp_mean,
  // federated_secure_mean): one float per-client input with static
  // shape, each keyword once (into `given`), each checked by `parameter`.
  // Null after reporting.
  // `weight:` of a weighted mean: an f32 per client, appended to `call`'s
  // arguments (false after reporting).
  bool weightArgument(IntrinsicCallExpr &call, ExprPtr v,
                      const std::string &intrinsic);
  // A keyword argument that must be a numeric constant (`clip:`,
  // `range:`): its value, or nullopt after reporting `notConstant`.
  std::optional<double> constantKeyword(const Expr &v, const std::string &name,
                                        DiagId notConstant);
  std::unique_ptr<IntrinsicCallExpr> floatMeanCall(
      const ast::CallExpr &e, Intrinsic i, std::vector<ExprPtr> args,
      const std::string &name, DiagId nonFloat,
      bool (Checker::*parameter)(IntrinsicCallExpr &, const ast::Arg &),
      std::set<std::string> &given);
  // federated_secure_mean (SecureMean.cpp).
  ExprPtr checkSecureMean(const ast::CallExpr &e, Intrinsic i,
                          std::vector<ExprPtr> args);
  bool secureMeanParameter(IntrinsicCallExpr &call, const ast::Arg &a);
  std::unique_ptr<IntrinsicCallExpr> intrinsicCall(const ast::CallExpr &e,
                                                   Intrinsic i, const Type *t,
                                                   std::vector<ExprPtr> args);
  // The local fn named by `e` (an intrinsic's function argument), or null
  // after reporting why not.
  const ast::FnDecl *localFnArgument(const Expr &e, const std::string &what);
  // Instantiates the local fn named by `fnExpr` for argument types `params`
  // (from the ranges `from`) and checks its result against `result` (if
  // given); records the instance in the reference.
  const Function *functionArgument(ExprPtr &fnExpr,
                                   const std::vector<const Type *> &params,
                                   const std::vector<SourceRange> &from,
                                   const Type *result, SourceRange call,
                                   const std::string &what);
  // `t` with u8/i8 leaves as i64 (tensors and tuples; structs are nominal).
  const Type *widenBytes(const Type *t);
  // Reports a value whose member type has a `?` dimension where `what`
  // moves it between server and clients. False if it reported.
  bool requireStaticShape(const Expr &e, const Type *member,
                          const std::string &what);
  bool requireStaticShape(SourceRange where, const Type *member,
                          const std::string &what);
  // Reports a value whose placement does not fit `expected`, with the fix.
  bool expectPlacement(ExprPtr &e, const Type *expected,
                       const std::string &where);
  void notePlacement(const Expr &e);
  bool rejectRawData(const Expr &e, const std::string &operation);
  // The placed type of an aggregation's input, which must be a per-client
  // value and not raw data; null after reporting why not.
  const PlacedType *aggregationInput(const Expr &x, const std::string &name);
  // aggregationInput of the one argument of an aggregation that takes one
  // (federated_mean, federated_dp_mean, ...); null after reporting.
  const PlacedType *soleAggregationInput(const ast::CallExpr &e,
                                         const std::string &name,
                                         const std::vector<ExprPtr> &args);

  // --- processes (Processes.cpp) ---------------------------------------------
  const Function *processEntry(const ast::ProcessDecl &p,
                               const ast::ProcessEntry &entry);
  void checkMain();
  void checkProcess(const ast::ProcessDecl &p);
  // Each entry's signature, filling `process` (init: () -> S@SERVER; next:
  // (S@SERVER, {D}@CLIENTS) -> S@SERVER or (S@SERVER, M@SERVER); eval:
  // (S@SERVER, {D}@CLIENTS) -> M@SERVER).
  void checkProcessInit(const ast::ProcessDecl &p, const ast::ProcessEntry &e,
                        Process &process);
  void checkProcessNext(const ast::ProcessDecl &p, const ast::ProcessEntry &e,
                        Process &process);
  void checkProcessEval(const ast::ProcessDecl &p, const ast::ProcessEntry &e,
                        Process &process);
  // next's metrics fields: none named like a key the runtime writes.
  void checkMetricNames(const StructType &metrics);
  // client_init: a local fn () -> C of static shape.
  void checkProcessClientInit(const ast::ProcessEntry &e, Process &process);
  // next's and eval's inputs: (S@SERVER, {D}@CLIENTS), or with client
  // state (S@SERVER, {C}@CLIENTS, {D}@CLIENTS).
  bool checkProcessInputs(const ast::ProcessEntry &e, const Function &fn,
                          const char *role, const Process &process);
  // The process's `init`, `next`, `eval`, `client_init` entries (null when
  // absent), reporting unknown, repeated and missing ones.
  struct ProcessEntries {
    const ast::ProcessEntry *init = nullptr, *next = nullptr, *eval = nullptr,
                            *clientInit = nullptr;
  };
  ProcessEntries processEntries(const ast::ProcessDecl &p);
  // What the runtime moves when it runs `fn` (its placed inputs and
  // results) needs static shapes.
  void requireStaticComputation(const Function &fn);

  Program &program_;
  TypeContext &types_;
  const SourceManager &sm_;
  DiagnosticEngine &diags_;
  StackGuard stack_;

  std::map<std::string, GlobalSymbol> globals_;
  std::vector<std::string> globalOrder_;
  std::map<std::string, Function *> instances_;
  // Instances being checked, innermost last, with where each was requested.
  std::vector<std::pair<Function *, SourceRange>> checking_;
  std::vector<const ast::StructDecl *> structDecls_;
  std::vector<const ast::ConstDecl *> constDecls_;
  std::vector<const ast::FnDecl *> fnDecls_;
  std::vector<const ast::ProcessDecl *> processDecls_;
};

// Names of builtins and intrinsics, for lookups and "cannot redefine".
std::optional<Builtin> lookupBuiltin(const std::string &name);
std::optional<Intrinsic> lookupIntrinsic(const std::string &name);

} // namespace fedc::sema
