// The aggregators and the executor's deterministic streaming aggregation,
// driven by hand-written stage functions through a parsed plan table.
#include "fedrt/Aggregator.h"
#include "fedrt/Executor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

namespace fedrt {
namespace {

// --- stage functions (the signature generated code has) -------------------

void noServer(fedrt_context *, const uint64_t *, uint64_t *) {}

// Client: its record (f32[P]) and weight (the record's first value + 1).
void valueAndWeight(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0]; // the tensor's pointer
  out[1] = in[1]; // its dim
  float w = reinterpret_cast<const float *>(in[0])[0] + 1.0f;
  uint32_t bits;
  std::memcpy(&bits, &w, 4);
  out[2] = bits;
}

// Update: returns the aggregate it gets (f32[P]).
void passThrough(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
}

// Client of an i32 value: the record itself.
void scalar(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
}
void passScalar(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
}

// A custom aggregation: U = f64 sum of squares, report = sqrt.
double f64Of(uint64_t slot) {
  double d;
  std::memcpy(&d, &slot, 8);
  return d;
}
uint64_t slotOf(double d) {
  uint64_t s;
  std::memcpy(&s, &d, 8);
  return s;
}
float f32Of(uint64_t slot) {
  float f;
  auto bits = static_cast<uint32_t>(slot);
  std::memcpy(&f, &bits, 4);
  return f;
}
void zeroServer(fedrt_context *, const uint64_t *, uint64_t *out) {
  out[0] = slotOf(0.0);
}
void accumulate(fedrt_context *, const uint64_t *in, uint64_t *out) {
  double x = f32Of(in[1]);
  out[0] = slotOf(f64Of(in[0]) + x * x);
}
void merge(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = slotOf(f64Of(in[0]) + f64Of(in[1]));
}
void report(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = slotOf(std::sqrt(f64Of(in[0])));
}

const StageFn kFunctions[] = {noServer,   valueAndWeight, passThrough,
                              scalar,     passScalar,     zeroServer,
                              accumulate, merge,          report};

PlanTable parse(const std::string &text) {
  PlanTable plan;
  std::string error;
  EXPECT_TRUE(parsePlanTable(text.c_str(), kFunctions, std::size(kFunctions),
                             plan, error))
      << error;
  return plan;
}

std::string weightedMeanPlan(int p) {
  std::string t = "f32[" + std::to_string(p) + "]";
  return "fedrt-plan 1\nmain main\ncomputation main 0123456789abcdef\n"
         "input clients data " +
         t + "\nstage 0 1\naggregate wmean\nvalue " + t + "\nresult " + t +
         "\nupdate 2\nresult " + t + "\nend\n";
}

std::string scalarPlan(const std::string &kind, const std::string &type) {
  return "fedrt-plan 1\nmain main\ncomputation main 1\ninput clients data " +
         type + "\nstage 0 3\naggregate " + kind + "\nvalue " + type +
         "\nresult " + type + "\nupdate 4\nresult " + type + "\nend\n";
}

// N clients, each one record of P floats (the first is in [0, 4), the
// weight source).
ClientDataset floatClients(int n, int p, uint64_t seed) {
  ClientDataset d;
  std::string error;
  EXPECT_TRUE(parseType("f32[" + std::to_string(p) + "]", d.type, error));
  d.record = d.type;
  d.layout = recordLayout(d.record);
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int c = 0; c < n; ++c) {
    Columns col;
    col.records = 1;
    col.columns.emplace_back(static_cast<size_t>(p) * 4);
    auto *x = reinterpret_cast<float *>(col.columns[0].data());
    for (int k = 0; k < p; ++k)
      x[k] = 100.0f + dist(gen); // large offset: cancellation-prone sums
    x[0] = static_cast<float>(c % 4);
    d.clients.push_back(std::move(col));
    d.names.push_back("c" + std::to_string(c));
  }
  return d;
}

ClientDataset intClients(const std::vector<int64_t> &values, Element e) {
  ClientDataset d;
  std::string error;
  EXPECT_TRUE(parseType(e == Element::I32 ? "i32" : "i64", d.type, error));
  d.record = d.type;
  d.layout = recordLayout(d.record);
  for (int64_t v : values) {
    Columns col;
    col.records = 1;
    col.columns.emplace_back(elementSize(e));
    if (e == Element::I32) {
      auto x = static_cast<int32_t>(v);
      std::memcpy(col.columns[0].data(), &x, 4);
    } else {
      std::memcpy(col.columns[0].data(), &v, 8);
    }
    d.clients.push_back(std::move(col));
    d.names.push_back("c" + std::to_string(d.clients.size() - 1));
  }
  return d;
}

