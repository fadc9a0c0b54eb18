// The remote protocol's payload codecs and chunk reassembly (net/Wire.h):
// lossless codecs reproduce every bit, int8 is unbiased and small, corrupt
// or oversized input is refused, never trusted.
#include "Wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace fedrt::net {
namespace {

constexpr size_t kN = 1000;

Stage meanStage() {
  Stage stage;
  Aggregation a;
  a.kind = Aggregation::Kind::Mean;
  a.value = TypeDesc::tensor(Element::F32, {int64_t(kN)});
  stage.aggregations.push_back(a);
  Aggregation b;
  b.kind = Aggregation::Kind::Sum;
  b.value = TypeDesc::tensor(Element::I32, {4});
  stage.aggregations.push_back(b);
  return stage;
}

// A result payload: the mean's header and float64 sums `x`, then the sum's
// header and four int64s.
std::string resultOf(const std::vector<double> &x) {
  std::string raw;
  int64_t clients = 3;
  double weight = 3;
  auto put = [&](const void *p, size_t n) {
    raw.append(static_cast<const char *>(p), n);
  };
  for (int part = 0; part < 2; ++part) {
    put(&clients, 8);
    put(&weight, 8);
    raw.push_back(1);
    if (part == 0) {
      put(x.data(), x.size() * 8);
    } else {
      for (int64_t v : {int64_t(1) << 40, int64_t(-7), int64_t(0), int64_t(9)})
        put(&v, 8);
    }
  }
  return raw;
}

std::vector<double> sums() {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> d(0, 3);
  std::vector<double> x(kN);
  for (double &v : x)
    v = d(rng);
  return x;
}

std::vector<double> realsOf(const std::string &raw) {
  std::vector<double> x(kN);
  std::memcpy(x.data(), raw.data() + 17, kN * 8);
  return x;
}

TEST(Wire, ResultLayoutIsExact) {
  Stage stage = meanStage();
  std::string raw = resultOf(sums());
  EXPECT_EQ(resultPayloadBytes(stage), raw.size());
  EXPECT_TRUE(readResultPayload(stage, raw).ok());
  EXPECT_FALSE(readResultPayload(stage, raw + "x").ok());
  EXPECT_FALSE(readResultPayload(stage, raw.substr(1)).ok());
}

TEST(Wire, ZstdIsLosslessAndChecksummed) {
  Stage stage = meanStage();
  std::string raw = resultOf(sums());
  auto encoded = encodeResult(Codec::Zstd, stage, raw, {});
  ASSERT_TRUE(encoded.ok());
  auto decoded = decodeResult(Codec::Zstd, stage, *encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, raw);
  std::string flipped = *encoded;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(decodeResult(Codec::Zstd, stage, flipped).ok());
  EXPECT_FALSE(decodeResult(Codec::Zstd, stage, "not zstd").ok());
}

TEST(Wire, Int8IsSmallAndKeepsIntegersExact) {
  Stage stage = meanStage();
  std::string raw = resultOf(sums());
  auto encoded = encodeResult(Codec::Int8, stage, raw, {1, 2, 3, 0});
  ASSERT_TRUE(encoded.ok());
  EXPECT_LE(encoded->size(), raw.size() * 0.15); // 1 + 16/256 of 8 bytes
  auto decoded = decodeResult(Codec::Int8, stage, *encoded);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), raw.size());
  // Headers and the integer sum cross exactly.
  EXPECT_EQ(decoded->substr(0, 17), raw.substr(0, 17));
  EXPECT_EQ(decoded->substr(17 + kN * 8), raw.substr(17 + kN * 8));
  // Reproducible: the same stream gives the same bytes.
  EXPECT_EQ(*encoded, *encodeResult(Codec::Int8, stage, raw, {1, 2, 3, 0}));
  EXPECT_NE(*encoded, *encodeResult(Codec::Int8, stage, raw, {1, 3, 3, 0}));
  auto both = encodeResult(Codec::Int8Zstd, stage, raw, {1, 2, 3, 0});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*decodeResult(Codec::Int8Zstd, stage, *both), *decoded);
  EXPECT_FALSE(decodeResult(Codec::Int8, stage, encoded->substr(5)).ok());
}

