// Federated intrinsics and the placement rules (docs/language.md,
// "Placement rules"): values move CLIENTS -> SERVER only by aggregation and
// SERVER -> CLIENTS only by broadcast or federated_value; raw client data is
// consumed only by federated_map; federated_map applies local fns; all-equal
// is tracked; aggregations need numeric (or integer) members.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <array>
#include <string_view>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

struct IntrinsicInfo {
  const char *name;
  Intrinsic intrinsic;
  const char *namedArgument; // "" when it takes none
};

constexpr IntrinsicInfo kIntrinsics[] = {
#define INTRINSIC(Name, spelling, named, Typing, Node, Kind)                   \
  {spelling, Intrinsic::Name, named},
#include "sema/Intrinsics.def"
};

// `'trained' ({Model}@CLIENTS)` for a name, else just the type.
std::string describeValue(const Expr &e) {
  if (const auto *ref = dyn_cast<RefExpr>(&e);
      ref && ref->kind() == Expr::Kind::LocalRef)
    return "'" + ref->local->name + "' (" + formatType(e.type) + ")";
  return formatType(e.type);
}

bool isRawData(const Type *t) {
  const auto *p = dyn_cast<PlacedType>(t);
  return p && isa<SeqType>(p->member);
}

bool hasStruct(const Type *t) {
  if (isa<StructType>(t))
    return true;
  if (const auto *tuple = dyn_cast<TupleType>(t))
    for (const Type *x : tuple->elements)
      if (hasStruct(x))
        return true;
  return false;
}

bool staticDims(const TensorType *t) {
  for (int64_t d : t->dims)
    if (d == kDynamicDim)
      return false;
  return true;
}

// Whether `name` is in the table's comma-separated list.
bool namedArgumentAllowed(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == name)
      return true;
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

const Type *Checker::widenBytes(const Type *t) {
  if (const auto *tensor = dyn_cast<TensorType>(t))
    return fedrt::elementSize(tensor->element) == 1 && !tensor->isBool()
               ? types_.tensor(ScalarKind::I64, tensor->dims)
               : t;
  if (const auto *tuple = dyn_cast<TupleType>(t)) {
    std::vector<const Type *> elements;
    for (const Type *x : tuple->elements)
      elements.push_back(widenBytes(x));
    return types_.tuple(elements);
  }
  return t;
}

bool Checker::requireStaticShape(SourceRange where, const Type *member,
                                 const std::string &what) {
  if (containsError(member))
    return true;
  std::string leaf = firstOffendingLeaf(member, staticDims);
  if (leaf.empty())
    return true;
  diags_.report(where, DiagId::DynamicShapeAcrossPlacements)
      .arg(what)
      .arg(describeLeaf(leaf, member));
  return false;
}

bool Checker::requireStaticShape(const Expr &e, const Type *member,
                                 const std::string &what) {
  return requireStaticShape(e.range, member, what);
}

std::optional<Intrinsic> lookupIntrinsic(const std::string &name) {
  for (const IntrinsicInfo &i : kIntrinsics)
    if (name == i.name)
      return i.intrinsic;
  return std::nullopt;
}

const char *intrinsicName(Intrinsic i) {
  return kIntrinsics[static_cast<size_t>(i)].name;
}

void Checker::notePlacement(const Expr &e) {
  const auto *p = dyn_cast<PlacedType>(e.type);
  if (p && e.placementOrigin.isValid())
    diags_.report(e.placementOrigin, DiagId::NotePlacedHere)
        .arg(ast::placementName(p->placement));
}

bool Checker::rejectRawData(const Expr &e, const std::string &operation) {
  if (!isRawData(e.type))
    return false;
  diags_.report(e.range, DiagId::RawDataMisuse)
      .arg(describeValue(e))
      .arg(operation);
  return true;
}

