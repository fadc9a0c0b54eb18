// `./prog describe`: the plan a compiled program carries.
#include "Options.h"

#include <cstdio>

namespace fedrt::cli {

namespace {

int64_t parameters(const TypeDesc &t) {
  if (t.kind == TypeDesc::Kind::Tensor)
    return t.elements();
  int64_t n = 0;
  for (const TypeDesc &c : t.children)
    n += parameters(c);
  return n;
}

const char *kindName(Aggregation::Kind k) {
  switch (k) {
  case Aggregation::Kind::Mean:
    return "federated_mean";
  case Aggregation::Kind::WeightedMean:
    return "federated_mean (weighted)";
  case Aggregation::Kind::Sum:
    return "federated_sum";
  case Aggregation::Kind::Min:
    return "federated_min";
  case Aggregation::Kind::Max:
    return "federated_max";
  case Aggregation::Kind::SecureSum:
    return "federated_secure_sum";
  case Aggregation::Kind::Custom:
    return "federated_aggregate";
  }
  return "?";
}

} // namespace

int describe(const PlanTable &plan) {
  if (plan.kind == PlanTable::Kind::Process) {
    std::printf("process %s: init %s, next %s, eval %s\n",
                plan.processName.c_str(), plan.init->name.c_str(),
                plan.next->name.c_str(),
                plan.eval ? plan.eval->name.c_str() : "(none)");
    const TypeDesc &state = plan.init->results.at(0);
    std::printf("state: %s (%lld parameters)\n", state.str().c_str(),
                static_cast<long long>(parameters(state)));
  } else if (plan.kind == PlanTable::Kind::Main) {
    std::printf("one-shot computation %s\n", plan.main->name.c_str());
  } else {
    std::printf("no process and no federated fn main\n");
  }
  std::printf("fingerprint: %016llx\n",
              static_cast<unsigned long long>(plan.fingerprint));
  for (const auto &c : plan.computations) {
    std::printf("\ncomputation %s: %zu stage%s, fingerprint %016llx\n",
                c->name.c_str(), c->stages.size(),
                c->stages.size() == 1 ? "" : "s",
                static_cast<unsigned long long>(c->fingerprint));
    for (const Computation::Input &in : c->inputs)
      std::printf("  input %s at %s: %s\n", in.name.c_str(),
                  in.clients ? "CLIENTS" : "SERVER", in.type.str().c_str());
    for (size_t k = 0; k < c->stages.size(); ++k) {
      const Stage &s = c->stages[k];
      std::printf("  stage %zu\n", k);
      for (const TypeDesc &b : s.broadcasts)
        std::printf("    broadcast %s (%lld values)\n", b.str().c_str(),
                    static_cast<long long>(parameters(b)));
      for (const Aggregation &a : s.aggregations) {
        std::printf("    %s of %s -> %s", kindName(a.kind),
                    a.value.str().c_str(), a.result.str().c_str());
        // What the coordinator learns (docs/secure-aggregation.md).
        if (a.kind == Aggregation::Kind::SecureSum)
          std::printf(" [secure: SecAgg+, values below 2^%d, sum mod "
                      "2^(%d + ceil(log2 clients))]",
                      a.bitwidth, a.bitwidth);
        std::printf("\n");
      }
    }
    for (const TypeDesc &r : c->results)
      std::printf("  result %s\n", r.str().c_str());
  }
  return 0;
}

} // namespace fedrt::cli