// Stochastic rounding is unbiased: the mean of K quantizations of a fixed
// vector is within 3 sigma of it (sigma from each element's rounding
// variance scale^2 f (1 - f)), in total and (at 5 sigma) per element.
TEST(Wire, Int8RoundingIsUnbiased) {
  Stage stage = meanStage();
  std::vector<double> x = sums();
  std::string raw = resultOf(x);
  constexpr int K = 400;
  std::vector<double> mean(kN, 0);
  for (int k = 0; k < K; ++k) {
    auto encoded = encodeResult(Codec::Int8, stage, raw, {9, k, 4, 0});
    ASSERT_TRUE(encoded.ok());
    std::vector<double> y =
        realsOf(*decodeResult(Codec::Int8, stage, *encoded));
    for (size_t i = 0; i < kN; ++i)
      mean[i] += y[i] / K;
  }
  double bias = 0, variance = 0;
  for (size_t first = 0; first < kN; first += 256) {
    size_t end = std::min(kN, first + 256);
    double lo = x[first], hi = x[first];
    for (size_t i = first; i < end; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    double scale = (hi - lo) / 255;
    for (size_t i = first; i < end; ++i) {
      double f = (x[i] - lo) / scale - std::floor((x[i] - lo) / scale);
      double var = scale * scale * f * (1 - f) / K;
      bias += mean[i] - x[i];
      variance += var;
      EXPECT_LE(std::abs(mean[i] - x[i]), 5 * std::sqrt(var) + 1e-9) << i;
    }
  }
  EXPECT_LE(std::abs(bias), 3 * std::sqrt(variance));
}

TEST(Wire, Bf16HalvesFloatsOnly) {
  Stage stage;
  stage.broadcasts.push_back(TypeDesc::tensor(Element::F32, {int64_t(kN)}));
  stage.broadcasts.push_back(TypeDesc::tensor(Element::I64, {2}));
  HostValue f = HostValue::zeros(stage.broadcasts[0]);
  HostValue n = HostValue::zeros(stage.broadcasts[1]);
  for (size_t i = 0; i < kN; ++i)
    f.leaves[0].as<float>()[i] = std::sin(float(i)) * 100;
  n.leaves[0].as<int64_t>()[0] = (int64_t(1) << 53) + 1;
  std::string raw = taskPayload({&f, &n});
  auto encoded = encodeTask(Codec::Bf16, stage, raw);
  ASSERT_TRUE(encoded.ok());
  EXPECT_LT(encoded->size(), raw.size() * 0.55);
  auto decoded = decodeTask(Codec::Bf16, stage, *encoded, raw.size());
  ASSERT_TRUE(decoded.ok());
  std::vector<HostValue> broadcasts, zeros;
  ASSERT_TRUE(readTaskPayload(stage, *decoded, broadcasts, zeros).ok());
  for (size_t i = 0; i < kN; ++i) {
    float want = f.leaves[0].as<float>()[i];
    EXPECT_NEAR(broadcasts[0].leaves[0].as<float>()[i], want,
                std::abs(want) / 256 + 1e-30);
  }
  EXPECT_EQ(broadcasts[1].leaves[0].as<int64_t>()[0], (int64_t(1) << 53) + 1);
  EXPECT_FALSE(
      decodeTask(Codec::Bf16, stage, encoded->substr(1), raw.size()).ok());
  EXPECT_FALSE(decodeTask(Codec::None, stage, raw, raw.size() + 1).ok());
}

TEST(Wire, ChunksReassembleOnlyInOrder) {
  std::string payload(3 * kChunkBytes + 5, 'x');
  payload[kChunkBytes] = 'y';
  std::vector<remote::v1::Chunk> chunks;
  forEachChunk(7, payload, [&](remote::v1::Chunk &c) {
    chunks.push_back(c);
    return true;
  });
  ASSERT_EQ(chunks.size(), 4u);
  ChunkAssembly a;
  ASSERT_TRUE(a.begin(7, payload.size(), payload.size()).ok());
  for (const auto &c : chunks)
    ASSERT_TRUE(a.add(c).ok());
  ASSERT_TRUE(a.complete());
  EXPECT_EQ(a.take(), payload);

  ChunkAssembly b;
  EXPECT_FALSE(b.begin(7, payload.size(), payload.size() - 1).ok());
  ASSERT_TRUE(b.begin(7, payload.size(), payload.size()).ok());
  EXPECT_FALSE(b.add(chunks[1]).ok()); // out of order
  remote::v1::Chunk other = chunks[0];
  other.set_task(8);
  EXPECT_FALSE(b.add(other).ok()); // another task
  ChunkAssembly c;
  ASSERT_TRUE(c.begin(7, 10, 100).ok());
  EXPECT_FALSE(c.add(chunks[0]).ok()); // past the announced size
}

} // namespace
} // namespace fedrt::net