bool Checker::expectPlacement(ExprPtr &e, const Type *expected,
                              const std::string &what) {
  const auto *from = dyn_cast<PlacedType>(e->type);
  const auto *to = dyn_cast<PlacedType>(expected);
  std::string where = "for " + what;
  if (from && isRawData(from) && (!to || to->placement == Placement::Server)) {
    rejectRawData(*e, "returned or moved to the server");
    return false;
  }
  if (from && to && from->placement != to->placement) {
    // Client -> server needs an aggregation, server -> clients a broadcast.
    bool toServer = to->placement == Placement::Server;
    diags_
        .report(e->range, toServer ? DiagId::ClientValueAtServer
                                   : DiagId::ServerValueAtClients)
        .arg(describeValue(*e))
        .arg(formatType(expected))
        .arg(where);
    notePlacement(*e);
    diags_.report(e->range, toServer ? DiagId::NoteAggregateToServer
                                     : DiagId::NoteBroadcastToClients);
    return false;
  }
  if (from && to && from->placement == to->placement && !from->allEqual &&
      to->allEqual && assignable(from->member, to->member)) {
    diags_.report(e->range, DiagId::AllEqualRequired)
        .arg(describeValue(*e))
        .arg(formatType(expected))
        .arg(where);
    notePlacement(*e);
    return false;
  }
  if (from && to && from->placement == to->placement &&
      !assignable(from->member, to->member)) {
    // Right place, wrong member type: a type error, not a placement one.
    diags_.report(e->range, DiagId::TypeMismatch)
        .arg(what)
        .arg(formatType(expected))
        .arg(formatType(e->type));
    diags_.report(e->range, DiagId::NoteMemberTypesDiffer)
        .arg(formatType(from->member))
        .arg(formatType(to->member));
    return false;
  }
  diags_.report(e->range, DiagId::PlacementMismatch)
      .arg(what)
      .arg(formatType(expected))
      .arg(formatType(e->type));
  if (from)
    notePlacement(*e);
  return false;
}

const ast::FnDecl *Checker::localFnArgument(const Expr &e,
                                            const std::string &what) {
  const auto *ref = dyn_cast<RefExpr>(&e);
  if (!ref || ref->kind() != Expr::Kind::FunctionRef) {
    diags_.report(e.range, DiagId::MapFunctionNotLocal)
        .arg(what)
        .arg(formatType(e.type))
        .arg("not a function");
    return nullptr;
  }
  if (ref->fnDecl->isFederated) {
    diags_.report(e.range, DiagId::MapFunctionNotLocal)
        .arg(what)
        .arg(ref->fnDecl->name.name)
        .arg("a federated fn");
    return nullptr;
  }
  return ref->fnDecl;
}

const Function *Checker::functionArgument(
    ExprPtr &fnExpr, const std::vector<const Type *> &params,
    const std::vector<SourceRange> &from, const Type *result, SourceRange call,
    const std::string &what) {
  const ast::FnDecl *decl = localFnArgument(*fnExpr, what);
  if (!decl)
    return nullptr;
  if (decl->params.size() != params.size()) {
    reportArgumentCount(fnExpr->range, decl->name.name, decl->params.size(),
                        params.size());
    return nullptr;
  }
  Bindings bindings;
  if (!decl->genericParams.empty()) {
    std::vector<std::pair<const Type *, SourceRange>> args;
    for (size_t i = 0; i < params.size(); ++i)
      args.emplace_back(params[i], from[i]);
    if (!inferBindings(*decl, args, call, bindings))
      return nullptr;
  }
  const Function *fn = instance(*decl, bindings, call);
  bool ok = true;
  for (size_t i = 0; i < params.size(); ++i) {
    const Type *p = fn->params[i]->type;
    if (!assignable(params[i], p)) {
      diags_.report(from[i], DiagId::TypeMismatch)
          .arg("argument '" + fn->params[i]->name + "' of '" + fn->name +
               "' in " + what)
          .arg(formatType(p))
          .arg(formatType(params[i]));
      ok = false;
    }
  }
  if (ok && result && !assignable(fn->result, result)) {
    diags_.report(fnExpr->range, DiagId::TypeMismatch)
        .arg("result of '" + fn->name + "' in " + what)
        .arg(formatType(result))
        .arg(formatType(fn->result));
    ok = false;
  }
  if (!ok)
    return nullptr;
  auto *ref = cast<RefExpr>(fnExpr.get());
  ref->function = fn;
  std::vector<const Type *> paramTypes;
  for (const Local *l : fn->params)
    paramTypes.push_back(l->type);
  ref->type = types_.function(paramTypes, fn->result);
  return fn;
}

