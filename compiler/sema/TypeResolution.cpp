// Types as written -> semantic types, and the well-formedness rules of
// federated types (TFF's): placements do not nest, sequences and functions
// are never placed except `{seq<T>}@CLIENTS`, `{T}` braces only for CLIENTS.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <set>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

void Checker::resolveStructs() {
  for (const ast::StructDecl *decl : structDecls_) {
    StructType *s = lookupGlobal(decl->name.name)->structType;
    std::map<std::string, SourceRange> seen;
    for (const ast::FieldDecl &f : decl->fields) {
      if (auto [it, inserted] = seen.emplace(f.name.name, f.name.range);
          !inserted) {
        diags_.report(f.name.range, DiagId::Redefinition).arg(f.name.name);
        diags_.report(it->second, DiagId::NotePreviousDefinition)
            .arg(f.name.name);
        continue;
      }
      const Type *t = resolveType(*f.type, nullptr, TypeUse::Field);
      if (!t->isError() &&
          (containsPlaced(t) || containsSeq(t) || containsFunction(t))) {
        diags_.report(f.type->range(), DiagId::InvalidFieldType)
            .arg(f.name.name)
            .arg(formatType(t));
        t = types_.error();
      }
      s->fields.push_back({f.name.name, t});
    }
    s->complete = true;
  }
  for (const ast::StructDecl *decl : structDecls_) {
    const StructType *s = lookupGlobal(decl->name.name)->structType;
    for (size_t i = 0; i < s->fields.size(); ++i)
      if (containsStruct(s->fields[i].type, s)) {
        diags_.report(decl->name.range, DiagId::RecursiveStruct).arg(s->name);
        const_cast<StructType *>(s)->fields[i].type = types_.error();
      }
  }
}

bool Checker::containsStruct(const Type *t, const StructType *target) const {
  std::set<const Type *> visited;
  std::vector<const Type *> work{t};
  while (!work.empty()) {
    const Type *x = work.back();
    work.pop_back();
    if (!visited.insert(x).second)
      continue;
    if (x == target)
      return true;
    if (const auto *s = dyn_cast<StructType>(x))
      for (const Field &f : s->fields)
        work.push_back(f.type);
    else if (const auto *tuple = dyn_cast<TupleType>(x))
      work.insert(work.end(), tuple->elements.begin(), tuple->elements.end());
  }
  return false;
}

std::optional<int64_t> Checker::resolveDim(const ast::Dim &dim,
                                           const Bindings *bindings) {
  switch (dim.kind) {
  case ast::Dim::Kind::Dynamic:
    return kDynamicDim;
  case ast::Dim::Kind::Literal:
    if (dim.value <= 0) {
      diags_.report(dim.range, DiagId::InvalidDimension).arg(dim.value);
      return std::nullopt;
    }
    return dim.value;
  case ast::Dim::Kind::Named:
    break;
  }
  if (bindings) {
    if (auto it = bindings->find(dim.name); it != bindings->end()) {
      if (it->second.dim)
        return it->second.dim;
      diags_.report(dim.range, DiagId::GenericMisuse).arg(dim.name);
      return std::nullopt;
    }
  }
  if (const GlobalSymbol *g = lookupGlobal(dim.name);
      g && g->kind == GlobalSymbol::Kind::Const) {
    if (!ensureConstant(*g->constant, dim.range))
      return std::nullopt;
    if (g->constant->intValue) {
      if (*g->constant->intValue <= 0) {
        diags_.report(dim.range, DiagId::InvalidDimension)
            .arg(*g->constant->intValue);
        return std::nullopt;
      }
      return g->constant->intValue;
    }
    if (g->constant->type && !g->constant->type->isError())
      diags_.report(dim.range, DiagId::ConstantRequired)
          .arg("dimension '" + dim.name + "'");
    return std::nullopt;
  }
  diags_.report(dim.range, DiagId::UnknownName)
      .arg(dim.name)
      .arg("; a dimension is an integer, '?', a shape parameter or an integer "
           "constant");
  return std::nullopt;
}

const Type *Checker::resolveNamedType(const ast::NamedTypeExpr &t,
                                      const Bindings *bindings) {
  if (bindings) {
    if (auto it = bindings->find(t.name); it != bindings->end()) {
      if (!it->second.type || !t.dims.empty()) {
        diags_.report(t.range(), DiagId::GenericMisuse).arg(t.name);
        return types_.error();
      }
      return it->second.type;
    }
  }
  const GlobalSymbol *g = lookupGlobal(t.name);
  if (g && g->kind == GlobalSymbol::Kind::Struct && t.dims.empty())
    return g->structType;
  std::vector<std::string> candidates = {
#define ELEMENT(Name, spelling, bytes, ctype, kind) spelling,
#include "fedrt/Elements.def"
  };
  for (const auto &[name, sym] : globals_)
    if (sym.kind == GlobalSymbol::Kind::Struct)
      candidates.push_back(name);
  diags_.report(t.range(), DiagId::UnknownType)
      .arg(t.name)
      .arg(g && g->kind == GlobalSymbol::Kind::Struct
               ? "; a struct type takes no dimensions"
               : suggestion(t.name, candidates));
  return types_.error();
}

