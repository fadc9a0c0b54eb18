#include "sema/Types.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

int StructType::fieldIndex(const std::string &field) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == field)
      return static_cast<int>(i);
  return -1;
}

TypeContext::TypeContext()
    : placementLiteral_(std::make_unique<PlacementLiteralType>()),
      error_(std::make_unique<ErrorType>()) {}

const TensorType *TypeContext::tensor(ScalarKind e, std::vector<int64_t> dims) {
  auto key = std::make_pair(static_cast<int>(e), dims);
  auto &slot = tensors_[key];
  if (!slot)
    slot = std::make_unique<TensorType>(e, std::move(dims));
  return slot.get();
}

const TupleType *TypeContext::tuple(std::vector<const Type *> elements) {
  auto &slot = tuples_[elements];
  if (!slot)
    slot = std::make_unique<TupleType>(std::move(elements));
  return slot.get();
}

const SeqType *TypeContext::seq(const Type *element) {
  auto &slot = seqs_[element];
  if (!slot)
    slot = std::make_unique<SeqType>(element);
  return slot.get();
}

const FunctionType *TypeContext::function(std::vector<const Type *> params,
                                          const Type *result) {
  std::vector<const Type *> key = params;
  key.push_back(result);
  auto &slot = functions_[key];
  if (!slot)
    slot = std::make_unique<FunctionType>(std::move(params), result);
  return slot.get();
}

const PlacedType *TypeContext::placed(const Type *member, Placement p,
                                      bool allEqual) {
  auto &slot = placed_[{member, static_cast<int>(p), allEqual}];
  if (!slot)
    slot = std::make_unique<PlacedType>(member, p, allEqual);
  return slot.get();
}

StructType *TypeContext::createStruct(std::string name,
                                      const ast::StructDecl *decl) {
  structs_.push_back(std::make_unique<StructType>(std::move(name), decl));
  return structs_.back().get();
}

const Type *TypeContext::batchOf(const Type *record) {
  if (auto it = batches_.find(record); it != batches_.end())
    return it->second;
  const Type *result = nullptr;
  if (const auto *t = dyn_cast<TensorType>(record)) {
    std::vector<int64_t> dims{kDynamicDim};
    dims.insert(dims.end(), t->dims.begin(), t->dims.end());
    result = tensor(t->element, dims);
  } else if (const auto *s = dyn_cast<StructType>(record)) {
    StructType *batch = createStruct("batch<" + s->name + ">", nullptr);
    batch->batchOf = s;
    batch->complete = true;
    for (const Field &f : s->fields) {
      const Type *b = batchOf(f.type);
      if (!b)
        return nullptr;
      batch->fields.push_back({f.name, b});
    }
    result = batch;
  } else if (const auto *t = dyn_cast<TupleType>(record)) {
    std::vector<const Type *> elements;
    for (const Type *e : t->elements) {
      const Type *b = batchOf(e);
      if (!b)
        return nullptr;
      elements.push_back(b);
    }
    result = tuple(std::move(elements));
  } else if (isa<ErrorType>(record)) {
    result = record;
  }
  batches_[record] = result;
  return result;
}

namespace {

std::string formatDims(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i)
      s += ", ";
    s += dims[i] == kDynamicDim ? "?" : std::to_string(dims[i]);
  }
  return s + "]";
}

// Calls `visit` on every tensor leaf with its path ("w", "0.b"); stops and
// returns false as soon as `visit` does.
template <typename Visit>
bool forEachLeaf(const Type *t, const std::string &path, Visit &&visit) {
  if (const auto *tensor = dyn_cast<TensorType>(t))
    return visit(tensor, path);
  if (const auto *s = dyn_cast<StructType>(t)) {
    for (const Field &f : s->fields)
      if (!forEachLeaf(f.type, path.empty() ? f.name : path + "." + f.name,
                       visit))
        return false;
    return true;
  }
  if (const auto *tuple = dyn_cast<TupleType>(t)) {
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      if (!forEachLeaf(tuple->elements[i],
                       path.empty() ? std::to_string(i)
                                    : path + "." + std::to_string(i),
                       visit))
        return false;
    return true;
  }
  if (isa<ErrorType>(t))
    return true;
  return visit(nullptr, path); // not a numeric-shaped type at all
}

} // namespace

