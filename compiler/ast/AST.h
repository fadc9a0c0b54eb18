// The owned syntax tree of a .fed module, produced by compiler/parse and
// consumed by sema. Every node carries the source range it was parsed from.
// Kinds are enums with LLVM-style `classof`, so passes use llvm::isa/dyn_cast
// and switch over kinds instead of virtual visitors.
#pragma once

#include "basic/SourceLocation.h"
#include "fedrt/Types.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fedc::ast {

class Node {
public:
  SourceRange range() const { return range_; }
  SourceLoc loc() const { return range_.begin; }
  void setRange(SourceRange r) { range_ = r; }

protected:
  explicit Node(SourceRange r) : range_(r) {}

private:
  SourceRange range_;
};

// A name as written, with where it was written.
struct Ident {
  std::string name;
  SourceRange range;
};

// Element types come from the table the runtime shares
// (fedrt/Elements.def).
using ScalarKind = fedrt::Element;
inline const char *scalarName(ScalarKind k) { return fedrt::elementName(k); }

enum class Placement { Server, Clients };
const char *placementName(Placement p);

// ---------------------------------------------------------------------------
// Types as written

class TypeExpr : public Node {
public:
  enum class Kind { Tensor, Named, Seq, Tuple, Function, Placed };
  Kind kind() const { return kind_; }
  virtual ~TypeExpr() = default;

protected:
  TypeExpr(Kind k, SourceRange r) : Node(r), kind_(k) {}

private:
  Kind kind_;
};
using TypePtr = std::unique_ptr<TypeExpr>;

// One dimension of a tensor type: `64`, `N` or `?`.
struct Dim {
  enum class Kind { Literal, Named, Dynamic };
  Kind kind = Kind::Dynamic;
  int64_t value = 0;
  std::string name;
  SourceRange range;
};

// `f32`, `i32[10]`, `f32[N, ?]`. A scalar is a tensor type without dims.
class TensorTypeExpr : public TypeExpr {
public:
  TensorTypeExpr(SourceRange r, ScalarKind elem, std::vector<Dim> dims)
      : TypeExpr(Kind::Tensor, r), element(elem), dims(std::move(dims)) {}
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Tensor; }
  ScalarKind element;
  std::vector<Dim> dims;
};

// A struct or a type parameter, optionally with dims (`T[3]`).
class NamedTypeExpr : public TypeExpr {
public:
  NamedTypeExpr(SourceRange r, std::string name, std::vector<Dim> dims)
      : TypeExpr(Kind::Named, r), name(std::move(name)), dims(std::move(dims)) {
  }
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Named; }
  std::string name;
  std::vector<Dim> dims;
};

class SeqTypeExpr : public TypeExpr {
public:
  SeqTypeExpr(SourceRange r, TypePtr element)
      : TypeExpr(Kind::Seq, r), element(std::move(element)) {}
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Seq; }
  TypePtr element;
};

// `(A, B)`; `()` is the empty tuple (unit).
class TupleTypeExpr : public TypeExpr {
public:
  TupleTypeExpr(SourceRange r, std::vector<TypePtr> elements)
      : TypeExpr(Kind::Tuple, r), elements(std::move(elements)) {}
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Tuple; }
  std::vector<TypePtr> elements;
};

class FunctionTypeExpr : public TypeExpr {
public:
  FunctionTypeExpr(SourceRange r, std::vector<TypePtr> params, TypePtr result)
      : TypeExpr(Kind::Function, r), params(std::move(params)),
        result(std::move(result)) {}
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Function; }
  std::vector<TypePtr> params;
  TypePtr result;
};

// `T@SERVER`, `T@CLIENTS` (all-equal) or `{T}@CLIENTS` (one per client).
class PlacedTypeExpr : public TypeExpr {
public:
  PlacedTypeExpr(SourceRange r, TypePtr member, Placement p, bool allEqual)
      : TypeExpr(Kind::Placed, r), member(std::move(member)), placement(p),
        allEqual(allEqual) {}
  static bool classof(const TypeExpr *t) { return t->kind() == Kind::Placed; }
  TypePtr member;
  Placement placement;
  bool allEqual;
};

// ---------------------------------------------------------------------------
// Expressions

