// Checkpoint files: "FEDCKPT1", fingerprint, seed, round, the serialized
// state, then an FNV-1a checksum of everything before it.
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

namespace fedrt {

namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'C', 'K', 'P', 'T', '1'};

void put(std::string &out, uint64_t x) {
  out.append(reinterpret_cast<const char *>(&x), sizeof x);
}

bool writeAll(int fd, const std::string &data) {
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

} // namespace

std::string checkpointPath(const std::string &dir) {
  return (std::filesystem::path(dir) / "state.ckpt").string();
}

bool writeCheckpoint(const std::string &dir, const Checkpoint &c,
                     std::string &error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = dir + ": cannot create the checkpoint directory: " + ec.message();
    return false;
  }
  std::string data(kMagic, sizeof kMagic);
  put(data, c.fingerprint);
  put(data, c.seed);
  put(data, static_cast<uint64_t>(c.round));
  serialize(c.state, data);
  put(data, fnv1a(data));

  std::string path = checkpointPath(dir), temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = temp + ": " + std::strerror(errno);
    return false;
  }
  // A crash part-way through the write (fault point "checkpoint-write")
  // or before the rename ("checkpoint-rename") leaves the previous
  // checkpoint as it was.
  size_t half = data.size() / 2;
  bool ok = writeAll(fd, data.substr(0, half));
  faultPoint("checkpoint-write");
  ok = ok && writeAll(fd, data.substr(half)) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  faultPoint("checkpoint-rename");
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    error = (ok ? path : temp) + ": " + std::strerror(ok ? errno : saved);
    ::unlink(temp.c_str());
    return false;
  }
  // The rename is durable once the directory is.
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return true;
}

bool readCheckpoint(const std::string &dir, const TypeDesc &state,
                    uint64_t fingerprint, Checkpoint &out, std::string &error) {
  std::string path = checkpointPath(dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": no checkpoint to resume from";
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  if (data.size() < sizeof kMagic + 4 * 8 ||
      std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    error = path + ": not a fedc checkpoint";
    return false;
  }
  uint64_t checksum;
  std::memcpy(&checksum, data.data() + data.size() - 8, 8);
  if (checksum != fnv1a(std::string_view(data).substr(0, data.size() - 8))) {
    error = path + ": the checkpoint is corrupt (checksum mismatch)";
    return false;
  }
  size_t pos = sizeof kMagic;
  auto get = [&](uint64_t &x) {
    std::memcpy(&x, data.data() + pos, 8);
    pos += 8;
  };
  uint64_t round = 0;
  get(out.fingerprint);
  get(out.seed);
  get(round);
  if (round > (uint64_t(1) << 40)) {
    error = path + ": the checkpoint is corrupt (round " +
            std::to_string(round) + ")";
    return false;
  }
  out.round = static_cast<int64_t>(round);
  if (out.fingerprint != fingerprint) {
    error = path +
            ": the checkpoint was written by another program (plan "
            "fingerprint " +
            hex(out.fingerprint) + ", this program's is " + hex(fingerprint) +
            ")";
    return false;
  }
  std::string body = data.substr(0, data.size() - 8);
  if (!deserialize(state, body, pos, out.state, error)) {
    error = path + ": " + error;
    return false;
  }
  if (pos != body.size()) {
    error = path + ": the checkpoint is corrupt (data after the state)";
    return false;
  }
  return true;
}

} // namespace fedrt
