// The aggregation kernels: Eigen maps over each leaf of a client value,
// folded into float64 / int64 partials (fedrt/Aggregator.h).
#include "fedrt/Aggregator.h"

#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <limits>

namespace fedrt {

namespace {

using Kind = Aggregation::Kind;

bool isReal(Element e) { return e == Element::F32 || e == Element::F64; }

// The tensor leaves of a type, in order.
void tensorLeaves(const TypeDesc &t, std::vector<const TypeDesc *> &out) {
  if (t.kind == TypeDesc::Kind::Tensor)
    out.push_back(&t);
  else
    for (const TypeDesc &c : t.children)
      tensorLeaves(c, out);
}

const char *kindName(Kind k) {
  switch (k) {
  case Kind::Mean:
  case Kind::WeightedMean:
    return "federated_mean";
  case Kind::Sum:
    return "federated_sum";
  case Kind::Min:
    return "federated_min";
  case Kind::Max:
    return "federated_max";
  case Kind::SecureSum:
    return "federated_secure_sum";
  case Kind::Custom:
    return "federated_aggregate";
  }
  return "aggregation";
}

// Reads a scalar slot or a tensor pointer (+ dims) and returns the data.
const void *leafData(const TypeDesc &t, const uint64_t *slots, size_t &next,
                     uint64_t &scalar) {
  if (t.dims.empty()) {
    scalar = slots[next++];
    return &scalar;
  }
  const void *p = reinterpret_cast<const void *>(slots[next++]);
  next += t.dims.size(); // static dims: the plan guarantees the shape
  return p;
}

template <class T>
Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> view(const void *p,
                                                          int64_t n) {
  return {static_cast<const T *>(p), static_cast<Eigen::Index>(n)};
}

bool callEntry(StageFn fn, const std::vector<uint64_t> &in, const TypeDesc &out,
               HostValue &result, Context &ctx, std::string &error) {
  std::vector<uint64_t> slots(out.slots() + 1, 0);
  fn(&ctx, in.data(), slots.data());
  if (ctx.failed) {
    error = ctx.what + " (got " + std::to_string(ctx.got) + ", expected " +
            std::to_string(ctx.expected) + ")";
    return false;
  }
  size_t next = 0;
  result = fromSlots(out, slots.data(), next);
  return true;
}

} // namespace

PartialAggregate::PartialAggregate(const Aggregation &agg,
                                   const HostValue *zero)
    : agg_(agg) {
  if (agg.kind == Kind::Custom) {
    custom_ = zero->clone();
    return;
  }
  tensorLeaves(agg.value, leaves_);
  real_.resize(leaves_.size());
  whole_.resize(leaves_.size());
  for (size_t i = 0; i < leaves_.size(); ++i) {
    auto n = static_cast<size_t>(leaves_[i]->elements());
    double realStart = 0;
    int64_t wholeStart = 0;
    if (agg.kind == Kind::Min) {
      realStart = std::numeric_limits<double>::infinity();
      wholeStart = std::numeric_limits<int64_t>::max();
    } else if (agg.kind == Kind::Max) {
      realStart = -std::numeric_limits<double>::infinity();
      wholeStart = std::numeric_limits<int64_t>::min();
    }
    if (isReal(leaves_[i]->element))
      real_[i].assign(n, realStart);
    else
      whole_[i].assign(n, wholeStart);
  }
}

size_t PartialAggregate::slots() const {
  return agg_.value.slots() + (agg_.kind == Kind::WeightedMean ? 1 : 0);
}

bool PartialAggregate::addCustom(const uint64_t *const *clients, size_t count,
                                 size_t offset, Context &ctx,
                                 std::string &error) {
  size_t width = agg_.value.slots();
  for (size_t c = 0; c < count; ++c) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    in.insert(in.end(), clients[c] + offset, clients[c] + offset + width);
    HostValue updated;
    if (!callEntry(agg_.accumulate, in, agg_.accumulator, updated, ctx, error))
      return false;
    custom_ = std::move(updated);
  }
  return true;
}