ExprPtr Checker::checkIntrinsic(const ast::CallExpr &e, Intrinsic i) {
  std::string name = intrinsicName(i);
  if (!e.typeArgs.empty()) {
    diags_.report(e.typeArgs.front()->range(), DiagId::TypeArgumentsNotAllowed)
        .arg(name);
    return errorExpr(e.range());
  }
  for (const ast::Arg &a : e.args) {
    bool allowed =
        a.name &&
        namedArgumentAllowed(kIntrinsics[static_cast<size_t>(i)].namedArgument,
                             a.name->name);
    if (a.name && !allowed) {
      diags_.report(a.name->range, DiagId::UnknownNamedArgument)
          .arg(name)
          .arg(a.name->name);
      return errorExpr(e.range());
    }
  }
  std::vector<ExprPtr> args = positionalArgs(e, name);
  for (const ExprPtr &a : args)
    if (containsError(a->type))
      return errorExpr(e.range());
  // Each intrinsic's typing rule, from the table.
  using TypingRule = ExprPtr (Checker::*)(const ast::CallExpr &, Intrinsic,
                                          std::vector<ExprPtr>);
  static constexpr TypingRule kRules[] = {
#define INTRINSIC(Name, spelling, named, Typing, Node, Kind)                   \
  &Checker::check##Typing,
#include "sema/Intrinsics.def"
  };
  return (this->*kRules[static_cast<size_t>(i)])(e, i, std::move(args));
}

std::unique_ptr<IntrinsicCallExpr>
Checker::intrinsicCall(const ast::CallExpr &e, Intrinsic i, const Type *t,
                       std::vector<ExprPtr> operands) {
  auto call =
      std::make_unique<IntrinsicCallExpr>(t, e.range(), i, std::move(operands));
  call->placementOrigin = e.range();
  return call;
}

// round_number() is the round at the server (an i64@SERVER: 1 for the
// first round, 0 in init and a one-shot main); client_seed() one i64 per
// client ({i64}@CLIENTS), derived by the runtime from --seed, the round
// and the client's position in the population, never its identity.
// (`args` by value: the signature of every rule in the table.)
ExprPtr Checker::checkRunContext(
    const ast::CallExpr &e, Intrinsic i,
    std::vector<ExprPtr> args) { // NOLINT(performance-unnecessary-value-param)
  if (!args.empty()) {
    reportArgumentCount(e.range(), intrinsicName(i), 0, args.size());
    return errorExpr(e.range());
  }
  const TensorType *i64 = types_.scalar(ScalarKind::I64);
  return intrinsicCall(e, i,
                       i == Intrinsic::RoundNumber
                           ? types_.placed(i64, Placement::Server, true)
                           : types_.placed(i64, Placement::Clients, false),
                       {});
}

// federated_value(x, P) and federated_eval(f, P).
ExprPtr Checker::checkPlacing(const ast::CallExpr &e, Intrinsic i,
                              std::vector<ExprPtr> args) {
  std::string name = intrinsicName(i);
  if (args.size() != 2) {
    reportArgumentCount(e.range(), name, 2, args.size());
    return errorExpr(e.range());
  }
  const auto *where = dyn_cast<RefExpr>(args[1].get());
  if (!where || where->kind() != Expr::Kind::PlacementRef) {
    diags_.report(args[1]->range, DiagId::ExpectedPlacementLiteral).arg(name);
    return errorExpr(e.range());
  }
  Placement p = where->placement;
  if (i == Intrinsic::Eval) {
    const Function *fn =
        functionArgument(args[0], {}, {}, nullptr, e.range(), name);
    if (!fn)
      return errorExpr(e.range());
    // Each client evaluates for itself, so client results may differ.
    auto call = intrinsicCall(
        e, i, types_.placed(fn->result, p, p == Placement::Server),
        std::move(args));
    call->function = fn;
    return call;
  }
  const Type *t = args[0]->type;
  if (containsPlaced(t) || isa<PlacementLiteralType>(t) ||
      isa<FunctionType>(t) || args[0]->kind() == Expr::Kind::FunctionRef) {
    diags_.report(args[0]->range, DiagId::ExpectedUnplacedValue)
        .arg(name)
        .arg(describeValue(*args[0]));
    notePlacement(*args[0]);
    return errorExpr(e.range());
  }
  if (p == Placement::Clients &&
      !requireStaticShape(*args[0], t, name + "(..., CLIENTS)"))
    return errorExpr(e.range());
  return intrinsicCall(e, i, types_.placed(t, p, true), std::move(args));
}