std::vector<int64_t> everyone(size_t n) {
  std::vector<int64_t> c(n);
  for (size_t i = 0; i < n; ++i)
    c[i] = static_cast<int64_t>(i);
  return c;
}

TEST(AggregatorTest, WeightedMeanOf10000ClientsMatchesFloat64To1e6) {
  const int n = 10000, p = 257;
  ClientDataset d = floatClients(n, p, 1);
  PlanTable plan = parse(weightedMeanPlan(p));
  Executor executor(2);
  std::vector<HostValue> results;
  std::string error;
  ASSERT_TRUE(executor.run(*plan.main, {}, {&d}, everyone(n), results, error))
      << error;
  // The reference in float64, and the naive float32 running sum for
  // comparison (what accumulating in the value's own type would give).
  std::vector<double> sum(p, 0.0);
  std::vector<float> naive(p, 0.0f);
  double weights = 0;
  float naiveWeights = 0;
  for (int c = 0; c < n; ++c) {
    const auto *x =
        reinterpret_cast<const float *>(d.clients[c].columns[0].data());
    double w = x[0] + 1.0;
    weights += w;
    naiveWeights += static_cast<float>(w);
    for (int k = 0; k < p; ++k) {
      sum[k] += w * x[k];
      naive[k] += static_cast<float>(w) * x[k];
    }
  }
  double worst = 0, worstNaive = 0;
  const float *got = results[0].leaves[0].as<float>();
  for (int k = 0; k < p; ++k) {
    double want = sum[k] / weights;
    worst = std::max(worst, std::abs(got[k] - want) / std::abs(want));
    worstNaive = std::max(worstNaive, std::abs(naive[k] / naiveWeights - want) /
                                          std::abs(want));
  }
  EXPECT_LE(worst, 1e-6);
  RecordProperty("max_relative_error", std::to_string(worst));
  RecordProperty("naive_float32_relative_error", std::to_string(worstNaive));
  std::printf("float64 partials: %.3g relative; naive float32: %.3g\n", worst,
              worstNaive);
}

TEST(AggregatorTest, ResultsAreBitIdenticalForAnyThreadCount) {
  for (int n : {1, 7, 16, 17, 64, 65, 1000}) {
    ClientDataset d = floatClients(n, 33, 7);
    PlanTable plan = parse(weightedMeanPlan(33));
    std::vector<std::vector<float>> outputs;
    for (int threads : {1, 2, 3, 8}) {
      Executor executor(threads);
      std::vector<HostValue> results;
      std::string error;
      ASSERT_TRUE(
          executor.run(*plan.main, {}, {&d}, everyone(n), results, error));
      const float *r = results[0].leaves[0].as<float>();
      outputs.emplace_back(r, r + 33);
    }
    for (size_t i = 1; i < outputs.size(); ++i)
      EXPECT_EQ(0, std::memcmp(outputs[0].data(), outputs[i].data(), 33 * 4))
          << n << " clients";
  }
}

TEST(AggregatorTest, BlocksDependOnlyOnTheCohortSize) {
  EXPECT_EQ(Executor::blockSize(10), 1u);
  EXPECT_EQ(Executor::blockSize(16), 1u);
  EXPECT_EQ(Executor::blockSize(17), 2u);
  EXPECT_EQ(Executor::blockSize(1000000), 62500u);
}

int64_t runInt(const std::string &kind, const std::vector<int64_t> &values,
               Element e, std::string &error, int threads = 2) {
  ClientDataset d = intClients(values, e);
  PlanTable plan = parse(scalarPlan(kind, e == Element::I32 ? "i32" : "i64"));
  Executor executor(threads);
  std::vector<HostValue> results;
  if (!executor.run(*plan.main, {}, {&d}, everyone(values.size()), results,
                    error))
    return INT64_MIN;
  return static_cast<int64_t>(results[0].leaves[0].get(0));
}

TEST(AggregatorTest, IntegerSumMinMaxAreExact) {
  std::vector<int64_t> values;
  for (int i = 0; i < 500; ++i)
    values.push_back((i * 7919) % 1000 - 300);
  int64_t sum = 0, lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t v : values) {
    sum += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  std::string error;
  EXPECT_EQ(runInt("sum", values, Element::I32, error), sum);
  EXPECT_EQ(runInt("min", values, Element::I32, error), lo);
  EXPECT_EQ(runInt("max", values, Element::I32, error), hi);
  EXPECT_EQ(runInt("sum", values, Element::I64, error), sum);
}

