// A worker's client states in --state-dir (fedrt/Remote.h; docs/remote.md,
// "Client state"): pending until the coordinator counts them, written
// before every result that depends on them.
#include "fedrt/Remote.h"

#include "fedrt/Hash.h"

#include "fedrt/Checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace fedrt {

namespace {

// The round of DIR/clients-ROUND.state, or -1 for another file.
int64_t committedRoundOf(const std::string &name) {
  if (name.rfind("clients-", 0) != 0 || !name.ends_with(".state"))
    return -1;
  std::string digits = name.substr(8, name.size() - 8 - 6);
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(digits);
}

std::string hexOf(uint64_t x) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(x));
  return text;
}

void say(const std::string &line) {
  std::fprintf(stderr, "worker: %s\n", line.c_str());
}

} // namespace

WorkerClientStates::WorkerClientStates(ClientStateStore &store, std::string dir,
                                       uint64_t identity, int64_t clients)
    : store_(store), dir_(std::move(dir)), identity_(identity),
      clients_(clients) {}

WorkerClientStates::~WorkerClientStates() {
  if (lock_ >= 0)
    ::close(lock_); // releases the flock
}

// The directory is this worker's alone: locked against a second process,
// and bound to its identity (program, data, name) by DIR/worker, so
// another worker's directory is refused, never overwritten.
absl::Status WorkerClientStates::open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  lock_ = ::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_ < 0)
    return absl::InvalidArgumentError("--state-dir " + dir_ +
                                      ": cannot write client states there");
  if (::flock(lock_, LOCK_EX | LOCK_NB) != 0)
    return absl::FailedPreconditionError(
        "--state-dir " + dir_ + " is in use by another worker process");
  std::string path = dir_ + "/worker", want = hexOf(identity_) + "\n";
  std::ifstream in(path);
  std::string have((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in && have != want)
    return absl::FailedPreconditionError(
        "--state-dir " + dir_ +
        " holds the client states of another worker name, program or data "
        "set (identity " +
        have.substr(0, have.find('\n')) + ", this worker's " +
        hexOf(identity_) + "); give each worker its own directory");
  if (!in)
    return writeFileDurably(dir_, path, want, "", "");
  return absl::OkStatus();
}

uint64_t WorkerClientStates::fingerprint() const {
  uint64_t words[2] = {identity_, run_};
  return fnv1a(
      std::string_view(reinterpret_cast<const char *>(words), sizeof words));
}

// Loads the run's committed and pending states from DIR/run-ID (a new run
// starts with an empty one; other runs' folders are kept, never removed).
// On an error the worker holds no run, so the next task loads it again.
absl::Status WorkerClientStates::adopt(uint64_t run) {
  run_ = 0;
  store_.clear();
  committed_ = pendingRound_ = pendingAttempt_ = 0;
  runDir_ = dir_ + "/run-" + hexOf(run);
  std::error_code ec;
  std::filesystem::create_directories(runDir_, ec);
  int64_t latest = 0, others = 0;
  for (const auto &e : std::filesystem::directory_iterator(runDir_, ec))
    latest = std::max(latest, committedRoundOf(e.path().filename().string()));
  for (const auto &e : std::filesystem::directory_iterator(dir_, ec))
    others += e.path().filename().string().rfind("run-", 0) == 0 &&
              e.path() != runDir_;
  run_ = run;
  absl::Status s = latest > 0
                       ? store_.load(runDir_, fingerprint(), latest, clients_)
                       : absl::OkStatus();
  int64_t round = 0, attempt = 0;
  absl::Status p = store_.loadPending(pendingPath(), fingerprint(), clients_,
                                      round, attempt);
  if (p.code() != absl::StatusCode::kNotFound && s.ok())
    s = p;
  if (!s.ok()) {
    run_ = 0;
    store_.clear();
    return s;
  }
  committed_ = latest;
  if (p.ok()) {
    pendingRound_ = round;
    pendingAttempt_ = attempt;
  }
  if (others > 0)
    say("--state-dir " + dir_ + " also keeps the states of " +
        std::to_string(others) +
        " other run(s) (run-*): remove those no longer needed");
  return absl::OkStatus();
}

void WorkerClientStates::removeStale() const {
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(runDir_, ec)) {
    std::string name = e.path().filename().string();
    int64_t r = committedRoundOf(name);
    if ((r >= 0 && r != committed_) || name.ends_with(".state.tmp"))
      std::filesystem::remove(e.path(), ec);
  }
}

