// federated_secure_mean's encoding (fedrt/SecureMean.h) and partial
// aggregate: clipping, the per-client error bound 2R / (2^B - 1), the
// unbiasedness of stochastic rounding, exact fixed-point weights, and
// partials whose integer sums do not depend on how clients are split.
#include "fedrt/SecureMean.h"
#include "fedrt/Aggregator.h"
#include "fedrt/Context.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace fedrt {
namespace {

namespace sm = secure_mean;

double dequantize(uint64_t level, double range, int bits) {
  return sm::dequantizeSum(static_cast<int64_t>(level), 1, range, bits);
}

TEST(SecureMeanEncoding, ClipsToTheRange) {
  for (int bits : {1, 8, 16, 48}) {
    uint64_t top = (uint64_t(1) << bits) - 1;
    EXPECT_EQ(sm::quantize(5.0, 1.0, bits, 0.0), top);
    EXPECT_EQ(sm::quantize(5.0, 1.0, bits, 0.999), top);
    EXPECT_EQ(sm::quantize(-5.0, 1.0, bits, 0.0), 0u);
    EXPECT_EQ(sm::quantize(-1.0, 1.0, bits, 0.0), 0u);
    EXPECT_EQ(sm::quantize(1.0, 1.0, bits, 0.0), top);
    EXPECT_DOUBLE_EQ(dequantize(top, 1.0, bits), 1.0);
    EXPECT_DOUBLE_EQ(dequantize(0, 1.0, bits), -1.0);
  }
}

TEST(SecureMeanEncoding, LevelsAreExact) {
  // A value on a level stays there whatever the uniform.
  const double range = 0.75;
  const int bits = 10;
  for (uint64_t k : {0u, 1u, 511u, 700u, 1023u})
    for (double u : {0.0, 0.5, 0.999999})
      EXPECT_EQ(sm::quantize(dequantize(k, range, bits), range, bits, u), k)
          << "level " << k << " u " << u;
}

TEST(SecureMeanEncoding, ErrorBelowOneStepPerClient) {
  std::mt19937_64 gen(7);
  for (int bits : {1, 2, 8, 16, 24, 32, 48}) {
    for (double range : {1e-3, 0.5, 3.0, 1e6}) {
      const double step = sm::step(range, bits);
      EXPECT_DOUBLE_EQ(step, 2 * range / (std::ldexp(1.0, bits) - 1));
      std::uniform_real_distribution<double> value(-range, range), u(0, 1);
      for (int i = 0; i < 2000; ++i) {
        double v = value(gen);
        uint64_t level = sm::quantize(v, range, bits, u(gen));
        ASSERT_LT(level, uint64_t(1) << bits);
        double err = std::fabs(dequantize(level, range, bits) - v);
        // Float64 rounding of t = (v + R) / 2R x (2^B - 1) adds ulps.
        ASSERT_LE(err, step * (1 + 1e-9) + range * 1e-15)
            << "bits " << bits << " range " << range << " v " << v;
      }
    }
  }
}

TEST(SecureMeanEncoding, StochasticRoundingIsUnbiased) {
  // E[dequantize(quantize(v))] = v: over N draws from the real streams the
  // mean lies within 5 standard errors (each draw's deviation is at most
  // one step, so its standard deviation is at most step / 2). Rounding to
  // nearest, or always down, is off by a good fraction of a step.
  const double range = 1.0;
  const int bits = 4; // step 2/15: a bias would be large
  const double step = sm::step(range, bits);
  const int n = 200000;
  const uint64_t stage = sm::stageKey(1, 3, 0, 0);
  for (double v : {-0.93, -0.1, 0.0123, 0.5, 0.8}) {
    double sum = 0;
    for (int c = 0; c < n; ++c) {
      uint64_t key = sm::clientKey(stage, c);
      sum += dequantize(sm::quantize(v, range, bits, sm::uniform(key, 0)),
                        range, bits);
    }
    double bound = 5 * (step / 2) / std::sqrt(static_cast<double>(n));
    EXPECT_NEAR(sum / n, v, bound) << "v " << v;
  }
}

TEST(SecureMeanEncoding, StreamsAreDeterministicAndDistinct) {
  uint64_t stage = sm::stageKey(42, 7, 1, 2);
  EXPECT_EQ(stage, sm::stageKey(42, 7, 1, 2));
  EXPECT_NE(stage, sm::stageKey(43, 7, 1, 2)); // seed
  EXPECT_NE(stage, sm::stageKey(42, 8, 1, 2)); // round
  EXPECT_NE(stage, sm::stageKey(42, 7, 0, 2)); // stage
  EXPECT_NE(stage, sm::stageKey(42, 7, 1, 3)); // aggregation
  uint64_t a = sm::clientKey(stage, 5), b = sm::clientKey(stage, 6);
  EXPECT_NE(a, b);
  double sum = 0;
  for (uint64_t k = 0; k < 10000; ++k) {
    double u = sm::uniform(a, k);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    EXPECT_EQ(u, sm::uniform(a, k));
    EXPECT_NE(u, sm::uniform(b, k));
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(SecureMeanEncoding, DequantizedSumsAreExactInIntegers) {
  // Three clients at the top, the bottom and the middle level (B = 2:
  // levels -R, -R/3, R/3, R).
  EXPECT_DOUBLE_EQ(sm::dequantizeSum(3 + 0 + 1, 3, 3.0, 2), 3.0 - 3.0 - 1.0);
  // 2^14 clients of 48-bit levels at the top: n x R.
  int64_t n = int64_t(1) << 14;
  int64_t top = (int64_t(1) << 48) - 1;
  EXPECT_DOUBLE_EQ(sm::dequantizeSum(n * top, n, 0.5, 48), 0.5 * n);
}

TEST(SecureMeanEncoding, WeightsAreExactFixedPoint) {
  for (int bits : {1, 7, 16, 24, 48}) {
    std::vector<int64_t> limbs(sm::weightLimbs(bits), 0);
    EXPECT_EQ(limbs.size(), static_cast<size_t>((48 + bits - 1) / bits));
    double expected = 0;
    for (double w : {1.0, 17.0, 0.5, 0.0, 1234.25, 4294967040.0, 3e-5}) {
      ASSERT_TRUE(sm::addWeight(w, bits, limbs.data())) << w;
      expected += std::nearbyint(w * 65536) / 65536;
    }
    for (int64_t limb : limbs)
      EXPECT_LT(limb, int64_t(7) << bits); // each below n x 2^B
    EXPECT_DOUBLE_EQ(sm::weightSum(limbs.data(), limbs.size(), bits), expected)
        << "bits " << bits;
  }
  std::vector<int64_t> limbs(3, 0);
  for (double w : {-1.0, double(NAN), double(INFINITY), 4294967296.0, 1e12})
    EXPECT_FALSE(sm::addWeight(w, 16, limbs.data())) << w;
  EXPECT_EQ(limbs, std::vector<int64_t>(3, 0));
}

TEST(SecureMeanEncoding, ModulusHoldsTheSum) {
  Aggregation mean;
  mean.kind = Aggregation::Kind::SecureMean;
  mean.bitwidth = 16;
  EXPECT_EQ(mean.secureModulusBits(1), 17);
  EXPECT_EQ(mean.secureModulusBits(10), 16 + 4 + 1);
  EXPECT_EQ(mean.secureModulusBits(16), 16 + 4 + 1);
  EXPECT_EQ(mean.secureModulusBits(17), 16 + 5 + 1);
  mean.bitwidth = 48;
  EXPECT_EQ(mean.secureModulusBits(1 << 14), 63); // the most that fits
  EXPECT_EQ(mean.secureModulusBits((1 << 14) + 1), 64);
  Aggregation sum;
  sum.kind = Aggregation::Kind::SecureSum;
  sum.bitwidth = 20;
  EXPECT_EQ(sum.secureModulusBits(10), 24);
}

// --- the partial aggregate --------------------------------------------------

struct Clients {
  // Each client's f32[4] value and weight, laid out as a client fn's
  // output: the tensor's pointer, its dim, then the weight's bits.
  std::vector<std::vector<float>> values;
  std::vector<float> weights;
  std::vector<std::vector<uint64_t>> slots;
  std::vector<const uint64_t *> pointers;
  std::vector<int64_t> population;

  Clients(size_t n, double spread, uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<float> v(static_cast<float>(-spread),
                                            static_cast<float>(spread));
    std::uniform_int_distribution<int> w(1, 40);
    for (size_t c = 0; c < n; ++c) {
      values.push_back({v(gen), v(gen), v(gen), v(gen)});
      weights.push_back(static_cast<float>(w(gen)));
      population.push_back(static_cast<int64_t>(100 + 3 * c));
    }
    for (size_t c = 0; c < n; ++c) {
      uint32_t bits;
      std::memcpy(&bits, &weights[c], 4);
      slots.push_back({reinterpret_cast<uint64_t>(values[c].data()), 4, bits});
    }
    for (auto &s : slots)
      pointers.push_back(s.data());
  }
};

Aggregation secureMean(double range, int bits, bool weighted) {
  Aggregation a;
  a.kind = Aggregation::Kind::SecureMean;
  a.bitwidth = bits;
  a.secureMean = {range, weighted};
  a.value = *parseType("f32[4]");
  a.result = a.value;
  return a;
}

absl::Status fold(PartialAggregate &p, const Clients &c, size_t from, size_t to,
                  Context &ctx) {
  p.setRounding(sm::stageKey(9, 1, 0, 0));
  return p.add(
      c.pointers.data() + from, to - from, 0, ctx,
      [](size_t i) { return "client " + std::to_string(i); }, nullptr,
      c.population.data() + from);
}

TEST(SecureMeanPartial, SplitsDoNotChangeTheSums) {
  Context ctx;
  Clients clients(25, 0.4, 3);
  for (bool weighted : {false, true}) {
    Aggregation agg = secureMean(weighted ? 20.0 : 0.5, 12, weighted);
    PartialAggregate whole(agg, nullptr), first(agg, nullptr),
        second(agg, nullptr);
    ASSERT_TRUE(fold(whole, clients, 0, 25, ctx).ok());
    ASSERT_TRUE(fold(first, clients, 0, 9, ctx).ok());
    ASSERT_TRUE(fold(second, clients, 9, 25, ctx).ok());
    ASSERT_TRUE(first.merge(second, ctx).ok());
    EXPECT_EQ(whole.integerSums(), first.integerSums());
    EXPECT_EQ(whole.integerSums().size(),
              4 + (weighted ? sm::weightLimbs(12) : 0));
    // One client at a time (how simulate keeps each party's input).
    std::vector<int64_t> summed(whole.integerSums().size(), 0);
    for (size_t c = 0; c < 25; ++c) {
      PartialAggregate one(agg, nullptr);
      ASSERT_TRUE(fold(one, clients, c, c + 1, ctx).ok());
      std::vector<int64_t> mine = one.integerSums();
      for (size_t k = 0; k < mine.size(); ++k)
        summed[k] += mine[k];
    }
    EXPECT_EQ(summed, whole.integerSums());
  }
}

TEST(SecureMeanPartial, MeanWithinTheBound) {
  Context ctx;
  const size_t n = 40;
  Clients clients(n, 0.4, 5);
  // Unweighted: |mean - plain mean| <= step (each client's error < step).
  Aggregation agg = secureMean(0.5, 16, false);
  PartialAggregate p(agg, nullptr);
  ASSERT_TRUE(fold(p, clients, 0, n, ctx).ok());
  absl::StatusOr<HostValue> mean = p.report(ctx);
  ASSERT_TRUE(mean.ok()) << mean.status();
  double step = sm::step(0.5, 16);
  for (int k = 0; k < 4; ++k) {
    double plain = 0;
    for (size_t c = 0; c < n; ++c)
      plain += clients.values[c][static_cast<size_t>(k)];
    plain /= n;
    EXPECT_NEAR(mean->leaves[0].as<float>()[k], plain, step + 1e-7);
  }
  // Weighted: the weighted values w x are quantized (range 20 covers 40 x
  // 0.4), the weights summed exactly: |mean - plain| <= n step / sum w.
  Aggregation weighted = secureMean(20.0, 16, true);
  PartialAggregate q(weighted, nullptr);
  ASSERT_TRUE(fold(q, clients, 0, n, ctx).ok());
  absl::StatusOr<HostValue> wmean = q.report(ctx);
  ASSERT_TRUE(wmean.ok()) << wmean.status();
  double total = 0;
  for (float w : clients.weights)
    total += w;
  for (int k = 0; k < 4; ++k) {
    double plain = 0;
    for (size_t c = 0; c < n; ++c)
      plain += clients.weights[c] * clients.values[c][static_cast<size_t>(k)];
    plain /= total;
    EXPECT_NEAR(wmean->leaves[0].as<float>()[k], plain,
                n * sm::step(20.0, 16) / total + 1e-7);
  }
}

TEST(SecureMeanPartial, ClipsEachClient) {
  Context ctx;
  Clients clients(6, 3.0, 8);
  for (auto &v : clients.values)
    v = {5.0f, -5.0f, 0.25f, 0.0f};
  Aggregation agg = secureMean(1.0, 8, false);
  PartialAggregate p(agg, nullptr);
  ASSERT_TRUE(fold(p, clients, 0, 6, ctx).ok());
  absl::StatusOr<HostValue> mean = p.report(ctx);
  ASSERT_TRUE(mean.ok());
  const float *m = mean->leaves[0].as<float>();
  EXPECT_FLOAT_EQ(m[0], 1.0f);
  EXPECT_FLOAT_EQ(m[1], -1.0f);
  EXPECT_NEAR(m[2], 0.25, sm::step(1.0, 8));
}

TEST(SecureMeanPartial, SerializesAndRefusesBadClients) {
  Context ctx;
  Clients clients(5, 0.5, 11);
  Aggregation agg = secureMean(30.0, 20, true);
  PartialAggregate p(agg, nullptr);
  ASSERT_TRUE(fold(p, clients, 0, 5, ctx).ok());
  std::string bytes;
  p.serialize(bytes);
  size_t pos = 0;
  absl::StatusOr<PartialAggregate> back =
      PartialAggregate::deserialize(agg, bytes, pos);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(pos, bytes.size());
  EXPECT_EQ(back->integerSums(), p.integerSums());
  EXPECT_EQ(back->clients(), 5);
  pos = 0;
  EXPECT_FALSE(
      PartialAggregate::deserialize(
          agg, std::string_view(bytes).substr(0, bytes.size() - 1), pos)
          .ok());
  // A non-finite value, a weight past 2^32: that client is named.
  clients.values[3][1] = NAN;
  PartialAggregate bad(agg, nullptr);
  size_t culprit = 99;
  bad.setRounding(1);
  absl::Status s = bad.add(
      clients.pointers.data(), 5, 0, ctx,
      [](size_t i) { return "client " + std::to_string(i); }, &culprit,
      clients.population.data());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(culprit, 3u);
  EXPECT_NE(s.message().find("client 3: federated_secure_mean received a "
                             "value that is not finite"),
            std::string::npos)
      << s.message();
  clients.values[3][1] = 0;
  float big = 5e9f;
  uint32_t bits;
  std::memcpy(&bits, &big, 4);
  clients.slots[2][2] = bits;
  PartialAggregate heavy(agg, nullptr);
  s = fold(heavy, clients, 0, 5, ctx);
  EXPECT_NE(s.message().find("client 2: the weight of federated_secure_mean"),
            std::string::npos)
      << s.message();
  // No rounding streams: an internal error, not a silent default.
  PartialAggregate blind(agg, nullptr);
  EXPECT_FALSE(blind
                   .add(clients.pointers.data(), 1, 0, ctx,
                        [](size_t) { return std::string("c"); })
                   .ok());
}

} // namespace
} // namespace fedrt
