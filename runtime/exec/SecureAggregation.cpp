// federated_secure_sum and federated_secure_mean in simulation: SecAgg+
// with every reporting client its own party (fedrt/LocalBackend.h,
// docs/secure-aggregation.md).
#include "fedrt/LocalBackend.h"

#include "Simulation.h"
#include "fedrt/SplitMix.h"

#include <string>

namespace fedrt {

absl::Status LocalBackend::secureAggregate(
    const StageTask &task,
    const std::vector<std::vector<std::vector<int64_t>>> &inputs,
    StageResult &result) {
  const Stage &stage = task.computation->stages[task.stage];
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Aggregation &agg = stage.aggregations[i];
    if (!agg.secure() || inputs[i].empty())
      continue;
    const auto n = static_cast<uint32_t>(inputs[i].size());
    auto fail = [&](const std::string &message) {
      return absl::FailedPreconditionError(
          std::string(aggregationName(agg.kind)) + " over " +
          std::to_string(n) + " clients: " + message);
    };
    if (n < 3)
      return fail("secure aggregation needs at least 3 parties (with 2, "
                  "each learns the other's value from the sum)");
    // n values below 2^b sum below 2^(b + ⌈log2 n⌉): that modulus makes
    // the masked sum exact.
    int bits = agg.secureModulusBits(n);
    if (bits > 63)
      return fail("the sum of values below 2^" + std::to_string(agg.bitwidth) +
                  " needs a modulus of 2^" + std::to_string(bits) +
                  ", above 2^63" +
                  (agg.kind == Aggregation::Kind::SecureMean
                       ? " (use fewer bits or fewer clients per round)"
                       : ""));
    secagg::Params params;
    params.bits = bits;
    params.length = inputs[i].front().size();
    params.neighbours =
        secure_.neighbours ? secure_.neighbours : secagg::defaultNeighbours(n);
    uint32_t k = std::min(params.neighbours + (params.neighbours & 1), n - 1);
    params.threshold =
        secure_.threshold ? secure_.threshold : secagg::defaultThreshold(k);
    // Keys, ciphertexts and the ring are bound to this sum of this stage.
    uint64_t state = secure_.seed ^ (uint64_t(task.round) << 20) ^
                     (uint64_t(task.stage) << 8) ^ i;
    params.session = splitmix64(state);
    std::vector<std::vector<uint64_t>> values(n);
    for (uint32_t c = 0; c < n; ++c)
      values[c].assign(inputs[i][c].begin(), inputs[i][c].end());
    auto sum = secagg::simulate(params, values, nullptr, nullptr, team_.size());
    if (!sum.ok())
      return fail(std::string(sum.status().message()));
    result.partials[i].setIntegerSums(
        std::vector<int64_t>(sum->sum.begin(), sum->sum.end()));
    const secagg::Metrics &m = sum->metrics;
    result.stats.secagg.parties += m.parties;
    result.stats.secagg.droppedAfterMasking += m.droppedAfterMasking;
    result.stats.secagg.recovered += m.recoveredKeys + m.droppedAfterMasking;
    result.stats.secagg.overheadBytes += m.bytesUp + m.bytesDown - m.inputBytes;
  }
  return absl::OkStatus();
}

} // namespace fedrt
