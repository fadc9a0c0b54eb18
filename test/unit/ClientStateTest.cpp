// The client state store (fedrt/ClientState.h) and LocalBackend's use of
// it: a round's new states wait for the commit, a failed client keeps the
// state it had, an abandoned attempt changes nothing, checkpoints round-
// trip and refuse damage, and states that spill to a mapped file read back
// the same.
#include "fedrt/ClientState.h"
#include "PlanFixtures.h"
#include "fedrt/LocalBackend.h"
#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fedrt {
namespace {

using fixtures::f32Slot;
using fixtures::loadTestPlan;
using fixtures::typeOf;

float f32Of(const unsigned char *p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

// next(s, c, seed): each client sends its state c and keeps c + 1; the
// client whose seed is 2 fails its check. client_init: 10.
void unused(fedrt_context *, const uint64_t *, uint64_t *) {}
void client(fedrt_context *ctx, const uint64_t *in, uint64_t *out) {
  float c;
  std::memcpy(&c, &in[0], 4);
  if (in[1] == 2) {
    ctx->failed = 1;
    ctx->what = "failed on purpose";
    return;
  }
  out[0] = f32Slot(c);
  out[1] = f32Slot(c + 1);
}
void clientInit(fedrt_context *, const uint64_t *, uint64_t *out) {
  out[0] = f32Slot(10);
}
// The same state written in stage 0 of a two-stage next, and the client
// whose seed is 2 failing in stage 1.
void writeOnly(fedrt_context *, const uint64_t *in, uint64_t *out) {
  float c;
  std::memcpy(&c, &in[0], 4);
  out[0] = f32Slot(c);
  out[1] = f32Slot(c + 1);
}
void failLater(fedrt_context *ctx, const uint64_t *in, uint64_t *out) {
  if (in[1] == 2) {
    ctx->failed = 1;
    ctx->what = "failed on purpose";
    return;
  }
  out[0] = in[0];
}
const StageFn kFunctions[] = {unused,     client,    unused,
                              clientInit, writeOnly, failLater};

proto::Plan statefulProto(int stages = 1) {
  proto::Plan plan;
  plan.set_version(proto::PLAN_VERSION_CURRENT);
  proto::Process *p = plan.mutable_process();
  p->set_name("p");
  p->set_init("init");
  p->set_next("next");
  typeOf("f32").toProto(*p->mutable_client_state());
  p->set_client_init_fn(3);
  proto::Computation *init = plan.add_computations();
  init->set_name("init");
  init->set_update_fn(2);
  typeOf("f32").toProto(*init->add_results());
  proto::Computation *c = plan.add_computations();
  c->set_name("next");
  for (auto [name, role] : {std::pair{"c", proto::Input::CLIENT_STATE},
                            std::pair{"seed", proto::Input::CLIENT_SEED}}) {
    proto::Input *in = c->add_inputs();
    in->set_name(name);
    in->set_at_clients(true);
    in->set_role(role);
    typeOf(role == proto::Input::CLIENT_STATE ? "f32" : "i64")
        .toProto(*in->mutable_type());
  }
  // One stage (client fn 1), or two: 4 writes, 5 fails.
  for (int k = 0; k < stages; ++k) {
    proto::Stage *st = c->add_stages();
    st->set_server_fn(0);
    st->set_client_fn(stages == 1 ? 1 : 4 + k);
    st->set_writes_client_state(k == 0);
    proto::Aggregation *a = st->add_aggregations();
    a->set_kind(proto::SUM);
    typeOf("f32").toProto(*a->mutable_value());
    typeOf("f32").toProto(*a->mutable_result());
  }
  c->set_update_fn(2);
  typeOf("f32").toProto(*c->add_results());
  return plan;
}

PlanTable statefulPlan(int stages = 1) {
  return loadTestPlan(statefulProto(stages), kFunctions);
}

StageTask taskOf(const PlanTable &plan, std::vector<int64_t> cohort,
                 size_t stage = 0) {
  StageTask task;
  task.computation = plan.next;
  task.stage = stage;
  task.cohort = cohort;
  task.clientSeeds = cohort; // seed = client index: client 2 fails
  task.zeros = {nullptr};
  task.dpClips = {0.0};
  task.round = 1;
  return task;
}

float sumOf(const StageResult &r) {
  Context ctx;
  absl::StatusOr<HostValue> v = r.partials[0].report(ctx);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? v->leaves[0].as<float>()[0] : -1;
}

class ClientStateTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ClientStateTest, CommittedAfterTheRoundAndKeptByFailedClients) {
  PlanTable plan = statefulPlan();
  ASSERT_TRUE(plan.hasClientState);
  ClientStateStore store(plan.clientState, GetParam(), "");
  ASSERT_TRUE(store.initialize(plan.clientInit).ok());
  EXPECT_FALSE(store.spilled());
  ThreadTeam team(2);
  LocalBackend backend(team, {});
  backend.setClientStates(&store);

