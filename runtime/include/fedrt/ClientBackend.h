// Where client work runs. The executor (server side) reaches clients only
// through this interface — TFF's executor stack has the same seam between
// its federating executor and its client children: LocalBackend runs them
// on this machine's threads (simulation, and a remote worker's own
// clients); the coordinator's remote backend (runtime/net) hands them to
// workers over the network.
#pragma once

#include "fedrt/Aggregator.h"
#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fedrt {

// Run stage `stage` of `computation` for the clients of `cohort`.
struct StageTask {
  const Computation *computation = nullptr;
  size_t stage = 0;
  // The stage's broadcast values, one per Stage::broadcasts.
  std::vector<const HostValue *> broadcasts;
  // Per aggregation of the stage: the zero of a custom aggregation, else
  // null.
  std::vector<const HostValue *> zeros;
  // The clients that take part (population indices), ascending: partials
  // fold them in this order.
  std::vector<int64_t> cohort;
  int64_t round = 0; // 0 outside rounds (init, a one-shot main)
  // Parallel to cohort when the computation reads client_seed(): each
  // client's seed (fedrt::clientSeed), else empty.
  std::vector<int64_t> clientSeeds;
  // Per aggregation of the stage: a federated_dp_mean's clip, else 0.
  std::vector<double> dpClips;
  // When `cohort` holds a worker's own client indices: the population
  // index of each (a secure mean's rounding streams follow the client, not
  // the worker: fedrt/SecureMean.h). Empty: the cohort's are population
  // indices.
  std::vector<int64_t> population;
};

// A client whose work failed (a run-time check, a value an aggregation
// refuses): its contribution is left out whole.
struct ClientFailure {
  int64_t client = 0;  // population index
  std::string message; // names the client and the .fed location
};

// What secure aggregation (federated_secure_sum, runtime/secagg) did,
// summed over a stage's or a round's secure sums.
struct SecAggStats {
  int64_t parties = 0;             // took part (advertised keys)
  int64_t droppedAfterMasking = 0; // sent a masked input, then dropped
  int64_t recovered = 0;           // dropped parties whose masks were rebuilt
  int64_t overheadBytes = 0; // protocol bytes beyond the inputs themselves
  void add(const SecAggStats &o) {
    parties += o.parties;
    droppedAfterMasking += o.droppedAfterMasking;
    recovered += o.recovered;
    overheadBytes += o.overheadBytes;
  }
};

struct StageStats {
  int64_t blocks = 0;      // partials the cohort was folded into
  int64_t threadsUsed = 0; // threads that ran at least one block
  int64_t bytesUp = 0;     // aggregated values' bytes that reached the server
  int64_t bytesDown = 0;   // broadcast bytes sent to clients
  SecAggStats secagg;      // secure aggregations of the stage
};

struct StageResult {
  // One per aggregation of the stage, over the clients that reported,
  // merged in cohort order.
  std::vector<PartialAggregate> partials;
  std::vector<ClientFailure> failures; // ascending by cohort position
  int64_t reported = 0;                // clients folded in
  std::vector<int64_t> dropped;        // clients that did not report in time
  StageStats stats;
};

class ClientBackend {
public:
  virtual ~ClientBackend() = default;

  // Runs the task's clients. An error status means the stage could not
  // run at all (not enough clients, the workers gone); a client's own
  // failure is a ClientFailure in the result.
  virtual absl::StatusOr<StageResult> runStage(const StageTask &task) = 0;

  // How errors name population member `client`: "client 'a.csv'".
  virtual std::string clientName(int64_t client) const = 0;
};

} // namespace fedrt
