// One secure aggregation with every party in this process (simulate: each
// client is its own party): the same Party and Server state machines as
// over the network, messages passed by value, dropouts injected by phase.
#pragma once

#include "Protocol.h"

#include <functional>
#include <map>

namespace fedrt::secagg {

// The last round a party completes before it drops out.
enum class Dropout {
  None,
  AfterAdvertise,   // advertised keys, never shared them
  AfterShareKeys,   // shared keys, never sent its masked input
  AfterMaskedInput, // sent its masked input, never helped unmask
};

struct SimulationResult {
  std::vector<uint64_t> sum; // mod 2^bits, of the summed parties' inputs
  std::vector<uint32_t> summed;
  Metrics metrics;
};

// Runs the four rounds for `inputs.size()` parties (ids 0..n-1; each input
// `params.length` values < 2^bits). `dropout(id)` says when a party stops
// (null: never). `record`, if given, sees every message the coordinator
// receives, serialized (the transcript). Errors: as Server's and Party's
// (a round below the threshold fails with FailedPrecondition). Parties'
// work runs on `threads` threads; the result does not depend on it.
absl::StatusOr<SimulationResult>
simulate(const Params &params, const std::vector<std::vector<uint64_t>> &inputs,
         const std::function<Dropout(uint32_t)> &dropout = nullptr,
         const std::function<void(const std::string &)> &record = nullptr,
         int threads = 1);

} // namespace fedrt::secagg
