// The client state store (fedrt/ClientState.h).
#include "fedrt/ClientState.h"

#include "fedrt/Checkpoint.h"
#include "fedrt/Context.h"
#include "fedrt/Hash.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fedrt {

namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'C', 'C', 'S', 'T', '1'};

void put(std::string &out, uint64_t x) {
  out.append(reinterpret_cast<const char *>(&x), sizeof x);
}

} // namespace

ClientStateStore::ClientStateStore(const TypeDesc &type, uint64_t memoryLimit,
                                   std::string spillDir)
    : type_(type), memoryLimit_(memoryLimit), spillDir_(std::move(spillDir)) {
  std::vector<const TypeDesc *> leaves;
  type_.tensorLeaves(leaves);
  for (const TypeDesc *t : leaves) {
    leafBytes_.push_back(
        static_cast<size_t>(std::max<int64_t>(t->elements(), 0)) *
        elementSize(t->element));
    bytes_ += leafBytes_.back();
  }
}

ClientStateStore::~ClientStateStore() {
  if (data_)
    ::munmap(data_, capacity_ * bytes_);
  if (fd_ >= 0)
    ::close(fd_);
}

const unsigned char *ClientStateStore::find(int64_t client) const {
  if (client < 0 || static_cast<size_t>(client) >= slot_.size() ||
      slot_[static_cast<size_t>(client)] == 0)
    return nullptr;
  return data_ + (slot_[static_cast<size_t>(client)] - 1) * bytes_;
}

absl::Status ClientStateStore::initialize(StageFn clientInit) {
  Context ctx;
  std::vector<uint64_t> out(1 + type_.slots(), 0);
  clientInit(&ctx, nullptr, out.data());
  if (ctx.failed)
    return absl::InvalidArgumentError("client_init: " + failureMessage(ctx));
  initial_.clear();
  packSlots(out.data(), initial_);
  reset(ctx);
  return absl::OkStatus();
}

void ClientStateStore::unpack(const unsigned char *packed,
                              HostValue &out) const {
  for (size_t i = 0; i < leafBytes_.size(); ++i) {
    std::memcpy(out.leaves[i].data.get(), packed, leafBytes_[i]);
    packed += leafBytes_[i];
  }
}

void ClientStateStore::packSlots(const uint64_t *slots,
                                 std::vector<unsigned char> &out) const {
  std::vector<const TypeDesc *> leaves;
  type_.tensorLeaves(leaves);
  size_t next = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const TypeDesc &t = *leaves[i];
    // A scalar is in its slot; a tensor's slot points to its elements,
    // then its dims follow (abi.h).
    const auto *from =
        t.dims.empty() ? reinterpret_cast<const unsigned char *>(&slots[next])
                       : reinterpret_cast<const unsigned char *>(slots[next]);
    next += 1 + t.dims.size();
    out.insert(out.end(), from, from + leafBytes_[i]);
  }
}

void ClientStateStore::stage(int64_t client, const unsigned char *packed) {
  pendingClients_.push_back(client);
  pendingBytes_.insert(pendingBytes_.end(), packed, packed + bytes_);
}

void ClientStateStore::discard(int64_t client) {
  for (int64_t &c : pendingClients_)
    if (c == client)
      c = -1;
}

bool ClientStateStore::spill(size_t capacity) {
  std::string dir = spillDir_;
  if (dir.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    dir = tmp && *tmp ? tmp : "/tmp";
  }
  std::string name = dir + "/fedc-client-state-XXXXXX";
  int fd = ::mkstemp(name.data());
  if (fd < 0)
    return false;
  ::unlink(name.c_str()); // gone with the process
  size_t size = capacity * bytes_;
  void *map = MAP_FAILED;
  if (::ftruncate(fd, static_cast<off_t>(size)) == 0)
    map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    ::close(fd);
    return false;
  }
  std::memcpy(map, data_, used_ * bytes_);
  if (data_)
    ::munmap(data_, capacity_ * bytes_);
  fd_ = fd;
  data_ = static_cast<unsigned char *>(map);
  capacity_ = capacity;
  return true;
}

bool ClientStateStore::reserve(size_t n) {
  if (n <= capacity_)
    return true;
  size_t capacity = std::max<size_t>({n, capacity_ * 2, 64});
  if (fd_ < 0 && capacity * bytes_ > memoryLimit_)
    return spill(capacity);
  size_t size = capacity * bytes_;
  // Anonymous memory, or the spill file grown first; either mapping grows
  // by remapping its pages (no copy, and untouched pages take no memory).
  if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    return false;
  void *map = data_ ? ::mremap(data_, capacity_ * bytes_, size, MREMAP_MAYMOVE)
                    : ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    return false;
  data_ = static_cast<unsigned char *>(map);
  capacity_ = capacity;
  return true;
}

