// The coordinator's record of client state under remote execution
// (fedrt/Remote.h, docs/remote.md "Client state"): which workers' results
// each round accepted; the states themselves stay on the workers.
#include "fedrt/Remote.h"

#include "fedrt/Checkpoint.h"
#include "fedrt/Hash.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fedrt {

namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'C', 'A', 'C', 'C', '1'};

void put(std::string &out, uint64_t x) {
  out.append(reinterpret_cast<const char *>(&x), sizeof x);
}

// Reads the next 8 bytes of `data` at `at` into `x`; false past the end.
bool take(const std::string &data, size_t end, size_t &at, uint64_t &x) {
  if (end - at < 8)
    return false;
  std::memcpy(&x, data.data() + at, 8);
  at += 8;
  return true;
}

} // namespace

void ClientStateLedger::beginAttempt(int64_t round, int64_t attempt) {
  round_ = round;
  attempt_ = attempt;
  attemptRecord_.clear();
}

void ClientStateLedger::record(const std::string &worker, bool accepted,
                               bool writesState) {
  Record &r = attemptRecord_[worker];
  r.accepted = r.accepted && accepted;
  r.wrote = r.wrote || (writesState && accepted);
}

absl::Status ClientStateLedger::commit() {
  for (const auto &[worker, r] : attemptRecord_)
    if (r.accepted && r.wrote)
      accepted_[worker] = {round_, attempt_};
  attemptRecord_.clear();
  return absl::OkStatus();
}

ClientStateCommit
ClientStateLedger::commitFor(const std::string &worker) const {
  ClientStateCommit c;
  c.run = run_;
  c.durableRound = durable_;
  if (auto it = accepted_.find(worker); it != accepted_.end()) {
    c.acceptedRound = it->second.first;
    c.acceptedAttempt = it->second.second;
  }
  return c;
}

absl::Status ClientStateLedger::save(const std::string &dir,
                                     uint64_t fingerprint,
                                     int64_t round) const {
  std::error_code ec; // the checkpoint's directory, made here first
  std::filesystem::create_directories(dir, ec);
  std::string data(kMagic, sizeof kMagic);
  put(data, fingerprint);
  put(data, static_cast<uint64_t>(round));
  put(data, run_);
  put(data, accepted_.size());
  for (const auto &[worker, at] : accepted_) {
    put(data, worker.size());
    data += worker;
    put(data, static_cast<uint64_t>(at.first));
    put(data, static_cast<uint64_t>(at.second));
  }
  put(data, fnv1a(data));
  return writeFileDurably(dir, ClientStateStore::path(dir, round), data,
                          "client-state-write", "client-state-rename");
}

absl::Status ClientStateLedger::load(const std::string &dir,
                                     uint64_t fingerprint, int64_t round,
                                     int64_t) {
  std::string file = ClientStateStore::path(dir, round);
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return absl::NotFoundError(file +
                               ": the workers' client-state record of "
                               "round " +
                               std::to_string(round) + " is missing");
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string &why) {
    return absl::DataLossError(file +
                               ": the workers' client-state record is "
                               "corrupt (" +
                               why + ")");
  };
  if (data.size() < sizeof kMagic + 5 * 8 ||
      std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return corrupt("not a remote client-state record of this version");
  uint64_t sum;
  size_t end = data.size() - 8;
  std::memcpy(&sum, data.data() + end, 8);
  if (sum != fnv1a(std::string_view(data).substr(0, end)))
    return corrupt("checksum mismatch");
  size_t at = sizeof kMagic;
  uint64_t h[4]; // fingerprint, round, run, workers
  for (uint64_t &x : h)
    take(data, end, at, x);
  if (h[0] != fingerprint)
    return absl::FailedPreconditionError(
        file + ": the record was written by another program");
  if (h[1] != static_cast<uint64_t>(round))
    return corrupt("round " + std::to_string(h[1]));
  std::map<std::string, std::pair<int64_t, int64_t>> accepted;
  for (uint64_t i = 0; i < h[3]; ++i) {
    uint64_t length, r, a;
    if (!take(data, end, at, length) || length > end - at)
      return corrupt("truncated");
    std::string worker = data.substr(at, length);
    at += length;
    // A round past the checkpoint's, or an attempt without a round, is
    // what no coordinator writes (and what workers would refuse).
    if (!take(data, end, at, r) || !take(data, end, at, a))
      return corrupt("truncated");
    auto ri = static_cast<int64_t>(r), ai = static_cast<int64_t>(a);
    if (ri < 0 || ri > round || ai < 0 || ai > INT32_MAX ||
        (ri == 0) != (ai == 0))
      return corrupt("worker '" + worker + "'");
    accepted[worker] = {ri, ai};
  }
  if (at != end)
    return corrupt("trailing bytes");
  run_ = h[2];
  accepted_ = std::move(accepted);
  durable_ = round;
  attemptRecord_.clear();
  return absl::OkStatus();
}

std::string ClientStateLedger::summary() const {
  int64_t current = 0;
  for (const auto &[worker, at] : accepted_)
    current += at.first == round_ ? 1 : 0;
  return "client states on the workers; " + std::to_string(current) + " of " +
         std::to_string(accepted_.size()) + " workers' results accepted";
}

} // namespace fedrt