ExprPtr Checker::checkBroadcast(const ast::CallExpr &e, Intrinsic i,
                                std::vector<ExprPtr> args) {
  std::string name = intrinsicName(i);
  if (args.size() != 1) {
    reportArgumentCount(e.range(), name, 1, args.size());
    return errorExpr(e.range());
  }
  if (rejectRawData(*args[0], "broadcast"))
    return errorExpr(e.range());
  const auto *p = dyn_cast<PlacedType>(args[0]->type);
  if (!p || p->placement != Placement::Server) {
    diags_.report(args[0]->range, DiagId::ExpectedPlacedValue)
        .arg(name)
        .arg("SERVER")
        .arg(describeValue(*args[0]));
    notePlacement(*args[0]);
    return errorExpr(e.range());
  }
  if (!requireStaticShape(*args[0], p->member, name))
    return errorExpr(e.range());
  return intrinsicCall(e, i, types_.placed(p->member, Placement::Clients, true),
                       std::move(args));
}

ExprPtr Checker::checkMap(const ast::CallExpr &e, Intrinsic,
                          std::vector<ExprPtr> args) {
  const std::string name = "federated_map";
  if (args.size() < 2) {
    reportArgumentCount(e.range(), name, "a function and at least one argument",
                        args.size());
    return errorExpr(e.range());
  }
  const Expr *atServer = nullptr, *atClients = nullptr;
  bool allEqual = true;
  std::vector<const Type *> members;
  std::vector<SourceRange> from;
  for (size_t k = 1; k < args.size(); ++k) {
    const Expr &a = *args[k];
    if (isa<PlacementLiteralType>(a.type) ||
        a.kind() == Expr::Kind::FunctionRef) {
      diags_.report(a.range, DiagId::PlacementMismatch)
          .arg("argument of federated_map")
          .arg("a value")
          .arg(a.kind() == Expr::Kind::FunctionRef ? "a function"
                                                   : "a placement");
      return errorExpr(e.range());
    }
    if (const auto *p = dyn_cast<PlacedType>(a.type)) {
      (p->placement == Placement::Server ? atServer : atClients) = &a;
      allEqual = allEqual && p->allEqual;
      members.push_back(p->member);
    } else {
      members.push_back(a.type); // an unplaced constant, the same everywhere
    }
    from.push_back(a.range);
  }
  if (atServer && atClients) {
    diags_.report(atServer->range, DiagId::MixedPlacements)
        .arg(name)
        .arg(describeValue(*atServer))
        .arg(describeValue(*atClients));
    notePlacement(*atServer);
    diags_.report(atServer->range, DiagId::NoteBroadcastFix);
    return errorExpr(e.range());
  }
  if (!atServer && !atClients) {
    const auto *ref = dyn_cast<RefExpr>(args[0].get());
    diags_.report(e.range(), DiagId::NoPlacedArgument)
        .arg(name)
        .arg(ref && ref->fnDecl ? ref->fnDecl->name.name : "the function");
    return errorExpr(e.range());
  }
  for (size_t k = 1; k < args.size(); ++k)
    if (!isa<PlacedType>(args[k]->type))
      adapt(args[k], members[k - 1]);
  const Function *fn =
      functionArgument(args[0], members, from, nullptr, e.range(), name);
  if (!fn)
    return errorExpr(e.range());
  Placement p = atServer ? Placement::Server : Placement::Clients;
  auto call = std::make_unique<IntrinsicCallExpr>(
      types_.placed(fn->result, p, allEqual || p == Placement::Server),
      e.range(), Intrinsic::Map, std::move(args));
  call->placementOrigin = e.range();
  call->function = fn;
  return call;
}