// The pending states become the clients' states, in memory and then in
// DIR/run-ID/clients-ROUND.state; the pending file goes only after that is
// durable (a crash between repeats the same commit). On an error the
// worker forgets the run, so the next task reloads it from the files.
absl::Status WorkerClientStates::commitPending() {
  if (verbose_)
    say("round " + std::to_string(pendingRound_) +
        "'s client states committed");
  absl::Status s = store_.commit();
  if (s.ok())
    s = store_.save(runDir_, fingerprint(), pendingRound_);
  if (!s.ok()) {
    run_ = 0;
    store_.clear();
    return s;
  }
  committed_ = pendingRound_;
  pendingRound_ = pendingAttempt_ = 0;
  std::error_code ec;
  std::filesystem::remove(pendingPath(), ec);
  removeStale();
  return absl::OkStatus();
}

void WorkerClientStates::discardPending() {
  if (verbose_)
    say("round " + std::to_string(pendingRound_) + " (attempt " +
        std::to_string(pendingAttempt_) +
        ")'s client states dropped: the coordinator did not count them");
  store_.abandon();
  pendingRound_ = pendingAttempt_ = 0;
  std::error_code ec;
  std::filesystem::remove(pendingPath(), ec);
}

// `round`/`attempt`: the task's (0 at Finish). The pending states of the
// task's own attempt stay pending (its later stages, or a resumed
// coordinator running that attempt again); others commit once accepted and
// durable, are read by eval once accepted, and are dropped otherwise.
absl::Status WorkerClientStates::settle(const ClientStateCommit &c,
                                        int64_t round, int64_t attempt) {
  if (c.run == 0)
    return absl::InvalidArgumentError("a task without its client-state commit");
  if (c.run != run_)
    if (absl::Status s = adopt(c.run); !s.ok())
      return s;
  if (committed_ > c.durableRound)
    return absl::DataLossError(
        "--state-dir " + dir_ + " holds client states of round " +
        std::to_string(committed_) +
        ", but the coordinator's run is durable only up to round " +
        std::to_string(c.durableRound) +
        " (it resumed from an older checkpoint than these states)");
  bool hasPending = pendingRound_ > 0;
  bool accepted = hasPending && pendingRound_ == c.acceptedRound &&
                  pendingAttempt_ == c.acceptedAttempt;
  bool running =
      hasPending && pendingRound_ == round && pendingAttempt_ == attempt;
  store_.preferPending(false);
  if (accepted && pendingRound_ <= c.durableRound) {
    if (absl::Status s = commitPending(); !s.ok())
      return s;
  } else if (accepted) {
    store_.preferPending(true); // eval of the round before its checkpoint
  } else if (hasPending && !running) {
    discardPending();
  }
  if (c.acceptedRound > committed_ && !accepted)
    return absl::DataLossError(
        "the coordinator counts this worker's client states of round " +
        std::to_string(c.acceptedRound) + ", but --state-dir " + dir_ +
        " holds them only up to round " + std::to_string(committed_) +
        " (the states were lost: an emptied or replaced directory)");
  return absl::OkStatus();
}

absl::Status WorkerClientStates::beforeTask(const ClientStateCommit &commit,
                                            int64_t round, int64_t attempt,
                                            bool writesState) {
  if (absl::Status s = settle(commit, round, attempt); !s.ok())
    return s;
  if (!writesState)
    return absl::OkStatus();
  if (pendingRound_ > 0 &&
      (pendingRound_ != round || pendingAttempt_ != attempt))
    return absl::InvalidArgumentError(
        "a task of round " + std::to_string(round) +
        " writes client states while round " + std::to_string(pendingRound_) +
        "'s are not yet durable");
  if (round <= committed_)
    return absl::InvalidArgumentError(
        "a task of round " + std::to_string(round) +
        " writes client states, but this worker's are of round " +
        std::to_string(committed_) + " already");
  store_.abandon(); // the stage computes the attempt's states afresh
  pendingRound_ = round;
  pendingAttempt_ = attempt;
  return absl::OkStatus();
}

absl::Status WorkerClientStates::afterTask(int64_t round, int64_t attempt,
                                           bool writesState, bool failedWhole,
                                           bool failures) {
  if (pendingRound_ != round || pendingAttempt_ != attempt)
    return absl::OkStatus();
  if (failedWhole)
    store_.abandon(); // every client of the task failed
  if (!writesState && !failedWhole && !failures)
    return absl::OkStatus();
  return store_.savePending(runDir_, pendingPath(), fingerprint(), round,
                            attempt);
}

absl::Status WorkerClientStates::finish(const ClientStateCommit &commit) {
  if (commit.run == 0 || commit.run != run_)
    return absl::OkStatus(); // no task of this run came here
  return settle(commit, 0, 0);
}

} // namespace fedrt
