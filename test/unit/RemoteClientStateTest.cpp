// Client state under remote execution (fedrt/Remote.h): a worker's pending
// states commit only when the coordinator accepted them and made the round
// durable, survive a restart on the same directory, are dropped when not
// counted, and a worker that lost them (or holds newer ones than the
// coordinator) refuses to go on; the coordinator's ledger records whose
// results each attempt accepted and round-trips through its checkpoint.
#include "fedrt/Remote.h"

#include "PlanFixtures.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fedrt {
namespace {

using fixtures::f32Slot;
using fixtures::typeOf;

void clientInit(fedrt_context *, const uint64_t *, uint64_t *out) {
  out[0] = f32Slot(10);
}

std::vector<unsigned char> packed(float f) {
  std::vector<unsigned char> p(4);
  std::memcpy(p.data(), &f, 4);
  return p;
}

float f32At(const unsigned char *p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

std::string freshDir(const std::string &name) {
  std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// A worker of 4 clients whose states are f32 (client_init: 10).
struct Worker {
  explicit Worker(const std::string &dir, uint64_t identity = 7)
      : store(typeOf("f32"), uint64_t(1) << 30, ""),
        states(store, dir, identity, 4) {
    EXPECT_TRUE(store.initialize(clientInit).ok());
    EXPECT_TRUE(states.open().ok());
  }
  void stage(int64_t client, float f) { store.stage(client, packed(f).data()); }
  ClientStateStore store;
  WorkerClientStates states;
};

ClientStateCommit commitOf(uint64_t run, int64_t round, int64_t attempt,
                           int64_t durable) {
  return {run, round, attempt, durable};
}

TEST(ClientStateStorePending, RoundTripsTheLatestStateOfEachClient) {
  std::string dir = freshDir("pending-roundtrip");
  std::filesystem::create_directories(dir);
  ClientStateStore store(typeOf("f32"), uint64_t(1) << 30, "");
  ASSERT_TRUE(store.initialize(clientInit).ok());
  store.stage(3, packed(1).data());
  store.stage(1, packed(2).data());
  store.stage(3, packed(3).data()); // replaces client 3's first
  store.discard({1});               // client 1 failed
  ASSERT_TRUE(store.savePending(dir, dir + "/p", 9, 4, 2).ok());
  ClientStateStore back(typeOf("f32"), uint64_t(1) << 30, "");
  ASSERT_TRUE(back.initialize(clientInit).ok());
  int64_t round = 0, attempt = 0;
  ASSERT_TRUE(back.loadPending(dir + "/p", 9, 4, round, attempt).ok());
  EXPECT_EQ(round, 4);
  EXPECT_EQ(attempt, 2);
  back.preferPending(true); // what eval reads before the commit
  EXPECT_EQ(f32At(back.stateOf(3)), 3.0f);
  EXPECT_EQ(f32At(back.stateOf(1)), 10.0f);
  back.preferPending(false);
  EXPECT_EQ(f32At(back.stateOf(3)), 10.0f);
  ASSERT_TRUE(back.commit().ok());
  EXPECT_EQ(back.clients(), 1);
  EXPECT_EQ(f32At(back.find(3)), 3.0f);
  EXPECT_EQ(back.loadPending(dir + "/p", 8, 4, round, attempt).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.loadPending(dir + "/p", 9, 3, round, attempt).code(),
            absl::StatusCode::kDataLoss); // client 3 past a population of 3
}

TEST(WorkerClientStates, CommitOnlyWhatTheCoordinatorCountsAndMadeDurable) {
  std::string dir = freshDir("worker-states");
  std::string run = dir + "/run-0000000000000005"; // run 5's files
  {
    Worker w(dir);
    ASSERT_TRUE(w.states.beforeTask(commitOf(5, 0, 0, 0), 1, 1, true).ok());
    w.stage(0, 11);
    w.stage(2, 12);
    ASSERT_TRUE(w.states.afterTask(1, 1, true, false, false).ok());
    EXPECT_TRUE(std::filesystem::exists(run + "/pending.state"));
    // Eval of round 1, accepted but not yet checkpointed: the new states.
    ASSERT_TRUE(w.states.beforeTask(commitOf(5, 1, 1, 0), 1, 1, false).ok());
    EXPECT_EQ(f32At(w.store.stateOf(0)), 11.0f);
    EXPECT_EQ(w.store.find(0), nullptr);
    EXPECT_EQ(w.states.committedRound(), 0);
  } // killed: what it wrote is all that is left
  Worker w(dir);
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 1, 1, 1), 2, 1, true).ok());
  EXPECT_EQ(w.states.committedRound(), 1);
  EXPECT_EQ(f32At(w.store.find(0)), 11.0f);
  EXPECT_EQ(f32At(w.store.find(2)), 12.0f);
  EXPECT_TRUE(std::filesystem::exists(ClientStateStore::path(run, 1)));
  EXPECT_FALSE(std::filesystem::exists(run + "/pending.state"));
  // Round 2's result was not counted: its states go at round 3.
  w.stage(0, 20);
  ASSERT_TRUE(w.states.afterTask(2, 1, true, false, false).ok());
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 1, 1, 2), 3, 1, false).ok());
  EXPECT_EQ(f32At(w.store.stateOf(0)), 11.0f);
  EXPECT_FALSE(std::filesystem::exists(run + "/pending.state"));
  // Counted states this worker does not have: lost, never silently redone.
  EXPECT_EQ(w.states.beforeTask(commitOf(5, 3, 1, 3), 4, 1, false).code(),
            absl::StatusCode::kDataLoss);
  // A coordinator durable only up to before the states held here.
  EXPECT_EQ(w.states.beforeTask(commitOf(5, 0, 0, 0), 1, 1, false).code(),
            absl::StatusCode::kDataLoss);
}