class Expr : public Node {
public:
  enum class Kind {
    IntLiteral,
    FloatLiteral,
    BoolLiteral,
    Name,
    PlacementLiteral,
    Unary,
    Binary,
    Call,
    Cast,
    Index,
    Member,
    StructLiteral,
    Tuple,
    StringLiteral,
    Error
  };
  Kind kind() const { return kind_; }
  virtual ~Expr() = default;

protected:
  Expr(Kind k, SourceRange r) : Node(r), kind_(k) {}

private:
  Kind kind_;
};
using ExprPtr = std::unique_ptr<Expr>;

class IntLiteralExpr : public Expr {
public:
  IntLiteralExpr(SourceRange r, int64_t v)
      : Expr(Kind::IntLiteral, r), value(v) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::IntLiteral; }
  int64_t value;
};

class FloatLiteralExpr : public Expr {
public:
  FloatLiteralExpr(SourceRange r, double v, std::string spelling)
      : Expr(Kind::FloatLiteral, r), value(v), spelling(std::move(spelling)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::FloatLiteral; }
  double value;
  std::string spelling; // as written, for messages and exact printing
};

// `"same"`: only as a call argument, the value of a builtin's option.
class StringLiteralExpr : public Expr {
public:
  StringLiteralExpr(SourceRange r, std::string v)
      : Expr(Kind::StringLiteral, r), value(std::move(v)) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::StringLiteral;
  }
  std::string value; // without the quotes
};

class BoolLiteralExpr : public Expr {
public:
  BoolLiteralExpr(SourceRange r, bool v)
      : Expr(Kind::BoolLiteral, r), value(v) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::BoolLiteral; }
  bool value;
};

class NameExpr : public Expr {
public:
  NameExpr(SourceRange r, std::string n)
      : Expr(Kind::Name, r), name(std::move(n)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Name; }
  std::string name;
};

// `SERVER` or `CLIENTS` used as a value (federated_value(x, SERVER)).
class PlacementLiteralExpr : public Expr {
public:
  PlacementLiteralExpr(SourceRange r, Placement p)
      : Expr(Kind::PlacementLiteral, r), placement(p) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::PlacementLiteral;
  }
  Placement placement;
};

enum class UnaryOp { Neg, Plus, Not };
const char *unaryOpSpelling(UnaryOp op);

class UnaryExpr : public Expr {
public:
  UnaryExpr(SourceRange r, UnaryOp op, ExprPtr operand)
      : Expr(Kind::Unary, r), op(op), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Unary; }
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp {
  Mul,
  Div,
  Rem,
  MatMul,
  Add,
  Sub,
  Lt,
  Le,
  Gt,
  Ge,
  Eq,
  Ne,
  And,
  Or
};
const char *binaryOpSpelling(BinaryOp op);

class BinaryExpr : public Expr {
public:
  BinaryExpr(SourceRange r, BinaryOp op, SourceLoc opLoc, ExprPtr lhs,
             ExprPtr rhs)
      : Expr(Kind::Binary, r), op(op), opLoc(opLoc), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Binary; }
  BinaryOp op;
  SourceLoc opLoc;
  ExprPtr lhs, rhs;
};

// One argument of a call; `name` is set for named arguments (`axis: 0`).
struct Arg {
  std::optional<Ident> name;
  ExprPtr value;
};

// `f(a, b)`, `zeros<f32[10]>()`, `sum(x, axis: 0)`.
class CallExpr : public Expr {
public:
  CallExpr(SourceRange r, ExprPtr callee, std::vector<TypePtr> typeArgs,
           std::vector<Arg> args)
      : Expr(Kind::Call, r), callee(std::move(callee)),
        typeArgs(std::move(typeArgs)), args(std::move(args)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Call; }
  ExprPtr callee;
  std::vector<TypePtr> typeArgs;
  std::vector<Arg> args;
};

// `f32(x)`: elementwise conversion.
class CastExpr : public Expr {
public:
  CastExpr(SourceRange r, ScalarKind target, ExprPtr operand)
      : Expr(Kind::Cast, r), target(target), operand(std::move(operand)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Cast; }
  ScalarKind target;
  ExprPtr operand;
};

class IndexExpr : public Expr {
public:
  IndexExpr(SourceRange r, ExprPtr base, std::vector<ExprPtr> indices)
      : Expr(Kind::Index, r), base(std::move(base)),
        indices(std::move(indices)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Index; }
  ExprPtr base;
  std::vector<ExprPtr> indices;
};

