// The states of a process's clients (docs/runtime.md, "Client state").
// The client state C has a static shape, so each client's state is a fixed
// number of packed bytes (its leaves' elements in order). Only clients that
// have completed a round hold one — the others start from client_init —
// and they live in one buffer that grows as clients join: in memory up to
// a limit, then in a memory-mapped file (10^6 clients with 1 KB states
// take 1 GB, plus 4 bytes per client of index).
//
// A round's new states are pending until the round commits: a client that
// fails later in the round, or a round that never completes, leaves its
// state as it was, and a stage that runs again reads the same state.
#pragma once

#include "fedrt/Plan.h"
#include "fedrt/Types.h"
#include "fedrt/Value.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fedrt {

// Where a process's client states are kept, as the round loop
// (ProcessRunner) sees it: the ClientStateStore itself in simulation; under
// remote execution the coordinator's ClientStateLedger (fedrt/Remote.h),
// which records whose results each round accepted while the states stay on
// the workers.
class ClientStateKeeper {
public:
  virtual ~ClientStateKeeper() = default;
  // Attempt `attempt` (1, 2, ...) of `round` begins: the new states of an
  // earlier, abandoned attempt are dropped.
  virtual void beginAttempt(int64_t round, int64_t attempt) = 0;
  // The attempt completed: the new states of the clients it accepted become
  // theirs. ResourceExhausted when they cannot be kept.
  virtual absl::Status commit() = 0;
  // `round` is durable: checkpointed (or, without checkpoints, complete).
  virtual void durable(int64_t round) { (void)round; }
  // Written with the checkpoint of `round` as DIR/clients-ROUND.state, read
  // back on resume (`population`: the clients there are).
  virtual absl::Status save(const std::string &dir, uint64_t fingerprint,
                            int64_t round) const = 0;
  virtual absl::Status load(const std::string &dir, uint64_t fingerprint,
                            int64_t round, int64_t population) = 0;
  // One line for --verbose after each round.
  virtual std::string summary() const = 0;
};

class ClientStateStore : public ClientStateKeeper {
public:
  // `type`: C (static shape). Past `memoryLimit` bytes of states the
  // buffer moves to an unlinked file in `spillDir` (empty: $TMPDIR or
  // /tmp), mapped into memory.
  ClientStateStore(const TypeDesc &type, uint64_t memoryLimit,
                   std::string spillDir);
  ~ClientStateStore();
  ClientStateStore(const ClientStateStore &) = delete;
  ClientStateStore &operator=(const ClientStateStore &) = delete;

  const TypeDesc &type() const { return type_; }
  size_t stateBytes() const { return bytes_; } // per client, packed

  // The committed state of population member `client`, packed, or null
  // when it has none yet. Valid until the next commit.
  const unsigned char *find(int64_t client) const;
  // Runs client_init (an entry with no inputs writing C's slots) for the
  // state of a client that has none. InvalidArgument when it fails a
  // check.
  absl::Status initialize(StageFn clientInit);
  // What a client fn reads: the committed state (or client_init's), or
  // with preferPending(true) the client's pending state if it has one.
  const unsigned char *stateOf(int64_t client) const {
    const unsigned char *p = preferPending_ ? pendingOf(client) : nullptr;
    if (!p)
      p = find(client);
    return p ? p : initial_.data();
  }
  // A remote worker's eval of a round whose results the coordinator
  // accepted but has not yet checkpointed reads the round's pending states
  // (docs/remote.md, "Client state"). Off again at preferPending(false),
  // stage() or abandon().
  void preferPending(bool on);
  // Copies packed bytes into `out` (shaped like HostValue::zeros(type)).
  void unpack(const unsigned char *packed, HostValue &out) const;
  // The packed bytes of a value of the slots `slots` point to (a client
  // fn's output), appended to `out`.
  void packSlots(const uint64_t *slots, std::vector<unsigned char> &out) const;

  // A new state of `client` for the round being run (`stateBytes()` packed
  // bytes, copied; a later one for the same client replaces it); `discard`
  // drops it (the client failed).
  void stage(int64_t client, const unsigned char *packed);
  void discard(const std::vector<int64_t> &sortedClients);
  // Room for `clients` more pending states, taken before a stage runs (so
  // running out of memory is std::bad_alloc there, not in a worker thread).
  void reserveRound(size_t clients);
  // Makes every pending state the client's state. ResourceExhausted when
  // the buffer cannot grow (memory, or the spill file's disk).
  absl::Status commit();
  // Drops the pending states (the round did not complete).
  void abandon() {
    pendingClients_.clear();
    pendingBytes_.clear();
    preferPending(false);
  }
  bool hasPending() const;
  // No states at all: every client starts from client_init again.
  void clear();

