// The aggregation kernels: Eigen maps over each leaf of a client value,
// folded into float64 / int64 partials (fedrt/Aggregator.h).
#include "fedrt/Aggregator.h"

#include "fedrt/SecureMean.h"

#include <Eigen/Core>

#include <cmath>
#include <cstring>
#include <limits>

namespace fedrt {

namespace {

using Kind = Aggregation::Kind;

bool isReal(Element e) { return e == Element::F32 || e == Element::F64; }

// Whether leaf accumulator `e` of `kind` is a float64 sum (else int64: the
// integers, and a secure mean's quantized levels).
bool realAccumulator(Kind kind, Element e) {
  return isReal(e) && kind != Kind::SecureMean;
}

// The tensor leaves of a type, in order.
void tensorLeaves(const TypeDesc &t, std::vector<const TypeDesc *> &out) {
  if (t.kind == TypeDesc::Kind::Tensor)
    out.push_back(&t);
  else
    for (const TypeDesc &c : t.children)
      tensorLeaves(c, out);
}

const char *kindName(Kind k) { return aggregationName(k); }

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

absl::StatusOr<HostValue> callEntry(StageFn fn, const std::vector<uint64_t> &in,
                                    const TypeDesc &out, Context &ctx) {
  std::vector<uint64_t> slots(out.slots() + 1, 0);
  fn(&ctx, in.data(), slots.data());
  if (ctx.failed)
    return absl::InvalidArgumentError(failureMessage(ctx));
  size_t next = 0;
  return fromSlots(out, slots.data(), next);
}

} // namespace

std::vector<double> BufferPool::take(size_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The smallest free buffer that is large enough.
  size_t best = free_.size();
  for (size_t i = 0; i < free_.size(); ++i)
    if (free_[i].capacity() >= n &&
        (best == free_.size() || free_[i].capacity() < free_[best].capacity()))
      best = i;
  if (best == free_.size())
    return std::vector<double>(n);
  std::vector<double> buffer = std::move(free_[best]);
  free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
  buffer.resize(n);
  return buffer;
}

void BufferPool::give(std::vector<double> &&buffer) {
  if (buffer.capacity() == 0)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(std::move(buffer));
}

PartialAggregate::PartialAggregate(const Aggregation &agg,
                                   const HostValue *zero, BufferPool *pool)
    : agg_(agg), pool_(pool) {
  if (agg.kind == Kind::Custom) {
    custom_ = zero->clone();
    return;
  }
  tensorLeaves(agg.value, leaves_);
  real_.resize(leaves_.size());
  whole_.resize(leaves_.size());
  for (size_t i = 0; i < leaves_.size(); ++i) {
    auto n = static_cast<size_t>(leaves_[i]->elements());
    if (realAccumulator(agg.kind, leaves_[i]->element)) {
      real_[i] = pool ? pool->take(n) : std::vector<double>(n);
      continue;
    }
    int64_t start = 0;
    if (agg.kind == Kind::Min)
      start = std::numeric_limits<int64_t>::max();
    else if (agg.kind == Kind::Max)
      start = std::numeric_limits<int64_t>::min();
    whole_[i].assign(n, start);
  }
  if (agg.kind == Kind::SecureMean && agg.secureMean.weighted)
    weightLimbs_.assign(secure_mean::weightLimbs(agg.bitwidth), 0);
}

PartialAggregate::~PartialAggregate() {
  if (pool_)
    for (std::vector<double> &buffer : real_)
      pool_->give(std::move(buffer));
}

size_t PartialAggregate::slots() const { return agg_.clientSlots(); }

absl::Status PartialAggregate::addCustom(const uint64_t *const *clients,
                                         size_t count, size_t offset,
                                         Context &ctx, size_t *culprit) {
  size_t width = agg_.value.slots();
  for (size_t c = 0; c < count; ++c) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    in.insert(in.end(), clients[c] + offset, clients[c] + offset + width);
    absl::StatusOr<HostValue> updated =
        callEntry(agg_.accumulate, in, agg_.accumulator, ctx);
    if (!updated.ok()) {
      if (culprit)
        *culprit = c;
      return updated.status();
    }
    custom_ = *std::move(updated);
  }
  return absl::OkStatus();
}