// `x.field` or `t.0` (tupleIndex set).
class MemberExpr : public Expr {
public:
  MemberExpr(SourceRange r, ExprPtr base, Ident member,
             std::optional<unsigned> tupleIndex)
      : Expr(Kind::Member, r), base(std::move(base)), member(std::move(member)),
        tupleIndex(tupleIndex) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Member; }
  ExprPtr base;
  Ident member;
  std::optional<unsigned> tupleIndex;
};

struct FieldInit {
  Ident name;
  ExprPtr value;
};

class StructLiteralExpr : public Expr {
public:
  StructLiteralExpr(SourceRange r, Ident type, std::vector<FieldInit> fields)
      : Expr(Kind::StructLiteral, r), type(std::move(type)),
        fields(std::move(fields)) {}
  static bool classof(const Expr *e) {
    return e->kind() == Kind::StructLiteral;
  }
  Ident type;
  std::vector<FieldInit> fields;
};

// `(a, b)`; `()` is the unit value.
class TupleExpr : public Expr {
public:
  TupleExpr(SourceRange r, std::vector<ExprPtr> elements)
      : Expr(Kind::Tuple, r), elements(std::move(elements)) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Tuple; }
  std::vector<ExprPtr> elements;
};

// Stands in for an expression that failed to parse, so later phases can run
// on the rest of the tree without cascading errors.
class ErrorExpr : public Expr {
public:
  explicit ErrorExpr(SourceRange r) : Expr(Kind::Error, r) {}
  static bool classof(const Expr *e) { return e->kind() == Kind::Error; }
};

// ---------------------------------------------------------------------------
// Statements

class Stmt : public Node {
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

protected:
  Stmt(Kind k, SourceRange r) : Node(r), kind_(k) {}

private:
  Kind kind_;
};
using StmtPtr = std::unique_ptr<Stmt>;

class BlockStmt : public Stmt {
public:
  BlockStmt(SourceRange r, std::vector<StmtPtr> body)
      : Stmt(Kind::Block, r), body(std::move(body)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Block; }
  std::vector<StmtPtr> body;
};
using BlockPtr = std::unique_ptr<BlockStmt>;

// `let x: T = e;` or, with isMutable, `var x = e;`.
class LetStmt : public Stmt {
public:
  LetStmt(SourceRange r, bool isMutable, Ident name, TypePtr type, ExprPtr init)
      : Stmt(Kind::Let, r), isMutable(isMutable), name(std::move(name)),
        type(std::move(type)), init(std::move(init)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Let; }
  bool isMutable;
  Ident name;
  TypePtr type; // may be null
  ExprPtr init;
};

enum class AssignOp { Assign, Add, Sub, Mul, Div };
const char *assignOpSpelling(AssignOp op);
// The operator a compound assignment applies (`+=` is Add); Assign has none
// and maps to Add, unused.
BinaryOp compoundOperator(AssignOp op);

class AssignStmt : public Stmt {
public:
  AssignStmt(SourceRange r, AssignOp op, ExprPtr target, ExprPtr value)
      : Stmt(Kind::Assign, r), op(op), target(std::move(target)),
        value(std::move(value)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Assign; }
  AssignOp op;
  ExprPtr target;
  ExprPtr value;
};

// `if a {} else if b {} else {}`: the else-if chain is flat.
class IfStmt : public Stmt {
public:
  struct Branch {
    ExprPtr condition;
    BlockPtr body;
  };
  IfStmt(SourceRange r, std::vector<Branch> branches, BlockPtr elseBody)
      : Stmt(Kind::If, r), branches(std::move(branches)),
        elseBody(std::move(elseBody)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::If; }
  std::vector<Branch> branches;
  BlockPtr elseBody; // may be null
};

// `for i in lo..hi {}`
class ForRangeStmt : public Stmt {
public:
  ForRangeStmt(SourceRange r, Ident var, ExprPtr lo, ExprPtr hi, BlockPtr body)
      : Stmt(Kind::ForRange, r), var(std::move(var)), lo(std::move(lo)),
        hi(std::move(hi)), body(std::move(body)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::ForRange; }
  Ident var;
  ExprPtr lo, hi;
  BlockPtr body;
};

