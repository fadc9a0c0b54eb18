// `fedc --emit=plan`: each federated computation's inputs, stages and
// server update, one value per line; then the stage functions synthesized
// for the computations the runtime runs, as typed code.
#include "lower/Plan.h"
#include "sema/Sema.h"

#include <llvm/Support/Casting.h>

#include <fmt/format.h>

#include <sstream>

namespace fedc::lower {

namespace {

std::string ref(const Node *n) { return fmt::format("%{}", n->id); }

std::string refs(const std::vector<Node *> &nodes, size_t from = 0) {
  std::string s;
  for (size_t i = from; i < nodes.size(); ++i)
    s += (i > from ? ", " : "") + ref(nodes[i]);
  return s;
}

std::string describe(const Node &n) {
  switch (n.kind) {
  case Node::Kind::ServerInput:
  case Node::Kind::ClientInput:
    return n.role == fedrt::proto::Input::PARAMETER ? "input" : n.name + "()";
  case Node::Kind::Constant:
    return "constant";
  case Node::Kind::Value:
    return "federated_value(" + refs(n.inputs) + ")";
  case Node::Kind::Broadcast:
    return "federated_broadcast(" + refs(n.inputs) + ")";
  case Node::Kind::Map:
    return "federated_map " + n.function->name + "(" + refs(n.inputs) + ")";
  case Node::Kind::Zip:
    return "federated_zip(" + refs(n.inputs) + ")";
  case Node::Kind::Eval:
    return "federated_eval " + n.function->name;
  case Node::Kind::Select:
    return fmt::format("{}.{}", ref(n.inputs[0]), n.index);
  case Node::Kind::Tuple:
    return "(" + refs(n.inputs) + ")";
  case Node::Kind::Aggregate:
    switch (n.aggregation) {
    case fedrt::proto::WEIGHTED_MEAN:
      return "federated_mean(" + ref(n.inputs[0]) +
             ", weight: " + ref(n.inputs[1]) + ")";
    case fedrt::proto::SECURE_SUM:
      return fmt::format("federated_secure_sum({}, bitwidth: {})",
                         refs(n.inputs), n.bitwidth);
    case fedrt::proto::SECURE_MEAN:
      return fmt::format("federated_secure_mean({}{}, range: {}, bits: {})",
                         ref(n.inputs[0]),
                         n.weighted ? ", weight: " + ref(n.inputs[1]) : "",
                         n.secureRange, n.bitwidth);
    case fedrt::proto::DP_MEAN:
      return fmt::format(
          "federated_dp_mean({}, clip: {}, noise_multiplier: {}{}{})",
          refs(n.inputs), n.dp.clip, n.dp.noiseMultiplier,
          n.dp.adaptive
              ? fmt::format(", target_quantile: {}, "
                            "clip_learning_rate: {}",
                            n.dp.targetQuantile, n.dp.clipLearningRate)
              : "",
          n.dp.maxWeight > 0 ? fmt::format(", max_weight: {}", n.dp.maxWeight)
                             : "");
    case fedrt::proto::CUSTOM:
      return "federated_aggregate(" + refs(n.inputs) +
             ", accumulate: " + n.accumulate->name +
             ", merge: " + n.merge->name + ", report: " + n.function->name +
             ")";
    case fedrt::proto::MEAN:
      return "federated_mean(" + refs(n.inputs) + ")";
    case fedrt::proto::MIN:
      return "federated_min(" + refs(n.inputs) + ")";
    case fedrt::proto::MAX:
      return "federated_max(" + refs(n.inputs) + ")";
    default:
      return "federated_sum(" + refs(n.inputs) + ")";
    }
  }
  return "?";
}

void line(std::ostream &out, const Node &n, int indent) {
  out << std::string(static_cast<size_t>(indent), ' ') << ref(&n);
  if (!n.name.empty())
    out << ' ' << n.name;
  out << " = " << describe(n) << " : " << sema::formatType(n.type) << "\n";
}

void printComputation(const ComputationPlan &plan, std::ostream &out) {
  size_t stages = plan.stages.size();
  out << fmt::format("plan {}: {} stage{}, fingerprint {:016x}\n",
                     plan.computation->name, stages, stages == 1 ? "" : "s",
                     plan.fingerprint);
  for (const Node *in : plan.inputs)
    out << "  input " << ref(in) << ' ' << in->name << " : "
        << sema::formatType(in->type) << "\n";
  for (const Stage &s : plan.stages) {
    out << "  stage " << s.index << "\n";
    if (!s.server.empty()) {
      out << "    server:\n";
      for (const Node *n : s.server)
        line(out, *n, 6);
    }
    out << "    broadcast:\n";
    for (const Node *n : s.broadcasts)
      line(out, *n, 6);
    out << "    clients (one fused client fn):\n";
    for (const Node *n : s.clientWork)
      line(out, *n, 6);
    out << "    aggregate:\n";
    for (const Node *n : s.aggregations)
      line(out, *n, 6);
    if (s.writesClientState) // stays at the clients, never aggregated
      out << "    keep at clients (new client state): " << ref(plan.clientState)
          << "\n";
  }
  if (!plan.serverUpdate.empty()) {
    out << "  server update:\n";
    for (const Node *n : plan.serverUpdate)
      line(out, *n, 4);
  }
  out << "  result " << refs(plan.results) << "\n";
}

} // namespace

void printPlan(const LoweredProgram &lowered, const SourceManager &sm,
               std::ostream &out) {
  for (const ComputationPlan &p : lowered.computations)
    printComputation(p, out);
  if (lowered.stageFunctions.empty())
    return;
  out << "stage functions:\n";
  for (const auto &fn : lowered.stageFunctions)
    printFunction(*fn, &sm, out);
}

} // namespace fedc::lower
