// The executor's seams: a ClientBackend replaced by a test double, failure
// policies, and partial aggregates and values that survive serialization
// bit for bit (what a remote worker sends its coordinator).
#include "fedrt/Executor.h"
#include "PlanFixtures.h"
#include "fedrt/Aggregator.h"
#include "fedrt/ClientBackend.h"
#include "fedrt/LocalBackend.h"
#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace fedrt {
namespace {

using fixtures::f32Of;
using fixtures::f32Slot;
using fixtures::loadTestPlan;
using fixtures::typeOf;

// --- a two-stage computation over a test double ----------------------------
//
// main(data) = let m = federated_mean(x); federated_sum(x - m)
// as stage functions: server0() -> (); server1(m) -> (m); update(m, s) ->
// (m, s). The double plays the clients: client c holds x = c + 1.

void server0(fedrt_context *, const uint64_t *, uint64_t *) {}
void server1(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
}
void update(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
}
void unused(fedrt_context *, const uint64_t *, uint64_t *) {}

const StageFn kFunctions[] = {server0, unused, server1, unused, update};

PlanTable twoStagePlan() {
  proto::Plan plan;
  plan.set_version(proto::PLAN_VERSION_CURRENT);
  plan.set_main("main");
  proto::Computation *c = plan.add_computations();
  c->set_name("main");
  proto::Input *in = c->add_inputs();
  in->set_name("data");
  in->set_at_clients(true);
  typeOf("f32").toProto(*in->mutable_type());
  for (int k = 0; k < 2; ++k) {
    proto::Stage *st = c->add_stages();
    st->set_server_fn(2 * k);
    st->set_client_fn(2 * k + 1);
    if (k == 1)
      typeOf("f32").toProto(*st->add_broadcasts());
    proto::Aggregation *a = st->add_aggregations();
    a->set_kind(k == 0 ? proto::MEAN : proto::SUM);
    typeOf("f32").toProto(*a->mutable_value());
    typeOf("f32").toProto(*a->mutable_result());
  }
  c->set_update_fn(4);
  typeOf("f32").toProto(*c->add_results());
  typeOf("f32").toProto(*c->add_results());
  return loadTestPlan(plan, kFunctions);
}

// Plays every client in-process; records what the executor asked for.
class FakeClients : public ClientBackend {
public:
  std::vector<StageTask> tasks;
  std::vector<float> broadcastsSeen;
  std::set<int64_t> failing; // clients that fail in stage 1

