// Semantic types: uniqued in a TypeContext, so two types are equal exactly
// when their pointers are. A scalar is a rank-0 tensor. Placed types carry
// their placement and whether the value is equal at all clients.
#pragma once

#include "ast/AST.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fedc::sema {

using ast::Placement;
using ast::ScalarKind;

// A tensor dimension: a size known at compile time, or `?`.
constexpr int64_t kDynamicDim = -1;

class Type {
public:
  enum class Kind {
    Tensor,
    Struct,
    Tuple,
    Seq,
    Function,
    Placed,
    PlacementLiteral,
    Error
  };
  Kind kind() const { return kind_; }
  virtual ~Type() = default;

  bool isError() const { return kind_ == Kind::Error; }

protected:
  explicit Type(Kind k) : kind_(k) {}

private:
  Kind kind_;
};

class TensorType : public Type {
public:
  TensorType(ScalarKind e, std::vector<int64_t> d)
      : Type(Kind::Tensor), element(e), dims(std::move(d)) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Tensor; }
  bool isScalar() const { return dims.empty(); }
  size_t rank() const { return dims.size(); }
  // By the element table (fedrt/Elements.def).
  bool isFloat() const { return fedrt::isFloat(element); }
  bool isInteger() const {
    fedrt::ElementKind k = fedrt::elementKind(element);
    return k == fedrt::ElementKind::Signed || k == fedrt::ElementKind::Unsigned;
  }
  bool isBool() const { return element == ScalarKind::Bool; }
  ScalarKind element;
  std::vector<int64_t> dims;
};

struct Field {
  std::string name;
  const Type *type;
};

// A struct declared in source, or the batch view of a record type that
// `batches()` yields (every field with a leading `?` dimension).
class StructType : public Type {
public:
  StructType(std::string n, const ast::StructDecl *d)
      : Type(Kind::Struct), name(std::move(n)), decl(d) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Struct; }
  int fieldIndex(const std::string &field) const;
  std::string name;
  const ast::StructDecl *decl; // null for batch types
  const Type *batchOf = nullptr;
  std::vector<Field> fields;
  bool complete = false; // fields resolved
};

class TupleType : public Type {
public:
  explicit TupleType(std::vector<const Type *> e)
      : Type(Kind::Tuple), elements(std::move(e)) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Tuple; }
  bool isUnit() const { return elements.empty(); }
  std::vector<const Type *> elements;
};

class SeqType : public Type {
public:
  explicit SeqType(const Type *e) : Type(Kind::Seq), element(e) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Seq; }
  const Type *element;
};

class FunctionType : public Type {
public:
  FunctionType(std::vector<const Type *> p, const Type *r)
      : Type(Kind::Function), params(std::move(p)), result(r) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Function; }
  std::vector<const Type *> params;
  const Type *result;
};

// `T@SERVER`, `T@CLIENTS` (allEqual) or `{T}@CLIENTS`.
class PlacedType : public Type {
public:
  PlacedType(const Type *m, Placement p, bool eq)
      : Type(Kind::Placed), member(m), placement(p), allEqual(eq) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Placed; }
  const Type *member;
  Placement placement;
  bool allEqual;
};

// The type of `SERVER` and `CLIENTS` used as intrinsic arguments.
class PlacementLiteralType : public Type {
public:
  PlacementLiteralType() : Type(Kind::PlacementLiteral) {}
  static bool classof(const Type *t) {
    return t->kind() == Kind::PlacementLiteral;
  }
};

// Stands for a type that could not be determined; an error was reported, so
// anything involving it is accepted silently to avoid cascades.
class ErrorType : public Type {
public:
  ErrorType() : Type(Kind::Error) {}
  static bool classof(const Type *t) { return t->kind() == Kind::Error; }
};

// Owns and uniques every type of a compilation.
class TypeContext {
public:
  TypeContext();
  const TensorType *tensor(ScalarKind e, std::vector<int64_t> dims = {});
  const TensorType *scalar(ScalarKind e) { return tensor(e); }
  const TupleType *tuple(std::vector<const Type *> elements);
  const TupleType *unit() { return tuple({}); }
  const SeqType *seq(const Type *element);
  const FunctionType *function(std::vector<const Type *> params,
                               const Type *result);
  const PlacedType *placed(const Type *member, Placement p, bool allEqual);
  const Type *placementLiteral() const { return placementLiteral_.get(); }
  const Type *error() const { return error_.get(); }
  StructType *createStruct(std::string name, const ast::StructDecl *decl);
  // The batch view of a record type (see StructType); null if `record` has
  // no batch form (functions, placed types, nested sequences).
  const Type *batchOf(const Type *record);

private:
  std::map<std::pair<int, std::vector<int64_t>>, std::unique_ptr<TensorType>>
      tensors_;
  std::map<std::vector<const Type *>, std::unique_ptr<TupleType>> tuples_;
  std::map<const Type *, std::unique_ptr<SeqType>> seqs_;
  std::map<std::vector<const Type *>, std::unique_ptr<FunctionType>> functions_;
  std::map<std::tuple<const Type *, int, bool>, std::unique_ptr<PlacedType>>
      placed_;
  std::map<const Type *, const Type *> batches_;
  std::vector<std::unique_ptr<StructType>> structs_;
  std::unique_ptr<PlacementLiteralType> placementLiteral_;
  std::unique_ptr<ErrorType> error_;
};

// TFF notation: `f32[?, 64]`, `{seq<Example>}@CLIENTS`, `Model@SERVER`.
std::string formatType(const Type *t);

// Predicates used by the typing and placement rules.
bool containsError(const Type *t);
bool isNumeric(const Type *t); // tensors of non-bool, structs/tuples of them
bool isFloating(const Type *t);
bool isIntegral(const Type *t);
bool containsPlaced(const Type *t);
bool containsSeq(const Type *t);
bool containsFunction(const Type *t);
// The first leaf (as "field 'w' of Model") for which `ok` is false, or "".
std::string firstOffendingLeaf(const Type *t, bool (*ok)(const TensorType *));
// How a diagnostic names firstOffendingLeaf's `path` of `member`: "field
// 'seen' of Flags", or the type itself when it has no fields.
std::string describeLeaf(const std::string &path, const Type *member);
// The scalar element type shared by every leaf of a numeric type, or null.
const TensorType *commonElement(TypeContext &types, const Type *t);

} // namespace fedc::sema
