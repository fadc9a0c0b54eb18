// Code generation internals: the module emitter (types, signatures, runtime
// declarations, entry points) and the per-function emitter, split by
// construct over EmitExprs.cpp, EmitFusion.cpp, EmitBuiltins.cpp and
// EmitStmts.cpp. Internal to compiler/codegen.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "lower/Plan.h"
#include "sema/TypedAST.h"

#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace fedc::codegen {

using sema::Type;

// A value in generated code, shaped like its sema type.
struct Value {
  llvm::Value *scalar = nullptr;      // rank-0 tensor
  llvm::Value *data = nullptr;        // rank >= 1: pointer to the elements
  std::vector<llvm::Value *> dims;    // rank >= 1: sizes (i64)
  std::vector<Value> fields;          // struct or tuple
  llvm::Value *length = nullptr;      // seq: number of records
  std::vector<llvm::Value *> columns; // seq: one pointer per record leaf
  llvm::Value *batchSize = nullptr;   // seq of batches: rows per batch
};

// Thrown for a construct code generation does not support yet; reported as
// UnsupportedInCodegen at `where`.
struct Unsupported {
  SourceRange where;
  std::string what;
};

class ModuleEmitter {
public:
  ModuleEmitter(const sema::Program &program, llvm::LLVMContext &context,
                const SourceManager &sm, const std::string &moduleName);

  // Emits every local fn instance and stage function with its entry
  // point, then the plan table (EmitPlanTable.cpp).
  std::unique_ptr<llvm::Module> emit(DiagnosticEngine &diags,
                                     const lower::LoweredProgram &lowered);

  llvm::LLVMContext &context;
  const SourceManager &sm;
  std::unique_ptr<llvm::Module> module;
  const sema::Program &program;

  llvm::Type *elementType(ast::ScalarKind k) const;
  // The ABI leaves of a value of `t` (abi.h).
  void leafTypes(const Type *t, std::vector<llvm::Type *> &out) const;
  llvm::StructType *resultType(const Type *t) const;
  llvm::Function *function(const sema::Function &fn) const {
    return functions_.at(&fn);
  }
  std::string where(SourceRange r) const; // "file.fed:3:9"

  // -g: a compile unit per module, a subprogram per fn, a line per
  // statement and expression.
  void enableDebugInfo();
  llvm::DISubprogram *subprogram(const sema::Function &fn) const {
    auto it = subprograms_.find(&fn);
    return it == subprograms_.end() ? nullptr : it->second;
  }
  llvm::DILocation *location(SourceLoc loc, llvm::DISubprogram *scope) const;

  llvm::FunctionCallee arenaAlloc, arenaMark, arenaRelease, fail, matmulF32,
      matmulF64, randomNormalF32, randomNormalF64, randomUniformF32,
      randomUniformF64, shuffleRows, gatherRows;
  // Every function of abi.h's FEDRT_RUNTIME_FUNCTIONS, by name.
  std::map<std::string, llvm::FunctionCallee> runtime;

  // Slot <-> leaf conversions of the fixed-signature entry points (abi.h).
  static llvm::Value *fromSlot(llvm::IRBuilder<> &b, llvm::Value *slot,
                               llvm::Type *leaf);
  static llvm::Value *toSlot(llvm::IRBuilder<> &b, llvm::Value *leaf);

private:
  void declareRuntime();
  void emitPlanTable(const lower::LoweredProgram &lowered);
  llvm::Function *declare(const sema::Function &fn);
  void emitEntry(const sema::Function &fn);
  std::map<const sema::Function *, llvm::Function *> functions_;
  std::unique_ptr<llvm::DIBuilder> debug_;
  llvm::DICompileUnit *unit_ = nullptr;
  std::map<FileId, llvm::DIFile *> files_;
  std::map<const sema::Function *, llvm::DISubprogram *> subprograms_;
};

// One node of a fused elementwise computation: a leaf (a materialized
// tensor or scalar) or an operation on its children.
struct Fused {
  enum class Kind { Leaf, Unary, Binary, Cast, Math } kind = Kind::Leaf;
  Value leaf; // Kind::Leaf
  // Unary: ast::UnaryOp; Binary: ast::BinaryOp; Math: the builtin.
  using Op =
      std::variant<std::monostate, ast::UnaryOp, ast::BinaryOp, sema::Builtin>;
  Op op;
  ast::ScalarKind element = ast::ScalarKind::F32; // of the result
  ast::ScalarKind operandElement = ast::ScalarKind::F32;
  std::vector<std::unique_ptr<Fused>> children;
  size_t rank = 0;
  SourceRange range; // of the expression, for diagnostics
};
using FusedPtr = std::unique_ptr<Fused>;