ExprPtr Checker::checkZip(const ast::CallExpr &e, Intrinsic,
                          std::vector<ExprPtr> args) {
  const std::string name = "federated_zip";
  if (args.size() < 2) {
    reportArgumentCount(e.range(), name, "at least 2 arguments", args.size());
    return errorExpr(e.range());
  }
  std::vector<const Type *> members;
  const Expr *atServer = nullptr, *atClients = nullptr;
  bool allEqual = true;
  for (const ExprPtr &a : args) {
    if (rejectRawData(*a, "zipped"))
      return errorExpr(e.range());
    const auto *p = dyn_cast<PlacedType>(a->type);
    if (!p) {
      diags_.report(a->range, DiagId::ExpectedPlacedValue)
          .arg(name)
          .arg("SERVER or CLIENTS")
          .arg(describeValue(*a));
      return errorExpr(e.range());
    }
    (p->placement == Placement::Server ? atServer : atClients) = a.get();
    allEqual = allEqual && p->allEqual;
    members.push_back(p->member);
  }
  if (atServer && atClients) {
    diags_.report(atServer->range, DiagId::MixedPlacements)
        .arg(name)
        .arg(describeValue(*atServer))
        .arg(describeValue(*atClients));
    notePlacement(*atServer);
    diags_.report(atServer->range, DiagId::NoteBroadcastFix);
    return errorExpr(e.range());
  }
  Placement p = atServer ? Placement::Server : Placement::Clients;
  auto call = std::make_unique<IntrinsicCallExpr>(
      types_.placed(types_.tuple(members), p, allEqual), e.range(),
      Intrinsic::Zip, std::move(args));
  call->placementOrigin = e.range();
  return call;
}

const PlacedType *Checker::aggregationInput(const Expr &x,
                                            const std::string &name) {
  if (rejectRawData(x, "aggregated"))
    return nullptr;
  const auto *p = dyn_cast<PlacedType>(x.type);
  if (!p || p->placement != Placement::Clients) {
    diags_.report(x.range, DiagId::ExpectedPlacedValue)
        .arg(name)
        .arg("CLIENTS")
        .arg(describeValue(x));
    notePlacement(x);
    return nullptr;
  }
  return p;
}

const PlacedType *
Checker::soleAggregationInput(const ast::CallExpr &e, const std::string &name,
                              const std::vector<ExprPtr> &args) {
  if (args.size() != 1) {
    reportArgumentCount(e.range(), name, "1 argument", args.size());
    return nullptr;
  }
  return aggregationInput(*args[0], name);
}

bool Checker::aggregatedLeavesFit(Intrinsic i, const Expr &x,
                                  const Type *member) {
  std::string leaf;
  if (i == Intrinsic::Mean) {
    leaf = firstOffendingLeaf(member,
                              [](const TensorType *t) { return t->isFloat(); });
    if (!leaf.empty()) {
      diags_.report(x.range, DiagId::NonFloatMean)
          .arg(describeLeaf(leaf, member));
      return false;
    }
  } else if (i == Intrinsic::SecureSum) {
    leaf = firstOffendingLeaf(
        member, [](const TensorType *t) { return t->isInteger(); });
    if (!leaf.empty()) {
      diags_.report(x.range, DiagId::NonIntegerSecureSum)
          .arg(describeLeaf(leaf, member));
      return false;
    }
  } else {
    leaf = firstOffendingLeaf(member,
                              [](const TensorType *t) { return !t->isBool(); });
    if (!leaf.empty()) {
      diags_.report(x.range, DiagId::NonNumericAggregate)
          .arg(intrinsicName(i))
          .arg(describeLeaf(leaf, member));
      return false;
    }
  }
  return true;
}

const Type *Checker::aggregationResult(Intrinsic i, const Expr &x,
                                       const Type *member) {
  // Sums, minima and maxima of bytes (u8, i8) are i64s at the server (the
  // runtime accumulates every integer in int64). A struct keeps its field
  // types, so one with byte fields is mapped to wider fields first.
  if (i == Intrinsic::Mean)
    return member;
  std::string leaf = firstOffendingLeaf(member, [](const TensorType *t) {
    return fedrt::elementSize(t->element) != 1 || t->isBool();
  });
  if (leaf.empty())
    return member;
  if (hasStruct(member)) {
    diags_.report(x.range, DiagId::ByteFieldAggregated)
        .arg(intrinsicName(i))
        .arg(describeLeaf(leaf, member));
    return nullptr;
  }
  return widenBytes(member);
}

bool Checker::weightArgument(IntrinsicCallExpr &call, ExprPtr v,
                             const std::string &intrinsic) {
  if (!expectType(v,
                  types_.placed(types_.scalar(ScalarKind::F32),
                                Placement::Clients, false),
                  "weight of " + intrinsic))
    return false;
  call.weighted = true;
  call.args.push_back(std::move(v));
  return true;
}

