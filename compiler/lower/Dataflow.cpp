// Builds each federated fn's dataflow of placed values with federated calls
// inlined, then its schedule. A value's level is the
// number of aggregations on its longest input path; stage k runs the client
// work whose aggregations produce level k + 1, after broadcasting what it
// reads. Client values needed in a later stage are recomputed there from
// the client's data and the broadcasts (local fns are pure), so clients
// keep no state between stages.
#include "lower/Lowering.h"

#include <llvm/Support/Casting.h>

#include <algorithm>
#include <map>
#include <set>

namespace fedc::lower {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;
using sema::Expr;

namespace {

bool isPlaced(const sema::Type *t) { return isa<sema::PlacedType>(t); }
bool placedAtClients(const sema::Type *t) {
  const auto *p = dyn_cast<sema::PlacedType>(t);
  return p && p->placement == ast::Placement::Clients;
}

class DataflowBuilder {
public:
  DataflowBuilder(ComputationPlan &plan, DataflowSources &sources)
      : plan_(plan), sources_(sources) {}

  void build(const sema::Function &fn) {
    plan_.computation = &fn;
    std::map<const sema::Local *, Node *> frame;
    for (const sema::Local *p : fn.params) {
      Node *n = make(placedAtClients(p->type) ? Node::Kind::ClientInput
                                              : Node::Kind::ServerInput,
                     p->type, nullptr, {});
      n->name = p->name;
      sources_.ranges[n] = p->range;
      frame[p] = n;
      plan_.inputs.push_back(n);
    }
    Node *result = inlineBody(fn, frame);
    if (result && result->kind == Node::Kind::Tuple)
      plan_.results = result->inputs;
    else if (result)
      plan_.results = {result};
    schedule();
  }

private:
  Node *make(Node::Kind kind, const sema::Type *type, const Expr *expr,
             std::vector<Node *> inputs) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->id = static_cast<int>(plan_.nodes.size());
    n->type = type;
    n->atClients = placedAtClients(type);
    if (expr) {
      sources_.ranges[n.get()] = expr->range;
      if (kind == Node::Kind::Constant)
        sources_.constants[n.get()] = expr;
    }
    n->inputs = std::move(inputs);
    for (Node *in : n->inputs)
      n->level = std::max(n->level, in->level);
    if (kind == Node::Kind::Aggregate)
      n->level += 1;
    plan_.nodes.push_back(std::move(n));
    return plan_.nodes.back().get();
  }

  Node *inlineBody(const sema::Function &fn,
                   std::map<const sema::Local *, Node *> &frame) {
    frames_.push_back(&frame);
    Node *result = nullptr;
    for (const sema::StmtPtr &s : fn.body->body) {
      if (const auto *let = dyn_cast<sema::LetStmt>(s.get())) {
        Node *n = value(*let->init);
        if (n->name.empty())
          n->name = let->local->name;
        frame[let->local] = n;
        if (n->kind == Node::Kind::Constant)
          sources_.unplacedLocals.emplace_back(let->local, n);
      } else if (const auto *ret = dyn_cast<sema::ReturnStmt>(s.get())) {
        if (ret->value)
          result = value(*ret->value);
      }
    }
    frames_.pop_back();
    return result;
  }

