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
constexpr char kPendingMagic[8] = {'F', 'E', 'D', 'C', 'C', 'S', 'P', '1'};

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
  if (preferPending_)
    preferPending(false);
  pendingClients_.push_back(client);
  pendingBytes_.insert(pendingBytes_.end(), packed, packed + bytes_);
}

void ClientStateStore::discard(const std::vector<int64_t> &sortedClients) {
  if (sortedClients.empty())
    return;
  for (int64_t &c : pendingClients_)
    if (std::binary_search(sortedClients.begin(), sortedClients.end(), c))
      c = -1;
  if (preferPending_)
    preferPending(true); // the index no longer names the discarded
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

std::string ClientStateStore::encode(
    const char *magic, const std::vector<uint64_t> &header,
    const std::vector<std::pair<int64_t, const unsigned char *>> &states)
    const {
  std::string data;
  data.reserve(8 + (header.size() + 3) * 8 + states.size() * (8 + bytes_));
  data.append(magic, 8);
  for (uint64_t h : header)
    put(data, h);
  put(data, bytes_);
  put(data, states.size());
  for (const auto &[client, packed] : states) {
    put(data, static_cast<uint64_t>(client));
    data.append(reinterpret_cast<const char *>(packed), bytes_);
  }
  put(data, fnv1a(data));
  return data;
}

absl::Status ClientStateStore::decode(
    const std::string &file, const char *magic, uint64_t fingerprint,
    int64_t population, std::vector<uint64_t> &header,
    const std::function<bool(int64_t, const unsigned char *)> &each) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in)
    return absl::NotFoundError(file + ": no such file");
  std::string data(static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0)),
                   '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  auto corrupt = [&](const std::string &why) {
    return absl::DataLossError(file + ": the clients' states are corrupt (" +
                               why + ")");
  };
  size_t words = header.size();
  size_t headerBytes = 8 + (words + 2) * 8;
  if (!in || data.size() < headerBytes + 8 ||
      std::memcmp(data.data(), magic, 8) != 0)
    return corrupt("not a client state file of this version");
  uint64_t sum;
  std::memcpy(&sum, data.data() + data.size() - 8, 8);
  if (sum != fnv1a(std::string_view(data).substr(0, data.size() - 8)))
    return corrupt("checksum mismatch");
  std::memcpy(header.data(), data.data() + 8, words * 8);
  uint64_t sizes[2]; // state bytes, count
  std::memcpy(sizes, data.data() + 8 + words * 8, 16);
  if (header[0] != fingerprint)
    return absl::FailedPreconditionError(
        file + ": the clients' states were written by another program");
  uint64_t body = data.size() - headerBytes - 8;
  if (sizes[0] != bytes_ || sizes[1] > static_cast<uint64_t>(population) ||
      sizes[1] > body / (8 + bytes_) || body != sizes[1] * (8 + bytes_))
    return corrupt("state size or count");
  const char *p = data.data() + headerBytes;
  int64_t last = -1;
  for (uint64_t i = 0; i < sizes[1]; ++i, p += 8 + bytes_) {
    int64_t client;
    std::memcpy(&client, p, 8);
    if (client <= last || client >= population)
      return corrupt("client index " + std::to_string(client) +
                     " out of order or past the population of " +
                     std::to_string(population));
    last = client;
    if (!each(client, reinterpret_cast<const unsigned char *>(p + 8)))
      return absl::ResourceExhaustedError("cannot keep the states of " +
                                          std::to_string(sizes[1]) +
                                          " clients: " + error_);
  }
  return absl::OkStatus();
}

absl::Status ClientStateStore::save(const std::string &dir,
                                    uint64_t fingerprint, int64_t round) const {
  std::error_code ec; // the checkpoint's directory, made here first
  std::filesystem::create_directories(dir, ec);
  std::vector<std::pair<int64_t, const unsigned char *>> states;
  states.reserve(used_);
  for (size_t c = 0; c < slot_.size(); ++c)
    if (slot_[c] != 0)
      states.emplace_back(static_cast<int64_t>(c),
                          data_ + (slot_[c] - 1) * bytes_);
  return writeFileDurably(
      dir, path(dir, round),
      encode(kMagic, {fingerprint, static_cast<uint64_t>(round)}, states),
      "client-state-write", "client-state-rename");
}