// Round 1 of run 5 committed in `dir`, client 1's state 11.
void commitRoundOne(const std::string &dir) {
  Worker w(dir);
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 0, 0, 0), 1, 1, true).ok());
  w.stage(1, 11);
  ASSERT_TRUE(w.states.afterTask(1, 1, true, false, false).ok());
  ASSERT_TRUE(w.states.finish(commitOf(5, 1, 1, 1)).ok());
  EXPECT_EQ(w.states.committedRound(), 1);
}

TEST(WorkerClientStates, AnotherRunStartsOverAndKeepsTheOldRunsStates) {
  std::string dir = freshDir("worker-states-runs");
  commitRoundOne(dir);
  {
    Worker other(dir); // a new serve: its clients start from client_init
    ASSERT_TRUE(
        other.states.beforeTask(commitOf(6, 0, 0, 0), 1, 1, false).ok());
    EXPECT_EQ(other.store.clients(), 0);
    EXPECT_EQ(f32At(other.store.stateOf(1)), 10.0f);
  }
  Worker again(dir); // run 5 resumed: its states are still there
  ASSERT_TRUE(again.states.beforeTask(commitOf(5, 1, 1, 1), 2, 1, false).ok());
  EXPECT_EQ(f32At(again.store.stateOf(1)), 11.0f);
}

TEST(WorkerClientStates, AnotherIdentityOrProcessIsRefusedNotOverwritten) {
  std::string dir = freshDir("worker-states-identity");
  commitRoundOne(dir);
  {
    ClientStateStore store(typeOf("f32"), uint64_t(1) << 30, "");
    WorkerClientStates stranger(store, dir, 8, 4); // other name or data
    absl::Status s = stranger.open();
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_NE(s.message().find("another worker name"), std::string::npos);
  }
  Worker w(dir);
  ClientStateStore store(typeOf("f32"), uint64_t(1) << 30, "");
  WorkerClientStates second(store, dir, 7, 4); // the same, twice at once
  EXPECT_EQ(second.open().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 1, 1, 1), 2, 1, false).ok());
  EXPECT_EQ(f32At(w.store.stateOf(1)), 11.0f);
}

