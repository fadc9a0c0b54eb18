// The coordinator's state, shared by its gRPC service (sessions: joins,
// results, heartbeats; Coordinator.cpp) and its backend (stages: tasks out,
// partials merged; RemoteBackend.cpp). Internal to runtime/net.
#pragma once

#include "Wire.h"

#include "fedrt/Remote.h"

#include "Protocol.h"

#include "remote.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace fedrt::net {

using Clock = std::chrono::steady_clock;
using Stream = grpc::ServerReaderWriter<remote::v1::CoordinatorMessage,
                                        remote::v1::WorkerMessage>;

// One worker's stream. Its reader (the gRPC handler thread) and writer
// (a thread draining the outbox, so a stalled worker never blocks a round)
// run concurrently, as gRPC's sync API allows.
struct Session {
  uint64_t id = 0;
  std::string name, peer;
  grpc::ServerContext *context = nullptr;
  std::vector<int64_t> examples;
  std::vector<std::string> clientNames;
  std::atomic<int64_t> lastSeenMs{0}; // since the coordinator started
  bool alive = true;                  // under State::mutex

  std::mutex outMutex;
  std::condition_variable outReady;
  std::deque<remote::v1::CoordinatorMessage> outbox;
  bool closing = false;     // under outMutex: the writer exits when drained
  bool handlerDone = false; // under outMutex: `context` is gone

  // The result being received (reader thread only).
  ChunkAssembly incoming;
  remote::v1::Result incomingResult;
  int64_t incomingBytes = 0;
  // Rate limit: messages in the current second.
  int64_t windowStartMs = 0, windowMessages = 0;

  void send(remote::v1::CoordinatorMessage message);
  // The writer thread: writes the outbox to `stream` until closed.
  void drain(Stream &stream);
  // Ends the writer once the outbox is drained.
  void close();
  // Cancels the call (unblocks its reads and writes) while it exists.
  void cancel();
  void endHandler();
};

// A task sent and not yet merged.
struct Pending {
  uint64_t session = 0;
  const Stage *stage = nullptr;
  std::vector<int64_t> clients; // the worker's indices
  int64_t bytesDown = 0;
  bool done = false, lost = false;
  std::vector<PartialAggregate> partials;
  std::vector<ClientFailure> failures; // worker indices
  int64_t reported = 0, bytesUp = 0;
  // SecAgg+ (a stage with secure sums): the worker's party id and its
  // messages by round.
  uint32_t party = 0;
  bool gone = false; // its worker left (before or after its result)
  std::optional<secagg::v1::AdvertiseKeys> advertiseKeys;
  std::optional<secagg::v1::ShareKeys> shareKeys;
  std::optional<secagg::v1::UnmaskShares> unmaskShares;
};

// The cohort's clients by worker, in cohort (= worker name) order.
struct Slice {
  std::string worker;
  std::vector<int64_t> members; // population indices
  std::vector<int64_t> local;   // the worker's indices
  std::vector<int64_t> seeds;   // their client_seed()s, if read
  uint64_t task = 0;            // 0: the worker is gone
};

// A client of the current population.
struct Member {
  std::string worker;
  int64_t local = 0;
};

} // namespace fedrt::net

namespace fedrt {

struct RemoteBackend::State final : remote::v1::Coordinator::Service {
  using Session = net::Session;
  using Pending = net::Pending;
  using Codec = net::Codec;
  using Clock = net::Clock;

  State(const PlanTable &plan, CoordinatorOptions options);

  grpc::Status Join(grpc::ServerContext *context, net::Stream *stream) override;

  int64_t nowMs() const;
  void log(const std::string &line) const;
  // Welcomes an admitted session and makes it live (replacing a session
  // with its name).
  void enlist(const std::shared_ptr<Session> &s);
  // Reads the session's messages until it ends or breaks the protocol.
  void readSession(const std::shared_ptr<Session> &s, net::Stream &stream);
  // Marks the session dead: its pending tasks are lost, its name free.
  void retire(const std::shared_ptr<Session> &s, const std::string &why);
  // Handles one message after the Hello; an error closes the session.
  absl::Status receive(const std::shared_ptr<Session> &s,
                       const remote::v1::WorkerMessage &m);
  absl::Status beginResult(const std::shared_ptr<Session> &s,
                           const remote::v1::Result &r);
  absl::Status completeResult(const std::shared_ptr<Session> &s);
  // Files a worker's SecAgg+ message with its task (SecureStage.cpp).
  absl::Status receiveSecAgg(const std::shared_ptr<Session> &s,
                             const remote::v1::SecAggUp &m);
  // Checks a Hello; an error is the refusal.
  grpc::Status admit(grpc::ServerContext *context,
                     const remote::v1::Hello &hello,
                     remote::v1::Refusal &refusal);
  void watchHeartbeats();

  const PlanTable &plan;
  CoordinatorOptions options;
  Codec up = Codec::None, down = Codec::None;
  std::string token;
  uint64_t maxResultBytes = 0; // the largest encoded result of any stage
  Clock::time_point started = Clock::now();
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, std::shared_ptr<Session>> live; // by name
  std::vector<std::shared_ptr<Session>> connecting;     // before their Hello
  std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending; // by task
  std::vector<net::Member> members;
  uint64_t nextSession = 1, nextTask = 1;
  RemoteCounters counters;
  bool finished = false;
  std::thread watchdog;
  BufferPool pool;
  ClientStateLedger *ledger = nullptr; // a process with client state
};

} // namespace fedrt

namespace fedrt::net {

// Secure aggregation among workers (SecureStage.cpp,
// docs/secure-aggregation.md). The protocol's parameters for a stage of
// `task` sent to `parties` workers: nullopt when it has no secure sum;
// FailedPrecondition when the sum could not be exact (a modulus above
// 2^63) or there are fewer than 3 parties.
absl::StatusOr<std::optional<secagg::Params>>
secureParams(const CoordinatorOptions &options, const StageTask &task,
             size_t parties);
// Runs the SecAgg+ rounds with the slices' workers (party i = slice i)
// under `lock` until `deadline`, waiting for their results between the
// key rounds and unmasking: the secure sums' total, flattened in
// aggregation order, mod 2^bits. Unavailable (the round attempt is
// abandoned) when fewer than t parties remain in a round.
absl::StatusOr<std::vector<uint64_t>>
secureRounds(RemoteBackend::State &st, std::unique_lock<std::mutex> &lock,
             const std::vector<Slice> &slices, const secagg::Params &params,
             Clock::time_point deadline, SecAggStats &stats);
// Zeroes the secure sums of `partials` (masked values, not to be added).
void clearSecureSums(std::vector<PartialAggregate> &partials);
// Sets the secure sums of `partials` from `sums` (flattened).
void setSecureSums(std::vector<PartialAggregate> &partials,
                   const std::vector<uint64_t> &sums);
// The secure sums' integers of `partials`, flattened (what a worker masks).
std::vector<uint64_t> secureSums(const std::vector<PartialAggregate> &partials);

} // namespace fedrt::net