// The fold kernels: plain loops the compiler vectorizes (f32 -> f64
// conversion and multiply-add; this file is built with -O3).
//
// Sums and means fold G clients per pass over the partial: for each
// element, a = acc[k]; a += w_0 x_0[k]; ...; a += w_G-1 x_G-1[k] — the same
// operations in the same order as G passes of one client, so the result is
// bit-identical whatever the grouping, but the partial is read and written
// once per G clients. The first client of a partial initializes it.
template <int G, class T>
void foldGroup(double *__restrict acc, const T *const *x, const double *w,
               int64_t n, bool first) {
  const T *p[G];
  double wg[G];
  for (int g = 0; g < G; ++g) {
    p[g] = x[g];
    wg[g] = w[g];
  }
  if (first) {
    for (int64_t k = 0; k < n; ++k) {
      double a = wg[0] * static_cast<double>(p[0][k]);
      for (int g = 1; g < G; ++g)
        a += wg[g] * static_cast<double>(p[g][k]);
      acc[k] = a;
    }
    return;
  }
  for (int64_t k = 0; k < n; ++k) {
    double a = acc[k];
    for (int g = 0; g < G; ++g)
      a += wg[g] * static_cast<double>(p[g][k]);
    acc[k] = a;
  }
}

// Whether no element is NaN or infinite: an exponent of all ones, tested
// on the bits so the loop vectorizes.
bool allFinite(const double *a, int64_t n) {
  constexpr uint64_t kExponent = 0x7ff0000000000000ull;
  uint64_t bad = 0;
  for (int64_t k = 0; k < n; ++k) {
    uint64_t bits;
    std::memcpy(&bits, &a[k], 8);
    bad |= static_cast<uint64_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

// a += b in one pass that also tells whether every sum stayed finite.
bool addChecked(double *__restrict a, const double *__restrict b, int64_t n) {
  constexpr uint64_t kExponent = 0x7ff0000000000000ull;
  uint64_t bad = 0;
  for (int64_t k = 0; k < n; ++k) {
    double v = a[k] + b[k];
    a[k] = v;
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    bad |= static_cast<uint64_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

// r = float(acc / divisor) in one pass (correctly rounded: a division, not
// a multiplication by the reciprocal); false if a value does not fit f32.
bool narrowChecked(const double *__restrict acc, double divisor,
                   float *__restrict r, int64_t n) {
  constexpr uint32_t kExponent = 0x7f800000u;
  uint32_t bad = 0;
  for (int64_t k = 0; k < n; ++k) {
    float v = static_cast<float>(acc[k] / divisor);
    r[k] = v;
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bad |= static_cast<uint32_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

// acc = min(acc, x) or max(acc, x); the first client initializes.
template <bool Max, class T>
void foldExtreme(double *__restrict acc, const T *__restrict x, int64_t n,
                 bool first) {
  for (int64_t k = 0; k < n; ++k) {
    double v = static_cast<double>(x[k]);
    acc[k] = first ? v : Max ? std::max(acc[k], v) : std::min(acc[k], v);
  }
}

// Folds every client of the batch, in order, tile by tile: a tile of the
// partial (16384 elements, 128 KiB: L2-resident) meets each client's matching
// slice. False if a sum or mean became NaN or infinite (checked per tile
// while it is in cache).
template <class T>
bool foldTiles(Aggregation::Kind kind, double *acc, int64_t n,
               const std::vector<const void *> &data,
               const std::vector<double> &weights, bool started) {
  constexpr int64_t kTile = 16384;
  bool sums = kind != Kind::Min && kind != Kind::Max;
  std::vector<const T *> x(data.size());
  std::vector<double> w(data.size(), 1.0);
  if (kind == Kind::WeightedMean || kind == Kind::DpMean)
    w = weights; // a DP mean's: each client's clip factor
  for (int64_t start = 0; start < n; start += kTile) {
    int64_t len = std::min(kTile, n - start);
    double *a = acc + start;
    for (size_t c = 0; c < data.size(); ++c)
      x[c] = static_cast<const T *>(data[c]) + start;
    bool first = !started;
    size_t c = 0;
    if (!sums) {
      for (; c < data.size(); ++c, first = false)
        kind == Kind::Min ? foldExtreme<false>(a, x[c], len, first)
                          : foldExtreme<true>(a, x[c], len, first);
      continue;
    }
    for (; c + 8 <= data.size(); c += 8, first = false)
      foldGroup<8>(a, &x[c], &w[c], len, first);
    for (; c + 4 <= data.size(); c += 4, first = false)
      foldGroup<4>(a, &x[c], &w[c], len, first);
    for (; c < data.size(); ++c, first = false)
      foldGroup<1>(a, &x[c], &w[c], len, first);
    if (!allFinite(a, len))
      return false;
  }
  return true;
}

bool PartialAggregate::addReals(size_t leaf,
                                const std::vector<const void *> &data,
                                const std::vector<double> &weights) {
  const TypeDesc &t = *leaves_[leaf];
  if (t.element == Element::F32)
    return foldTiles<float>(agg_.kind, real_[leaf].data(), t.elements(), data,
                            weights, started_);
  return foldTiles<double>(agg_.kind, real_[leaf].data(), t.elements(), data,
                           weights, started_);
}

absl::Status PartialAggregate::addIntegers(
    size_t leaf, const std::vector<const void *> &data,
    const std::function<std::string(size_t)> &name, size_t *culprit) {
  const TypeDesc &t = *leaves_[leaf];
  int64_t n = t.elements();
  int64_t *acc = whole_[leaf].data();
  for (size_t c = 0; c < data.size(); ++c) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t x = loadInteger(
          t.element, static_cast<const unsigned char *>(data[c]) +
                         k * static_cast<int64_t>(elementSize(t.element)));
      if (agg_.kind == Kind::SecureSum &&
          (x < 0 ||
           (agg_.bitwidth < 63 && x >= (int64_t(1) << agg_.bitwidth)))) {
        if (culprit)
          *culprit = c;
        return absl::InvalidArgumentError(
            name(c) + ": federated_secure_sum value " + std::to_string(x) +
            " is outside [0, 2^" + std::to_string(agg_.bitwidth) + ")");
      }
      if (agg_.kind == Kind::Min)
        acc[k] = std::min(acc[k], x);
      else if (agg_.kind == Kind::Max)
        acc[k] = std::max(acc[k], x);
      else if (__builtin_add_overflow(acc[k], x, &acc[k])) {
        if (culprit)
          *culprit = SIZE_MAX;
        return absl::InvalidArgumentError(std::string(kindName(agg_.kind)) +
                                          " overflows i64");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status
PartialAggregate::addRealLeaf(size_t i, const std::vector<const void *> &data,
                              const std::vector<double> &weights,
                              const std::function<std::string(size_t)> &name,
                              size_t *culprit) {
  auto blame = [&](size_t c, const std::string &message) {
    if (culprit)
      *culprit = c;
    return absl::InvalidArgumentError(message);
  };
  size_t count = data.size();
  if (agg_.kind == Kind::Min || agg_.kind == Kind::Max) {
    // NaN has no order: it would be kept or dropped depending on where it
    // falls in a block. Refused, naming the client.
    addReals(i, data, weights);
    const TypeDesc &t = *leaves_[i];
    for (size_t c = 0; c < count; ++c) {
      bool nan = t.element == Element::F32
                     ? view<float>(data[c], t.elements()).isNaN().any()
                     : view<double>(data[c], t.elements()).isNaN().any();
      if (nan)
        return blame(c, name(c) + ": " + kindName(agg_.kind) + " received NaN");
    }
    return absl::OkStatus();
  }
  if (addReals(i, data, weights))
    return absl::OkStatus();
  // Name the first client whose value is not finite.
  const TypeDesc &t = *leaves_[i];
  for (size_t c = 0; c < count; ++c) {
    bool finite = t.element == Element::F32
                      ? view<float>(data[c], t.elements()).isFinite().all()
                      : view<double>(data[c], t.elements()).isFinite().all();
    if (!finite)
      return blame(c, name(c) + ": " + kindName(agg_.kind) +
                          " received a value that is not finite (NaN or "
                          "infinity)");
  }
  return blame(SIZE_MAX, std::string(kindName(agg_.kind)) +
                             " overflows: a sum exceeds the range of f64");
}

absl::Status
PartialAggregate::add(const uint64_t *const *clients, size_t count,
                      size_t offset, Context &ctx,
                      const std::function<std::string(size_t)> &name,
                      size_t *culprit, const int64_t *population) {
  auto blame = [&](size_t c, const std::string &message) {
    if (culprit)
      *culprit = c;
    return absl::InvalidArgumentError(message);
  };
  if (count == 0) // nothing to fold (and the partial may be uninitialized)
    return absl::OkStatus();
  clients_ += static_cast<int64_t>(count);
  if (agg_.kind == Kind::Custom)
    return addCustom(clients, count, offset, ctx, culprit);
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
    if (agg_.weighted()) {
      float weight;
      auto bits = static_cast<uint32_t>(clients[c][next]);
      std::memcpy(&weight, &bits, sizeof weight);
      if (!std::isfinite(weight) || weight < 0)
        return blame(c, name(c) + ": the weight of " + kindName(agg_.kind) +
                            " is " + std::to_string(weight) +
                            "; weights must be finite and >= 0");
      weights[c] = weight;
    }
    if (agg_.kind != Kind::DpMean && agg_.kind != Kind::SecureMean)
      weight_ += weights[c];
  }
  if (agg_.kind == Kind::SecureMean)
    return addQuantized(data, weights, name, culprit, population);
  if (agg_.kind == Kind::DpMean)
    if (absl::Status s = clipClients(data, weights, name, culprit); !s.ok())
      return s;
  for (size_t i = 0; i < leaves_.size(); ++i) {
    if (!isReal(leaves_[i]->element)) {
      if (absl::Status s = addIntegers(i, data[i], name, culprit); !s.ok())
        return s;
      continue;
    }
    if (absl::Status s = addRealLeaf(i, data[i], weights, name, culprit);
        !s.ok())
      return s;
  }
  started_ = started_ || count > 0;
  return absl::OkStatus();
}

absl::Status PartialAggregate::merge(const PartialAggregate &other,
                                     Context &ctx) {
  // Counts and weights from the network (deserialize) are checked here
  // too: a hostile partial must not overflow them.
  if (__builtin_add_overflow(clients_, other.clients_, &clients_))
    return absl::InvalidArgumentError(
        "merged partials count more than 2^63 clients");
  if (agg_.kind == Kind::Custom) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    toSlots(agg_.accumulator, other.custom_, in);
    absl::StatusOr<HostValue> merged =
        callEntry(agg_.merge, in, agg_.accumulator, ctx);
    if (!merged.ok())
      return merged.status();
    custom_ = *std::move(merged);
    return absl::OkStatus();
  }
  weight_ += other.weight_;
  if (!std::isfinite(weight_))
    return absl::InvalidArgumentError(
        std::string(kindName(agg_.kind)) +
        " overflows: the sum of the weights exceeds the range of f64");
  bool copy = !started_;
  started_ = started_ || other.started_;
  for (size_t i = 0; i < real_.size(); ++i) {
    auto n = static_cast<Eigen::Index>(real_[i].size());
    Eigen::Map<Eigen::ArrayXd> a(real_[i].data(), n);
    Eigen::Map<const Eigen::ArrayXd> b(other.real_[i].data(), n);
    if (!other.started_)
      ; // nothing folded there
    else if (copy)
      a = b;
    else if (agg_.kind == Kind::Min)
      a = a.min(b);
    else if (agg_.kind == Kind::Max)
      a = a.max(b);
    else if (!addChecked(a.data(), b.data(), n))
      return absl::InvalidArgumentError(
          std::string(kindName(agg_.kind)) +
          " overflows: a sum exceeds the range of f64");
    for (size_t k = 0; k < whole_[i].size(); ++k) {
      int64_t &x = whole_[i][k];
      int64_t y = other.whole_[i][k];
      if (agg_.kind == Kind::Min)
        x = std::min(x, y);
      else if (agg_.kind == Kind::Max)
        x = std::max(x, y);
      else if (__builtin_add_overflow(x, y, &x))
        return absl::InvalidArgumentError(std::string(kindName(agg_.kind)) +
                                          " overflows i64");
    }
  }
  for (size_t j = 0; j < weightLimbs_.size(); ++j)
    if (__builtin_add_overflow(weightLimbs_[j], other.weightLimbs_[j],
                               &weightLimbs_[j]))
      return absl::InvalidArgumentError(std::string(kindName(agg_.kind)) +
                                        ": the sum of the weights overflows");
  return absl::OkStatus();
}

std::vector<int64_t> PartialAggregate::integerSums() const {
  std::vector<int64_t> out;
  for (const auto &w : whole_)
    out.insert(out.end(), w.begin(), w.end());
  out.insert(out.end(), weightLimbs_.begin(), weightLimbs_.end());
  return out;
}

void PartialAggregate::setIntegerSums(const std::vector<int64_t> &sums) {
  size_t at = 0;
  for (auto &w : whole_)
    for (int64_t &x : w)
      x = at < sums.size() ? sums[at++] : 0;
  for (int64_t &x : weightLimbs_)
    x = at < sums.size() ? sums[at++] : 0;
}

absl::StatusOr<HostValue> PartialAggregate::report(Context &ctx) const {
  if (agg_.kind == Kind::Custom) {
    std::vector<uint64_t> in;
    toSlots(agg_.accumulator, custom_, in);
    return callEntry(agg_.report, in, agg_.result, ctx);
  }
  if (agg_.kind == Kind::DpMean)
    return absl::InternalError(
        "federated_dp_mean is released by the privacy mechanism");
  if (agg_.kind == Kind::SecureMean)
    return reportSecureMean();
  bool mean = agg_.kind == Kind::Mean || agg_.kind == Kind::WeightedMean;
  if (clients_ == 0 && agg_.kind != Kind::Sum && agg_.kind != Kind::SecureSum)
    return absl::InvalidArgumentError(std::string(kindName(agg_.kind)) +
                                      " over no clients");
  if (mean && !(weight_ > 0))
    return absl::InvalidArgumentError("federated_mean: the weights of all " +
                                      std::to_string(clients_) +
                                      " clients sum to zero");
  // Every element is written below, except a sum over no clients (zeros).
  // The result's layout may widen the value's (bytes to i64).
  HostValue out = started_ ? HostValue::uninitialized(agg_.result)
                           : HostValue::zeros(agg_.result);
  if (started_) // else a sum over no clients: zeros
    if (absl::Status s = narrowReals(out, mean ? weight_ : 1.0); !s.ok())
      return s;
  for (size_t i = 0; i < out.leaves.size(); ++i) {
    Tensor &t = out.leaves[i];
    auto n = static_cast<Eigen::Index>(t.count);
    if (isReal(t.element))
      continue;
    for (Eigen::Index k = 0; k < n; ++k) {
      int64_t x = whole_[i][static_cast<size_t>(k)];
      unsigned char *at =
          t.data.get() + k * static_cast<int64_t>(elementSize(t.element));
      if (t.element == Element::Bool)
        *at = x != 0;
      else if (!storeInteger(x, t.element, at))
        return absl::InvalidArgumentError(
            std::string(kindName(agg_.kind)) + " overflows " +
            elementName(t.element) + " (" + std::to_string(x) + ")");
    }
  }
  return out;
}

absl::Status PartialAggregate::narrowReals(HostValue &out,
                                           double divisor) const {
  bool mean = divisor != 1.0;
  for (size_t i = 0; i < out.leaves.size(); ++i) {
    Tensor &t = out.leaves[i];
    auto n = static_cast<Eigen::Index>(t.count);
    if (!isReal(t.element))
      continue;
    Eigen::Map<const Eigen::ArrayXd> acc(real_[i].data(), n);
    if (t.element == Element::F32) {
      bool finite = narrowChecked(acc.data(), divisor, t.as<float>(), n);
      if (agg_.kind != Kind::Min && agg_.kind != Kind::Max && !finite)
        return absl::InvalidArgumentError(
            std::string(kindName(agg_.kind)) +
            " overflows: the result exceeds the range of f32");
    } else {
      Eigen::Map<Eigen::ArrayXd> r(t.as<double>(), n);
      r = mean ? (acc / divisor).eval() : acc.eval();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HostValue> PartialAggregate::reportNoised(
    const std::function<void(size_t, double *, int64_t)> &perturb,
    double denominator) {
  for (size_t i = 0; i < real_.size(); ++i) {
    if (!isReal(leaves_[i]->element))
      continue;
    if (!started_) // no client folded in: the noise alone
      std::fill(real_[i].begin(), real_[i].end(), 0.0);
    perturb(i, real_[i].data(), static_cast<int64_t>(real_[i].size()));
  }
  started_ = true;
  HostValue out = HostValue::uninitialized(agg_.result);
  if (absl::Status s = narrowReals(out, denominator); !s.ok())
    return s;
  return out;
}

// Serialized form: u64 clients, f64 weight (a DP mean: its clients within
// the clip), u8 started, then per tensor
// leaf its accumulator (f64 or i64 elements, as many as the leaf has), or
// for a custom aggregation its accumulator value (HostValue serialize);
// then a weighted secure mean's weight limbs (i64 each).
void PartialAggregate::serialize(std::string &out) const {
  auto put = [&](const void *p, size_t n) {
    out.append(static_cast<const char *>(p), n);
  };
  put(&clients_, 8);
  put(&weight_, 8);
  uint8_t started = started_ ? 1 : 0;
  put(&started, 1);
  if (agg_.kind == Kind::Custom) {
    fedrt::serialize(custom_, out);
    return;
  }
  for (size_t i = 0; i < leaves_.size(); ++i) {
    if (realAccumulator(agg_.kind, leaves_[i]->element))
      put(real_[i].data(), real_[i].size() * 8);
    else
      put(whole_[i].data(), whole_[i].size() * 8);
  }
  put(weightLimbs_.data(), weightLimbs_.size() * 8);
}

absl::StatusOr<PartialAggregate>
PartialAggregate::deserialize(const Aggregation &agg, std::string_view in,
                              size_t &pos, BufferPool *pool) {
  auto get = [&](void *p, size_t n) {
    if (in.size() - pos < n)
      return false;
    if (n == 0) // an empty vector's data() may be null: no memcpy
      return true;
    std::memcpy(p, in.data() + pos, n);
    pos += n;
    return true;
  };
  auto truncated = [&] {
    return absl::InvalidArgumentError(std::string("a partial ") +
                                      kindName(agg.kind) + " of " +
                                      agg.value.str() + " is truncated");
  };
  if (agg.kind == Kind::Custom) {
    HostValue zero = HostValue::zeros(agg.accumulator);
    PartialAggregate p(agg, &zero, pool);
    uint8_t started = 0;
    if (!get(&p.clients_, 8) || !get(&p.weight_, 8) || !get(&started, 1))
      return truncated();
    std::string error;
    if (!fedrt::deserialize(agg.accumulator, std::string(in), pos, p.custom_,
                            error))
      return absl::InvalidArgumentError(error);
    return p;
  }
  PartialAggregate p(agg, nullptr, pool);
  uint8_t started = 0;
  if (!get(&p.clients_, 8) || !get(&p.weight_, 8) || !get(&started, 1))
    return truncated();
  if (started > 1 || p.clients_ < 0 || !std::isfinite(p.weight_))
    return absl::InvalidArgumentError("a malformed partial aggregate");
  // A DP mean's weight counts its clients within the clip.
  if (agg.kind == Kind::DpMean &&
      (p.weight_ < 0 || p.weight_ > static_cast<double>(p.clients_)))
    return absl::InvalidArgumentError(
        "a malformed partial federated_dp_mean: more clients within the "
        "clip than clients");
  p.started_ = started == 1;
  for (size_t i = 0; i < p.leaves_.size(); ++i) {
    bool ok = realAccumulator(agg.kind, p.leaves_[i]->element)
                  ? get(p.real_[i].data(), p.real_[i].size() * 8)
                  : get(p.whole_[i].data(), p.whole_[i].size() * 8);
    if (!ok)
      return truncated();
  }
  if (!get(p.weightLimbs_.data(), p.weightLimbs_.size() * 8))
    return truncated();
  return p;
}

} // namespace fedrt