absl::Status ClientStateStore::load(const std::string &dir,
                                    uint64_t fingerprint, int64_t round,
                                    int64_t population) {
  std::string file = path(dir, round);
  if (!std::filesystem::exists(file))
    return absl::NotFoundError(file + ": the clients' states of round " +
                               std::to_string(round) + " are missing");
  // Straight into the slots (the file's bytes are the only copy besides).
  clear();
  std::vector<uint64_t> header(2);
  absl::Status s =
      decode(file, kMagic, fingerprint, population, header,
             [&](int64_t client, const unsigned char *packed) {
               if (bytes_ > 0 && !reserve(used_ + 1))
                 return false;
               auto c = static_cast<size_t>(client);
               if (c >= slot_.size())
                 slot_.resize(std::max(c + 1, slot_.size() * 3 / 2), 0);
               slot_[c] = static_cast<uint32_t>(++used_);
               if (bytes_ > 0)
                 std::memcpy(data_ + (used_ - 1) * bytes_, packed, bytes_);
               return true;
             });
  if (s.ok() && header[1] != static_cast<uint64_t>(round))
    s = absl::DataLossError(file + ": the clients' states are corrupt (round " +
                            std::to_string(header[1]) + ")");
  if (!s.ok())
    clear();
  return s;
}

absl::Status ClientStateStore::savePending(const std::string &dir,
                                           const std::string &file,
                                           uint64_t fingerprint, int64_t round,
                                           int64_t attempt) const {
  // Each client's latest pending state, ascending by client.
  std::vector<std::pair<int64_t, const unsigned char *>> states;
  for (size_t i = pendingClients_.size(); i-- > 0;)
    if (pendingClients_[i] >= 0)
      states.emplace_back(pendingClients_[i],
                          pendingBytes_.data() + i * bytes_);
  std::stable_sort(
      states.begin(), states.end(),
      [](const auto &a, const auto &b) { return a.first < b.first; });
  states.erase(std::unique(states.begin(), states.end(),
                           [](const auto &a, const auto &b) {
                             return a.first == b.first;
                           }),
               states.end());
  return writeFileDurably(dir, file,
                          encode(kPendingMagic,
                                 {fingerprint, static_cast<uint64_t>(round),
                                  static_cast<uint64_t>(attempt)},
                                 states),
                          "client-state-write", "client-state-rename");
}

absl::Status ClientStateStore::loadPending(const std::string &file,
                                           uint64_t fingerprint,
                                           int64_t population, int64_t &round,
                                           int64_t &attempt) {
  abandon();
  std::vector<uint64_t> header(3);
  absl::Status s = decode(file, kPendingMagic, fingerprint, population, header,
                          [&](int64_t client, const unsigned char *packed) {
                            stage(client, packed);
                            return true;
                          });
  if (!s.ok()) {
    abandon();
    return s;
  }
  round = static_cast<int64_t>(header[1]);
  attempt = static_cast<int64_t>(header[2]);
  return absl::OkStatus();
}

void ClientStateStore::clear() {
  abandon();
  slot_.clear();
  used_ = 0;
}

bool ClientStateStore::hasPending() const {
  return std::any_of(pendingClients_.begin(), pendingClients_.end(),
                     [](int64_t c) { return c >= 0; });
}

void ClientStateStore::preferPending(bool on) {
  preferPending_ = on;
  pendingIndex_.clear();
  if (!on)
    return;
  for (size_t i = 0; i < pendingClients_.size(); ++i) {
    int64_t c = pendingClients_[i];
    if (c < 0)
      continue;
    if (static_cast<size_t>(c) >= pendingIndex_.size())
      pendingIndex_.resize(static_cast<size_t>(c) + 1, 0);
    pendingIndex_[static_cast<size_t>(c)] = static_cast<uint32_t>(i + 1);
  }
}

const unsigned char *ClientStateStore::pendingOf(int64_t client) const {
  if (client < 0 || static_cast<size_t>(client) >= pendingIndex_.size() ||
      pendingIndex_[static_cast<size_t>(client)] == 0)
    return nullptr;
  return pendingBytes_.data() +
         (pendingIndex_[static_cast<size_t>(client)] - 1) * bytes_;
}

std::string ClientStateStore::summary() const {
  return "client states of " + std::to_string(clients()) + " clients, " +
         std::to_string(footprint()) + " bytes " +
         (spilled() ? "in a mapped file" : "in memory");
}

} // namespace fedrt
