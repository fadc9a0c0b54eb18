#include "fedrt/Partition.h"

#include "StatusHelpers.h"

#include <gtest/gtest.h>

#include <set>

namespace fedrt {
namespace {

using testing::ok;

// Every record exactly once.
void expectCover(const Assignment &a, int64_t records) {
  std::vector<int> seen(static_cast<size_t>(records), 0);
  for (const auto &client : a)
    for (int64_t i : client)
      ++seen.at(static_cast<size_t>(i));
  for (int count : seen)
    EXPECT_EQ(count, 1);
}

std::vector<int64_t> labels(int64_t n, int classes) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i)
    v.push_back(i % classes);
  return v;
}

size_t distinctLabels(const std::vector<int64_t> &client,
                      const std::vector<int64_t> &labels) {
  std::set<int64_t> s;
  for (int64_t i : client)
    s.insert(labels[static_cast<size_t>(i)]);
  return s.size();
}

TEST(PartitionTest, ParsesSpecs) {
  PartitionSpec s;
  std::string error;
  ASSERT_TRUE(ok(parsePartition("dirichlet:0.5"), s, error));
  EXPECT_EQ(s.kind, PartitionSpec::Kind::Dirichlet);
  EXPECT_DOUBLE_EQ(s.alpha, 0.5);
  ASSERT_TRUE(ok(parsePartition("shards:2"), s, error));
  EXPECT_EQ(s.shards, 2);
  ASSERT_TRUE(ok(parsePartition("by:user"), s, error));
  EXPECT_EQ(s.column, "user");
  ASSERT_TRUE(ok(parsePartition("iid"), s, error));
  EXPECT_FALSE(ok(parsePartition("dirichlet:-1"), s, error));
  EXPECT_FALSE(ok(parsePartition("shards:x"), s, error));
  EXPECT_FALSE(ok(parsePartition("random"), s, error));
  EXPECT_NE(error.find("iid, dirichlet:ALPHA, shards:K or by:COLUMN"),
            std::string::npos);
}

TEST(PartitionTest, IidIsBalancedCompleteAndSeeded) {
  Assignment a = partitionIid(1797, 100, 7);
  expectCover(a, 1797);
  for (const auto &client : a) {
    EXPECT_GE(client.size(), 17u);
    EXPECT_LE(client.size(), 18u);
  }
  EXPECT_EQ(a, partitionIid(1797, 100, 7));
  EXPECT_NE(a, partitionIid(1797, 100, 8));
}

TEST(PartitionTest, DirichletSkewsLabelsBySmallAlpha) {
  std::vector<int64_t> y = labels(2000, 10);
  Assignment skewed = partitionDirichlet(y, 20, 0.05, 1);
  Assignment even = partitionDirichlet(y, 20, 1000.0, 1);
  expectCover(skewed, 2000);
  expectCover(even, 2000);
  double skewedLabels = 0, evenLabels = 0;
  for (size_t c = 0; c < 20; ++c) {
    skewedLabels += distinctLabels(skewed[c], y);
    evenLabels += distinctLabels(even[c], y);
  }
  EXPECT_LT(skewedLabels / 20, 4.0); // a few labels per client
  EXPECT_GT(evenLabels / 20, 9.5);   // nearly every label everywhere
  EXPECT_EQ(skewed, partitionDirichlet(y, 20, 0.05, 1));
}

// Largest-remainder rounding: with 12 records over 5 clients, no client
// index is systematically short (rounding split points down gave client 0
// nothing on every seed). Each label's 4 records are split on their own.
TEST(PartitionTest, DirichletStarvesNoClientIndex) {
  std::vector<int64_t> y = labels(12, 3);
  std::vector<int64_t> total(5, 0);
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Assignment a = partitionDirichlet(y, 5, 1000.0, seed);
    expectCover(a, 12);
    for (size_t c = 0; c < 5; ++c) {
      total[c] += static_cast<int64_t>(a[c].size());
    }
  }
  // 12 / 5 = 2.4 records per client on average, for every index.
  for (size_t c = 0; c < 5; ++c) {
    EXPECT_NEAR(static_cast<double>(total[c]) / 200, 2.4, 0.25) << c;
  }
}

// Every seeded split depends on its seed: the same seed gives the same
// split, and each of several other seeds a different one.
TEST(PartitionTest, EverySeededSplitDependsOnTheSeed) {
  std::vector<int64_t> y = labels(600, 10);
  for (uint64_t seed : {2u, 3u, 4u}) {
    EXPECT_NE(partitionIid(600, 12, 1), partitionIid(600, 12, seed));
    EXPECT_NE(partitionDirichlet(y, 12, 0.5, 1),
              partitionDirichlet(y, 12, 0.5, seed));
    EXPECT_NE(partitionShards(y, 12, 2, 1), partitionShards(y, 12, 2, seed));
  }
  EXPECT_EQ(partitionShards(y, 12, 2, 9), partitionShards(y, 12, 2, 9));
}

TEST(PartitionTest, ShardsGiveEachClientFewLabels) {
  std::vector<int64_t> y = labels(1000, 10);
  Assignment a = partitionShards(y, 50, 2, 3);
  expectCover(a, 1000);
  for (const auto &client : a) {
    EXPECT_EQ(client.size(), 20u);
    EXPECT_LE(distinctLabels(client, y), 2u);
  }
}

TEST(PartitionTest, ByKeyGroupsInOrderOfAppearance) {
  Assignment a = partitionBy({"b", "a", "b", "c", "a"});
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(a[1], (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(a[2], (std::vector<int64_t>{3}));
}

} // namespace
} // namespace fedrt
