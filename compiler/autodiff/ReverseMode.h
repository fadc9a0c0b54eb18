// The reverse-mode transformation of one adjoint request (Autodiff.h).
// Internal to compiler/autodiff; split by concern:
//   Forward.cpp      the forward sweep: the primal body copied in SSA form,
//                    local fn calls inlined, values the reverse sweep reads
//                    bound to `let`s (a tape that lives in the arena);
//                    `if` join and loop-carried `var`s.
//   Reverse.cpp      the reverse sweep: adjoint accumulation and the
//                    reverse of each recorded let, `if` and `for`; the
//                    arms and loop bodies are recomputed, so the memory of
//                    the sweep is one iteration's values, not the loop's.
//   AdjointRules.cpp the vector-Jacobian product of every operator and
//                    builtin.
//   LoopRules.cpp    which loops differentiate (accumulating ones).
//   DeadLets.cpp     dead-let removal on the finished adjoint.
#pragma once

#include "autodiff/ExprBuilder.h"
#include "basic/DiagnosticEngine.h"

#include <map>
#include <set>
#include <vector>

namespace fedc::autodiff {

using Env = std::map<const sema::Local *, const sema::Local *>;

// Removes the `let`s of `fn` whose value is never read, until none is left
// (DeadLets.cpp). Local code is pure, so dropping them changes nothing.
void removeDeadLets(sema::Function &fn);

// A variable an `if` or a loop assigns: its value before (`prev`) and the
// `var` that holds it through the construct (`joined`).
struct Join {
  const sema::Local *primal;
  const sema::Local *prev;
  const sema::Local *joined;
};

// What the forward sweep did, for the reverse sweep to undo.
struct Record {
  enum class Kind { Let, If, Loop } kind = Kind::Let;
  // Let: `let local = init`.
  const sema::Local *local = nullptr;
  const sema::Expr *init = nullptr;
  // If: branch `branch` of `ifStmt` (later branches are its else arm).
  const sema::IfStmt *ifStmt = nullptr;
  size_t branch = 0;
  const sema::Local *cond = nullptr;
  // Loop.
  const sema::Stmt *loop = nullptr;
  const sema::Local *lo = nullptr, *hi = nullptr;
  // A taped loop (a `for` over a range whose carried floats do more than
  // accumulate): each join's value at the start of every iteration, one
  // tape per tensor leaf (tensorLeaves order), tapes[j][leaf][i - lo];
  // trips = max(hi - lo, 0). Empty otherwise.
  std::vector<std::vector<const sema::Local *>> tapes;
  const sema::Local *trips = nullptr;
  // If and Loop: the environment at entry (joins bound to their vars).
  Env entry;
  std::vector<Join> joins;
  const sema::Function *owner = nullptr; // the fn the construct is in
};

class ReverseMode {
public:
  ReverseMode(sema::Program &program, const sema::AdjointRequest &request,
              DiagnosticEngine &diags);
  // Writes the adjoint's body; false after reporting what could not be
  // differentiated.
  bool run();

private:
  // --- Forward.cpp -----------------------------------------------------------
  void forwardBlock(const sema::BlockStmt &b);
  void forwardStmt(const sema::Stmt &s);
  void forwardAssign(const sema::AssignStmt &s);
  void forwardIf(const sema::IfStmt &s, size_t branch);
  void forwardArm(const sema::IfStmt &s, size_t branch, bool thenArm);
  void forwardLoop(const sema::Stmt &s);
  void forwardLoopBody(const sema::Stmt &s, const sema::Local *var);
  // Declares the tapes of a range loop that needs them (see Record) and
  // writes each iteration's carried values at the start of `body`.
  void tapeLoop(const sema::ForRangeStmt &s, const std::vector<Join> &joins,
                const sema::Local *var, const sema::Local *lo,
                const sema::Local *hi, sema::BlockStmt &body, Record &r);
  // The copy of a primal expression in the adjoint: locals renamed by the
  // environment, local fn calls inlined, operands the reverse sweep reads
  // bound to lets.
  ExprPtr forwardExpr(const sema::Expr &e);
  // Binds the operands of `e` (already copied) that its adjoint reads.
  void bindOperands(const sema::Expr &e, std::vector<ExprPtr *> operands);
  ExprPtr forwardAccess(const sema::Expr &e); // indexing, fields
  ExprPtr inlineCall(const sema::CallExpr &call);
  bool needsOperand(const sema::Expr &node, size_t index) const;
  bool needsOutput(const sema::Expr &node) const;
  const sema::Local *materialize(ExprPtr e, const std::string &name);
  ExprPtr bind(ExprPtr e, const std::string &name);
  void emitLet(const sema::Local *l, ExprPtr init, bool record = true);
  // Binds each var in `assigned` that is declared outside the construct
  // to a fresh `var` (a Join) and points the environment at it.
  std::vector<Join> joinsOf(const std::vector<const sema::Local *> &assigned);
  static void assignedIn(const sema::Stmt &s,
                         std::vector<const sema::Local *> &out);
  static void assignedInArm(const sema::IfStmt &s, size_t branch, bool thenArm,
                            std::vector<const sema::Local *> &out);
  static const sema::Local *rootLocal(const sema::Expr &target);
  // The tensor leaves of `t` (struct fields, tuple elements, in order) and
  // their paths.
  using Leaf = std::pair<std::vector<int>, const sema::TensorType *>;
  static void tensorLeaves(const Type *t, std::vector<int> &path,
                           std::vector<Leaf> &out);
  static bool returnsOnlyAtEnd(const sema::Function &fn,
                               const sema::Stmt **offending);