TEST(WorkerClientStates, DamagedFilesAreErrorsNotFreshStarts) {
  std::string dir = freshDir("worker-states-damaged");
  commitRoundOne(dir);
  std::string run;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().rfind("run-", 0) == 0)
      run = e.path().string();
  ASSERT_FALSE(run.empty());
  std::fstream f(ClientStateStore::path(run, 1),
                 std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(50);
  f.put('\x7f');
  f.close();
  Worker w(dir);
  EXPECT_EQ(w.states.beforeTask(commitOf(5, 1, 1, 1), 2, 1, false).code(),
            absl::StatusCode::kDataLoss);
  // Nothing was adopted: the next task tries the files again.
  EXPECT_EQ(w.states.beforeTask(commitOf(5, 1, 1, 1), 2, 1, false).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(w.store.clients(), 0);
}

TEST(WorkerClientStates, RefusesTasksThatBreakTheProtocol) {
  Worker w(freshDir("worker-states-protocol"));
  EXPECT_EQ(w.states.beforeTask(commitOf(0, 0, 0, 0), 1, 1, true).code(),
            absl::StatusCode::kInvalidArgument); // no commit at all
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 0, 0, 0), 1, 1, true).ok());
  w.stage(0, 11);
  ASSERT_TRUE(w.states.afterTask(1, 1, true, false, false).ok());
  // Round 2 writing states while round 1's, counted, are not durable.
  EXPECT_EQ(w.states.beforeTask(commitOf(5, 1, 1, 0), 2, 1, true).code(),
            absl::StatusCode::kInvalidArgument);
  // A stage that failed as a whole keeps nothing of the attempt.
  ASSERT_TRUE(w.states.beforeTask(commitOf(5, 0, 0, 0), 1, 2, true).ok());
  w.stage(0, 13);
  ASSERT_TRUE(w.states.afterTask(1, 2, true, true, false).ok());
  ASSERT_TRUE(w.states.finish(commitOf(5, 1, 2, 1)).ok());
  EXPECT_EQ(w.store.clients(), 0);
}

TEST(ClientStateLedger, RecordsWhoseResultsEveryStageAccepted) {
  ClientStateLedger ledger(77);
  ledger.beginAttempt(1, 1);
  ledger.record("a", true, true);
  ledger.record("b", true, true);
  ledger.record("b", false, false); // dropped in a later stage
  ledger.record("d", true, false);  // its clients failed before the writing
  ASSERT_TRUE(ledger.commit().ok());
  ledger.durable(1);
  ClientStateCommit a = ledger.commitFor("a"), b = ledger.commitFor("b");
  EXPECT_EQ(a.run, 77u);
  EXPECT_EQ(a.acceptedRound, 1);
  EXPECT_EQ(a.acceptedAttempt, 1);
  EXPECT_EQ(a.durableRound, 1);
  EXPECT_EQ(b.acceptedRound, 0);
  EXPECT_EQ(ledger.commitFor("d").acceptedRound, 0);
  // An abandoned attempt records nothing; the retry does.
  ledger.beginAttempt(2, 1);
  ledger.record("b", true, true);
  ledger.beginAttempt(2, 2);
  ledger.record("c", true, true);
  ASSERT_TRUE(ledger.commit().ok());
  EXPECT_EQ(ledger.commitFor("b").acceptedRound, 0);
  EXPECT_EQ(ledger.commitFor("c").acceptedAttempt, 2);

  std::string dir = freshDir("ledger");
  ASSERT_TRUE(ledger.save(dir, 42, 2).ok());
  ClientStateLedger back(1);
  ASSERT_TRUE(back.load(dir, 42, 2, 0).ok());
  EXPECT_EQ(back.run(), 77u);
  EXPECT_EQ(back.commitFor("a").acceptedRound, 1);
  EXPECT_EQ(back.commitFor("c").acceptedRound, 2);
  EXPECT_EQ(back.commitFor("c").durableRound, 2);
  EXPECT_EQ(back.load(dir, 43, 2, 0).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(back.load(dir, 42, 3, 0).code(), absl::StatusCode::kNotFound);
  std::fstream f(ClientStateStore::path(dir, 2),
                 std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(45);
  f.put('\x7f');
  f.close();
  EXPECT_EQ(back.load(dir, 42, 2, 0).code(), absl::StatusCode::kDataLoss);
}

} // namespace
} // namespace fedrt
