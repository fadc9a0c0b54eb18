// The client state store (fedrt/ClientState.h).
#include "fedrt/ClientState.h"

#include "fedrt/Checkpoint.h"
#include "fedrt/Context.h"
#include "fedrt/Hash.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

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
    leaves_.push_back(
        {static_cast<size_t>(std::max<int64_t>(t->elements(), 0)) *
             elementSize(t->element),
         t->dims.size()});
    bytes_ += leaves_.back().bytes;
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
  for (size_t i = 0; i < leaves_.size(); ++i) {
    std::memcpy(out.leaves[i].data.get(), packed, leaves_[i].bytes);
    packed += leaves_[i].bytes;
  }
}

void ClientStateStore::packSlots(const uint64_t *slots,
                                 std::vector<unsigned char> &out) const {
  size_t next = 0;
  for (const Leaf &leaf : leaves_) {
    // A scalar is in its slot; a tensor's slot points to its elements,
    // then its dims follow (abi.h).
    const auto *from =
        leaf.rank == 0 ? reinterpret_cast<const unsigned char *>(&slots[next])
                       : reinterpret_cast<const unsigned char *>(slots[next]);
    next += 1 + leaf.rank;
    out.insert(out.end(), from, from + leaf.bytes);
  }
}

void ClientStateStore::stage(int64_t client, const unsigned char *packed) {
  pendingClients_.push_back(client);
  pendingBytes_.insert(pendingBytes_.end(), packed, packed + bytes_);
}

void ClientStateStore::discard(const std::vector<int64_t> &sortedClients) {
  if (sortedClients.empty())
    return;
  for (int64_t &c : pendingClients_)
    if (std::binary_search(sortedClients.begin(), sortedClients.end(), c))
      c = -1;
}

void ClientStateStore::reserveRound(size_t clients) {
  pendingClients_.reserve(pendingClients_.size() + clients);
  pendingBytes_.reserve(pendingBytes_.size() + clients * bytes_);
}

bool ClientStateStore::fail(const std::string &why) {
  error_ = why + ": " + std::strerror(errno);
  return false;
}

bool ClientStateStore::spill(size_t capacity) {
  std::string dir = spillDir_;
  if (dir.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    dir = tmp && *tmp ? tmp : "/tmp";
  }
  std::string name = dir + "/fedc-client-state-XXXXXX";
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0)
    return fail("cannot create a file for client states in " + dir);
  ::unlink(name.c_str()); // gone with the process
  size_t size = capacity * bytes_;
  // Disk blocks reserved now: a full disk is an error here, not a SIGBUS
  // when a page of the mapping is first written.
  void *map = MAP_FAILED;
  if (int e = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); e != 0)
    errno = e;
  else
    map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    bool ok = fail("cannot hold " + std::to_string(size) +
                   " bytes of client states in " + dir);
    ::close(fd);
    return ok;
  }
  if (used_ > 0)
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
  if (n > UINT32_MAX - 1 || n > SIZE_MAX / 2 / bytes_) {
    errno = EOVERFLOW;
    return fail("too many clients");
  }
  size_t capacity = std::max<size_t>({n, capacity_ * 2, 64});
  if (fd_ < 0 && n * bytes_ > memoryLimit_)
    return spill(capacity);
  if (fd_ < 0) // grow in memory up to the limit, not past it
    capacity = std::max(n, std::min(capacity, memoryLimit_ / bytes_));
  size_t size = capacity * bytes_;
  // Anonymous memory, or the spill file grown first (its blocks reserved);
  // either mapping grows by remapping its pages (no copy, and untouched
  // anonymous pages take no memory).
  if (fd_ >= 0)
    if (int e = ::posix_fallocate(fd_, 0, static_cast<off_t>(size)); e != 0) {
      errno = e;
      return fail("cannot grow the client states' file to " +
                  std::to_string(size) + " bytes");
    }
  void *map = data_ ? ::mremap(data_, capacity_ * bytes_, size, MREMAP_MAYMOVE)
                    : ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED)
    return fail("cannot map " + std::to_string(size) +
                " bytes of client states");
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
    abandon();
    return absl::ResourceExhaustedError("cannot keep the states of " +
                                        std::to_string(used_ + joining) +
                                        " clients: " + error_);
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
  std::string data;
  data.reserve(sizeof kMagic + 5 * 8 + used_ * (8 + bytes_));
  data.append(kMagic, sizeof kMagic);
  put(data, fingerprint);
  put(data, static_cast<uint64_t>(round));
  put(data, bytes_);
  put(data, used_);
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
                                    uint64_t fingerprint, int64_t round,
                                    int64_t population) {
  std::string file = path(dir, round);
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in)
    return absl::NotFoundError(file + ": the clients' states of round " +
                               std::to_string(round) + " are missing");
  std::string data(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)),
                   '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  auto corrupt = [&](const std::string &why) {
    return absl::DataLossError(file + ": the clients' states are corrupt (" +
                               why + ")");
  };
  constexpr size_t kHeader = sizeof kMagic + 4 * 8;
  if (!in || data.size() < kHeader + 8 ||
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
      h[3] > static_cast<uint64_t>(population) ||
      h[3] > (data.size() - kHeader - 8) / (8 + bytes_) ||
      data.size() - kHeader - 8 != h[3] * (8 + bytes_))
    return corrupt("round, state size or count");
  // Straight into the slots (the file's bytes are the only copy besides).
  slot_.clear();
  used_ = 0;
  abandon();
  if (bytes_ > 0 && !reserve(h[3]))
    return absl::ResourceExhaustedError("cannot keep the states of " +
                                        std::to_string(h[3]) +
                                        " clients: " + error_);
  const char *p = data.data() + kHeader;
  int64_t last = -1;
  for (uint64_t i = 0; i < h[3]; ++i, p += 8 + bytes_) {
    int64_t client;
    std::memcpy(&client, p, 8);
    if (client <= last || client >= population)
      return corrupt("client index " + std::to_string(client) +
                     " out of order or past the population of " +
                     std::to_string(population));
    last = client;
    auto c = static_cast<size_t>(client);
    if (c >= slot_.size())
      slot_.resize(std::max(c + 1, slot_.size() * 3 / 2), 0);
    slot_[c] = static_cast<uint32_t>(++used_);
    if (bytes_ > 0)
      std::memcpy(data_ + (used_ - 1) * bytes_, p + 8, bytes_);
  }
  return absl::OkStatus();
}

} // namespace fedrt