  // --- Reverse.cpp -----------------------------------------------------------
  void reverseRecords(std::vector<Record> &records);
  void reverseLet(const Record &r);
  void reverseIf(const Record &r);
  void reverseLoop(const Record &r);
  // Runs the iterations backwards, each restoring its carried values from
  // the tapes, recomputing the body and sweeping it back.
  void reverseTapedLoop(const Record &r);
  // The forward body of `loop` again, with `var` as its variable; what it
  // recorded.
  std::vector<Record> replayLoopBody(const sema::Stmt &loop,
                                     const sema::Local *var);
  // Whether the loop's carried floats only accumulate; reports why not.
  bool accumulatesOnly(const Record &r,
                       const std::set<const sema::Local *> &accumulated);
  // A loop over the iterations of `r` with `var` and `body`.
  sema::StmtPtr sameIterations(const Record &r, const sema::Local *var,
                               std::unique_ptr<sema::BlockStmt> body);
  // Taped loops: the adjoint vars of the carried values, seeded with their
  // adjoints after the loop (empty when none has one); the carried values
  // read back from the tapes at iteration `k`; and the adjoint vars moved
  // back across one iteration, all at once.
  std::vector<const sema::Local *> seedTapedAdjoints(const Record &r);
  std::vector<const sema::Local *>
  restoreIteration(const Record &r, const sema::Local *k,
                   const std::vector<const sema::Local *> &adjoints);
  void stepTapedAdjoints(const Record &r,
                         const std::vector<const sema::Local *> &starts,
                         const std::vector<const sema::Local *> &adjoints);
  // A value of type `t` read back from its leaves' tapes (from
  // tapes[next]) at iteration `k`.
  ExprPtr readTapes(const Type *t,
                    const std::vector<const sema::Local *> &tapes, size_t &next,
                    const sema::Local *k);
  // Why a loop that needs a tape has none (LoopRules.cpp).
  void reportUntapedLoop(const Record &r,
                         const std::set<const sema::Local *> &carried);
  void accumulate(const sema::Local *l, std::vector<int> path, ExprPtr d);
  // The adjoint of `l` gathered so far (null when none), consumed.
  ExprPtr takeAdjoint(const sema::Local *l);
  ExprPtr assemble(const sema::Local *l, const sema::Type *t,
                   const std::vector<int> &path);
  void ensureVar(const sema::Local *l);
  // `e` itself when trivial, else a let bound to it.
  ExprPtr share(ExprPtr e);
  void emit(sema::StmtPtr s);
  void pushFrame(sema::BlockStmt *block);
  // Pops the frame and appends its hoisted declarations, then `s`, to the
  // enclosing block.
  void popFrameEmitting(sema::StmtPtr s);

