// Streaming aggregation of client values (weighted mean, mean, sum, min,
// max, secure sum, and custom federated_aggregate): a partial aggregate
// folds client values in as they arrive and merges with other partials;
// the executor fixes the partition and merge order, so results do not
// depend on the thread count. Float leaves accumulate in float64 (exact
// enough that 10,000 float32 updates agree with a float64 reference to
// 1e-6 relative); integer leaves in int64.
#pragma once

#include "fedrt/Context.h"
#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include <string>
#include <vector>

namespace fedrt {

class PartialAggregate {
public:
  // `zero` is the starting accumulator of a custom aggregation (else null).
  PartialAggregate(const Aggregation &agg, const HostValue *zero);

  // Folds in one client's value: `slots` as its client fn wrote them,
  // starting at `next` (advanced past the value, and the weight of a
  // weighted mean). `client` names the client in errors.
  bool add(const uint64_t *slots, size_t &next, Context &ctx,
           const std::string &client, std::string &error);
  // this = this merged with `other` (other folded later in the order).
  bool merge(const PartialAggregate &other, Context &ctx, std::string &error);
  // The aggregate of everything folded in.
  bool report(HostValue &out, Context &ctx, std::string &error) const;

  int64_t clients() const { return clients_; }

private:
  const Aggregation &agg_;
  std::vector<std::vector<double>> real_;   // per float leaf (else empty)
  std::vector<std::vector<int64_t>> whole_; // per integer/bool leaf
  double weight_ = 0;
  int64_t clients_ = 0;
  HostValue custom_; // the accumulator of a custom aggregation
};

} // namespace fedrt