class FunctionEmitter {
public:
  FunctionEmitter(ModuleEmitter &m, const sema::Function &fn);
  void emitBody();

private:
  // Returns from the function reporting failure (the flag is already set).
  void returnFailure();

private:
  // --- values (EmitExprs.cpp) ---------------------------------------------
  Value emit(const sema::Expr &e);
  Value emitUncached(const sema::Expr &e);
  Value emitLiteral(const sema::LiteralExpr &e);
  Value emitCall(const sema::CallExpr &e);
  Value emitIndex(const sema::IndexExpr &e);
  Value member(const Value &v, int index);
  llvm::Value *constant(ast::ScalarKind k, double v);
  // Integer operations by the element's signedness (fedrt/Elements.def):
  // the predicate for a comparison (given as its signed form), a widening
  // or narrowing to `to`, and a conversion to and from floating point.
  static llvm::CmpInst::Predicate intPredicate(llvm::CmpInst::Predicate pred,
                                               ast::ScalarKind k);
  llvm::Value *intCast(llvm::Value *x, ast::ScalarKind from, llvm::Type *to);
  llvm::Value *intToFloat(llvm::Value *x, ast::ScalarKind from, llvm::Type *to);
  llvm::Value *floatToInt(llvm::Value *x, ast::ScalarKind to, llvm::Type *t);
  llvm::Value *i64(int64_t v) { return b.getInt64(static_cast<uint64_t>(v)); }
  std::vector<llvm::Value *> flatten(const Type *t, const Value &v);
  Value unflatten(const Type *t, const std::vector<llvm::Value *> &leaves,
                  size_t &next);
  // Returns from the function if a check or callee failed.
  void returnIfFailed();
  // Branches to a failure exit unless `ok`; `what` describes the check.
  void check(llvm::Value *ok, SourceRange r, const std::string &what,
             llvm::Value *got, llvm::Value *expected);
  llvm::Value *alloc(ast::ScalarKind k, llvm::Value *count);
  // A stack slot in the entry block (so loops do not grow the stack).
  llvm::Value *entryAlloca(llvm::Type *t);
  llvm::Value *elementCount(const std::vector<llvm::Value *> &dims);
  llvm::Value *load(ast::ScalarKind k, llvm::Value *base, llvm::Value *index);
  void store(llvm::Value *v, llvm::Value *base, llvm::Value *index);
  // A loop `for (i = 0; i < count; ++i) body(i)`; `vectorize` false keeps
  // LLVM from vectorizing it (outer loops of a nest).
  void loop(llvm::Value *count, const std::function<void(llvm::Value *)> &body,
            bool vectorize = true);
  void
  loopNest(const std::vector<llvm::Value *> &dims,
           const std::function<void(const std::vector<llvm::Value *> &)> &body);
  llvm::Value *linearIndex(const std::vector<llvm::Value *> &dims,
                           const std::vector<llvm::Value *> &index);
  // A copy of `v` in fresh arena memory (vars own their data).
  Value copy(const Type *t, const Value &v);
  // Checks at run time that the dims of `v` match the static dims of `t`
  // (where a `?` value flows into a static type).
  void checkShape(const Type *t, const Value &v, SourceRange r);
  Value zerosLike(const Type *t, double fill);
  // random_normal<T> (params: stddev) and random_uniform<T> (low, high):
  // every tensor leaf from its own derived seed.
  Value randomTensor(const Type *t, llvm::Value *seed, bool uniform,
                     const std::vector<llvm::Value *> &params, int64_t &leaf);