  // --- AdjointRules.cpp ------------------------------------------------------
  // Propagates `dy`, the adjoint of `node`'s value, to the locals it
  // reads. `out` is the let bound to `node` when it is the let's root.
  void backprop(const sema::Expr &node, ExprPtr dy, const sema::Local *out);
  void backpropBinary(const sema::BinaryExpr &n, ExprPtr dy);
  void backpropMatMul(const sema::BinaryExpr &n, ExprPtr dy);
  void backpropBuiltin(const sema::BuiltinCallExpr &n, ExprPtr dy,
                       const sema::Local *out);
  void backpropElementwise(const sema::BuiltinCallExpr &n, ExprPtr dy,
                           const sema::Local *out);
  void backpropBinaryMath(const sema::BuiltinCallExpr &n, ExprPtr dy);
  void backpropSoftmax(const sema::BuiltinCallExpr &n, ExprPtr dy,
                       const sema::Local *out);
  void backpropReduction(const sema::BuiltinCallExpr &n, ExprPtr dy,
                         const sema::Local *out);
  // conv2d, the pools, dropout, embedding, layer_norm (LayerRules.cpp).
  void backpropLayer(const sema::BuiltinCallExpr &n, ExprPtr dy);
  void backpropNorm(const sema::BuiltinCallExpr &n, ExprPtr dy,
                    const sema::Local *out);
  // `d` (shaped like a broadcast result) summed back to type `to`.
  ExprPtr unbroadcast(ExprPtr d, const sema::Type *to);
  // `d`, a reduction's result shape, expanded along `axis` (or everywhere)
  // to the shape of `like`.
  ExprPtr expand(ExprPtr d, std::optional<int> axis, const sema::Expr &like);
  ExprPtr mask(ast::BinaryOp op, const sema::Expr &a, const sema::Expr &b);

  // --- LoopRules.cpp ---------------------------------------------------------
  // Checks that the loop only accumulates into the carried vars in
  // `accumulated`; reports the first read or update that does not.
  bool checkAccumulatingLoop(const sema::Stmt &loop,
                             const std::set<const sema::Local *> &accumulated,
                             bool report = true);

  // --- shared state
  // ------------------------------------------------------------
  bool isActive(const sema::Expr &e) const;
  bool isActive(const sema::Local *l) const { return active_.count(l) != 0; }
  sema::Local *newLocal(const std::string &name, const sema::Type *type,
                        bool isMutable,
                        sema::Local::Kind kind = sema::Local::Kind::Binding);
  void notDifferentiable(SourceRange where, const std::string &what,
                         const std::string &why = "");
  int depth() const { return static_cast<int>(frames_.size()) - 1; }

  struct Frame {
    sema::BlockStmt *block;
    std::vector<sema::StmtPtr> hoisted;
  };
  struct Adjoint {
    const sema::Local *var = nullptr;
    std::map<std::vector<int>, std::vector<ExprPtr>> pending; // by field path
  };

  sema::Program &program_;
  const sema::AdjointRequest &request_;
  DiagnosticEngine &diags_;
  sema::Function &fn_;
  ExprBuilder b_;
  Env env_;
  std::vector<Frame> frames_;
  std::vector<Record> *records_ = nullptr;
  std::set<const sema::Local *> active_;
  std::map<const sema::Local *, int> depthOf_;
  std::map<const sema::Local *, Adjoint> adjoints_;
  std::set<const sema::Local *> discarded_; // accumulating loop vars
  std::set<std::string> names_;
  const sema::Function *primal_; // the fn whose code is being copied
  bool failed_ = false;
  int inlineDepth_ = 0;
};

} // namespace fedc::autodiff
