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
  std::vector<const TypeDesc *> leaves;
  tensorLeaves(agg.value, leaves);
  real_.resize(leaves.size());
  whole_.resize(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    auto n = static_cast<size_t>(leaves[i]->elements());
    double realStart = 0;
    int64_t wholeStart = 0;
    if (agg.kind == Kind::Min) {
      realStart = std::numeric_limits<double>::infinity();
      wholeStart = std::numeric_limits<int64_t>::max();
    } else if (agg.kind == Kind::Max) {
      realStart = -std::numeric_limits<double>::infinity();
      wholeStart = std::numeric_limits<int64_t>::min();
    }
    if (isReal(leaves[i]->element))
      real_[i].assign(n, realStart);
    else
      whole_[i].assign(n, wholeStart);
  }
}

bool PartialAggregate::add(const uint64_t *slots, size_t &next, Context &ctx,
                           const std::string &client, std::string &error) {
  ++clients_;
  if (agg_.kind == Kind::Custom) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    size_t first = next;
    next += agg_.value.slots();
    in.insert(in.end(), slots + first, slots + next);
    HostValue updated;
    if (!callEntry(agg_.accumulate, in, agg_.accumulator, updated, ctx, error))
      return false;
    custom_ = std::move(updated);
    return true;
  }
  std::vector<const TypeDesc *> leaves;
  tensorLeaves(agg_.value, leaves);
  std::vector<uint64_t> scalars(leaves.size());
  std::vector<const void *> data(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i)
    data[i] = leafData(*leaves[i], slots, next, scalars[i]);
  double w = 1;
  if (agg_.kind == Kind::WeightedMean) {
    float weight;
    uint32_t bits = static_cast<uint32_t>(slots[next++]);
    std::memcpy(&weight, &bits, sizeof weight);
    if (!std::isfinite(weight) || weight < 0) {
      error = client + ": the weight of federated_mean is " +
              std::to_string(weight) + "; weights must be finite and >= 0";
      return false;
    }
    w = weight;
  }
  weight_ += w;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const TypeDesc &t = *leaves[i];
    int64_t n = t.elements();
    if (isReal(t.element)) {
      Eigen::Map<Eigen::ArrayXd> acc(real_[i].data(), n);
      auto fold = [&](const auto &x) {
        switch (agg_.kind) {
        case Kind::Min:
          acc = acc.min(x);
          break;
        case Kind::Max:
          acc = acc.max(x);
          break;
        case Kind::WeightedMean:
          acc += w * x;
          break;
        default:
          acc += x;
          break;
        }
      };
      if (t.element == Element::F32)
        fold(view<float>(data[i], n).cast<double>());
      else
        fold(view<double>(data[i], n));
      if (agg_.kind != Kind::Min && agg_.kind != Kind::Max &&
          !acc.isFinite().all()) {
        error = client + ": " + kindName(agg_.kind) +
                " received a value that is not finite (NaN or infinity)";
        return false;
      }
      continue;
    }
    int64_t *acc = whole_[i].data();
    for (int64_t k = 0; k < n; ++k) {
      int64_t x = 0;
      switch (t.element) {
      case Element::I32:
        x = static_cast<const int32_t *>(data[i])[k];
        break;
      case Element::I64:
        x = static_cast<const int64_t *>(data[i])[k];
        break;
      default:
        x = static_cast<const uint8_t *>(data[i])[k];
        break;
      }
      if (agg_.kind == Kind::SecureSum &&
          (x < 0 ||
           (agg_.bitwidth < 63 && x >= (int64_t(1) << agg_.bitwidth)))) {
        error = client + ": federated_secure_sum value " + std::to_string(x) +
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
