// Per-client L2 clipping of a federated_dp_mean (fedrt/Aggregator.h): the
// norm of the whole value (every leaf of a struct) in float64, so the
// bound holds to double precision however many parameters the value has
// (a float32 norm of 10^7 values drifts by percents). The clip becomes the
// client's weight in the fold: its contribution is factor * x, summed in
// float64 like every other mean.
#include "fedrt/Aggregator.h"

#include <algorithm>
#include <cmath>

namespace fedrt {

namespace {

// Σ x² in float64 with eight independent sums (the loop vectorizes
// without reassociating a single sum).
template <class T> double sumSquares(const void *data, int64_t n) {
  const T *x = static_cast<const T *>(data);
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) {
      auto v = static_cast<double>(x[k + j]);
      acc[j] += v * v;
    }
  for (; k < n; ++k) {
    auto v = static_cast<double>(x[k]);
    acc[0] += v * v;
  }
  double s = 0;
  for (double a : acc)
    s += a;
  return s;
}

// Σ (x / scale)², for a norm whose squares overflow float64; NaN if a
// value is not finite.
template <class T>
double scaledSquares(const void *data, int64_t n, double scale) {
  const T *x = static_cast<const T *>(data);
  double s = 0;
  for (int64_t k = 0; k < n; ++k) {
    double v = static_cast<double>(x[k]) / scale;
    s += v * v;
  }
  return s;
}

template <class T> double maxAbs(const void *data, int64_t n) {
  const T *x = static_cast<const T *>(data);
  double m = 0;
  for (int64_t k = 0; k < n; ++k)
    m = std::max(m, std::abs(static_cast<double>(x[k])));
  return m;
}

} // namespace

absl::Status PartialAggregate::clipClients(
    const std::vector<std::vector<const void *>> &data,
    std::vector<double> &weights,
    const std::function<std::string(size_t)> &name, size_t *culprit) {
  if (!(clip_ > 0))
    return absl::InternalError("federated_dp_mean: no clip was set");
  auto f32 = [&](size_t i) { return leaves_[i]->element == Element::F32; };
  for (size_t c = 0; c < weights.size(); ++c) {
    double squares = 0;
    for (size_t i = 0; i < leaves_.size(); ++i) {
      int64_t n = leaves_[i]->elements();
      squares += f32(i) ? sumSquares<float>(data[i][c], n)
                        : sumSquares<double>(data[i][c], n);
    }
    double norm = std::sqrt(squares);
    if (!std::isfinite(norm)) {
      // Either a value is not finite (refused) or float64 values whose
      // squares overflow (the norm is taken scaled by the largest).
      double scale = 0;
      for (size_t i = 0; i < leaves_.size(); ++i) {
        int64_t n = leaves_[i]->elements();
        scale = std::max(scale, f32(i) ? maxAbs<float>(data[i][c], n)
                                       : maxAbs<double>(data[i][c], n));
      }
      squares = 0;
      for (size_t i = 0; i < leaves_.size() && std::isfinite(scale); ++i) {
        int64_t n = leaves_[i]->elements();
        squares += f32(i) ? scaledSquares<float>(data[i][c], n, scale)
                          : scaledSquares<double>(data[i][c], n, scale);
      }
      norm = scale * std::sqrt(squares);
      if (!std::isfinite(norm)) {
        if (culprit)
          *culprit = c;
        return absl::InvalidArgumentError(
            name(c) + ": federated_dp_mean received a value that is not finite "
                      "(NaN or infinity)");
      }
    }
    double factor = 1;
    if (norm <= clip_)
      weight_ += 1; // within the clip: counted for adaptive clipping
    else
      factor = clip_ / norm;
    // The weighted form (McMahan et al. 2018): weights capped at
    // max_weight, as a fraction of it, so the sensitivity stays the clip.
    double weight = 1;
    if (agg_.dp.maxWeight > 0)
      weight = std::min(weights[c] / agg_.dp.maxWeight, 1.0);
    weights[c] = factor * weight;
  }
  return absl::OkStatus();
}

} // namespace fedrt
