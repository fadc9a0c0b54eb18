// `./prog describe`: the plan a compiled program carries.
#include "Options.h"

#include "fedrt/DpMechanism.h"
#include "fedrt/Privacy.h"
#include "fedrt/SecureMean.h"

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
  case Aggregation::Kind::DpMean:
    return "federated_dp_mean";
  case Aggregation::Kind::SecureMean:
    return "federated_secure_mean";
  }
  return "?";
}

// What the coordinator learns of a secure aggregation, and a secure
// mean's quantization (docs/secure-aggregation.md).
void describeSecure(const Aggregation &a) {
  if (a.kind == Aggregation::Kind::SecureSum) {
    std::printf(" [secure: SecAgg+, values below 2^%d, sum mod "
                "2^(%d + ceil(log2 clients))]",
                a.bitwidth, a.bitwidth);
    return;
  }
  double range = a.secureMean.range;
  std::printf(" [secure: SecAgg+, %svalues clipped to [-%g, %g], rounded "
              "stochastically to %d bits (step %g), sum mod 2^(%d + "
              "ceil(log2 clients) + 1)%s]",
              a.secureMean.weighted ? "weighted " : "", range, range,
              a.bitwidth, secure_mean::step(range, a.bitwidth), a.bitwidth,
              a.secureMean.weighted ? "; weights summed securely in fixed "
                                      "point (2^-16)"
                                    : "");
}

void describeDp(const DpParameters &p) {
  std::printf("      clip %g%s, noise multiplier %g", p.clip,
              p.adaptive ? " (initial; adaptive)" : "", p.noiseMultiplier);
  if (p.adaptive)
    std::printf(", target quantile %g, clip learning rate %g", p.targetQuantile,
                p.clipLearningRate);
  if (p.maxWeight > 0)
    std::printf(", max weight %g", p.maxWeight);
  std::printf("\n");
}

// ε of a run with the flags given (docs/privacy.md), before it runs.
int describePrivacy(const PlanTable &plan, const Options &o) {
  if (plan.kind != PlanTable::Kind::Process)
    return 0;
  std::vector<const Aggregation *> train = DpMechanism::releases(*plan.next),
                                   eval;
  if (plan.eval)
    eval = DpMechanism::releases(*plan.eval);
  if (train.empty() && eval.empty())
    return 0;
  if (o.clients <= 0) {
    std::printf("\nprivacy: give --rounds R --clients N --clients-per-round K "
                "[--dp-delta δ] to see the ε of a run\n");
    return 0;
  }
  int64_t k = o.clientsPerRound == 0 ? o.clients : o.clientsPerRound;
  if (k > o.clients) {
    reportError("--clients-per-round " + std::to_string(k) +
                " is more than --clients " + std::to_string(o.clients));
    return 2;
  }
  // eval runs every --eval-every rounds and after the last, on every
  // client (q = 1).
  int64_t evaluations = 0;
  for (int64_t r = 1; r <= o.rounds; ++r)
    evaluations += r == o.rounds || (o.evalEvery > 0 && r % o.evalEvery == 0);
  const std::vector<double> &orders = privacy::defaultOrders();
  std::vector<double> total(orders.size(), 0.0);
  auto compose = [&](const std::vector<const Aggregation *> &releases, double q,
                     int64_t steps) {
    for (const Aggregation *a : releases) {
      absl::StatusOr<std::vector<double>> rdp =
          privacy::composedRdp(q, a->dp.noiseMultiplier, steps, orders);
      for (size_t i = 0; rdp.ok() && i < total.size(); ++i)
        total[i] += (*rdp)[i];
    }
  };
  compose(train, static_cast<double>(k) / o.clients, o.rounds);
  compose(eval, 1.0, evaluations);
  absl::StatusOr<privacy::Epsilon> eps =
      privacy::epsilonFromRdp(orders, total, o.dpDelta);
  if (!eps.ok()) {
    reportError(std::string(eps.status().message()));
    return 2;
  }
  std::printf("\nprivacy: user-level (ε, δ)-DP after %lld rounds of %lld of "
              "%d clients (q = %g), δ = %g: ε = %.6g (RDP order %g)\n",
              static_cast<long long>(o.rounds), static_cast<long long>(k),
              o.clients, static_cast<double>(k) / o.clients, o.dpDelta,
              eps->epsilon, eps->order);
  if (o.dpDelta >= 1.0 / o.clients)
    std::fprintf(stderr,
                 "warning: --dp-delta %g is not below 1/%d (1 over the "
                 "population)\n",
                 o.dpDelta, o.clients);
  return 0;
}

} // namespace

int describe(const PlanTable &plan, const Options &o) {
  if (plan.kind == PlanTable::Kind::Process) {
    std::printf("process %s: init %s, next %s, eval %s\n",
                plan.processName.c_str(), plan.init->name.c_str(),
                plan.next->name.c_str(),
                plan.eval ? plan.eval->name.c_str() : "(none)");
    const TypeDesc &state = plan.init->results.at(0);
    std::printf("state: %s (%lld parameters)\n", state.str().c_str(),
                static_cast<long long>(parameters(state)));
    if (plan.hasClientState)
      std::printf("client state: %s (%lld parameters per client, from "
                  "client_init; kept at the clients)\n",
                  plan.clientState.str().c_str(),
                  static_cast<long long>(parameters(plan.clientState)));
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
      std::printf("  input %s at %s: %s%s\n", in.name.c_str(),
                  in.clients ? "CLIENTS" : "SERVER", in.type.str().c_str(),
                  in.role == Computation::Input::Role::Parameter ? ""
                  : in.role == Computation::Input::Role::ClientState
                      ? " (client state: stays at the clients)"
                      : " (run context)");
    for (size_t k = 0; k < c->stages.size(); ++k) {
      const Stage &s = c->stages[k];
      std::printf("  stage %zu\n", k);
      for (const TypeDesc &b : s.broadcasts)
        std::printf("    broadcast %s (%lld values)\n", b.str().c_str(),
                    static_cast<long long>(parameters(b)));
      for (const Aggregation &a : s.aggregations) {
        std::printf("    %s of %s -> %s", kindName(a.kind),
                    a.value.str().c_str(), a.result.str().c_str());
        if (a.secure())
          describeSecure(a);
        std::printf("\n");
        if (a.kind == Aggregation::Kind::DpMean)
          describeDp(a.dp);
      }
      if (s.writesClientState)
        std::printf("    the clients keep their new state (not sent)\n");
    }
    for (const TypeDesc &r : c->results)
      std::printf("  result %s\n", r.str().c_str());
  }
  return describePrivacy(plan, o);
}

} // namespace fedrt::cli
