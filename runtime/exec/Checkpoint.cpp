// Checkpoint files: "FEDCKPT2", then the run's identity (fingerprint, seed,
// data fingerprint, clients per round, population: u64 each; the partition
// as a u64 length and its bytes), the round (u64), the serialized state,
// and an FNV-1a checksum of everything before it.
#include "fedrt/Checkpoint.h"
#include "fedrt/Faults.h"
#include "fedrt/Hash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace fedrt {

namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'C', 'K', 'P', 'T', '2'};

void put(std::string &out, uint64_t x) {
  out.append(reinterpret_cast<const char *>(&x), sizeof x);
}

bool writeAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string hex(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

// Reads the fields after the magic; false if the bytes run out.
class Fields {
public:
  Fields(const std::string &data, size_t end) : data_(data), end_(end) {}
  bool get(uint64_t &x) {
    if (end_ - pos_ < sizeof x)
      return false;
    std::memcpy(&x, data_.data() + pos_, sizeof x);
    pos_ += sizeof x;
    return true;
  }
  bool get(std::string &s) {
    uint64_t n = 0;
    if (!get(n) || n > end_ - pos_ || n > 4096)
      return false;
    s.assign(data_, pos_, n);
    pos_ += n;
    return true;
  }
  size_t &pos() { return pos_; }

private:
  const std::string &data_;
  size_t end_, pos_ = sizeof kMagic;
};

} // namespace

std::string checkpointPath(const std::string &dir) {
  return (std::filesystem::path(dir) / "state.ckpt").string();
}

absl::Status writeCheckpoint(const std::string &dir, const Checkpoint &c) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(
        dir + ": cannot create the checkpoint directory: " + ec.message());
  std::string data(kMagic, sizeof kMagic);
  put(data, c.run.fingerprint);
  put(data, c.run.seed);
  put(data, c.run.data);
  put(data, static_cast<uint64_t>(c.run.clientsPerRound));
  put(data, static_cast<uint64_t>(c.run.population));
  put(data, c.run.partition.size());
  data += c.run.partition;
  put(data, static_cast<uint64_t>(c.round));
  serialize(c.state, data);
  put(data, fnv1a(data));

  return writeFileDurably(dir, checkpointPath(dir), data, "checkpoint-write",
                          "checkpoint-rename");
}

absl::Status writeFileDurably(const std::string &dir, const std::string &path,
                              const std::string &data, const char *writeFault,
                              const char *renameFault) {
  std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::InternalError(temp + ": " + std::strerror(errno));
  // A crash part-way through the write or before the rename leaves the
  // previous file as it was.
  size_t half = data.size() / 2;
  bool ok = writeAll(fd, std::string_view(data).substr(0, half));
  faultPoint(writeFault);
  ok = ok && writeAll(fd, std::string_view(data).substr(half)) &&
       ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  faultPoint(renameFault);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why =
        (ok ? path : temp) + ": " + std::strerror(ok ? errno : saved);
    ::unlink(temp.c_str());
    return absl::InternalError(why);
  }
  // The rename is durable once the directory is.
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return absl::OkStatus();
}

absl::StatusOr<Checkpoint> readCheckpoint(const std::string &dir,
                                          const TypeDesc &state,
                                          uint64_t fingerprint) {
  std::string path = checkpointPath(dir);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(path + ": no checkpoint to resume from");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  auto corrupt = [&](const std::string &why) {
    return absl::DataLossError(path + ": the checkpoint is corrupt (" + why +
                               ")");
  };
  if (data.size() < sizeof kMagic + 8 ||
      std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return absl::InvalidArgumentError(
        path + ": not a fedc checkpoint" +
        (data.rfind("FEDCKPT", 0) == 0 ? " of this version" : ""));
  uint64_t checksum;
  std::memcpy(&checksum, data.data() + data.size() - 8, 8);
  if (checksum != fnv1a(std::string_view(data).substr(0, data.size() - 8)))
    return corrupt("checksum mismatch");
  Checkpoint c;
  Fields f(data, data.size() - 8);
  uint64_t perRound = 0, population = 0, round = 0;
  if (!f.get(c.run.fingerprint) || !f.get(c.run.seed) || !f.get(c.run.data) ||
      !f.get(perRound) || !f.get(population) || !f.get(c.run.partition) ||
      !f.get(round))
    return corrupt("truncated");
  if (round > (uint64_t(1) << 40) || perRound > (uint64_t(1) << 50) ||
      population > (uint64_t(1) << 50))
    return corrupt("round " + std::to_string(round));
  if (c.run.fingerprint != fingerprint) // before the state: its layout differs
    return absl::FailedPreconditionError(
        path +
        ": the checkpoint was written by another program (plan "
        "fingerprint " +
        hex(c.run.fingerprint) + ", this program's is " + hex(fingerprint) +
        ")");
  c.run.clientsPerRound = static_cast<int64_t>(perRound);
  c.run.population = static_cast<int64_t>(population);
  c.round = static_cast<int64_t>(round);
  std::string body = data.substr(0, data.size() - 8);
  std::string error;
  if (!deserialize(state, body, f.pos(), c.state, error))
    return absl::InvalidArgumentError(path + ": " + error);
  if (f.pos() != body.size())
    return corrupt("data after the state");
  return c;
}

absl::Status checkResume(const RunIdentity &saved, const RunIdentity &now,
                         const std::string &dir, bool force,
                         std::vector<std::string> &warnings) {
  std::string path = checkpointPath(dir);
  if (saved.fingerprint != now.fingerprint)
    return absl::FailedPreconditionError(
        path +
        ": the checkpoint was written by another program (plan "
        "fingerprint " +
        hex(saved.fingerprint) + ", this program's is " + hex(now.fingerprint) +
        ")");
  std::vector<std::string> differ;
  auto compare = [&](bool same, const std::string &what) {
    if (!same)
      differ.push_back(what);
  };
  compare(saved.seed == now.seed, "--seed " + std::to_string(saved.seed) +
                                      ", not " + std::to_string(now.seed));
  compare(saved.data == now.data, "other client data (data fingerprint " +
                                      hex(saved.data) + ", this run's is " +
                                      hex(now.data) + ")");
  compare(saved.partition == now.partition,
          "--partition '" + saved.partition + "', not '" + now.partition + "'");
  compare(saved.population == now.population,
          std::to_string(saved.population) + " clients, not " +
              std::to_string(now.population));
  compare(saved.clientsPerRound == now.clientsPerRound,
          "--clients-per-round " + std::to_string(saved.clientsPerRound) +
              ", not " + std::to_string(now.clientsPerRound));
  if (differ.empty())
    return absl::OkStatus();
  if (force) {
    for (const std::string &d : differ)
      warnings.push_back("resuming a run written with " + d);
    return absl::OkStatus();
  }
  std::string list;
  for (const std::string &d : differ)
    list += (list.empty() ? "" : "; ") + d;
  return absl::FailedPreconditionError("the checkpoint in " + dir +
                                       " was written with " + list +
                                       " (--force-resume resumes anyway)");
}

} // namespace fedrt