  Node *value(const Expr &e) {
    if (!isPlaced(e.type) && !isPlacedTuple(e.type))
      return make(Node::Kind::Constant, e.type, &e, {});
    switch (e.kind()) {
    case Expr::Kind::LocalRef:
      return frames_.back()->at(cast<sema::RefExpr>(e).local);
    case Expr::Kind::Call: {
      const auto &call = cast<sema::CallExpr>(e);
      std::map<const sema::Local *, Node *> frame;
      for (size_t i = 0; i < call.args.size(); ++i) {
        Node *arg = value(*call.args[i]);
        frame[call.callee->params[i]] = arg;
        if (arg->kind == Node::Kind::Constant)
          sources_.unplacedLocals.emplace_back(call.callee->params[i], arg);
      }
      return inlineBody(*call.callee, frame);
    }
    case Expr::Kind::Member: {
      const auto &m = cast<sema::MemberExpr>(e);
      Node *base = value(*m.base);
      if (base->kind == Node::Kind::Tuple)
        return base->inputs.at(static_cast<size_t>(m.index));
      Node *n = make(Node::Kind::Select, e.type, &e, {base});
      n->index = m.index;
      return n;
    }
    case Expr::Kind::TupleLiteral: {
      std::vector<Node *> elements;
      for (const sema::ExprPtr &x : cast<sema::AggregateExpr>(e).elements)
        elements.push_back(value(*x));
      return make(Node::Kind::Tuple, e.type, &e, elements);
    }
    case Expr::Kind::IntrinsicCall:
      return intrinsic(cast<sema::IntrinsicCallExpr>(e));
    default:
      return make(Node::Kind::Constant, e.type, &e, {});
    }
  }

  static bool isPlacedTuple(const sema::Type *t) {
    const auto *tuple = dyn_cast<sema::TupleType>(t);
    if (!tuple)
      return false;
    for (const sema::Type *x : tuple->elements)
      if (isPlaced(x) || isPlacedTuple(x))
        return true;
    return false;
  }

