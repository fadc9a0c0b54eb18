// Reading the plan a program carries (fedrt/Plan.h) from its serialized
// fedrt.proto.Plan.
#include "fedrt/Plan.h"

#include "fedrt/SecureMean.h"
#include "plan.pb.h"

#include <bit>
#include <cmath>

namespace fedrt {

namespace {

using K = Aggregation::Kind;

// Aggregation::Kind follows plan.proto's AggregationKind.
static_assert(static_cast<int>(K::Mean) == proto::MEAN &&
              static_cast<int>(K::WeightedMean) == proto::WEIGHTED_MEAN &&
              static_cast<int>(K::Sum) == proto::SUM &&
              static_cast<int>(K::Min) == proto::MIN &&
              static_cast<int>(K::Max) == proto::MAX &&
              static_cast<int>(K::SecureSum) == proto::SECURE_SUM &&
              static_cast<int>(K::Custom) == proto::CUSTOM &&
              static_cast<int>(K::DpMean) == proto::DP_MEAN &&
              static_cast<int>(K::SecureMean) == proto::SECURE_MEAN);

bool floatLeaves(const TypeDesc &t) {
  if (t.kind == TypeDesc::Kind::Tensor)
    return isFloat(t.element);
  for (const TypeDesc &c : t.children)
    if (!floatLeaves(c))
      return false;
  return true;
}

class PlanReader {
public:
  PlanReader(const StageFn *functions, size_t count)
      : functions_(functions), count_(count) {}

  absl::Status function(int32_t index, StageFn &out) const {
    if (index < 0 || static_cast<size_t>(index) >= count_)
      return absl::InvalidArgumentError(
          "function index " + std::to_string(index) + " is out of range");
    out = functions_[index];
    return absl::OkStatus();
  }

  static absl::Status type(const proto::Type &in, TypeDesc &out) {
    absl::StatusOr<TypeDesc> t = TypeDesc::fromProto(in);
    if (!t.ok())
      return t.status();
    out = *std::move(t);
    return absl::OkStatus();
  }

  absl::Status aggregation(const proto::Aggregation &in,
                           Aggregation &out) const {
    if (!proto::AggregationKind_IsValid(in.kind()))
      return absl::InvalidArgumentError("an unknown aggregation kind");
    out.kind = static_cast<K>(in.kind());
    out.bitwidth = in.bitwidth();
    if (out.kind == K::DpMean) {
      const proto::DpMean &dp = in.dp();
      out.dp = {dp.clip(),
                dp.noise_multiplier(),
                dp.adaptive(),
                dp.target_quantile(),
                dp.clip_learning_rate(),
                dp.clipped_count_stddev(),
                dp.max_weight()};
      // The compiler checked these; a plan from elsewhere is checked too.
      const DpParameters &p = out.dp;
      if (!(p.clip > 0) || !std::isfinite(p.clip) ||
          !(p.noiseMultiplier >= 0) || !std::isfinite(p.noiseMultiplier) ||
          !(p.maxWeight >= 0) || !std::isfinite(p.maxWeight) ||
          (p.adaptive &&
           !(p.targetQuantile >= 0 && p.targetQuantile <= 1 &&
             p.clipLearningRate > 0 && std::isfinite(p.clipLearningRate))))
        return absl::InvalidArgumentError(
            "federated_dp_mean has invalid parameters");
    }
    if (out.kind == K::SecureMean) {
      out.secureMean = {in.secure_mean().range(), in.secure_mean().weighted()};
      double r = out.secureMean.range;
      if (!(r > 0) || !std::isfinite(2 * r) || out.bitwidth < 1 ||
          out.bitwidth > secure_mean::kMaxBits)
        return absl::InvalidArgumentError(
            "federated_secure_mean has invalid parameters");
    }
    if (out.kind == K::Custom) {
      for (auto [index, fn] : {std::pair{in.accumulate_fn(), &out.accumulate},
                               std::pair{in.merge_fn(), &out.merge},
                               std::pair{in.report_fn(), &out.report}})
        if (absl::Status s = function(index, *fn); !s.ok())
          return s;
      if (absl::Status s = type(in.accumulator(), out.accumulator); !s.ok())
        return s;
    }
    if (absl::Status s = type(in.value(), out.value); !s.ok())
      return s;
    if (out.kind == K::SecureMean && !floatLeaves(out.value))
      return absl::InvalidArgumentError(
          "federated_secure_mean of a value that is not floating-point");
    return type(in.result(), out.result);
  }

