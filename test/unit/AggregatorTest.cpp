// The aggregators and the executor's deterministic streaming aggregation,
// driven by hand-written stage functions through a parsed plan table.
#include "fedrt/Aggregator.h"
#include "PlanFixtures.h"
#include "fedrt/Executor.h"
#include "fedrt/LocalBackend.h"
#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

namespace fedrt {
namespace {

using fixtures::f32Of;
using fixtures::loadTestPlan;
using fixtures::typeOf;

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

bool ok(const absl::Status &s, std::string &error) {
  error = std::string(s.message());
  return s.ok();
}

bool ok(absl::StatusOr<HostValue> v, HostValue &out, std::string &error) {
  if (!v.ok())
    return ok(v.status(), error);
  out = *std::move(v);
  return true;
}

// A computation run on local threads (the simulate backend).
struct LocalRun {
  explicit LocalRun(int threads) : team(threads) {}
  bool run(const Computation &comp, std::vector<const ClientDataset *> data,
           const std::vector<int64_t> &cohort, std::vector<HostValue> &results,
           std::string &error) {
    LocalBackend backend(team, std::move(data));
    Executor executor(backend);
    absl::StatusOr<std::vector<HostValue>> r = executor.run(comp, {}, cohort);
    if (!r.ok())
      return ok(r.status(), error);
    results = *std::move(r);
    return true;
  }
  ThreadTeam team;
};

void setType(proto::Type *out, const std::string &text) {
  typeOf(text).toProto(*out);
}

// A one-shot main of one stage: client data of type `input`, one
// aggregation, the result passed through by the update fn.
struct OneStage {
  std::string input;
  int server = 0, client = 0, update = 0;
  proto::AggregationKind kind = proto::SUM;
  std::string value, result;
  int bitwidth = 0;
  std::string accumulator; // custom
  int accumulate = 0, merge = 0, report = 0;
};

PlanTable load(const OneStage &o) {
  proto::Plan plan;
  plan.set_version(proto::PLAN_VERSION_CURRENT);
  plan.set_main("main");
  proto::Computation *c = plan.add_computations();
  c->set_name("main");
  c->set_fingerprint(0x0123456789abcdefull);
  proto::Input *in = c->add_inputs();
  in->set_name("data");
  in->set_at_clients(true);
  setType(in->mutable_type(), o.input);
  proto::Stage *st = c->add_stages();
  st->set_server_fn(o.server);
  st->set_client_fn(o.client);
  proto::Aggregation *a = st->add_aggregations();
  a->set_kind(o.kind);
  a->set_bitwidth(o.bitwidth);
  setType(a->mutable_value(), o.value);
  setType(a->mutable_result(), o.result);
  if (o.kind == proto::CUSTOM) {
    setType(a->mutable_accumulator(), o.accumulator);
    a->set_accumulate_fn(o.accumulate);
    a->set_merge_fn(o.merge);
    a->set_report_fn(o.report);
  }
  c->set_update_fn(o.update);
  setType(c->add_results(), o.result);
  return loadTestPlan(plan, kFunctions);
}

PlanTable weightedMeanPlan(int p) {
  std::string t = "f32[" + std::to_string(p) + "]";
  return load({t, 0, 1, 2, proto::WEIGHTED_MEAN, t, t});
}

PlanTable scalarPlan(const std::string &kind, const std::string &type) {
  static const std::map<std::string, proto::AggregationKind> kinds = {
      {"sum", proto::SUM},
      {"min", proto::MIN},
      {"max", proto::MAX},
      {"mean", proto::MEAN},
      {"secure_sum", proto::SECURE_SUM}};
  std::string k = kind.substr(0, kind.find(' '));
  int bitwidth = k == "secure_sum" ? std::stoi(kind.substr(kind.find(' '))) : 0;
  return load({type, 0, 3, 4, kinds.at(k), type, type, bitwidth});
}

// N clients, each one record of P floats (the first is in [0, 4), the
// weight source).
ClientDataset floatClients(int n, int p, uint64_t seed) {
  ClientDataset d;
  d.type = typeOf("f32[" + std::to_string(p) + "]");
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
  d.type = typeOf(e == Element::I32 ? "i32" : "i64");
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
  PlanTable plan = weightedMeanPlan(p);
  LocalRun executor(2);
  std::vector<HostValue> results;
  std::string error;
  ASSERT_TRUE(executor.run(*plan.main, {&d}, everyone(n), results, error))
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
    PlanTable plan = weightedMeanPlan(33);
    std::vector<std::vector<float>> outputs;
    for (int threads : {1, 2, 3, 8}) {
      LocalRun executor(threads);
      std::vector<HostValue> results;
      std::string error;
      ASSERT_TRUE(executor.run(*plan.main, {&d}, everyone(n), results, error));
      const float *r = results[0].leaves[0].as<float>();
      outputs.emplace_back(r, r + 33);
    }
    for (size_t i = 1; i < outputs.size(); ++i)
      EXPECT_EQ(0, std::memcmp(outputs[0].data(), outputs[i].data(), 33 * 4))
          << n << " clients";
  }
}

TEST(AggregatorTest, BlocksDependOnlyOnTheCohortSize) {
  EXPECT_EQ(LocalBackend::blockSize(10), 1u);
  EXPECT_EQ(LocalBackend::blockSize(16), 1u);
  EXPECT_EQ(LocalBackend::blockSize(17), 2u);
  EXPECT_EQ(LocalBackend::blockSize(1000000), 62500u);
}

int64_t runInt(const std::string &kind, const std::vector<int64_t> &values,
               Element e, std::string &error, int threads = 2) {
  ClientDataset d = intClients(values, e);
  PlanTable plan = scalarPlan(kind, e == Element::I32 ? "i32" : "i64");
  LocalRun executor(threads);
  std::vector<HostValue> results;
  if (!executor.run(*plan.main, {&d}, everyone(values.size()), results, error))
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

// Under DropClient, a client whose value an aggregation refuses is left out
// whole, never half-folded: the result equals a run without it bit for bit
// (these float32 values sum exactly in float64, so the blocks' different
// boundaries cannot change a bit; a partly folded client would).
TEST(AggregatorTest, DroppedClientsLeaveNoTrace) {
  PlanTable plan = weightedMeanPlan(5000); // > one tile per client
  ClientDataset d = floatClients(60, 5000, 9);
  reinterpret_cast<float *>(d.clients[21].columns[0].data())[4097] = INFINITY;
  reinterpret_cast<float *>(d.clients[40].columns[0].data())[3] = NAN;
  std::vector<int64_t> all = everyone(60), without;
  for (int64_t c : all)
    if (c != 21 && c != 40)
      without.push_back(c);
  ThreadTeam team(2);
  LocalBackend backend(team, {&d});
  Executor lenient(backend, FailurePolicy::DropClient), strict(backend);
  RunStats stats;
  absl::StatusOr<std::vector<HostValue>> dropped =
      lenient.run(*plan.main, {}, all, 0, &stats);
  absl::StatusOr<std::vector<HostValue>> clean =
      strict.run(*plan.main, {}, without);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(stats.failed, 2);
  ASSERT_EQ(stats.failures.size(), 2u);
  EXPECT_EQ(stats.failures[0].client, 21);
  EXPECT_EQ(stats.failures[1].client, 40);
  EXPECT_EQ(std::memcmp((*dropped)[0].leaves[0].data.get(),
                        (*clean)[0].leaves[0].data.get(), 5000 * 4),
            0);
}

// Float min and max over many clients (blocks of several clients, so the
// fold kernel runs, not only the merge), against the values themselves.
TEST(AggregatorTest, FloatMinMaxOverManyBlocks) {
  for (Element e : {Element::F32, Element::F64}) {
    ClientDataset d;
    d.type = typeOf(e == Element::F32 ? "f32" : "f64");
    d.record = d.type;
    d.layout = recordLayout(d.record);
    double lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < 300; ++c) {
      double v = std::sin(c * 0.37) * 1000.0 + (c == 151 ? 5000.0 : 0.0) -
                 (c == 77 ? 5000.0 : 0.0);
      Columns col;
      col.records = 1;
      col.columns.emplace_back(elementSize(e));
      if (e == Element::F32) {
        auto f = static_cast<float>(v);
        std::memcpy(col.columns[0].data(), &f, 4);
        v = f;
      } else {
        std::memcpy(col.columns[0].data(), &v, 8);
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      d.clients.push_back(std::move(col));
      d.names.push_back("c" + std::to_string(c));
    }
    for (const char *kind : {"min", "max"}) {
      PlanTable plan = scalarPlan(kind, elementName(e));
      LocalRun executor(2);
      std::vector<HostValue> results;
      std::string error;
      ASSERT_TRUE(executor.run(*plan.main, {&d}, everyone(300), results, error))
          << error;
      EXPECT_EQ(results[0].leaves[0].get(0),
                std::string(kind) == "min" ? lo : hi)
          << kind << " of " << elementName(e);
    }
  }
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
  PlanTable plan = weightedMeanPlan(3);
  LocalRun executor(1);
  std::vector<HostValue> results;
  EXPECT_FALSE(executor.run(*plan.main, {&d}, {}, results, error));
  EXPECT_EQ(error, "federated_mean over no clients");
  // A client's weight is x[0] + 1: -1 + 1 = 0, then NaN.
  reinterpret_cast<float *>(d.clients[0].columns[0].data())[0] = -1.0f;
  EXPECT_FALSE(executor.run(*plan.main, {&d}, {0}, results, error));
  EXPECT_EQ(error, "federated_mean: the weights of all 1 clients sum to zero");
  reinterpret_cast<float *>(d.clients[1].columns[0].data())[0] = NAN;
  EXPECT_FALSE(executor.run(*plan.main, {&d}, {1}, results, error));
  EXPECT_NE(error.find("client 'c1': the weight of federated_mean is"),
            std::string::npos);
  reinterpret_cast<float *>(d.clients[2].columns[0].data())[1] = INFINITY;
  EXPECT_FALSE(executor.run(*plan.main, {&d}, {2}, results, error));
  EXPECT_EQ(error, "client 'c2': federated_mean received a value that is not "
                   "finite (NaN or infinity)");
}

TEST(AggregatorTest, CustomAggregateRunsInTheSameDeterministicTree) {
  OneStage custom{"f32", 5, 3, 4, proto::CUSTOM, "f32", "f64"};
  custom.accumulator = "f64";
  custom.accumulate = 6;
  custom.merge = 7;
  custom.report = 8;
  PlanTable plan = load(custom);
  ClientDataset d;
  std::string error;
  d.type = typeOf("f32");
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
    LocalRun executor(threads);
    std::vector<HostValue> results;
    ASSERT_TRUE(executor.run(*plan.main, {&d}, everyone(300), results, error))
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
  agg.value = typeOf("f32[5000]"); // > one tile
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
  ASSERT_TRUE(ok(batched.add(all.data(), all.size(), 0, ctx, name), error));
  for (const uint64_t *one : all)
    ASSERT_TRUE(ok(single.add(&one, 1, 0, ctx, name), error));
  HostValue a, b;
  ASSERT_TRUE(ok(batched.report(ctx), a, error));
  ASSERT_TRUE(ok(single.report(ctx), b, error));
  EXPECT_EQ(std::memcmp(a.leaves[0].data.get(), b.leaves[0].data.get(),
                        a.leaves[0].bytes()),
            0);
}

TEST(AggregatorTest, OverflowAndNaNAreErrorsNotSilentValues) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::Sum;
  std::string error;
  agg.value = typeOf("f64");
  agg.result = agg.value;
  Context ctx;
  auto name = [](size_t c) { return "c" + std::to_string(c); };
  double huge = 1e308;
  uint64_t slot;
  std::memcpy(&slot, &huge, 8);
  const uint64_t *one[] = {&slot}, *two[] = {&slot, &slot};
  PartialAggregate a(agg, nullptr), b(agg, nullptr);
  // Within one batch: an overflow, not a client's fault.
  EXPECT_FALSE(ok(a.add(two, 2, 0, ctx, name), error));
  EXPECT_EQ(error, "federated_sum overflows: a sum exceeds the range of f64");
  // Across partials: the merge checks too.
  PartialAggregate c(agg, nullptr), d(agg, nullptr);
  ASSERT_TRUE(ok(c.add(one, 1, 0, ctx, name), error));
  ASSERT_TRUE(ok(d.add(one, 1, 0, ctx, name), error));
  EXPECT_FALSE(ok(c.merge(d, ctx), error));
  // An f64 sum that does not fit the f32 result.
  Aggregation small = agg;
  small.value = typeOf("f32");
  small.result = small.value;
  float big = 3e38f;
  uint64_t bigSlot = 0;
  std::memcpy(&bigSlot, &big, 4);
  const uint64_t *bigs[] = {&bigSlot, &bigSlot};
  PartialAggregate e(small, nullptr);
  ASSERT_TRUE(ok(e.add(bigs, 2, 0, ctx, name), error));
  HostValue out;
  EXPECT_FALSE(ok(e.report(ctx), out, error));
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
  EXPECT_FALSE(ok(f.add(mixed, 2, 0, ctx, name), error));
  EXPECT_EQ(error, "c1: federated_min received NaN");
}

TEST(AggregatorTest, PartialsMergeLikeOneFold) {
  Aggregation agg;
  agg.kind = Aggregation::Kind::Max;
  std::string error;
  agg.value = typeOf("f64[2]");
  agg.result = agg.value;
  Context ctx;
  PartialAggregate a(agg, nullptr), b(agg, nullptr);
  double x[2] = {1, -5}, y[2] = {-2, 7};
  uint64_t sx[3] = {reinterpret_cast<uint64_t>(x), 2},
           sy[3] = {reinterpret_cast<uint64_t>(y), 2};
  auto name = [](size_t c) { return "c" + std::to_string(c); };
  const uint64_t *first[] = {sx}, *second[] = {sy};
  EXPECT_EQ(a.slots(), 2u);
  ASSERT_TRUE(ok(a.add(first, 1, 0, ctx, name), error));
  ASSERT_TRUE(ok(b.add(second, 1, 0, ctx, name), error));
  ASSERT_TRUE(ok(a.merge(b, ctx), error));
  HostValue out;
  ASSERT_TRUE(ok(a.report(ctx), out, error));
  EXPECT_EQ(out.leaves[0].as<double>()[0], 1);
  EXPECT_EQ(out.leaves[0].as<double>()[1], 7);
  EXPECT_EQ(a.clients(), 2);
}

} // namespace
} // namespace fedrt