  absl::StatusOr<StageResult> runStage(const StageTask &task) override {
    tasks.push_back(task);
    const Stage &stage = task.computation->stages[task.stage];
    float m = task.broadcasts.empty()
                  ? 0.0f
                  : task.broadcasts[0]->leaves[0].as<float>()[0];
    broadcastsSeen.push_back(m);
    StageResult r;
    r.partials.emplace_back(stage.aggregations[0], nullptr);
    Context ctx;
    for (int64_t c : task.cohort) {
      if (task.stage == 1 && failing.count(c)) {
        r.failures.push_back({c, clientName(c) + ": failed on purpose"});
        continue;
      }
      uint64_t slot = f32Slot(static_cast<float>(c + 1) - m);
      const uint64_t *one = &slot;
      absl::Status s = r.partials[0].add(&one, 1, 0, ctx,
                                         [&](size_t) { return clientName(c); });
      EXPECT_TRUE(s.ok()) << s;
      ++r.reported;
    }
    return r;
  }
  std::string clientName(int64_t client) const override {
    return "fake " + std::to_string(client);
  }
};

TEST(ExecutorTest, RunsStagesThroughAnyClientBackend) {
  PlanTable plan = twoStagePlan();
  FakeClients clients;
  Executor executor(clients);
  absl::StatusOr<std::vector<HostValue>> r =
      executor.run(*plan.main, {}, {0, 1, 2, 3}, 7);
  ASSERT_TRUE(r.ok()) << r.status();
  // mean of 1..4 = 2.5; sum of (x - 2.5) = 0.
  EXPECT_EQ((*r)[0].leaves[0].as<float>()[0], 2.5f);
  EXPECT_EQ((*r)[1].leaves[0].as<float>()[0], 0.0f);
  ASSERT_EQ(clients.tasks.size(), 2u);
  EXPECT_EQ(clients.tasks[1].stage, 1u);
  EXPECT_EQ(clients.tasks[1].round, 7);
  EXPECT_EQ(clients.tasks[1].cohort, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(clients.broadcastsSeen, (std::vector<float>{0.0f, 2.5f}));
}

TEST(ExecutorTest, FailuresFailTheRunOrLeaveTheClientOut) {
  PlanTable plan = twoStagePlan();
  FakeClients clients;
  clients.failing = {2, 1};
  Executor strict(clients);
  absl::StatusOr<std::vector<HostValue>> r =
      strict.run(*plan.main, {}, {0, 1, 2, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "fake 1: failed on purpose");

  Executor lenient(clients, FailurePolicy::DropClient);
  RunStats stats;
  r = lenient.run(*plan.main, {}, {0, 1, 2, 3}, 0, &stats);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(stats.failed, 2);
  EXPECT_EQ(stats.reported, 2);
  // Stage 1 sums x - 2.5 over clients 0 and 3 only: -1.5 + 1.5.
  EXPECT_EQ((*r)[1].leaves[0].as<float>()[0], 0.0f);
}

// --- serialization ------------------------------------------------------

// Every kind of partial aggregate, folded from the same random clients,
// serialized and read back: report() gives the same bits.
TEST(SerializationTest, EveryPartialKindRoundTripsBitForBit) {
  struct Case {
    Aggregation::Kind kind;
    const char *type;
  };
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> dist(-100, 100);
  for (Case c : {Case{Aggregation::Kind::Mean, "M{w:f32[3,2],b:f64}"},
                 Case{Aggregation::Kind::WeightedMean, "f32[5]"},
                 Case{Aggregation::Kind::Sum, "(f64[2],i32,i64[3])"},
                 Case{Aggregation::Kind::Min, "(f32[4],i32)"},
                 Case{Aggregation::Kind::Max, "(f64,i64[2])"},
                 Case{Aggregation::Kind::SecureSum, "i32[3]"}}) {
    Aggregation agg;
    agg.kind = c.kind;
    agg.bitwidth = 20;
    agg.value = agg.result = typeOf(c.type);
    PartialAggregate partial(agg, nullptr);
    Context ctx;
    std::vector<std::vector<uint64_t>> slots;
    std::vector<HostValue> values;
    for (int client = 0; client < 7; ++client) {
      HostValue v = HostValue::zeros(agg.value);
      for (Tensor &t : v.leaves)
        for (int64_t k = 0; k < t.count; ++k) {
          float x = dist(gen);
          if (t.element == Element::F32)
            t.as<float>()[k] = x;
          else if (t.element == Element::F64)
            t.as<double>()[k] = x * 1.000001;
          else if (t.element == Element::I32)
            t.as<int32_t>()[k] = static_cast<int32_t>(std::abs(x) * 1000);
          else
            t.as<int64_t>()[k] = static_cast<int64_t>(x * 1e9);
        }
      std::vector<uint64_t> s;
      toSlots(agg.value, v, s);
      if (c.kind == Aggregation::Kind::WeightedMean)
        s.push_back(f32Slot(static_cast<float>(client + 1)));
      slots.push_back(std::move(s));
      values.push_back(std::move(v)); // keeps the slots' buffers alive
    }
    std::vector<const uint64_t *> pointers;
    for (auto &s : slots)
      pointers.push_back(s.data());
    ASSERT_TRUE(partial
                    .add(pointers.data(), pointers.size(), 0, ctx,
                         [](size_t) { return "c"; })
                    .ok());
    std::string bytes;
    partial.serialize(bytes);
    size_t pos = 0;
    absl::StatusOr<PartialAggregate> back =
        PartialAggregate::deserialize(agg, bytes, pos);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(pos, bytes.size());
    EXPECT_EQ(back->clients(), 7);
    absl::StatusOr<HostValue> a = partial.report(ctx), b = back->report(ctx);
    ASSERT_TRUE(a.ok() && b.ok()) << c.type;
    std::string sa, sb;
    serialize(*a, sa);
    serialize(*b, sb);
    EXPECT_EQ(sa, sb) << c.type;
    // Every truncation is refused, never read past the end.
    for (size_t cut = 0; cut < bytes.size(); cut += 7) {
      size_t p = 0;
      EXPECT_FALSE(
          PartialAggregate::deserialize(agg, bytes.substr(0, cut), p).ok())
          << c.type << " cut at " << cut;
    }
  }
}

TEST(SerializationTest, ValuesOfEveryElementRoundTrip) {
  TypeDesc t = typeOf("S{a:f32[2,3],b:(f64,i32[2]),c:i64,d:bool[3]}");
  HostValue v = HostValue::zeros(t);
  v.leaves[0].as<float>()[5] = -0.0f;
  v.leaves[1].as<double>()[0] = 1e-310; // subnormal
  v.leaves[2].as<int32_t>()[1] = INT32_MIN;
  v.leaves[3].as<int64_t>()[0] = INT64_MAX;
  v.leaves[4].as<uint8_t>()[2] = 1;
  std::string bytes;
  serialize(v, bytes);
  size_t pos = 0;
  HostValue back;
  std::string error;
  ASSERT_TRUE(deserialize(t, bytes, pos, back, error)) << error;
  std::string again;
  serialize(back, again);
  EXPECT_EQ(bytes, again);
  EXPECT_TRUE(std::signbit(back.leaves[0].as<float>()[5]));
  pos = 0;
  EXPECT_FALSE(deserialize(typeOf("S{a:f32[2,3],b:(f64,i32[2]),c:i64}"), bytes,
                           pos, back, error));
}

// --- local threads ----------------------------------------------------------

// The jobs of a team run at the same time: each waits until all have
// started (bounded, so a team that ran them one by one fails, not hangs).
TEST(LocalBackendTest, EveryThreadOfATeamRunsItsJob) {
  ThreadTeam team(4);
  std::vector<std::thread::id> ids(4);
  std::vector<Context *> contexts(4);
  std::mutex mutex;
  std::condition_variable all;
  int started = 0;
  std::vector<bool> metEveryone(4, false);
  team.run(4, [&](size_t t, Context &ctx) {
    ids[t] = std::this_thread::get_id();
    contexts[t] = &ctx;
    std::unique_lock<std::mutex> lock(mutex);
    ++started;
    all.notify_all();
    metEveryone[t] = all.wait_for(lock, std::chrono::seconds(20),
                                  [&] { return started == 4; });
  });
  EXPECT_EQ(metEveryone, std::vector<bool>(4, true));
  EXPECT_EQ(std::set<std::thread::id>(ids.begin(), ids.end()).size(), 4u);
  EXPECT_EQ(std::set<Context *>(contexts.begin(), contexts.end()).size(), 4u);
  EXPECT_EQ(ids[0], std::this_thread::get_id()); // job 0 on the caller
}

} // namespace
} // namespace fedrt
