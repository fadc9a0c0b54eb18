// A federated_secure_mean's partial aggregate (fedrt/Aggregator.h): each
// client's value quantized where the client runs, the levels summed in
// int64 (the sums SecAgg+ masks), dequantized at report().
#include "fedrt/Aggregator.h"
#include "fedrt/SecureMean.h"

#include <cmath>
#include <cstring>

namespace fedrt {

namespace {

double load(Element e, const void *data, int64_t k) {
  if (e == Element::F32)
    return static_cast<double>(static_cast<const float *>(data)[k]);
  return static_cast<const double *>(data)[k];
}

} // namespace

absl::Status PartialAggregate::addQuantized(
    const std::vector<std::vector<const void *>> &data,
    const std::vector<double> &weights,
    const std::function<std::string(size_t)> &name, size_t *culprit,
    const int64_t *population) {
  auto blame = [&](size_t c, const std::string &message) {
    if (culprit)
      *culprit = c;
    return absl::InvalidArgumentError(message);
  };
  if (!population)
    return absl::InternalError(
        "federated_secure_mean folded without its clients' rounding streams");
  const double range = agg_.secureMean.range;
  const int bits = agg_.bitwidth;
  for (size_t c = 0; c < weights.size(); ++c) {
    const uint64_t key = secure_mean::clientKey(rounding_, population[c]);
    if (agg_.secureMean.weighted &&
        !secure_mean::addWeight(weights[c], bits, weightLimbs_.data()))
      return blame(c, name(c) + ": the weight of federated_secure_mean is " +
                          std::to_string(weights[c]) +
                          "; it must be below 2^32 (weights travel in fixed "
                          "point)");
    // The coordinate counts across leaves: one stream per client value.
    uint64_t coordinate = 0;
    for (size_t i = 0; i < leaves_.size(); ++i) {
      const TypeDesc &t = *leaves_[i];
      int64_t *acc = whole_[i].data();
      for (int64_t k = 0; k < t.elements(); ++k, ++coordinate) {
        double v = weights[c] * load(t.element, data[i][c], k);
        if (!std::isfinite(v))
          return blame(c, name(c) +
                              ": federated_secure_mean received a value that "
                              "is not finite (NaN or infinity)");
        uint64_t level = secure_mean::quantize(
            v, range, bits, secure_mean::uniform(key, coordinate));
        if (__builtin_add_overflow(acc[k], static_cast<int64_t>(level),
                                   &acc[k]))
          return blame(SIZE_MAX, "federated_secure_mean overflows i64");
      }
    }
  }
  started_ = true;
  return absl::OkStatus();
}

absl::StatusOr<HostValue> PartialAggregate::reportSecureMean() const {
  if (clients_ == 0)
    return absl::InvalidArgumentError("federated_secure_mean over no clients");
  const int bits = agg_.bitwidth;
  double denominator = agg_.secureMean.weighted
                           ? secure_mean::weightSum(weightLimbs_.data(),
                                                    weightLimbs_.size(), bits)
                           : static_cast<double>(clients_);
  if (!(denominator > 0))
    return absl::InvalidArgumentError(
        "federated_secure_mean: the weights of all " +
        std::to_string(clients_) + " clients sum to zero");
  HostValue out = HostValue::uninitialized(agg_.result);
  for (size_t i = 0; i < out.leaves.size(); ++i) {
    Tensor &t = out.leaves[i];
    for (int64_t k = 0; k < t.count; ++k) {
      double mean =
          secure_mean::dequantizeSum(whole_[i][static_cast<size_t>(k)],
                                     clients_, agg_.secureMean.range, bits) /
          denominator;
      if (t.element == Element::F32) {
        auto narrow = static_cast<float>(mean);
        if (!std::isfinite(narrow))
          return absl::InvalidArgumentError(
              "federated_secure_mean overflows: the result exceeds the range "
              "of f32");
        t.as<float>()[k] = narrow;
      } else {
        t.as<double>()[k] = mean;
      }
    }
  }
  return out;
}

} // namespace fedrt
