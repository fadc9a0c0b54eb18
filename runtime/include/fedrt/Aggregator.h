// Streaming aggregation of client values (weighted mean, mean, sum, min,
// max, secure sum, and custom federated_aggregate): a partial aggregate
// folds client values in as they arrive and merges with other partials;
// the caller fixes the partition and merge order, so results do not
// depend on the thread count. Float leaves accumulate in float64 (exact
// enough that 10,000 float32 updates agree with a float64 reference to
// 1e-6 relative); integer leaves in int64. A partial serializes to bytes
// (what a worker sends the coordinator) and back, bit for bit.
//
// A federated_dp_mean's partial clips each client's value to the L2 norm
// setClip() gives (over the whole value, computed in float64) where the
// client runs, and is released by the privacy mechanism
// (fedrt/DpMechanism.h), which adds the noise; report() refuses it.
//
// A federated_secure_mean's partial quantizes each client's value where
// the client runs (fedrt/SecureMean.h) and sums the levels (and a weighted
// form's fixed-point weights) in int64: its integerSums() are what SecAgg+
// sums; report() dequantizes them.
#pragma once

#include "fedrt/Context.h"
#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
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
  // On an error (a value that is not finite, out of a secure sum's range,
  // an overflow, a failing custom accumulate) the partial is unusable;
  // the InvalidArgument message names the client by `name(c)`, and
  // `*culprit` (if given) is set to c, or to SIZE_MAX when no one client
  // is to blame (an overflow of the sum itself). A secure mean needs
  // `population`: client c's population index (its rounding stream), and
  // setRounding() first.
  absl::Status add(const uint64_t *const *clients, size_t count, size_t offset,
                   Context &ctx, const std::function<std::string(size_t)> &name,
                   size_t *culprit = nullptr,
                   const int64_t *population = nullptr);
  // this = this merged with `other` (other folded later in the order).
  absl::Status merge(const PartialAggregate &other, Context &ctx);
  // The aggregate of everything folded in.
  absl::StatusOr<HostValue> report(Context &ctx) const;

  int64_t clients() const { return clients_; }

  // The integer accumulators (sums of a federated_secure_sum; a secure
  // mean's levels, then its weights' limbs), flattened in leaf order; and
  // replacing them with a sum computed elsewhere (by secure aggregation
  // over the same clients: runtime/secagg).
  std::vector<int64_t> integerSums() const;
  void setIntegerSums(const std::vector<int64_t> &sums);
  // A DP mean: the L2 norm each client's value is clipped to (> 0), set
  // before add().
  void setClip(double clip) { clip_ = clip; }
  // A secure mean: the stage key its clients' rounding streams derive from
  // (secure_mean::stageKey), set before add().
  void setRounding(uint64_t stageKey) { rounding_ = stageKey; }
  // A DP mean: the clients folded in whose value's norm was within the
  // clip (TFF's "below estimate").
  double unclippedClients() const { return weight_; }
  // A DP mean's release: `perturb(leaf, sums, n)` adds the noise to the
  // float64 sums of each leaf in place (zeros when no client was folded
  // in), then every sum is divided by `denominator` and narrowed to the
  // result's type. InvalidArgument if a result does not fit. The partial
  // is spent.
  absl::StatusOr<HostValue>
  reportNoised(const std::function<void(size_t, double *, int64_t)> &perturb,
               double denominator);

  // Appends the partial's state (clients, weight, accumulators) to `out`.
  void serialize(std::string &out) const;
  // A partial of `agg` from serialize()'s bytes, starting at `pos` (moved
  // past them); InvalidArgument if they do not fit `agg`'s layout.
  static absl::StatusOr<PartialAggregate>
  deserialize(const Aggregation &agg, std::string_view in, size_t &pos,
              BufferPool *pool = nullptr);

  const Aggregation &aggregation() const { return agg_; }

private:
  absl::Status addCustom(const uint64_t *const *clients, size_t count,
                         size_t offset, Context &ctx, size_t *culprit);
  absl::Status addIntegers(size_t leaf, const std::vector<const void *> &data,
                           const std::function<std::string(size_t)> &name,
                           size_t *culprit);
  // False if a sum became NaN or infinite.
  bool addReals(size_t leaf, const std::vector<const void *> &data,
                const std::vector<double> &weights);
  // addReals for one float leaf, and the error naming the client whose
  // value is NaN (min, max) or not finite (sums, means).
  absl::Status addRealLeaf(size_t leaf, const std::vector<const void *> &data,
                           const std::vector<double> &weights,
                           const std::function<std::string(size_t)> &name,
                           size_t *culprit);
  // A secure mean: quantizes each client's weighted value into the level
  // sums and its weight into the limbs.
  absl::Status addQuantized(const std::vector<std::vector<const void *>> &data,
                            const std::vector<double> &weights,
                            const std::function<std::string(size_t)> &name,
                            size_t *culprit, const int64_t *population);
  absl::StatusOr<HostValue> reportSecureMean() const;
  // A DP mean: scales each client's weight by its clip factor
  // min(1, clip / norm) and counts those within the clip.
  absl::Status clipClients(const std::vector<std::vector<const void *>> &data,
                           std::vector<double> &weights,
                           const std::function<std::string(size_t)> &name,
                           size_t *culprit);
  // The float leaves divided by `divisor`, into `out`'s tensors.
  absl::Status narrowReals(HostValue &out, double divisor) const;

  const Aggregation &agg_;
  BufferPool *pool_ = nullptr;
  std::vector<const TypeDesc *> leaves_; // tensor leaves of the value
  // Per float leaf (else empty); undefined until the first client is
  // folded in (`started_`), which initializes it.
  std::vector<std::vector<double>> real_;
  bool started_ = false;
  std::vector<std::vector<int64_t>> whole_; // per integer/bool leaf
  // The sum of the weights (a DP mean: the clients within the clip).
  double weight_ = 0;
  int64_t clients_ = 0;
  double clip_ = 0;                  // a DP mean's clip
  uint64_t rounding_ = 0;            // a secure mean's stage key
  std::vector<int64_t> weightLimbs_; // a weighted secure mean's weight sums
  HostValue custom_;                 // the accumulator of a custom aggregation
};

} // namespace fedrt
