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

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace fedrt {

// float64 partial buffers reused across blocks and rounds: a large model's
// partials would otherwise cost fresh pages (and their faults) each time.
class BufferPool {
public:
  // A buffer of n doubles; its contents are unspecified.
  std::vector<double> take(size_t n);
  void give(std::vector<double> &&buffer);

private:
  std::mutex mutex_;
  std::vector<std::vector<double>> free_;
};

class PartialAggregate {
public:
  // `zero` is the starting accumulator of a custom aggregation (else null).
  // Float buffers come from `pool` when given, and go back to it.
  PartialAggregate(const Aggregation &agg, const HostValue *zero,
                   BufferPool *pool = nullptr);
  PartialAggregate(PartialAggregate &&) = default;
  ~PartialAggregate();

  // The slots one client's value takes in its client fn's output (the
  // value, and the weight of a weighted mean).
  size_t slots() const;

  // Folds in `count` clients' values, in order: client c's value starts
  // at clients[c][offset] (slots as its client fn wrote them). The result
  // is bit-identical to folding them one at a time; sums and means are
  // tiled so the float64 partial stays in cache while all the batch's
  // values stream through it once. `name(c)` names client c in errors.
  bool add(const uint64_t *const *clients, size_t count, size_t offset,
           Context &ctx, const std::function<std::string(size_t)> &name,
           std::string &error);
  // this = this merged with `other` (other folded later in the order).
  bool merge(const PartialAggregate &other, Context &ctx, std::string &error);
  // The aggregate of everything folded in.
  bool report(HostValue &out, Context &ctx, std::string &error) const;

  int64_t clients() const { return clients_; }

private:
  bool addCustom(const uint64_t *const *clients, size_t count, size_t offset,
                 Context &ctx, std::string &error);
  bool addIntegers(size_t leaf, const std::vector<const void *> &data,
                   const std::function<std::string(size_t)> &name,
                   std::string &error);
  // False if a sum became NaN or infinite.
  bool addReals(size_t leaf, const std::vector<const void *> &data,
                const std::vector<double> &weights);

  const Aggregation &agg_;
  BufferPool *pool_ = nullptr;
  std::vector<const TypeDesc *> leaves_; // tensor leaves of the value
  // Per float leaf (else empty); undefined until the first client is
  // folded in (`started_`), which initializes it.
  std::vector<std::vector<double>> real_;
  bool started_ = false;
  std::vector<std::vector<int64_t>> whole_; // per integer/bool leaf
  double weight_ = 0;
  int64_t clients_ = 0;
  HostValue custom_; // the accumulator of a custom aggregation
};

} // namespace fedrt