// acc[k] = op(acc[k], x_c[k]) for every client c in order. Sums walk the
// leaf in tiles of 2048 elements (16 KiB of float64, L1-resident) with the
// clients inner, so each element sees the clients in the same order as one
// client at a time would: bit-identical, but the partial is read and
// written once per batch instead of once per client.
void PartialAggregate::addReals(size_t leaf,
                                const std::vector<const void *> &data,
                                const std::vector<double> &weights) {
  const TypeDesc &t = *leaves_[leaf];
  int64_t n = t.elements();
  bool f32 = t.element == Element::F32;
  constexpr int64_t kTile = 2048;
  for (int64_t start = 0; start < n; start += kTile) {
    int64_t len = std::min(kTile, n - start);
    Eigen::Map<Eigen::ArrayXd> acc(real_[leaf].data() + start, len);
    for (size_t c = 0; c < data.size(); ++c) {
      const void *base =
          static_cast<const char *>(data[c]) + start * (f32 ? 4 : 8);
      auto fold = [&](const auto &x) {
        switch (agg_.kind) {
        case Kind::Min:
          acc = acc.min(x);
          break;
        case Kind::Max:
          acc = acc.max(x);
          break;
        case Kind::WeightedMean:
          acc += weights[c] * x;
          break;
        default:
          acc += x;
          break;
        }
      };
      if (f32)
        fold(view<float>(base, len).template cast<double>());
      else
        fold(view<double>(base, len));
    }
  }
}

bool PartialAggregate::addIntegers(
    size_t leaf, const std::vector<const void *> &data,
    const std::function<std::string(size_t)> &name, std::string &error) {
  const TypeDesc &t = *leaves_[leaf];
  int64_t n = t.elements();
  int64_t *acc = whole_[leaf].data();
  for (size_t c = 0; c < data.size(); ++c) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t x = 0;
      switch (t.element) {
      case Element::I32:
        x = static_cast<const int32_t *>(data[c])[k];
        break;
      case Element::I64:
        x = static_cast<const int64_t *>(data[c])[k];
        break;
      default:
        x = static_cast<const uint8_t *>(data[c])[k];
        break;
      }
      if (agg_.kind == Kind::SecureSum &&
          (x < 0 ||
           (agg_.bitwidth < 63 && x >= (int64_t(1) << agg_.bitwidth)))) {
        error = name(c) + ": federated_secure_sum value " + std::to_string(x) +
                " is outside [0, 2^" + std::to_string(agg_.bitwidth) + ")";
        return false;
      }
      if (agg_.kind == Kind::Min)
        acc[k] = std::min(acc[k], x);
      else if (agg_.kind == Kind::Max)
        acc[k] = std::max(acc[k], x);
      else if (__builtin_add_overflow(acc[k], x, &acc[k])) {
        error = std::string(kindName(agg_.kind)) + " overflows i64";
        return false;
      }
    }
  }
  return true;
}

bool PartialAggregate::add(const uint64_t *const *clients, size_t count,
                           size_t offset, Context &ctx,
                           const std::function<std::string(size_t)> &name,
                           std::string &error) {
  clients_ += static_cast<int64_t>(count);
  if (agg_.kind == Kind::Custom)
    return addCustom(clients, count, offset, ctx, error);
  // Each client's leaf pointers (scalars point into a copy of their slot).
  std::vector<uint64_t> scalars(count * leaves_.size());
  std::vector<std::vector<const void *>> data(leaves_.size(),
                                              std::vector<const void *>(count));
  std::vector<double> weights(count, 1.0);
  for (size_t c = 0; c < count; ++c) {
    size_t next = offset;
    for (size_t i = 0; i < leaves_.size(); ++i) {
      uint64_t &scalar = scalars[c * leaves_.size() + i];
      data[i][c] = leafData(*leaves_[i], clients[c], next, scalar);
    }
    if (agg_.kind == Kind::WeightedMean) {
      float weight;
      auto bits = static_cast<uint32_t>(clients[c][next]);
      std::memcpy(&weight, &bits, sizeof weight);
      if (!std::isfinite(weight) || weight < 0) {
        error = name(c) + ": the weight of federated_mean is " +
                std::to_string(weight) + "; weights must be finite and >= 0";
        return false;
      }
      weights[c] = weight;
    }
    weight_ += weights[c];
  }
  for (size_t i = 0; i < leaves_.size(); ++i) {
    if (!isReal(leaves_[i]->element)) {
      if (!addIntegers(i, data[i], name, error))
        return false;
      continue;
    }
    addReals(i, data[i], weights);
    if (agg_.kind == Kind::Min || agg_.kind == Kind::Max)
      continue;
    Eigen::Map<const Eigen::ArrayXd> acc(
        real_[i].data(), static_cast<Eigen::Index>(real_[i].size()));
    if (acc.isFinite().all())
      continue;
    // Name the first client whose value is not finite.
    const TypeDesc &t = *leaves_[i];
    size_t culprit = 0;
    for (size_t c = 0; c < count; ++c) {
      bool finite =
          t.element == Element::F32
              ? view<float>(data[i][c], t.elements()).isFinite().all()
              : view<double>(data[i][c], t.elements()).isFinite().all();
      if (!finite) {
        culprit = c;
        break;
      }
    }
    error = name(culprit) + ": " + kindName(agg_.kind) +
            " received a value that is not finite (NaN or infinity)";
    return false;
  }
  return true;
}