TEST(AggregatorTest, I32SumOverflowIsAnError) {
  std::string error;
  EXPECT_EQ(runInt("sum", {INT32_MAX, 1}, Element::I32, error), INT64_MIN);
  EXPECT_EQ(error, "federated_sum overflows i32 (2147483648)");
}

TEST(AggregatorTest, SecureSumChecksTheBitwidth) {
  std::string error;
  EXPECT_EQ(runInt("secure_sum 4", {3, 15, 0}, Element::I32, error), 18);
  EXPECT_EQ(runInt("secure_sum 4", {3, 16}, Element::I32, error), INT64_MIN);
  EXPECT_EQ(error, "client 'c1': federated_secure_sum value 16 is outside "
                   "[0, 2^4)");
  EXPECT_EQ(runInt("secure_sum 8", {-1}, Element::I32, error), INT64_MIN);
  EXPECT_NE(error.find("value -1 is outside [0, 2^8)"), std::string::npos);
}

TEST(AggregatorTest, MeanOverNoClientsAndZeroWeightsAreErrors) {
  std::string error;
  ClientDataset d = floatClients(4, 3, 1);
  PlanTable plan = parse(weightedMeanPlan(3));
  Executor executor(1);
  std::vector<HostValue> results;
  EXPECT_FALSE(executor.run(*plan.main, {}, {&d}, {}, results, error));
  EXPECT_EQ(error, "federated_mean over no clients");
  // A client's weight is x[0] + 1: -1 + 1 = 0, then NaN.
  reinterpret_cast<float *>(d.clients[0].columns[0].data())[0] = -1.0f;
  EXPECT_FALSE(executor.run(*plan.main, {}, {&d}, {0}, results, error));
  EXPECT_EQ(error, "federated_mean: the weights of all 1 clients sum to zero");
  reinterpret_cast<float *>(d.clients[1].columns[0].data())[0] = NAN;
  EXPECT_FALSE(executor.run(*plan.main, {}, {&d}, {1}, results, error));
  EXPECT_NE(error.find("client 'c1': the weight of federated_mean is"),
            std::string::npos);
  reinterpret_cast<float *>(d.clients[2].columns[0].data())[1] = INFINITY;
  EXPECT_FALSE(executor.run(*plan.main, {}, {&d}, {2}, results, error));
  EXPECT_EQ(error, "client 'c2': federated_mean received a value that is not "
                   "finite (NaN or infinity)");
}

TEST(AggregatorTest, CustomAggregateRunsInTheSameDeterministicTree) {
  std::string text =
      "fedrt-plan 1\nmain main\ncomputation main 1\ninput clients data f32\n"
      "stage 5 3\naggregate custom 6 7 8\nvalue f32\naccumulator f64\n"
      "result f64\nupdate 4\nresult f64\nend\n";
  PlanTable plan = parse(text);
  ClientDataset d;
  std::string error;
  ASSERT_TRUE(parseType("f32", d.type, error));
  d.record = d.type;
  d.layout = recordLayout(d.record);
  double want = 0;
  for (int c = 0; c < 300; ++c) {
    float x = static_cast<float>(c) * 0.25f - 10;
    want += double(x) * x;
    Columns col;
    col.records = 1;
    col.columns.emplace_back(4);
    std::memcpy(col.columns[0].data(), &x, 4);
    d.clients.push_back(std::move(col));
    d.names.push_back("c");
  }
  std::vector<double> got;
  for (int threads : {1, 2, 5}) {
    Executor executor(threads);
    std::vector<HostValue> results;
    ASSERT_TRUE(
        executor.run(*plan.main, {}, {&d}, everyone(300), results, error))
        << error;
    got.push_back(results[0].leaves[0].as<double>()[0]);
  }
  EXPECT_DOUBLE_EQ(got[0], std::sqrt(want));
  EXPECT_EQ(std::memcmp(&got[0], &got[1], 8), 0);
  EXPECT_EQ(std::memcmp(&got[0], &got[2], 8), 0);
}