std::optional<double> Checker::constantKeyword(const Expr &v,
                                               const std::string &name,
                                               DiagId notConstant) {
  std::optional<double> x = numberConstant(v);
  if (!x)
    diags_.report(v.range, notConstant).arg(name).arg(formatType(v.type));
  return x;
}

bool Checker::aggregationKeywords(const ast::CallExpr &e,
                                  IntrinsicCallExpr &call) {
  for (const ast::Arg &a : e.args) {
    if (!a.name)
      continue;
    ExprPtr v = check(*a.value);
    if (a.name->name == "weight") {
      if (!weightArgument(call, std::move(v), "federated_mean"))
        return false;
    } else {
      std::optional<int64_t> bits = integerConstant(*v);
      if (!bits || *bits < 1 || *bits > 62) {
        diags_.report(v->range, DiagId::InvalidBitwidth)
            .arg(bits ? std::to_string(*bits) : formatType(v->type));
        return false;
      }
      call.bitwidth = static_cast<int>(*bits);
    }
  }
  if (call.intrinsic == Intrinsic::SecureSum && call.bitwidth == 0) {
    diags_.report(e.range(), DiagId::InvalidBitwidth)
        .arg("none (add bitwidth: B)");
    return false;
  }
  return true;
}

ExprPtr Checker::checkAggregation(const ast::CallExpr &e, Intrinsic i,
                                  std::vector<ExprPtr> args) {
  std::string name = intrinsicName(i);
  const PlacedType *p = soleAggregationInput(e, name, args);
  if (!p)
    return errorExpr(e.range());
  Expr &x = *args[0];
  const Type *member = p->member;
  if (!aggregatedLeavesFit(i, x, member) ||
      !requireStaticShape(x, member, name))
    return errorExpr(e.range());
  const Type *result = aggregationResult(i, x, member);
  if (!result)
    return errorExpr(e.range());
  auto call = std::make_unique<IntrinsicCallExpr>(
      types_.placed(result, Placement::Server, true), e.range(), i,
      std::move(args));
  call->placementOrigin = e.range();
  if (!aggregationKeywords(e, *call))
    return errorExpr(e.range());
  return call;
}

ExprPtr Checker::checkAggregate(const ast::CallExpr &e, Intrinsic,
                                std::vector<ExprPtr> args) {
  const std::string name = "federated_aggregate";
  if (args.size() != 5) {
    reportArgumentCount(e.range(), name,
                        "5 arguments (value, zero, accumulate, merge, report)",
                        args.size());
    return errorExpr(e.range());
  }
  Expr &x = *args[0];
  const PlacedType *p = aggregationInput(x, name);
  if (!p)
    return errorExpr(e.range());
  const Type *u = args[1]->type;
  if (containsPlaced(u) || isa<PlacementLiteralType>(u) ||
      args[1]->kind() == Expr::Kind::FunctionRef) {
    diags_.report(args[1]->range, DiagId::ExpectedUnplacedValue)
        .arg(name + " (its zero)")
        .arg(describeValue(*args[1]));
    notePlacement(*args[1]);
    return errorExpr(e.range());
  }
  SourceRange zr = args[1]->range;
  if (!requireStaticShape(x, p->member, name) ||
      !requireStaticShape(*args[1], u, name + " (its zero)"))
    return errorExpr(e.range());
  const Function *accumulate =
      functionArgument(args[2], {u, p->member}, {zr, x.range}, u, e.range(),
                       name + " (accumulate)");
  const Function *merge = accumulate
                              ? functionArgument(args[3], {u, u}, {zr, zr}, u,
                                                 e.range(), name + " (merge)")
                              : nullptr;
  const Function *report = merge
                               ? functionArgument(args[4], {u}, {zr}, nullptr,
                                                  e.range(), name + " (report)")
                               : nullptr;
  if (!report)
    return errorExpr(e.range());
  auto call = std::make_unique<IntrinsicCallExpr>(
      types_.placed(report->result, Placement::Server, true), e.range(),
      Intrinsic::Aggregate, std::move(args));
  call->placementOrigin = e.range();
  call->accumulate = accumulate;
  call->merge = merge;
  call->report = report;
  return call;
}

} // namespace fedc::sema