const Type *Checker::resolveSeqType(const ast::SeqTypeExpr &t,
                                    const Bindings *bindings) {
  const Type *element = resolveTypeUnchecked(*t.element, bindings);
  auto staticDims = [](const TensorType *leaf) {
    for (int64_t d : leaf->dims)
      if (d == kDynamicDim)
        return false;
    return true;
  };
  const char *why =
      containsSeq(element)        ? "sequences do not nest"
      : containsPlaced(element)   ? "placed values are not records"
      : containsFunction(element) ? "functions are not records"
      : !containsError(element) &&
              !firstOffendingLeaf(element, staticDims).empty()
          ? "records are stored in columns of fixed width, so their "
            "dimensions must be known at compile time ('?' is not)"
          : nullptr;
  if (why) {
    diags_.report(t.element->range(), DiagId::InvalidSeqElement)
        .arg(formatType(element))
        .arg(why);
    return types_.error();
  }
  return element->isError() ? element : types_.seq(element);
}

const Type *Checker::resolvePlacedType(const ast::PlacedTypeExpr &t,
                                       const Bindings *bindings) {
  const Type *member = resolveTypeUnchecked(*t.member, bindings);
  if (member->isError())
    return member;
  const Type *placed = types_.placed(member, t.placement, t.allEqual);
  if (!t.allEqual && t.placement == Placement::Server) {
    diags_.report(t.range(), DiagId::BracesOnlyForClients)
        .arg(formatType(member));
    return types_.error();
  }
  if (containsPlaced(member)) {
    diags_.report(t.range(), DiagId::NestedPlacement).arg(formatType(placed));
    return types_.error();
  }
  if (containsFunction(member)) {
    diags_.report(t.range(), DiagId::InvalidPlacedMember)
        .arg(formatType(member))
        .arg("functions are not data");
    return types_.error();
  }
  if (containsSeq(member) &&
      !(isa<SeqType>(member) && t.placement == Placement::Clients &&
        !t.allEqual)) {
    diags_.report(t.range(), DiagId::InvalidPlacedMember)
        .arg(formatType(member))
        .arg("a sequence is raw client data; only {seq<T>}@CLIENTS holds it");
    return types_.error();
  }
  return placed;
}

const Type *Checker::resolveTypeUnchecked(const ast::TypeExpr &type,
                                          const Bindings *bindings) {
  switch (type.kind()) {
  case ast::TypeExpr::Kind::Tensor: {
    const auto &t = cast<ast::TensorTypeExpr>(type);
    std::vector<int64_t> dims;
    bool ok = true;
    for (const ast::Dim &d : t.dims) {
      std::optional<int64_t> v = resolveDim(d, bindings);
      ok = ok && v.has_value();
      dims.push_back(v.value_or(kDynamicDim));
    }
    return ok ? types_.tensor(t.element, dims) : types_.error();
  }
  case ast::TypeExpr::Kind::Named:
    return resolveNamedType(cast<ast::NamedTypeExpr>(type), bindings);
  case ast::TypeExpr::Kind::Seq:
    return resolveSeqType(cast<ast::SeqTypeExpr>(type), bindings);
  case ast::TypeExpr::Kind::Tuple: {
    const auto &t = cast<ast::TupleTypeExpr>(type);
    std::vector<const Type *> elements;
    for (const ast::TypePtr &e : t.elements)
      elements.push_back(resolveTypeUnchecked(*e, bindings));
    return types_.tuple(elements);
  }
  case ast::TypeExpr::Kind::Function: {
    const auto &t = cast<ast::FunctionTypeExpr>(type);
    std::vector<const Type *> params;
    for (const ast::TypePtr &p : t.params)
      params.push_back(resolveTypeUnchecked(*p, bindings));
    return types_.function(params, resolveTypeUnchecked(*t.result, bindings));
  }
  case ast::TypeExpr::Kind::Placed:
    return resolvePlacedType(cast<ast::PlacedTypeExpr>(type), bindings);
  }
  return types_.error();
}

const Type *Checker::resolveType(const ast::TypeExpr &type,
                                 const Bindings *bindings, TypeUse use) {
  const Type *t = resolveTypeUnchecked(type, bindings);
  if (t->isError())
    return t;
  if (use == TypeUse::Local && containsPlaced(t)) {
    diags_.report(type.range(), DiagId::PlacedTypeInLocalFn)
        .arg(formatType(t))
        .arg(current_ ? current_->fn->decl->name.name : "");
    return types_.error();
  }
  return t;
}

bool Checker::assignable(const Type *from, const Type *to) const {
  if (from == to || containsError(from) || containsError(to))
    return true;
  if (from->kind() != to->kind())
    return false;
  switch (from->kind()) {
  case Type::Kind::Tensor: {
    const auto *a = cast<TensorType>(from), *b = cast<TensorType>(to);
    if (a->element != b->element || a->rank() != b->rank())
      return false;
    for (size_t i = 0; i < a->rank(); ++i)
      if (a->dims[i] != b->dims[i] && a->dims[i] != kDynamicDim &&
          b->dims[i] != kDynamicDim)
        return false;
    return true;
  }
  case Type::Kind::Tuple: {
    const auto *a = cast<TupleType>(from), *b = cast<TupleType>(to);
    if (a->elements.size() != b->elements.size())
      return false;
    for (size_t i = 0; i < a->elements.size(); ++i)
      if (!assignable(a->elements[i], b->elements[i]))
        return false;
    return true;
  }
  case Type::Kind::Seq:
    return assignable(cast<SeqType>(from)->element, cast<SeqType>(to)->element);
  case Type::Kind::Placed: {
    const auto *a = cast<PlacedType>(from), *b = cast<PlacedType>(to);
    // An all-equal value may stand for a per-client one, never the reverse.
    return a->placement == b->placement && (a->allEqual || !b->allEqual) &&
           assignable(a->member, b->member);
  }
  default:
    return false; // structs are nominal; functions compare by identity
  }
}

} // namespace fedc::sema