TEST(AggregatorTest, BatchFoldIsBitIdenticalToOneAtATime) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::WeightedMean;
  std::string error;
  ASSERT_TRUE(parseType("f32[5000]", agg.value, error)); // > one tile
  agg.result = agg.value;
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> dist(-1e3f, 1e3f);
  std::vector<std::vector<float>> values(9, std::vector<float>(5000));
  std::vector<std::vector<uint64_t>> slots;
  for (auto &v : values) {
    for (float &x : v)
      x = dist(gen);
    float w = std::abs(dist(gen));
    uint32_t bits;
    std::memcpy(&bits, &w, 4);
    slots.push_back({reinterpret_cast<uint64_t>(v.data()), 5000, bits});
  }
  std::vector<const uint64_t *> all;
  for (auto &s : slots)
    all.push_back(s.data());
  Context ctx;
  auto name = [](size_t c) { return "c" + std::to_string(c); };
  PartialAggregate batched(agg, nullptr), single(agg, nullptr);
  ASSERT_TRUE(batched.add(all.data(), all.size(), 0, ctx, name, error));
  for (const uint64_t *one : all)
    ASSERT_TRUE(single.add(&one, 1, 0, ctx, name, error));
  HostValue a, b;
  ASSERT_TRUE(batched.report(a, ctx, error));
  ASSERT_TRUE(single.report(b, ctx, error));
  EXPECT_EQ(std::memcmp(a.leaves[0].data.get(), b.leaves[0].data.get(),
                        a.leaves[0].bytes()),
            0);
}

TEST(AggregatorTest, OverflowAndNaNAreErrorsNotSilentValues) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::Sum;
  std::string error;
  ASSERT_TRUE(parseType("f64", agg.value, error));
  agg.result = agg.value;
  Context ctx;
  auto name = [](size_t c) { return "c" + std::to_string(c); };
  double huge = 1e308;
  uint64_t slot;
  std::memcpy(&slot, &huge, 8);
  const uint64_t *one[] = {&slot}, *two[] = {&slot, &slot};
  PartialAggregate a(agg, nullptr), b(agg, nullptr);
  // Within one batch: an overflow, not a client's fault.
  EXPECT_FALSE(a.add(two, 2, 0, ctx, name, error));
  EXPECT_EQ(error, "federated_sum overflows: a sum exceeds the range of f64");
  // Across partials: the merge checks too.
  PartialAggregate c(agg, nullptr), d(agg, nullptr);
  ASSERT_TRUE(c.add(one, 1, 0, ctx, name, error));
  ASSERT_TRUE(d.add(one, 1, 0, ctx, name, error));
  EXPECT_FALSE(c.merge(d, ctx, error));
  // An f64 sum that does not fit the f32 result.
  Aggregation small = agg;
  ASSERT_TRUE(parseType("f32", small.value, error));
  small.result = small.value;
  float big = 3e38f;
  uint64_t bigSlot = 0;
  std::memcpy(&bigSlot, &big, 4);
  const uint64_t *bigs[] = {&bigSlot, &bigSlot};
  PartialAggregate e(small, nullptr);
  ASSERT_TRUE(e.add(bigs, 2, 0, ctx, name, error));
  HostValue out;
  EXPECT_FALSE(e.report(out, ctx, error));
  EXPECT_EQ(error,
            "federated_sum overflows: the result exceeds the range of f32");
  // NaN has no order: min refuses it, naming the client.
  Aggregation lo = small;
  lo.kind = Aggregation::Kind::Min;
  float nan = NAN, x = 1;
  uint64_t nanSlot = 0, xSlot = 0;
  std::memcpy(&nanSlot, &nan, 4);
  std::memcpy(&xSlot, &x, 4);
  const uint64_t *mixed[] = {&xSlot, &nanSlot};
  PartialAggregate f(lo, nullptr);
  EXPECT_FALSE(f.add(mixed, 2, 0, ctx, name, error));
  EXPECT_EQ(error, "c1: federated_min received NaN");
}

TEST(AggregatorTest, PartialsMergeLikeOneFold) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::Max;
  std::string error;
  ASSERT_TRUE(parseType("f64[2]", agg.value, error));
  agg.result = agg.value;
  Context ctx;
  PartialAggregate a(agg, nullptr), b(agg, nullptr);
  double x[2] = {1, -5}, y[2] = {-2, 7};
  uint64_t sx[3] = {reinterpret_cast<uint64_t>(x), 2},
           sy[3] = {reinterpret_cast<uint64_t>(y), 2};
  auto name = [](size_t c) { return "c" + std::to_string(c); };
  const uint64_t *first[] = {sx}, *second[] = {sy};
  EXPECT_EQ(a.slots(), 2u);
  ASSERT_TRUE(a.add(first, 1, 0, ctx, name, error));
  ASSERT_TRUE(b.add(second, 1, 0, ctx, name, error));
  ASSERT_TRUE(a.merge(b, ctx, error));
  HostValue out;
  ASSERT_TRUE(a.report(out, ctx, error));
  EXPECT_EQ(out.leaves[0].as<double>()[0], 1);
  EXPECT_EQ(out.leaves[0].as<double>()[1], 7);
  EXPECT_EQ(a.clients(), 2);
}

} // namespace
} // namespace fedrt