bool PartialAggregate::merge(const PartialAggregate &other, Context &ctx,
                             std::string &error) {
  clients_ += other.clients_;
  if (agg_.kind == Kind::Custom) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    toSlots(agg_.accumulator, other.custom_, in);
    HostValue merged;
    if (!callEntry(agg_.merge, in, agg_.accumulator, merged, ctx, error))
      return false;
    custom_ = std::move(merged);
    return true;
  }
  weight_ += other.weight_;
  for (size_t i = 0; i < real_.size(); ++i) {
    auto n = static_cast<Eigen::Index>(real_[i].size());
    Eigen::Map<Eigen::ArrayXd> a(real_[i].data(), n);
    Eigen::Map<const Eigen::ArrayXd> b(other.real_[i].data(), n);
    if (agg_.kind == Kind::Min)
      a = a.min(b);
    else if (agg_.kind == Kind::Max)
      a = a.max(b);
    else
      a += b;
    for (size_t k = 0; k < whole_[i].size(); ++k) {
      int64_t &x = whole_[i][k];
      int64_t y = other.whole_[i][k];
      if (agg_.kind == Kind::Min)
        x = std::min(x, y);
      else if (agg_.kind == Kind::Max)
        x = std::max(x, y);
      else if (__builtin_add_overflow(x, y, &x)) {
        error = std::string(kindName(agg_.kind)) + " overflows i64";
        return false;
      }
    }
  }
  return true;
}

bool PartialAggregate::report(HostValue &out, Context &ctx,
                              std::string &error) const {
  if (agg_.kind == Kind::Custom) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    return callEntry(agg_.report, in, agg_.result, out, ctx, error);
  }
  bool mean = agg_.kind == Kind::Mean || agg_.kind == Kind::WeightedMean;
  if (clients_ == 0 && agg_.kind != Kind::Sum && agg_.kind != Kind::SecureSum) {
    error = std::string(kindName(agg_.kind)) + " over no clients";
    return false;
  }
  if (mean && !(weight_ > 0)) {
    error = "federated_mean: the weights of all " + std::to_string(clients_) +
            " clients sum to zero";
    return false;
  }
  out = HostValue::zeros(agg_.value);
  for (size_t i = 0; i < out.leaves.size(); ++i) {
    Tensor &t = out.leaves[i];
    auto n = static_cast<Eigen::Index>(t.count);
    if (isReal(t.element)) {
      Eigen::Map<const Eigen::ArrayXd> acc(real_[i].data(), n);
      if (t.element == Element::F32) {
        Eigen::Map<Eigen::ArrayXf> r(t.as<float>(), n);
        if (mean)
          r = (acc / weight_).cast<float>();
        else
          r = acc.cast<float>();
      } else {
        Eigen::Map<Eigen::ArrayXd> r(t.as<double>(), n);
        r = mean ? (acc / weight_).eval() : acc.eval();
      }
      continue;
    }
    for (Eigen::Index k = 0; k < n; ++k) {
      int64_t x = whole_[i][static_cast<size_t>(k)];
      switch (t.element) {
      case Element::I32:
        if (x < std::numeric_limits<int32_t>::min() ||
            x > std::numeric_limits<int32_t>::max()) {
          error = std::string(kindName(agg_.kind)) + " overflows i32 (" +
                  std::to_string(x) + ")";
          return false;
        }
        t.as<int32_t>()[k] = static_cast<int32_t>(x);
        break;
      case Element::I64:
        t.as<int64_t>()[k] = x;
        break;
      default:
        t.as<uint8_t>()[k] = x != 0;
        break;
      }
    }
  }
  return true;
}

} // namespace fedrt
