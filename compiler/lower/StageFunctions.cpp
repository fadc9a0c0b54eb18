// Synthesizes the stage functions of a computation the runtime runs: per
// stage k a server fn (`round.server0`: the broadcasts and the zeros of
// custom aggregations, from the server inputs and earlier stages'
// results), a client fn (`round.client0`: every federated_map of the stage
// fused into one function, returning each aggregation's client value and
// a weighted mean's weight), and after the last stage the server update
// (`round.update`: the results). They are ordinary local fns — `let`s of
// calls, tuples and selections, returning a tuple — so codegen compiles
// them like any other, and their entry points have the slot layout the
// runtime passes (docs/abi.md).
#include "lower/Lowering.h"

#include <llvm/Support/Casting.h>

#include <algorithm>
#include <set>

namespace fedc::lower {

using llvm::dyn_cast;
using sema::Expr;
using sema::ExprPtr;

const sema::Type *unplaced(const sema::Type *t, sema::TypeContext &types) {
  if (const auto *p = dyn_cast<sema::PlacedType>(t))
    return p->member;
  if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    std::vector<const sema::Type *> members;
    for (const sema::Type *e : tuple->elements)
      members.push_back(unplaced(e, types));
    return types.tuple(members);
  }
  return t;
}

namespace {

// Builds one stage function: parameters bound to plan nodes, then `let`s
// computing the requested outputs on demand (each node once, in
// dependency order), then `return (outputs...)`.
class StageFunctionBuilder {
public:
  StageFunctionBuilder(const ComputationPlan &plan,
                       const DataflowSources &sources, sema::TypeContext &types,
                       const std::string &name)
      : plan_(plan), sources_(sources), types_(types) {
    fn_ = std::make_unique<sema::Function>();
    fn_->name = plan.computation->name + "." + name;
    fn_->decl = plan.computation->decl;
    fn_->checked = true;
    fn_->body = std::make_unique<sema::BlockStmt>(range());
  }

  void param(const Node *n) {
    sema::Local *p = local(n, sema::Local::Kind::Param);
    fn_->params.push_back(p);
    bound_[n] = p;
  }

  // Finishes the function returning `outputs` as one tuple.
  std::unique_ptr<sema::Function> finish(const std::vector<Node *> &outputs) {
    std::vector<const sema::Type *> types;
    std::vector<ExprPtr> values;
    for (const Node *n : outputs) {
      const sema::Local *l = value(n);
      types.push_back(l->type);
      values.push_back(ref(l));
    }
    fn_->result = types_.tuple(types);
    auto tuple = std::make_unique<sema::AggregateExpr>(
        Expr::Kind::TupleLiteral, fn_->result, range(), std::move(values));
    fn_->body->body.push_back(
        std::make_unique<sema::ReturnStmt>(range(), std::move(tuple)));
    return std::move(fn_);
  }

private:
  SourceRange range(const Node *n = nullptr) const {
    if (n)
      if (auto it = sources_.ranges.find(n); it != sources_.ranges.end())
        return it->second;
    return plan_.computation->decl->range();
  }

  sema::Local *local(const Node *n, sema::Local::Kind kind) {
    auto l = std::make_unique<sema::Local>();
    std::string name = n->name.empty() ? "v" + std::to_string(n->id) : n->name;
    if (!names_.insert(name).second)
      name += "." + std::to_string(n->id);
    names_.insert(name);
    l->name = name;
    l->type = unplaced(n->type, types_);
    l->isMutable = false;
    l->range = range(n);
    l->kind = kind;
    fn_->locals.push_back(std::move(l));
    return fn_->locals.back().get();
  }

  ExprPtr ref(const sema::Local *l) const {
    auto r = std::make_unique<sema::RefExpr>(Expr::Kind::LocalRef, l->type,
                                             l->range);
    r->local = l;
    return r;
  }

  // The local holding `n`'s value, computing it first if needed.
  const sema::Local *value(const Node *n) {
    if (auto it = bound_.find(n); it != bound_.end())
      return it->second;
    if (n->kind == Node::Kind::Value) // federated_value(x, P): x itself
      return bound_[n] = value(n->inputs[0]);
    ExprPtr init = compute(*n);
    sema::Local *l = local(n, sema::Local::Kind::Binding);
    fn_->body->body.push_back(
        std::make_unique<sema::LetStmt>(range(n), l, std::move(init)));
    return bound_[n] = l;
  }

