// The plan a compiled program carries (plan.proto; docs/abi.md, "The
// plan"): its computations, their stages, the layouts of the values that
// cross between server and clients, and the stage functions, read once at
// start-up from the bytes and the function table codegen emits.
#pragma once

#include "fedrt/Types.h"
#include "fedrt/abi.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fedrt {

// Every compiled function the plan names has the entry-point signature.
using StageFn = fedrt_entry_fn;

// federated_dp_mean's parameters (plan.proto's DpMean; docs/privacy.md).
struct DpParameters {
  double clip = 0; // L2 norm bound; the initial one when adaptive
  double noiseMultiplier = 0;
  bool adaptive = false;
  double targetQuantile = 0.5, clipLearningRate = 0.2;
  double clippedCountStddev = -1; // < 0: 0.05 x clients per round
  double maxWeight = 0;           // 0: unweighted
};

// federated_secure_mean's parameters (plan.proto's SecureMean;
// docs/secure-aggregation.md); its bits are Aggregation::bitwidth.
struct SecureMeanParameters {
  double range = 0; // values (times their weight) clipped to [-range, range]
  bool weighted = false; // the clients also send an f32 weight
};

struct Aggregation {
  // plan.proto's AggregationKind, in its order.
  enum class Kind {
    Mean,
    WeightedMean,
    Sum,
    Min,
    Max,
    SecureSum,
    Custom,
    DpMean,
    SecureMean
  };
  Kind kind = Kind::Sum;
  int bitwidth = 0; // SecureSum; SecureMean's quantization bits
  StageFn accumulate = nullptr, merge = nullptr, report = nullptr; // Custom
  TypeDesc value, accumulator, result;
  DpParameters dp;                 // DpMean
  SecureMeanParameters secureMean; // SecureMean

  // Whether each client also sends a weight: a weighted mean, a weighted
  // DP or secure mean.
  bool weighted() const {
    return kind == Kind::WeightedMean ||
           (kind == Kind::SecureMean && secureMean.weighted) ||
           (kind == Kind::DpMean && dp.maxWeight > 0);
  }
  // The slots one client's value takes in its client fn's output: the
  // value, then the weight of a weighted mean.
  size_t clientSlots() const { return value.slots() + (weighted() ? 1 : 0); }
  // Whether SecAgg+ sums it (docs/secure-aggregation.md).
  bool secure() const {
    return kind == Kind::SecureSum || kind == Kind::SecureMean;
  }
  // The modulus (in bits) SecAgg+ must sum it in over `clients` clients for
  // the sum to be exact: b + ceil(log2 clients), one more for a secure
  // mean's levels.
  int secureModulusBits(uint64_t clients) const;
};

// The intrinsic an aggregation kind comes from: "federated_mean".
const char *aggregationName(Aggregation::Kind kind);

struct Stage {
  StageFn server = nullptr, client = nullptr;
  std::vector<TypeDesc> broadcasts;
  std::vector<Aggregation> aggregations;
  // The client fn's outputs end with the client's new state (a process's
  // next with client state; PlanTable::clientState).
  bool writesClientState = false;
};

struct Computation {
  std::string name;
  uint64_t fingerprint = 0;
  struct Input {
    // A parameter of the federated fn, or a run-context value the runtime
    // supplies (plan.proto's Input.Role, in its order).
    enum class Role { Parameter, RoundNumber, ClientSeed, ClientState };
    bool clients = false;
    std::string name;
    TypeDesc type;
    Role role = Role::Parameter;
    // Client data: a parameter at CLIENTS (what --data binds).
    bool isData() const { return clients && role == Role::Parameter; }
  };
  std::vector<Input> inputs;
  std::vector<Stage> stages;
  StageFn update = nullptr;
  std::vector<TypeDesc> results;
  // Whether the computation reads client_seed().
  bool readsClientSeed() const;
  // The client-state input (a process's C), or null when it reads none.
  const Input *clientStateInput() const;
  bool readsClientState() const { return clientStateInput() != nullptr; }
  // Whether a stage computes new client states (a process's next).
  bool writesClientState() const {
    for (const Stage &s : stages)
      if (s.writesClientState)
        return true;
    return false;
  }
};

struct PlanTable {
  enum class Kind { None, Process, Main } kind = Kind::None;
  std::string processName;
  const Computation *init = nullptr, *next = nullptr, *eval = nullptr,
                    *main = nullptr;
  std::vector<std::unique_ptr<Computation>> computations;
  std::vector<std::string> functionNames; // by index in the function table
  uint64_t fingerprint = 0;               // of the whole program
  // A process with client state (docs/language.md, "Client state"): C,
  // and client_init's entry (no inputs; writes C's slots).
  bool hasClientState = false;
  TypeDesc clientState;
  StageFn clientInit = nullptr;

  const Computation *find(const std::string &name) const;
};

// Reads a serialized fedrt.proto.Plan against `functions` (the entries its
// indices refer to). InvalidArgument for bytes that do not parse, another
// plan version, an index out of range or a missing process computation.
absl::Status loadPlan(const void *bytes, size_t size, const StageFn *functions,
                      size_t functionCount, PlanTable &out);

} // namespace fedrt
