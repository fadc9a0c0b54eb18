// A worker's client states in --state-dir (fedrt/Remote.h; docs/remote.md,
// "Client state"): pending until the coordinator counts them, written
// before every result that depends on them.
#include "fedrt/Remote.h"

#include "fedrt/Hash.h"

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

void say(const std::string &line) {
  std::fprintf(stderr, "worker: %s\n", line.c_str());
}

} // namespace

WorkerClientStates::WorkerClientStates(ClientStateStore &store, std::string dir,
                                       uint64_t identity, int64_t clients)
    : store_(store), dir_(std::move(dir)), identity_(identity),
      clients_(clients) {}

absl::Status WorkerClientStates::open() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  std::string probe = dir_ + "/.probe";
  std::ofstream out(probe);
  bool ok = static_cast<bool>(out << "x");
  out.close();
  std::filesystem::remove(probe, ec);
  if (ec || !ok)
    return absl::InvalidArgumentError("--state-dir " + dir_ +
                                      ": cannot write client states there");
  return absl::OkStatus();
}

uint64_t WorkerClientStates::fingerprint() const {
  uint64_t words[2] = {identity_, run_};
  return fnv1a(
      std::string_view(reinterpret_cast<const char *>(words), sizeof words));
}

// Loads the run's committed and pending states from the directory; files
// of another run (or program, data, worker name) are removed: that run's
// clients are not this one's.
absl::Status WorkerClientStates::adopt(uint64_t run) {
  run_ = run;
  store_.clear();
  committed_ = pendingRound_ = pendingAttempt_ = 0;
  int64_t latest = 0;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir_, ec))
    latest = std::max(latest, committedRoundOf(e.path().filename().string()));
  bool stale = false;
  if (latest > 0) {
    absl::Status s = store_.load(dir_, fingerprint(), latest, clients_);
    if (s.ok())
      committed_ = latest;
    else if (s.code() == absl::StatusCode::kFailedPrecondition)
      stale = true;
    else
      return s;
  }
  absl::Status p = store_.loadPending(pendingPath(), fingerprint(), clients_,
                                      pendingRound_, pendingAttempt_);
  if (p.code() == absl::StatusCode::kFailedPrecondition) {
    stale = true;
  } else if (!p.ok() && p.code() != absl::StatusCode::kNotFound) {
    return p;
  }
  if (!p.ok())
    pendingRound_ = pendingAttempt_ = 0;
  if (stale) {
    say("--state-dir " + dir_ +
        " holds client states of another run (or program, data or worker "
        "name): removed; this run's clients start from client_init");
    store_.clear();
    committed_ = pendingRound_ = pendingAttempt_ = 0;
    std::filesystem::remove(pendingPath(), ec);
    removeStale();
  }
  return absl::OkStatus();
}

void WorkerClientStates::removeStale() const {
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    int64_t r = committedRoundOf(name);
    if ((r >= 0 && r != committed_) ||
        (name.rfind("clients-", 0) == 0 && name.ends_with(".state.tmp")))
      std::filesystem::remove(e.path(), ec);
  }
}

absl::Status WorkerClientStates::commitPending() {
  if (verbose_)
    say("round " + std::to_string(pendingRound_) +
        "'s client states committed");
  if (absl::Status s = store_.commit(); !s.ok())
    return s;
  committed_ = pendingRound_;
  pendingRound_ = pendingAttempt_ = 0;
  // The new committed file first: a crash before the pending file goes
  // leaves both, and the same commit repeats.
  if (absl::Status s = store_.save(dir_, fingerprint(), committed_); !s.ok())
    return s;
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
        " (the states were lost, or this is another worker's directory)");
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
  return store_.savePending(dir_, pendingPath(), fingerprint(), round, attempt);
}

absl::Status WorkerClientStates::finish(const ClientStateCommit &commit) {
  if (commit.run == 0 || commit.run != run_)
    return absl::OkStatus(); // no task of this run came here
  return settle(commit, 0, 0);
}

} // namespace fedrt