  absl::StatusOr<StageResult> r = backend.runStage(taskOf(plan, {0, 1, 2, 3}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->failures.size(), 1u);
  EXPECT_EQ(sumOf(*r), 30.0f);       // three clients' first state, 10
  EXPECT_EQ(store.find(0), nullptr); // pending until the commit
  ASSERT_TRUE(store.commit().ok());
  for (int64_t c : {0, 1, 3}) {
    ASSERT_NE(store.find(c), nullptr);
    EXPECT_EQ(f32Of(store.find(c)), 11.0f);
  }
  EXPECT_EQ(store.find(2), nullptr); // failed: still client_init's
  EXPECT_EQ(f32Of(store.stateOf(2)), 10.0f);
  EXPECT_EQ(store.clients(), 3);

  // An abandoned attempt leaves every state as it was.
  r = backend.runStage(taskOf(plan, {0, 5}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(sumOf(*r), 21.0f); // 11 + 10
  store.abandon();
  ASSERT_TRUE(store.commit().ok());
  EXPECT_EQ(f32Of(store.find(0)), 11.0f);
  EXPECT_EQ(store.find(5), nullptr);

  // Many clients: past a limit of 1 KiB the states held so far move to the
  // mapped file.
  std::vector<int64_t> many;
  for (int64_t c = 10; c < 5000; ++c)
    many.push_back(c);
  r = backend.runStage(taskOf(plan, many));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(store.commit().ok());
  EXPECT_EQ(store.clients(), 3 + 4990);
  EXPECT_EQ(store.spilled(), GetParam() == 1024);
  EXPECT_EQ(f32Of(store.find(4999)), 11.0f);
  EXPECT_EQ(f32Of(store.find(0)), 11.0f);

  // A checkpoint round-trips; damage and another program are refused.
  std::string dir =
      ::testing::TempDir() + "/client-state-" + std::to_string(GetParam());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(store.save(dir, 42, 7).ok());
  ClientStateStore back(plan.clientState, GetParam(), "");
  ASSERT_TRUE(back.load(dir, 42, 7, 5000).ok());
  EXPECT_EQ(back.clients(), store.clients());
  EXPECT_EQ(f32Of(back.find(4999)), 11.0f);
  EXPECT_EQ(back.find(2), nullptr);
  EXPECT_EQ(back.load(dir, 43, 7, 5000).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.load(dir, 42, 8, 5000).code(), absl::StatusCode::kNotFound);
  std::string path = ClientStateStore::path(dir, 7);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(60);
  f.put('\x7f');
  f.close();
  EXPECT_EQ(back.load(dir, 42, 7, 5000).code(), absl::StatusCode::kDataLoss);

  // An intact file whose client indices pass the population is refused
  // (the checksum is no defence against a forged file).
  ASSERT_TRUE(store.save(dir, 42, 9).ok());
  absl::Status past = back.load(dir, 42, 9, 4999);
  EXPECT_EQ(past.code(), absl::StatusCode::kDataLoss) << past;
  EXPECT_NE(past.message().find("past the population"), std::string::npos);
}

// What the runtime refuses of a plan's client state: a state next writes
// but the process does not declare, and a next with client state whose
// stages do not write it.
TEST(ClientStatePlanTest, ReadsAndWritesMustMatchTheProcess) {
  auto refused = [](const proto::Plan &p) {
    std::string bytes;
    p.SerializeToString(&bytes);
    PlanTable table;
    return !loadPlan(bytes.data(), bytes.size(), kFunctions,
                     std::size(kFunctions), table)
                .ok();
  };
  EXPECT_FALSE(refused(statefulProto()));
  proto::Plan undeclared = statefulProto();
  undeclared.mutable_process()->clear_client_state();
  EXPECT_TRUE(refused(undeclared));
  proto::Plan unwritten = statefulProto();
  unwritten.mutable_computations(1)->mutable_stages(0)->set_writes_client_state(
      false);
  EXPECT_TRUE(refused(unwritten));
}

TEST(ClientStateStagesTest, FailingInALaterStageKeepsTheOldState) {
  PlanTable plan = statefulPlan(2);
  ClientStateStore store(plan.clientState, uint64_t(1) << 30, "");
  ASSERT_TRUE(store.initialize(plan.clientInit).ok());
  ThreadTeam team(1);
  LocalBackend backend(team, {});
  backend.setClientStates(&store);
  for (size_t k = 0; k < 2; ++k) {
    absl::StatusOr<StageResult> r =
        backend.runStage(taskOf(plan, {0, 1, 2, 3}, k));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->failures.size(), k); // client 2 fails in stage 1
  }
  ASSERT_TRUE(store.commit().ok());
  EXPECT_EQ(store.find(2), nullptr); // its stage-0 state was dropped
  for (int64_t c : {0, 1, 3}) {
    ASSERT_NE(store.find(c), nullptr);
    EXPECT_EQ(f32Of(store.find(c)), 11.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndSpilled, ClientStateTest,
                         ::testing::Values(uint64_t(1) << 30, uint64_t(1024)));

} // namespace
} // namespace fedrt