  Node *intrinsic(const sema::IntrinsicCallExpr &call) {
    // Each intrinsic's node and aggregation kind, from the table.
    struct Lowering {
      Node::Kind node;
      const char *kind; // plan.proto's AggregationKind name, or "NONE"
    };
    static constexpr Lowering kLowering[] = {
#define INTRINSIC(Name, spelling, named, Typing, NodeKind, AggKind)            \
  {Node::Kind::NodeKind, #AggKind},
#include "sema/Intrinsics.def"
    };
    const Lowering &how = kLowering[static_cast<size_t>(call.intrinsic)];
    if (how.node == Node::Kind::ServerInput ||
        how.node == Node::Kind::ClientInput)
      return contextInput(call, how.node);
    std::vector<Node *> inputs;
    switch (how.node) {
    case Node::Kind::Map: // the function is call.function, not an input
      for (size_t i = 1; i < call.args.size(); ++i)
        inputs.push_back(value(*call.args[i]));
      break;
    case Node::Kind::Eval:
      break;
    case Node::Kind::Value:
    case Node::Kind::Broadcast: // the value (federated_value's placement
                                // literal is not an input)
      inputs.push_back(value(*call.args[0]));
      break;
    default:
      if (call.intrinsic == sema::Intrinsic::Aggregate) {
        // The value and the zero; the functions are fields of the call.
        inputs.push_back(value(*call.args[0]));
        inputs.push_back(value(*call.args[1]));
        break;
      }
      // zip's values; an aggregation's value (and a mean's weight).
      for (const sema::ExprPtr &a : call.args)
        inputs.push_back(value(*a));
      break;
    }
    Node *n = make(how.node, call.type, &call, inputs);
    n->function = call.intrinsic == sema::Intrinsic::Aggregate ? call.report
                                                               : call.function;
    if (how.node == Node::Kind::Aggregate) {
      fedrt::proto::AggregationKind_Parse(how.kind, &n->aggregation);
      if (n->aggregation == fedrt::proto::MEAN && call.weighted)
        n->aggregation = fedrt::proto::WEIGHTED_MEAN;
      n->accumulate = call.accumulate;
      n->merge = call.merge;
      n->bitwidth = call.bitwidth;
      n->secureRange = call.secureRange;
      n->weighted =
          n->aggregation == fedrt::proto::SECURE_MEAN && call.weighted;
      n->dp = call.dp;
    }
    return n;
  }

  // round_number() or client_seed(): one implicit input of the
  // computation, after its parameters, however often it is read.
  Node *contextInput(const sema::IntrinsicCallExpr &call, Node::Kind kind) {
    auto role = call.intrinsic == sema::Intrinsic::RoundNumber
                    ? fedrt::proto::Input::ROUND_NUMBER
                    : fedrt::proto::Input::CLIENT_SEED;
    for (Node *in : plan_.inputs)
      if (in->role == role)
        return in;
    Node *n = make(kind, call.type, nullptr, {});
    n->role = role;
    n->name = sema::intrinsicName(call.intrinsic);
    sources_.ranges[n] = call.range;
    plan_.inputs.push_back(n);
    return n;
  }

  // The client nodes stage work needs for `roots`, in dependency order;
  // broadcasts (and federated_value at CLIENTS) are where server values
  // enter.
  void clientClosure(const std::vector<Node *> &roots, std::set<Node *> &work,
                     std::set<Node *> &broadcasts) {
    std::vector<Node *> stack(roots.begin(), roots.end());
    while (!stack.empty()) {
      Node *n = stack.back();
      stack.pop_back();
      if (!n->atClients || n->kind == Node::Kind::ClientInput)
        continue;
      if (n->kind == Node::Kind::Broadcast || n->kind == Node::Kind::Value) {
        broadcasts.insert(n);
        continue;
      }
      if (!work.insert(n).second)
        continue;
      stack.insert(stack.end(), n->inputs.begin(), n->inputs.end());
    }
  }

  void schedule() {
    // Everything the results depend on.
    std::set<Node *> needed;
    std::vector<Node *> stack(plan_.results.begin(), plan_.results.end());
    while (!stack.empty()) {
      Node *n = stack.back();
      stack.pop_back();
      if (needed.insert(n).second)
        stack.insert(stack.end(), n->inputs.begin(), n->inputs.end());
    }
    int stages = 0;
    for (Node *n : needed) {
      if (n->kind == Node::Kind::Aggregate)
        stages = std::max(stages, n->level);
      if (n->atClients && std::find(plan_.results.begin(), plan_.results.end(),
                                    n) != plan_.results.end())
        stages = std::max(stages, n->level + 1);
    }
    plan_.stages.resize(static_cast<size_t>(stages));
    std::vector<std::set<Node *>> work(plan_.stages.size()),
        broadcasts(plan_.stages.size());
    auto byId = [](const Node *a, const Node *b) { return a->id < b->id; };
    std::vector<Node *> ordered(needed.begin(), needed.end());
    std::sort(ordered.begin(), ordered.end(), byId);
    for (Node *n : ordered) {
      if (n->kind == Node::Kind::Aggregate) {
        size_t k = static_cast<size_t>(n->level - 1);
        plan_.stages[k].aggregations.push_back(n);
        clientClosure({n->inputs[0]}, work[k], broadcasts[k]);
        if (sendsWeight(*n))
          clientClosure({n->inputs[1]}, work[k], broadcasts[k]);
      } else if (n->atClients) {
        if (std::find(plan_.results.begin(), plan_.results.end(), n) !=
            plan_.results.end())
          clientClosure({n}, work[static_cast<size_t>(n->level)],
                        broadcasts[static_cast<size_t>(n->level)]);
      } else if (n->kind != Node::Kind::ServerInput &&
                 n->kind != Node::Kind::Tuple) {
        if (n->level < stages)
          plan_.stages[static_cast<size_t>(n->level)].server.push_back(n);
        else
          plan_.serverUpdate.push_back(n);
      }
    }
    for (size_t k = 0; k < plan_.stages.size(); ++k) {
      Stage &s = plan_.stages[k];
      s.index = static_cast<int>(k);
      s.clientWork.assign(work[k].begin(), work[k].end());
      std::sort(s.clientWork.begin(), s.clientWork.end(), byId);
      s.broadcasts.assign(broadcasts[k].begin(), broadcasts[k].end());
      std::sort(s.broadcasts.begin(), s.broadcasts.end(), byId);
    }
  }

  ComputationPlan &plan_;
  DataflowSources &sources_;
  std::vector<std::map<const sema::Local *, Node *> *> frames_;
};

} // namespace

void buildDataflow(const sema::Function &fn, ComputationPlan &plan,
                   DataflowSources &sources) {
  DataflowBuilder(plan, sources).build(fn);
}

} // namespace fedc::lower
