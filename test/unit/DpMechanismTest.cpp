// federated_dp_mean's runtime: clipping where clients run (whole value,
// float64), the noise the coordinator adds once (its statistics and
// reproducibility), adaptive clipping's geometric update, and the ε the
// mechanism accounts (docs/privacy.md).
#include "fedrt/DpMechanism.h"
#include "PlanFixtures.h"
#include "fedrt/Aggregator.h"
#include "fedrt/Privacy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace fedrt {
namespace {

using fixtures::typeOf;

Aggregation dpMean(const std::string &type, double clip, double z) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::DpMean;
  agg.value = typeOf(type);
  agg.result = agg.value;
  agg.dp.clip = clip;
  agg.dp.noiseMultiplier = z;
  return agg;
}

std::unique_ptr<DpMechanism> mechanism(std::optional<uint64_t> seed) {
  DpConfig config;
  config.seed = seed;
  absl::StatusOr<std::unique_ptr<DpMechanism>> m = DpMechanism::create(config);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

std::string clientName(size_t c) { return "client " + std::to_string(c); }

// Folds the clients (slots as a client fn writes them) with `dp`'s clip
// and releases their DP mean for a round with denominator k.
HostValue releaseOf(DpMechanism &dp, const Aggregation &agg,
                    const std::vector<std::vector<uint64_t>> &clients,
                    int64_t k, int64_t round = 1) {
  dp.beginRound(round);
  dp.setCohort(k, k, 10 * k);
  PartialAggregate partial(agg, nullptr);
  partial.setClip(dp.clip(agg));
  std::vector<const uint64_t *> slots;
  for (const auto &c : clients)
    slots.push_back(c.data());
  Context ctx;
  absl::Status added =
      partial.add(slots.data(), slots.size(), 0, ctx, clientName);
  EXPECT_TRUE(added.ok()) << added;
  absl::StatusOr<HostValue> out = dp.release(agg, partial);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::move(*out) : HostValue();
}

double norm(const HostValue &v) {
  double s = 0;
  for (const Tensor &t : v.leaves)
    for (int64_t k = 0; k < t.count; ++k) {
      double x =
          t.element == Element::F32 ? t.as<float>()[k] : t.as<double>()[k];
      s += x * x;
    }
  return std::sqrt(s);
}

uint64_t slot(double x) {
  uint64_t s;
  std::memcpy(&s, &x, 8);
  return s;
}

// A delta of norm 10 over a struct of an f32 tensor and an f64 scalar
// contributes norm 1 with C = 1 (the clip is of the whole value); one of
// norm 0.5 is untouched.
TEST(DpMeanClipping, ClipsTheWholeValue) {
  Aggregation agg = dpMean("(f32[3],f64)", 1.0, 0.0);
  auto dp = mechanism(1);
  std::vector<float> big = {6, 0, 0}; // with 8 below: norm 10
  HostValue out = releaseOf(
      *dp, agg, {{reinterpret_cast<uint64_t>(big.data()), 3, slot(8.0)}}, 1);
  EXPECT_NEAR(norm(out), 1.0, 1e-6);
  EXPECT_NEAR(out.leaves[0].as<float>()[0], 0.6, 1e-6);
  EXPECT_NEAR(out.leaves[1].as<double>()[0], 0.8, 1e-12);
  std::vector<float> small = {0.3f, 0, 0}; // with 0.4: norm 0.5
  out = releaseOf(
      *dp, agg, {{reinterpret_cast<uint64_t>(small.data()), 3, slot(0.4)}}, 1);
  EXPECT_EQ(out.leaves[0].as<float>()[0], 0.3f);
  EXPECT_EQ(out.leaves[1].as<double>()[0], 0.4);
}

// At 2·10^7 parameters the bound still holds to 1e-6: the norm is taken in
// float64 (a float32 running sum of 2·10^7 squares drifts by percents).
TEST(DpMeanClipping, HoldsAtTwentyMillionParameters) {
  const int64_t n = 20000000;
  Aggregation agg = dpMean("f32[20000000]", 1.0, 0.0);
  auto dp = mechanism(1);
  std::vector<float> delta(n);
  for (int64_t k = 0; k < n; ++k)
    delta[k] = static_cast<float>((k % 7 + 1) * 1e-3);
  double sq = 0;
  for (float x : delta)
    sq += static_cast<double>(x) * x;
  float scale = static_cast<float>(10 / std::sqrt(sq)); // norm ~10
  for (float &x : delta)
    x *= scale;
  HostValue out = releaseOf(
      *dp, agg, {{reinterpret_cast<uint64_t>(delta.data()), uint64_t(n)}}, 1);
  EXPECT_NEAR(norm(out), 1.0, 1e-6);
}

// A value that is not finite is refused, naming the client.
TEST(DpMeanClipping, RefusesValuesThatAreNotFinite) {
  Aggregation agg = dpMean("f32[2]", 1.0, 0.0);
  std::vector<float> good = {1, 2}, bad = {1, NAN};
  std::vector<uint64_t> a = {reinterpret_cast<uint64_t>(good.data()), 2},
                        b = {reinterpret_cast<uint64_t>(bad.data()), 2};
  const uint64_t *slots[] = {a.data(), b.data()};
  PartialAggregate partial(agg, nullptr);
  partial.setClip(1.0);
  Context ctx;
  size_t culprit = 99;
  absl::Status s = partial.add(slots, 2, 0, ctx, clientName, &culprit);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(culprit, 1u);
  EXPECT_EQ(s.message(), "client 1: federated_dp_mean received a value that "
                         "is not finite (NaN or infinity)");
}

// A partial from the network (a worker's) that claims more clients within
// the clip than clients is refused, not turned into a clipped fraction
// below 0.
TEST(DpMeanClipping, RefusesAMalformedPartial) {
  Aggregation agg = dpMean("f32[2]", 1.0, 0.0);
  std::vector<float> v = {3, 4};
  std::vector<uint64_t> slots = {reinterpret_cast<uint64_t>(v.data()), 2};
  const uint64_t *one[] = {slots.data()};
  PartialAggregate partial(agg, nullptr);
  partial.setClip(10.0);
  Context ctx;
  ASSERT_TRUE(partial.add(one, 1, 0, ctx, clientName).ok());
  std::string bytes;
  partial.serialize(bytes);
  size_t pos = 0;
  ASSERT_TRUE(PartialAggregate::deserialize(agg, bytes, pos).ok());
  double two = 2; // within the clip: 2 of 1 client
  std::memcpy(&bytes[8], &two, 8);
  pos = 0;
  EXPECT_FALSE(PartialAggregate::deserialize(agg, bytes, pos).ok());
}

// The weighted form caps weights at max_weight and scales by w/max.
TEST(DpMeanClipping, WeightedFormCapsTheWeight) {
  Aggregation agg = dpMean("f32[1]", 10.0, 0.0);
  agg.dp.maxWeight = 4;
  auto dp = mechanism(1);
  std::vector<float> one = {1.0f};
  auto client = [&](float w) {
    uint32_t bits;
    std::memcpy(&bits, &w, 4);
    return std::vector<uint64_t>{reinterpret_cast<uint64_t>(one.data()), 1,
                                 bits};
  };
  // 2/4 of 1, plus 8 capped to 4/4 of 1, over K = 2.
  HostValue out = releaseOf(*dp, agg, {client(2), client(8)}, 2);
  EXPECT_FLOAT_EQ(out.leaves[0].as<float>()[0], 0.75f);
}

// The denominator is the clients per round, not the clients that reported
// (McMahan et al.'s fixed-denominator estimator): one client of K = 4.
TEST(DpMeanClipping, FixedDenominator) {
  Aggregation agg = dpMean("f32[2]", 1.0, 0.0);
  auto dp = mechanism(1);
  std::vector<float> v = {0.5f, 0.25f};
  HostValue out =
      releaseOf(*dp, agg, {{reinterpret_cast<uint64_t>(v.data()), 2}}, 4);
  EXPECT_EQ(out.leaves[0].as<float>()[0], 0.125f);
  EXPECT_EQ(out.leaves[0].as<float>()[1], 0.0625f);
}

// Zero updates of K = 10 clients, C = 1, z = 1 over 10^6 coordinates: the
// noise on the mean has standard deviation zC/K within 0.5 % and mean
// within 4σ/√n; the same --dp-seed gives the same bits, another seed not.
TEST(DpMeanNoise, StatisticsAndReproducibility) {
  const int64_t n = 1000000, k = 10;
  Aggregation agg = dpMean("f32[1000000]", 1.0, 1.0);
  std::vector<float> zeros(n, 0.0f);
  std::vector<std::vector<uint64_t>> clients(
      k, {reinterpret_cast<uint64_t>(zeros.data()), uint64_t(n)});
  auto seeded = mechanism(42);
  HostValue a = releaseOf(*seeded, agg, clients, k);
  double sum = 0, squares = 0;
  const float *x = a.leaves[0].as<float>();
  for (int64_t i = 0; i < n; ++i) {
    sum += x[i];
    squares += static_cast<double>(x[i]) * x[i];
  }
  double mean = sum / n;
  double stddev = std::sqrt(squares / n - mean * mean);
  double expected = 1.0 * 1.0 / k;
  EXPECT_NEAR(stddev, expected, 0.005 * expected);
  EXPECT_LT(std::abs(mean), 4 * expected / std::sqrt(double(n)));

  HostValue again = releaseOf(*mechanism(42), agg, clients, k);
  EXPECT_EQ(std::memcmp(a.leaves[0].data.get(), again.leaves[0].data.get(),
                        a.leaves[0].bytes()),
            0);
  HostValue other = releaseOf(*mechanism(43), agg, clients, k);
  EXPECT_NE(std::memcmp(a.leaves[0].data.get(), other.leaves[0].data.get(),
                        a.leaves[0].bytes()),
            0);
  // Without a seed the key comes from the OS: two runs differ.
  HostValue os1 = releaseOf(*mechanism(std::nullopt), agg, clients, k);
  HostValue os2 = releaseOf(*mechanism(std::nullopt), agg, clients, k);
  EXPECT_NE(std::memcmp(os1.leaves[0].data.get(), os2.leaves[0].data.get(),
                        os1.leaves[0].bytes()),
            0);
  // Another round of the same run draws other noise.
  HostValue round2 = releaseOf(*seeded, agg, clients, k, 2);
  EXPECT_NE(std::memcmp(a.leaves[0].data.get(), round2.leaves[0].data.get(),
                        a.leaves[0].bytes()),
            0);
}

// Andrew et al. 2021 with TFF's defaults (γ = 0.5, η = 0.2), every client
// at norm 2, C from 0.1, no noise: C grows by e^0.1 a round until it
// passes 2, then stays within e^±0.1 of 2.
TEST(DpMeanAdaptiveClipping, GrowsToTheQuantileAndStays) {
  Aggregation agg = dpMean("f32[2]", 0.1, 0.0);
  agg.dp.adaptive = true;
  agg.dp.targetQuantile = 0.5;
  agg.dp.clipLearningRate = 0.2;
  auto dp = mechanism(1);
  std::vector<float> norm2 = {1.2f, 1.6f};
  std::vector<std::vector<uint64_t>> clients(
      5, {reinterpret_cast<uint64_t>(norm2.data()), 2});
  double clip = 0.1;
  bool passed = false;
  for (int round = 1; round <= 60; ++round) {
    EXPECT_DOUBLE_EQ(dp->clip(agg), clip);
    releaseOf(*dp, agg, clients, 5, round);
    double next = dp->clip(agg);
    if (!passed)
      EXPECT_NEAR(next / clip, std::exp(0.1), 1e-12) << "round " << round;
    passed = passed || next > 2;
    if (passed)
      EXPECT_LE(std::abs(std::log(next / 2)), 0.1 + 1e-12) << "round " << round;
    clip = next;
  }
  EXPECT_TRUE(passed);
  // ln(20)/0.1 = 30 rounds to pass 2.
  auto metrics = dp->metrics();
  ASSERT_GE(metrics.size(), 3u);
  EXPECT_EQ(metrics[1].first, "dp_clip");
  EXPECT_EQ(metrics[2].first, "clipped_fraction");
}

// TFF's noise split: z = 1 with σ_b = 0.05 x K needs K > 10.
TEST(DpMeanAdaptiveClipping, NoiseSplitNeedsEnoughClients) {
  Aggregation agg = dpMean("f32[2]", 0.1, 1.0);
  agg.dp.adaptive = true;
  EXPECT_FALSE(DpMechanism::checkNoiseSplit(agg, 10).ok());
  EXPECT_TRUE(DpMechanism::checkNoiseSplit(agg, 11).ok());
  agg.dp.clippedCountStddev = 5;
  EXPECT_TRUE(DpMechanism::checkNoiseSplit(agg, 2).ok());
}

// ε after R rounds is the accountant's value for (q, z, R, δ), and the
// prediction for one more round is what that round then spends.
TEST(DpMeanAccounting, EpsilonIsTheAccountants) {
  Aggregation agg = dpMean("f32[4]", 1.0, 1.1);
  auto dp = mechanism(3);
  std::vector<float> v = {1, 2, 3, 4};
  std::vector<std::vector<uint64_t>> clients(
      10, {reinterpret_cast<uint64_t>(v.data()), 4});
  for (int round = 1; round <= 20; ++round) {
    releaseOf(*dp, agg, clients, 10, round); // q = 10 / 100
    absl::StatusOr<privacy::Epsilon> predicted = dp->epsilonWith({{0.1, 1.1}});
    dp->endRound();
    absl::StatusOr<privacy::Epsilon> eps = dp->epsilon();
    absl::StatusOr<privacy::Epsilon> expected =
        privacy::dpFedAvgEpsilon(100, 10, {1.1}, round, 1e-5);
    ASSERT_TRUE(eps.ok() && expected.ok());
    EXPECT_NEAR(eps->epsilon, expected->epsilon, 1e-9) << "round " << round;
    EXPECT_NEAR(predicted->epsilon, eps->epsilon, 1e-9);
  }
}

} // namespace
} // namespace fedrt