absl::Status ClientStateStore::commit() {
  size_t joining = 0;
  for (int64_t client : pendingClients_)
    if (client >= 0 && !find(client))
      ++joining; // (a client staged twice counts twice: room to spare)
  if (bytes_ > 0 && !reserve(used_ + joining)) {
    int error = errno;
    abandon();
    return absl::ResourceExhaustedError(
        "cannot keep the states of " + std::to_string(used_ + joining) +
        " clients (" + std::to_string((used_ + joining) * bytes_) +
        " bytes): " + std::strerror(error));
  }
  for (size_t i = 0; i < pendingClients_.size(); ++i) {
    if (pendingClients_[i] < 0)
      continue;
    auto c = static_cast<size_t>(pendingClients_[i]);
    if (c >= slot_.size())
      slot_.resize(std::max(c + 1, slot_.size() * 3 / 2), 0);
    if (slot_[c] == 0)
      slot_[c] = static_cast<uint32_t>(++used_);
    if (bytes_ > 0)
      std::memcpy(data_ + (slot_[c] - 1) * bytes_,
                  pendingBytes_.data() + i * bytes_, bytes_);
  }
  pendingClients_.clear();
  pendingBytes_.clear();
  return absl::OkStatus();
}

uint64_t ClientStateStore::footprint() const {
  return used_ * bytes_ + slot_.size() * sizeof(uint32_t);
}

std::string ClientStateStore::path(const std::string &dir, int64_t round) {
  return dir + "/clients-" + std::to_string(round) + ".state";
}

absl::Status ClientStateStore::save(const std::string &dir,
                                    uint64_t fingerprint, int64_t round) const {
  std::error_code ec; // the checkpoint's directory, made here first
  std::filesystem::create_directories(dir, ec);
  std::string data(kMagic, sizeof kMagic);
  put(data, fingerprint);
  put(data, static_cast<uint64_t>(round));
  put(data, bytes_);
  put(data, used_);
  data.reserve(data.size() + used_ * (8 + bytes_) + 8);
  for (size_t c = 0; c < slot_.size(); ++c)
    if (slot_[c] != 0) {
      put(data, c);
      data.append(
          reinterpret_cast<const char *>(data_ + (slot_[c] - 1) * bytes_),
          bytes_);
    }
  put(data, fnv1a(data));
  return writeFileDurably(dir, path(dir, round), data, "client-state-write",
                          "client-state-rename");
}

absl::Status ClientStateStore::load(const std::string &dir,
                                    uint64_t fingerprint, int64_t round) {
  std::string file = path(dir, round);
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return absl::NotFoundError(file + ": the clients' states of round " +
                               std::to_string(round) + " are missing");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  auto corrupt = [&](const std::string &why) {
    return absl::DataLossError(file + ": the clients' states are corrupt (" +
                               why + ")");
  };
  constexpr size_t kHeader = sizeof kMagic + 4 * 8;
  if (data.size() < kHeader + 8 ||
      std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    return corrupt("not a client state file of this version");
  uint64_t h[5]; // fingerprint, round, bytes, count; checksum
  std::memcpy(h, data.data() + sizeof kMagic, 4 * 8);
  std::memcpy(&h[4], data.data() + data.size() - 8, 8);
  if (h[4] != fnv1a(std::string_view(data).substr(0, data.size() - 8)))
    return corrupt("checksum mismatch");
  if (h[0] != fingerprint)
    return absl::FailedPreconditionError(
        file + ": the clients' states were written by another program");
  if (h[1] != static_cast<uint64_t>(round) || h[2] != bytes_ ||
      h[3] > (data.size() - kHeader - 8) / (8 + bytes_) ||
      data.size() - kHeader - 8 != h[3] * (8 + bytes_))
    return corrupt("round, state size or count");
  slot_.clear();
  used_ = 0;
  abandon();
  const char *p = data.data() + kHeader;
  int64_t last = -1;
  for (uint64_t i = 0; i < h[3]; ++i, p += 8 + bytes_) {
    int64_t client;
    std::memcpy(&client, p, 8);
    if (client <= last || client > (int64_t(1) << 40))
      return corrupt("client indices out of order");
    last = client;
    stage(client, reinterpret_cast<const unsigned char *>(p + 8));
  }
  return commit();
}

} // namespace fedrt