std::string formatType(const Type *t) {
  switch (t->kind()) {
  case Type::Kind::Tensor: {
    const auto *tensor = cast<TensorType>(t);
    std::string s = ast::scalarName(tensor->element);
    return tensor->isScalar() ? s : s + formatDims(tensor->dims);
  }
  case Type::Kind::Struct:
    return cast<StructType>(t)->name;
  case Type::Kind::Tuple: {
    const auto *tuple = cast<TupleType>(t);
    std::string s = "(";
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      s += (i ? ", " : "") + formatType(tuple->elements[i]);
    if (tuple->elements.size() == 1)
      s += ",";
    return s + ")";
  }
  case Type::Kind::Seq:
    return "seq<" + formatType(cast<SeqType>(t)->element) + ">";
  case Type::Kind::Function: {
    const auto *f = cast<FunctionType>(t);
    std::string s = "fn(";
    for (size_t i = 0; i < f->params.size(); ++i)
      s += (i ? ", " : "") + formatType(f->params[i]);
    return s + ") -> " + formatType(f->result);
  }
  case Type::Kind::Placed: {
    const auto *p = cast<PlacedType>(t);
    std::string member = formatType(p->member);
    std::string where = std::string("@") + ast::placementName(p->placement);
    return p->allEqual ? member + where : "{" + member + "}" + where;
  }
  case Type::Kind::PlacementLiteral:
    return "placement";
  case Type::Kind::Error:
    return "<error>";
  }
  return "?";
}

namespace {

// Whether `t` or any type inside it (fields, elements, sequence and placed
// members) satisfies `is`.
template <typename Pred> bool containsType(const Type *t, Pred is) {
  if (is(t))
    return true;
  switch (t->kind()) {
  case Type::Kind::Struct:
    for (const Field &f : cast<StructType>(t)->fields)
      if (containsType(f.type, is))
        return true;
    return false;
  case Type::Kind::Tuple:
    for (const Type *e : cast<TupleType>(t)->elements)
      if (containsType(e, is))
        return true;
    return false;
  case Type::Kind::Seq:
    return containsType(cast<SeqType>(t)->element, is);
  case Type::Kind::Placed:
    return containsType(cast<PlacedType>(t)->member, is);
  default:
    return false;
  }
}

} // namespace

bool containsError(const Type *t) {
  return containsType(t, [](const Type *x) {
    if (isa<ErrorType>(x))
      return true;
    const auto *f = dyn_cast<FunctionType>(x);
    if (!f)
      return false;
    for (const Type *p : f->params)
      if (containsError(p))
        return true;
    return containsError(f->result);
  });
}

std::string describeLeaf(const std::string &path, const Type *member) {
  return path == "<value>" ? formatType(member)
                           : "field '" + path + "' of " + formatType(member);
}

std::string firstOffendingLeaf(const Type *t, bool (*ok)(const TensorType *)) {
  std::string offending;
  forEachLeaf(t, "", [&](const TensorType *leaf, const std::string &path) {
    if (leaf && ok(leaf))
      return true;
    offending = path.empty() ? "<value>" : path;
    return false;
  });
  return offending;
}

bool isNumeric(const Type *t) {
  return firstOffendingLeaf(
             t, [](const TensorType *leaf) { return !leaf->isBool(); })
      .empty();
}

bool isFloating(const Type *t) {
  return firstOffendingLeaf(
             t, [](const TensorType *leaf) { return leaf->isFloat(); })
      .empty();
}

bool isIntegral(const Type *t) {
  return firstOffendingLeaf(
             t, [](const TensorType *leaf) { return leaf->isInteger(); })
      .empty();
}

bool containsPlaced(const Type *t) {
  return containsType(t, [](const Type *x) { return isa<PlacedType>(x); });
}

bool containsSeq(const Type *t) {
  return containsType(t, [](const Type *x) { return isa<SeqType>(x); });
}

bool containsFunction(const Type *t) {
  return containsType(t, [](const Type *x) { return isa<FunctionType>(x); });
}

const TensorType *commonElement(TypeContext &types, const Type *t) {
  const TensorType *common = nullptr;
  bool ok =
      forEachLeaf(t, "", [&](const TensorType *leaf, const std::string &) {
        if (!leaf)
          return false;
        const TensorType *s = types.scalar(leaf->element);
        if (common && common != s)
          return false;
        common = s;
        return true;
      });
  return ok ? common : nullptr;
}

} // namespace fedc::sema