  ExprPtr compute(const Node &n) {
    const sema::Type *type = unplaced(n.type, types_);
    std::vector<ExprPtr> args;
    for (const Node *in : n.inputs)
      args.push_back(ref(value(in)));
    switch (n.kind) {
    case Node::Kind::Constant:
      return sema::cloneExpr(
          *sources_.constants.at(&n),
          [this](const sema::Local *l) { return unplacedLocal(l); });
    case Node::Kind::Map:
    case Node::Kind::Eval:
      return std::make_unique<sema::CallExpr>(type, range(&n), n.function,
                                              std::move(args));
    case Node::Kind::Zip:
    case Node::Kind::Tuple:
      return std::make_unique<sema::AggregateExpr>(
          Expr::Kind::TupleLiteral, type, range(&n), std::move(args));
    case Node::Kind::Select: {
      std::string field = std::to_string(n.index);
      if (const auto *s =
              dyn_cast<sema::StructType>(unplaced(n.inputs[0]->type, types_)))
        field = s->fields[static_cast<size_t>(n.index)].name;
      return std::make_unique<sema::MemberExpr>(
          type, range(&n), std::move(args[0]), n.index, field);
    }
    default:
      // Inputs, broadcasts and aggregation results are parameters; a stage
      // that needs another stage's value would be a scheduling error.
      throw std::logic_error("stage function for '" + plan_.computation->name +
                             "' reads node %" + std::to_string(n.id) +
                             ", which it is not given");
    }
  }

  // A local of the federated fn read by a constant: one of its unplaced
  // lets (or an unplaced argument of an inlined fn), bound here first.
  const sema::Local *unplacedLocal(const sema::Local *l) {
    for (const auto &[local, node] : sources_.unplacedLocals)
      if (local == l)
        return value(node);
    throw std::logic_error("'" + l->name + "' is not an unplaced local");
  }

  const ComputationPlan &plan_;
  const DataflowSources &sources_;
  sema::TypeContext &types_;
  std::unique_ptr<sema::Function> fn_;
  std::map<const Node *, const sema::Local *> bound_;
  std::set<std::string> names_;
};

} // namespace

void synthesizeStageFunctions(ComputationPlan &plan,
                              const DataflowSources &sources,
                              sema::TypeContext &types, LoweredProgram &out) {
  std::vector<const Node *> serverInputs, clientInputs, aggregated;
  for (const Node *in : plan.inputs)
    (in->kind == Node::Kind::ClientInput ? clientInputs : serverInputs)
        .push_back(in);
  auto keep = [&](std::unique_ptr<sema::Function> fn) {
    out.stageFunctions.push_back(std::move(fn));
    return out.stageFunctions.back().get();
  };
  auto serverFunction = [&](const std::string &name) {
    StageFunctionBuilder b(plan, sources, types, name);
    for (const Node *in : serverInputs)
      b.param(in);
    for (const Node *a : aggregated)
      b.param(a);
    return b;
  };
  for (Stage &stage : plan.stages) {
    std::string k = std::to_string(stage.index);
    StageFunctionBuilder server = serverFunction("server" + k);
    std::vector<Node *> prepared;
    for (Node *bc : stage.broadcasts)
      prepared.push_back(bc->inputs[0]);
    for (Node *a : stage.aggregations)
      if (a->aggregation == fedrt::proto::CUSTOM)
        prepared.push_back(a->inputs[1]);
    stage.serverFn = keep(server.finish(prepared));

    StageFunctionBuilder client(plan, sources, types, "client" + k);
    for (const Node *bc : stage.broadcasts)
      client.param(bc);
    for (const Node *in : clientInputs)
      client.param(in);
    std::vector<Node *> values;
    for (Node *a : stage.aggregations) {
      values.push_back(a->inputs[0]);
      if (sendsWeight(*a))
        values.push_back(a->inputs[1]);
      aggregated.push_back(a);
    }
    if (plan.clientState && plan.clientState->level == stage.index) {
      values.push_back(plan.clientState);
      stage.writesClientState = true;
    }
    stage.clientFn = keep(client.finish(values));
  }
  plan.updateFn = keep(serverFunction("update").finish(plan.results));
}

} // namespace fedc::lower
