// Runs one computation of the plan: for each stage, the server fn, then
// the stage's client work through a ClientBackend (local threads or remote
// workers), the report of each aggregation; then the server update. The
// executor is the server's side of TFF's federating executor; everything a
// client computes goes through the backend, so the same executor serves
// `simulate` and `serve`.
#pragma once

#include "fedrt/ClientBackend.h"
#include "fedrt/Context.h"
#include "fedrt/DpMechanism.h"
#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include "absl/status/statusor.h"

#include <vector>

namespace fedrt {

// What happens when some clients fail (their failures are in RunStats):
// FailRun reports the first failure in cohort order as the run's error
// (simulation: a failing client is a bug to fix); DropClient leaves them
// out of the round (remote execution: devices fail).
enum class FailurePolicy { FailRun, DropClient };

struct RunStats {
  int64_t bytesDown = 0, bytesUp = 0; // summed over stages
  int64_t blocks = 0;                 // most blocks of the cohort in one stage
  int64_t threadsUsed = 0; // most threads that ran a block in one stage
  int64_t reported = 0;    // clients of the last stage that reported
  int64_t failed = 0;      // clients left out after failing (any stage)
  int64_t dropped = 0;     // clients left out after not reporting
  SecAggStats secagg;      // summed over stages
  std::vector<ClientFailure> failures;
};

class Executor {
public:
  explicit Executor(ClientBackend &clients,
                    FailurePolicy policy = FailurePolicy::FailRun);

  // `server` holds the computation's server parameters in order; `cohort`
  // the clients that take part; `round` is what round_number() reads.
  // `population` (ascending) is where client_seed() takes each client's
  // position from; null: the cohort is the population (a one-shot main).
  // The results, or the first error (a server fn's failed check, a client
  // failure under FailRun, an aggregation over no clients).
  absl::StatusOr<std::vector<HostValue>>
  run(const Computation &comp, const std::vector<const HostValue *> &server,
      const std::vector<int64_t> &cohort, int64_t round = 0,
      RunStats *stats = nullptr,
      const std::vector<int64_t> *population = nullptr);

  // The run's seed (--seed), from which client_seed() derives.
  void setSeed(uint64_t seed) { seed_ = seed; }

  // The mechanism that clips and releases federated_dp_mean (the round
  // loop's, shared by its executors; not owned). Unset, an executor that
  // meets a DP mean makes its own: noise from the OS, the cohort's size
  // as the denominator (a one-shot main).
  void setPrivacy(DpMechanism *dp) { privacy_ = dp; }

private:
  // Calls a server-side stage function on the server inputs and the
  // aggregates so far; its outputs have the types `outs`.
  absl::StatusOr<std::vector<HostValue>>
  callServer(StageFn fn, const std::vector<uint64_t> &serverSlots,
             const std::vector<HostValue> &aggregated,
             const std::vector<const TypeDesc *> &aggregatedTypes,
             const std::vector<const TypeDesc *> &outs);

  // The mechanism releasing DP means (see setPrivacy).
  absl::StatusOr<DpMechanism *> privacy(int64_t round, size_t cohort);

  ClientBackend &clients_;
  FailurePolicy policy_;
  DpMechanism *privacy_ = nullptr;
  std::unique_ptr<DpMechanism> ownPrivacy_;
  Context serverContext_;
  uint64_t seed_ = 0;
};

} // namespace fedrt