  // --- checked integers (EmitIntegers.cpp) ----------------------------------
  // A fault of an operation at `range`: set in its loop, tested by
  // flushFaults() after it.
  struct PendingFault {
    llvm::Value *flag; // i1 stack slot
    SourceRange range;
    std::string what;
  };
  // Records that `bad` (i1) means the operation at `r` failed.
  void noteFault(llvm::Value *bad, SourceRange r, const std::string &what);
  // Fails the call, naming the first pending fault that happened.
  void flushFaults();
  // x op y for op in + - * of integer element `k`, checked for overflow.
  llvm::Value *checkedArithmetic(ast::BinaryOp op, llvm::Value *x,
                                 llvm::Value *y, ast::ScalarKind k,
                                 SourceRange r);
  // x / y or x % y: division by zero and INT_MIN / -1 are faults.
  llvm::Value *checkedDivision(bool remainder, llvm::Value *x, llvm::Value *y,
                               ast::ScalarKind k, SourceRange r);
  // -x (and abs of a negative x): INT_MIN, or a non-zero unsigned x, fault.
  llvm::Value *checkedNegate(llvm::Value *x, ast::ScalarKind k, SourceRange r,
                             const char *what);
  llvm::Value *checkedPower(llvm::Value *x, llvm::Value *e, ast::ScalarKind k,
                            SourceRange r);
  // x * y of integer element `k` as an i64, checked.
  llvm::Value *integerProduct(llvm::Value *x, llvm::Value *y, ast::ScalarKind k,
                              SourceRange r);
  // acc + x in i64, checked.
  llvm::Value *checkedAccumulate(llvm::Value *acc, llvm::Value *x,
                                 SourceRange r, const std::string &what);
  // An i64 accumulator narrowed to integer element `k`, checked.
  llvm::Value *checkedNarrow(llvm::Value *v, ast::ScalarKind k, SourceRange r,
                             const std::string &what);

  // --- fused elementwise computation (EmitFusion.cpp) -----------------------
  static bool isElementwise(const sema::Expr &e);
  // The tree computing leaf `path` (field indices) of `e`.
  FusedPtr build(const sema::Expr &e, const std::vector<int> &path);
  FusedPtr leafNode(const Value &v, const Type *t);
  std::vector<llvm::Value *> shape(const Fused &n, SourceRange r);
  llvm::Value *elementAt(const Fused &n,
                         const std::vector<llvm::Value *> &index,
                         const std::vector<llvm::Value *> &dims);
  // One element of `n` from its children's elements; throws Unsupported
  // for an operation with no scalar form.
  llvm::Value *scalarOp(const Fused &n, const std::vector<llvm::Value *> &args);
  llvm::Value *scalarUnary(const Fused &n, llvm::Value *x);
  llvm::Value *scalarBinary(const Fused &n, llvm::Value *x, llvm::Value *y);
  // An i1 comparing two elements of kind `operands`.
  llvm::Value *scalarCompare(ast::BinaryOp op, ast::ScalarKind operands,
                             llvm::Value *x, llvm::Value *y);
  llvm::Value *scalarCast(const Fused &n, llvm::Value *x);
  llvm::Value *signOf(llvm::Value *x, sema::ScalarKind element);
  llvm::Value *scalarMath(const Fused &n,
                          const std::vector<llvm::Value *> &args);
  // Materializes a tree into a tensor (or scalar) value.
  Value materialize(const Fused &n, SourceRange r);
  // Whether every leaf of `n` is a scalar or has exactly `dims` (no
  // broadcasting): then one flat loop computes it.
  bool flatLeaves(const Fused &n, const std::vector<llvm::Value *> &dims) const;
  llvm::Value *elementAtFlat(const Fused &n, llvm::Value *i);
  // Materializes leaf `path` of elementwise `e`; whole structs leaf by leaf.
  Value emitElementwise(const sema::Expr &e, const Type *t,
                        std::vector<int> &path);

  // --- builtins (EmitBuiltins.cpp) ------------------------------------------
  // Dispatches on the table's Lowering column (sema/Builtins.def).
  Value emitBuiltin(const sema::BuiltinCallExpr &e);
  Value lowerConstructor(const sema::BuiltinCallExpr &e);
  Value lowerFill(const sema::BuiltinCallExpr &e);
  Value lowerRandomNormal(const sema::BuiltinCallExpr &e);
  Value lowerRandomUniform(const sema::BuiltinCallExpr &e);
  Value lowerRandomUniformLike(const sema::BuiltinCallExpr &e);
  Value lowerShuffle(const sema::BuiltinCallExpr &e);
  Value lowerTake(const sema::BuiltinCallExpr &e);
  Value lowerSkip(const sema::BuiltinCallExpr &e);
  Value lowerElementwise(const sema::BuiltinCallExpr &e);
  Value lowerReduction(const sema::BuiltinCallExpr &e);
  struct Reduction;
  Reduction reductionOf(const sema::BuiltinCallExpr &e);
  llvm::Value *replacesExtremum(const Reduction &r, llvm::Value *x,
                                llvm::Value *cur);
  llvm::Value *accumulate(const Reduction &r, llvm::Value *acc, llvm::Value *x,
                          SourceRange where);
  llvm::Value *finishReduction(const Reduction &r, llvm::Value *acc,
                               llvm::Value *count, SourceRange where);
  // Folds `tree` (of `dims`) along `axis` into `out` (allocated).
  void foldAlongAxis(const Reduction &r, const Fused &tree,
                     const std::vector<llvm::Value *> &dims, size_t axis,
                     Value &out, SourceRange where);
  Value lowerSoftmax(const sema::BuiltinCallExpr &e);
  Value lowerOneHot(const sema::BuiltinCallExpr &e);
  Value lowerTranspose(const sema::BuiltinCallExpr &e);
  Value lowerReshape(const sema::BuiltinCallExpr &e);
  Value lowerRows(const sema::BuiltinCallExpr &e);
  Value lowerLen(const sema::BuiltinCallExpr &e);
  Value lowerNorm(const sema::BuiltinCallExpr &e);
  Value lowerClipByNorm(const sema::BuiltinCallExpr &e);
  Value lowerDot(const sema::BuiltinCallExpr &e);
  Value lowerBatches(const sema::BuiltinCallExpr &e);
  Value lowerTape(const sema::BuiltinCallExpr &e);