  // ClientStateKeeper: simulation's states are the store's own.
  void beginAttempt(int64_t, int64_t) override { abandon(); }
  std::string summary() const override;

  int64_t clients() const { return static_cast<int64_t>(used_); }
  // Bytes of the states held and their index (in memory or in the mapped
  // file; the mapping reserves up to twice the states' bytes, untouched).
  uint64_t footprint() const;
  bool spilled() const { return fd_ >= 0; }

  // Checkpoints (written with the server state's, docs/runtime.md):
  // "FEDCCST1", the program's fingerprint, the round, the state bytes per
  // client, the number of clients, then per client (ascending) its index
  // and packed state, then an FNV-1a checksum. DataLoss for a damaged
  // file, FailedPrecondition for another program's.
  absl::Status save(const std::string &dir, uint64_t fingerprint,
                    int64_t round) const override;
  // `population`: the clients there are (an index at or past it is
  // DataLoss: the checksum catches damage, not forgery).
  absl::Status load(const std::string &dir, uint64_t fingerprint, int64_t round,
                    int64_t population) override;
  // DIR/clients-ROUND.state
  static std::string path(const std::string &dir, int64_t round);

  // The pending states, written durably to `file` in `dir` (a remote
  // worker's, before it reports the stage that computed them):
  // "FEDCCSP1", the fingerprint, round, attempt, then as save() from the
  // state bytes on, each client's latest pending state once.
  absl::Status savePending(const std::string &dir, const std::string &file,
                           uint64_t fingerprint, int64_t round,
                           int64_t attempt) const;
  // Reads them back as the pending states (replacing any); the round and
  // attempt they were written for in `round`, `attempt`. NotFound without
  // the file; DataLoss and FailedPrecondition as load().
  absl::Status loadPending(const std::string &file, uint64_t fingerprint,
                           int64_t population, int64_t &round,
                           int64_t &attempt);

private:
  // Room for `n` states; false (why in error_) when the buffer cannot grow.
  bool reserve(size_t n);
  bool spill(size_t capacity);
  bool fail(const std::string &why); // error_ = why + errno's text
  std::string error_;
  // The latest pending state of `client`, or null.
  const unsigned char *pendingOf(int64_t client) const;
  // The file format of save() and savePending(); see there.
  std::string
  encode(const char *magic, const std::vector<uint64_t> &header,
         const std::vector<std::pair<int64_t, const unsigned char *>> &states)
      const;
  // Checks `file`'s magic, checksum, `header.size()` header words (the
  // first must be `fingerprint`; all returned in `header`), state size and
  // count, then calls `each(client, packed)` per client, ascending.
  absl::Status
  decode(const std::string &file, const char *magic, uint64_t fingerprint,
         int64_t population, std::vector<uint64_t> &header,
         const std::function<bool(int64_t, const unsigned char *)> &each);

  TypeDesc type_;
  struct Leaf {
    size_t bytes; // packed
    size_t rank;  // 0: the value is in its slot
  };
  std::vector<Leaf> leaves_; // C's tensor leaves, in order
  size_t bytes_ = 0;
  uint64_t memoryLimit_;
  std::string spillDir_;
  std::vector<uint32_t> slot_; // by client: its state's slot + 1 (0: none)
  unsigned char *data_ = nullptr;
  // Mapped: anonymous memory, or the spill file once spilled.
  size_t capacity_ = 0, used_ = 0; // in states
  int fd_ = -1;                    // the spill file, once spilled
  std::vector<unsigned char> initial_;
  // The round's new states, in arrival order: client (-1: discarded) and
  // packed bytes, in one buffer (a round of 10^6 clients would otherwise
  // pay an allocation per client).
  std::vector<int64_t> pendingClients_;
  std::vector<unsigned char> pendingBytes_;
  // With preferPending(true): by client, its latest pending entry + 1.
  bool preferPending_ = false;
  std::vector<uint32_t> pendingIndex_;
};

} // namespace fedrt