// `for r in data {}` and `for b in batches(data, 32) {}`
class ForEachStmt : public Stmt {
public:
  ForEachStmt(SourceRange r, Ident var, ExprPtr iterable, BlockPtr body)
      : Stmt(Kind::ForEach, r), var(std::move(var)),
        iterable(std::move(iterable)), body(std::move(body)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::ForEach; }
  Ident var;
  ExprPtr iterable;
  BlockPtr body;
};

class WhileStmt : public Stmt {
public:
  WhileStmt(SourceRange r, ExprPtr condition, BlockPtr body)
      : Stmt(Kind::While, r), condition(std::move(condition)),
        body(std::move(body)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::While; }
  ExprPtr condition;
  BlockPtr body;
};

class ReturnStmt : public Stmt {
public:
  ReturnStmt(SourceRange r, ExprPtr value)
      : Stmt(Kind::Return, r), value(std::move(value)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Return; }
  ExprPtr value; // may be null
};

class ExprStmt : public Stmt {
public:
  ExprStmt(SourceRange r, ExprPtr e)
      : Stmt(Kind::Expr, r), expr(std::move(e)) {}
  static bool classof(const Stmt *s) { return s->kind() == Kind::Expr; }
  ExprPtr expr;
};

// ---------------------------------------------------------------------------
// Declarations

class Decl : public Node {
public:
  enum class Kind { Import, Const, Struct, Fn, Process };
  Kind kind() const { return kind_; }
  virtual ~Decl() = default;

protected:
  Decl(Kind k, SourceRange r) : Node(r), kind_(k) {}

private:
  Kind kind_;
};
using DeclPtr = std::unique_ptr<Decl>;

// `import std.nn;` (a module path) or `import "file.fed";` (a file).
class ImportDecl : public Decl {
public:
  ImportDecl(SourceRange r, std::vector<Ident> path,
             std::optional<std::string> file)
      : Decl(Kind::Import, r), path(std::move(path)), file(std::move(file)) {}
  static bool classof(const Decl *d) { return d->kind() == Kind::Import; }
  std::vector<Ident> path;
  std::optional<std::string> file;
};

class ConstDecl : public Decl {
public:
  ConstDecl(SourceRange r, Ident name, TypePtr type, ExprPtr value)
      : Decl(Kind::Const, r), name(std::move(name)), type(std::move(type)),
        value(std::move(value)) {}
  static bool classof(const Decl *d) { return d->kind() == Kind::Const; }
  Ident name;
  TypePtr type; // may be null
  ExprPtr value;
};

struct FieldDecl {
  Ident name;
  TypePtr type;
};

class StructDecl : public Decl {
public:
  StructDecl(SourceRange r, Ident name, std::vector<FieldDecl> fields)
      : Decl(Kind::Struct, r), name(std::move(name)),
        fields(std::move(fields)) {}
  static bool classof(const Decl *d) { return d->kind() == Kind::Struct; }
  Ident name;
  std::vector<FieldDecl> fields;
};

struct Param {
  Ident name;
  TypePtr type;
};

// A local fn (`fn`) or a federated computation (`federated fn`).
class FnDecl : public Decl {
public:
  FnDecl(SourceRange r, bool isFederated, Ident name,
         std::vector<Ident> genericParams, std::vector<Param> params,
         TypePtr result, BlockPtr body)
      : Decl(Kind::Fn, r), isFederated(isFederated), name(std::move(name)),
        genericParams(std::move(genericParams)), params(std::move(params)),
        result(std::move(result)), body(std::move(body)) {}
  static bool classof(const Decl *d) { return d->kind() == Kind::Fn; }
  bool isFederated;
  Ident name;
  std::vector<Ident> genericParams;
  std::vector<Param> params;
  TypePtr result; // null: returns ()
  BlockPtr body;
};

struct ProcessEntry {
  Ident key;   // init, next, eval
  Ident value; // a federated fn
};

class ProcessDecl : public Decl {
public:
  ProcessDecl(SourceRange r, Ident name, std::vector<ProcessEntry> entries)
      : Decl(Kind::Process, r), name(std::move(name)),
        entries(std::move(entries)) {}
  static bool classof(const Decl *d) { return d->kind() == Kind::Process; }
  Ident name;
  std::vector<ProcessEntry> entries;
};

// One parsed file.
struct Module {
  std::string filename;
  SourceRange range;
  std::vector<DeclPtr> decls;
};

} // namespace fedc::ast
