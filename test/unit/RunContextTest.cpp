// The run context and the per-client metrics summary: client_seed()'s
// derivation (pinned to the values test/Run/Inputs/run_context.py
// computes), shuffle's permutation, random_uniform's range, and the
// percentiles of --per-client-metrics.
#include "fedrt/ClientMetrics.h"
#include "fedrt/SplitMix.h"
#include "fedrt/abi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace fedrt {
namespace {

TEST(ClientSeedTest, FixedFunctionOfSeedRoundAndPosition) {
  // The values of the Python reference (run_context.py's client_seed).
  EXPECT_EQ(clientSeed(5, 1, 0), 7129570647736493818);
  EXPECT_EQ(clientSeed(5, 2, 0), -7262556561252842600);
  EXPECT_EQ(clientSeed(5, 1, 1), -3232768623478268984);
  std::set<int64_t> seen;
  for (uint64_t seed : {0ull, 1ull})
    for (int64_t round = 0; round < 20; ++round)
      for (int64_t position = 0; position < 50; ++position)
        seen.insert(clientSeed(seed, round, position));
  EXPECT_EQ(seen.size(), 2u * 20 * 50);
}

TEST(ShuffleTest, PermutationOfTheSeedOnly) {
  for (int64_t n : {0, 1, 2, 7, 100}) {
    std::vector<int64_t> rows(static_cast<size_t>(n)), again(rows.size());
    fedrt_shuffle_rows(42, n, rows.data());
    fedrt_shuffle_rows(42, n, again.data());
    EXPECT_EQ(rows, again);
    std::vector<int64_t> sorted = rows, identity(rows.size());
    std::sort(sorted.begin(), sorted.end());
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(sorted, identity);
  }
  std::vector<int64_t> a(100), b(100);
  fedrt_shuffle_rows(1, 100, a.data());
  fedrt_shuffle_rows(2, 100, b.data());
  EXPECT_NE(a, b);
}

TEST(ShuffleTest, GatherRowsCopiesWholeRows) {
  const float src[] = {0, 1, 10, 11, 20, 21};
  const int64_t rows[] = {2, 0, 1};
  float dst[6];
  fedrt_gather_rows(src, dst, rows, 3, 2 * sizeof(float));
  EXPECT_EQ(std::vector<float>(dst, dst + 6),
            (std::vector<float>{20, 21, 0, 1, 10, 11}));
}

TEST(RandomUniformTest, InRangeAndSpread) {
  std::vector<float> x(10000);
  fedrt_random_uniform_f32(3, -1.0f, 2.0f, x.data(),
                           static_cast<int64_t>(x.size()));
  double sum = 0;
  for (float v : x) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 2.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / static_cast<double>(x.size()), 0.5, 0.05);
  std::vector<double> y(3), z(3);
  fedrt_random_uniform_f64(3, 0, 1, y.data(), 3);
  fedrt_random_uniform_f64(4, 0, 1, z.data(), 3);
  EXPECT_NE(y, z);
}

TEST(ClientMetricsTest, PercentilesInterpolateAsNumPy) {
  std::vector<double> v{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(v, 10), 1.3); // np.percentile([1,2,3,4], 10)
  EXPECT_DOUBLE_EQ(percentile(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(percentile({5}, 10), 5);
}

} // namespace
} // namespace fedrt