  absl::Status computation(const proto::Computation &in,
                           Computation &out) const {
    out.name = in.name();
    out.fingerprint = in.fingerprint();
    for (const proto::Input &i : in.inputs()) {
      Computation::Input input;
      input.name = i.name();
      input.clients = i.at_clients();
      using Role = Computation::Input::Role;
      switch (i.role()) {
      case proto::Input::PARAMETER:
        break;
      case proto::Input::ROUND_NUMBER:
        input.role = Role::RoundNumber;
        break;
      case proto::Input::CLIENT_SEED:
        input.role = Role::ClientSeed;
        break;
      case proto::Input::CLIENT_STATE:
        input.role = Role::ClientState;
        break;
      default:
        return absl::InvalidArgumentError("an input of '" + in.name() +
                                          "' has an unknown role");
      }
      if ((input.role == Role::RoundNumber && input.clients) ||
          (input.role == Role::ClientSeed && !input.clients) ||
          (input.role == Role::ClientState && !input.clients))
        return absl::InvalidArgumentError("input '" + input.name + "' of '" +
                                          in.name() +
                                          "' has the wrong placement");
      if (absl::Status s = type(i.type(), input.type); !s.ok())
        return s;
      out.inputs.push_back(std::move(input));
    }
    for (const proto::Stage &st : in.stages()) {
      Stage stage;
      if (absl::Status s = function(st.server_fn(), stage.server); !s.ok())
        return s;
      if (absl::Status s = function(st.client_fn(), stage.client); !s.ok())
        return s;
      for (const proto::Type &b : st.broadcasts()) {
        stage.broadcasts.emplace_back();
        if (absl::Status s = type(b, stage.broadcasts.back()); !s.ok())
          return s;
      }
      for (const proto::Aggregation &a : st.aggregations()) {
        stage.aggregations.emplace_back();
        if (absl::Status s = aggregation(a, stage.aggregations.back()); !s.ok())
          return s;
      }
      stage.writesClientState = st.writes_client_state();
      out.stages.push_back(std::move(stage));
    }
    if (absl::Status s = function(in.update_fn(), out.update); !s.ok())
      return s;
    for (const proto::Type &r : in.results()) {
      out.results.emplace_back();
      if (absl::Status s = type(r, out.results.back()); !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  // client_init's entry and C, checked against what next and eval read
  // and write: the state next writes in exactly one stage is what it
  // (and eval) read.
  absl::Status clientState(const proto::Process &in, PlanTable &out) const {
    if (in.has_client_state()) {
      out.hasClientState = true;
      if (absl::Status s = type(in.client_state(), out.clientState); !s.ok())
        return s;
      if (absl::Status s = function(in.client_init_fn(), out.clientInit);
          !s.ok())
        return s;
    }
    for (const auto &c : out.computations) {
      int writes = 0;
      for (const Stage &st : c->stages)
        writes += st.writesClientState ? 1 : 0;
      bool reads = false;
      for (const Computation::Input &i : c->inputs)
        if (i.role == Computation::Input::Role::ClientState) {
          reads = true;
          if (!out.hasClientState || !(i.type == out.clientState))
            return absl::InvalidArgumentError(
                "'" + c->name + "' reads a client state the process does " +
                "not have");
        }
      bool isNext = c.get() == out.next;
      if (writes > (isNext && out.hasClientState ? 1 : 0) ||
          (isNext && out.hasClientState && (writes != 1 || !reads)) ||
          (reads && !isNext && c.get() != out.eval))
        return absl::InvalidArgumentError(
            "'" + c->name + "' does not read and write the client state as " +
            "a process's next does");
    }
    return absl::OkStatus();
  }

private:
  const StageFn *functions_;
  size_t count_;
};

} // namespace

int Aggregation::secureModulusBits(uint64_t clients) const {
  int log2 = clients <= 1 ? 0 : static_cast<int>(std::bit_width(clients - 1));
  // Values below 2^b sum below 2^(b + ceil(log2 n)); a secure mean's
  // levels keep one bit more (fedrt/SecureMean.h).
  return bitwidth + log2 + (kind == Kind::SecureMean ? 1 : 0);
}

const Computation::Input *Computation::clientStateInput() const {
  for (const Input &in : inputs)
    if (in.role == Input::Role::ClientState)
      return &in;
  return nullptr;
}

bool Computation::readsClientSeed() const {
  for (const Input &in : inputs)
    if (in.role == Input::Role::ClientSeed)
      return true;
  return false;
}

const char *aggregationName(Aggregation::Kind kind) {
  switch (kind) {
  case K::Mean:
  case K::WeightedMean:
    return "federated_mean";
  case K::Sum:
    return "federated_sum";
  case K::Min:
    return "federated_min";
  case K::Max:
    return "federated_max";
  case K::SecureSum:
    return "federated_secure_sum";
  case K::Custom:
    return "federated_aggregate";
  case K::DpMean:
    return "federated_dp_mean";
  case K::SecureMean:
    return "federated_secure_mean";
  }
  return "aggregation";
}

const Computation *PlanTable::find(const std::string &name) const {
  for (const auto &c : computations)
    if (c->name == name)
      return c.get();
  return nullptr;
}

absl::Status loadPlan(const void *bytes, size_t size, const StageFn *functions,
                      size_t functionCount, PlanTable &out) {
  out = PlanTable{};
  proto::Plan plan;
  if (size > static_cast<size_t>(INT32_MAX) ||
      !plan.ParseFromArray(bytes, static_cast<int>(size)))
    return absl::InvalidArgumentError("the plan does not parse");
  if (plan.version() != proto::PLAN_VERSION_CURRENT)
    return absl::InvalidArgumentError(
        "plan version " + std::to_string(plan.version()) + ", this runtime " +
        "reads version " + std::to_string(proto::PLAN_VERSION_CURRENT));
  PlanReader reader(functions, functionCount);
  for (const proto::Computation &c : plan.computations()) {
    auto comp = std::make_unique<Computation>();
    if (absl::Status s = reader.computation(c, *comp); !s.ok())
      return absl::InvalidArgumentError("computation '" + c.name() +
                                        "': " + std::string(s.message()));
    out.computations.push_back(std::move(comp));
  }
  out.functionNames.assign(plan.functions().begin(), plan.functions().end());
  out.fingerprint = plan.fingerprint();
  auto require = [&](const std::string &name, const Computation *&slot) {
    slot = out.find(name);
    if (!slot)
      return absl::InvalidArgumentError("computation '" + name +
                                        "' is missing");
    return absl::OkStatus();
  };
  if (plan.has_process()) {
    out.kind = PlanTable::Kind::Process;
    out.processName = plan.process().name();
    for (auto [name, slot] : {std::pair{&plan.process().init(), &out.init},
                              std::pair{&plan.process().next(), &out.next}})
      if (absl::Status s = require(*name, *slot); !s.ok())
        return s;
    if (!plan.process().eval().empty())
      if (absl::Status s = require(plan.process().eval(), out.eval); !s.ok())
        return s;
    if (absl::Status s = reader.clientState(plan.process(), out); !s.ok())
      return s;
  } else if (plan.has_main()) {
    out.kind = PlanTable::Kind::Main;
    if (absl::Status s = require(plan.main(), out.main); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

} // namespace fedrt