  // --- layers (EmitLayers.cpp): calls of the runtime's kernels -------------
  Value lowerKernel(const sema::BuiltinCallExpr &e);
  // A fresh tensor of `t` whose `?` dims are taken from `like`'s.
  Value allocLike(const sema::TensorType *t, const Value &like);
  // abi.h's window geometry of a call over images `x` (dims at run time).
  llvm::Value *windowGeometry(const sema::BuiltinCallExpr &e, const Value &x,
                              const sema::TensorType *xt, int64_t outChannels);
  // The f32 or f64 variant of kernel `name` for element `k`.
  llvm::FunctionCallee kernel(const std::string &name, ast::ScalarKind k);
  Value lowerDropout(const sema::BuiltinCallExpr &e);
  Value lowerEmbedding(const sema::BuiltinCallExpr &e);
  Value lowerEmbeddingGrad(const sema::BuiltinCallExpr &e);
  Value lowerLayerNorm(const sema::BuiltinCallExpr &e);
  Value emitMatMul(const sema::BinaryExpr &e);
  llvm::Value *squaredNorm(const Type *t, const Value &v);

  // --- statements (EmitStmts.cpp) -------------------------------------------
  struct VarSlot {
    const Type *type;
    std::vector<llvm::Value *> allocas; // one per ABI leaf
  };
  void emitBlock(const sema::BlockStmt &block);
  void emitStmt(const sema::Stmt &s);
  void emitAssign(const sema::AssignStmt &s);
  FusedPtr assignedLeaf(const sema::AssignStmt &s, const Value &cur,
                        const Type *leafType, const std::vector<int> &leafPath);
  void assignIndexed(const sema::AssignStmt &s, Value &place,
                     const Type *placeType,
                     const std::vector<const sema::Expr *> &indices,
                     bool selfReference);
  Value compoundValue(const sema::AssignStmt &s, const Value &cur,
                      const Type *t, std::vector<int> &leafPath);
  // Writes a new value of a var (or part of one): tensors of static shape
  // into the var's own buffers, others as fresh copies.
  void storeInto(Value &cur, const Type *t, const Value &fresh);
  void emitForRange(const sema::ForRangeStmt &s);
  void emitForEach(const sema::ForEachStmt &s);
  struct RecordLeaf {
    const sema::TensorType *type;
    int64_t size; // elements
  };
  std::vector<RecordLeaf> recordLeaves(const Type *record, SourceRange where);
  Value recordView(const Type *t, const Value &seq,
                   const std::vector<RecordLeaf> &leaves, size_t &column,
                   llvm::Value *start, llvm::Value *rows);
  void emitWhile(const sema::WhileStmt &s);
  void emitIf(const sema::IfStmt &s);
  void emitReturn(const Value &v);
  Value readVar(const VarSlot &slot);
  void writeVar(const VarSlot &slot, const Value &v);
  // Whether the current block already ends (in a return or branch), so
  // nothing more may be emitted into it.
  bool terminated() const;

  // Attaches the .fed location of `r` to the instructions emitted next.
  void at(SourceRange r);

  ModuleEmitter &m_;
  const sema::Function &fn_;
  llvm::Function *f_;
  llvm::IRBuilder<> b;
  llvm::Value *ctx_ = nullptr;
  std::map<const sema::Local *, Value> lets_;
  std::map<const sema::Local *, VarSlot> vars_;
  std::map<const sema::Expr *, Value> cache_; // per statement
  std::vector<PendingFault> faults_;
};

} // namespace fedc::codegen
