// Remote execution (docs/remote.md): the coordinator's ClientBackend, which
// runs each stage's client work on workers that dialled in over gRPC
// (remote.proto), and the worker's side, which hosts clients and answers
// tasks with pre-aggregated partials. The executor and the round loop are
// the same as in simulation; only where clients run differs.
#pragma once

#include "fedrt/ClientBackend.h"
#include "fedrt/ClientState.h"
#include "fedrt/Plan.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fedrt {

// Transport security of either side: TLS (the coordinator's certificate and
// key; with `tlsCa`, the worker certificates it accepts: mutual TLS), a
// shared bearer token, or plaintext only when `insecure`.
struct SecurityOptions {
  bool insecure = false;
  std::string tlsCert, tlsKey, tlsCa; // PEM files
  std::string tokenFile;              // a file holding the shared token
};

struct CoordinatorOptions {
  std::string listen;   // HOST:PORT (PORT 0: any free port)
  std::string portFile; // written with the bound port once listening
  SecurityOptions security;
  int64_t minWorkers = 1; // connected workers a round waits for
  int64_t minClients = 1; // clients a stage needs, else it fails
  // Over-selection: a stage closes once this many clients reported (0:
  // when every selected client has, or at the deadline).
  int64_t goal = 0;
  double roundTimeoutSeconds = 300;  // per stage
  double joinTimeoutSeconds = 300;   // waiting for workers before a round
  uint32_t heartbeatMs = 2000;       // workers' heartbeat period
  int deadAfterHeartbeats = 3;       // silent this long: the worker is dead
  std::string compressUp = "none";   // none | zstd | int8 | int8+zstd
  std::string compressDown = "none"; // none | zstd | bf16
  uint64_t seed = 0;                 // the run's (int8 rounding streams)
  int maxMessagesPerSecond = 20000;  // per worker, above: session closed
  bool verbose = false;              // each session and stage on stderr
  // Secure sums' SecAgg+ among the workers (docs/secure-aggregation.md);
  // 0: the defaults.
  uint32_t secaggThreshold = 0, secaggNeighbours = 0;
};

// Counts a run's metrics and its log report.
struct RemoteCounters {
  int64_t latePartials = 0; // results of a closed stage, dropped
  int64_t corrupt = 0;      // sessions closed for a malformed message
  int64_t refused = 0;      // joins refused
};

// Which of a worker's pending client states count (remote.proto's
// ClientStateCommit; docs/remote.md, "Client state").
struct ClientStateCommit {
  uint64_t run = 0;          // the run's id: another id, another run
  int64_t acceptedRound = 0; // the worker's last accepted round (0: none)
  int64_t acceptedAttempt = 0;
  int64_t durableRound = 0; // the last round checkpointed (or completed)
};

// The coordinator's side of client state: the states stay on the workers;
// the ledger records, per worker, the last round (and attempt) whose
// results the coordinator accepted in every stage, tells each worker in
// its tasks and at Finish, and is checkpointed with the server state — so
// a worker commits a round's new states only once the coordinator counts
// them and can no longer go back to before that round. Used by the round
// loop's thread only.
class ClientStateLedger : public ClientStateKeeper {
public:
  // `run`: the run's id (a fresh run draws one; resume loads its own).
  explicit ClientStateLedger(uint64_t run) : run_(run) {}

  void beginAttempt(int64_t round, int64_t attempt) override;
  // Worker `worker`'s result in a stage of the current attempt: merged
  // (accepted) or not (dropped, late, gone); `writesState`: the stage
  // computes the new client states.
  void record(const std::string &worker, bool accepted, bool writesState);
  // Workers accepted in every stage of the attempt they had a task in,
  // the one writing states among them: it is their last accepted round
  // now (a worker whose clients all failed before that stage has no new
  // states to count).
  absl::Status commit() override;
  void durable(int64_t round) override { durable_ = round; }
  // What worker `worker`'s tasks (and the run's Finish) carry.
  ClientStateCommit commitFor(const std::string &worker) const;
  int64_t attempt() const { return attempt_; }
  uint64_t run() const { return run_; }

  // DIR/clients-ROUND.state: "FEDCACC1", the program's fingerprint, the
  // round, the run's id, the number of workers, per worker (by name) its
  // name's length and bytes and its last accepted round and attempt, then
  // an FNV-1a checksum. DataLoss when damaged, FailedPrecondition for
  // another program's.
  absl::Status save(const std::string &dir, uint64_t fingerprint,
                    int64_t round) const override;
  absl::Status load(const std::string &dir, uint64_t fingerprint, int64_t round,
                    int64_t population) override;
  std::string summary() const override;

private:
  uint64_t run_;
  int64_t round_ = 0, attempt_ = 0, durable_ = 0;
  // The current attempt, per worker that had a task: accepted in every
  // stage so far, and in the stage writing states.
  struct Record {
    bool accepted = true, wrote = false;
  };
  std::map<std::string, Record> attemptRecord_;
  std::map<std::string, std::pair<int64_t, int64_t>> accepted_;
};

// A worker's side of client state: its clients' states (a ClientStateStore
// over its own client indices) kept in --state-dir, one folder per run
// (DIR/run-ID). A stage's new states are written there (pending.state)
// before the worker reports the stage, and become the clients' states
// (clients-ROUND.state) when a task or Finish says the coordinator
// accepted them and made the round durable — so neither a killed worker
// nor a coordinator resumed from its last checkpoint loses or
// double-applies a round. Any error it returns ends the worker: the
// states it would need are not there.
class WorkerClientStates {
public:
  // `identity`: what the files must have been written for (the program's
  // fingerprint, the worker's data and name), mixed with the run's id.
  WorkerClientStates(ClientStateStore &store, std::string dir,
                     uint64_t identity, int64_t clients);
  ~WorkerClientStates();
  WorkerClientStates(const WorkerClientStates &) = delete;
  WorkerClientStates &operator=(const WorkerClientStates &) = delete;

  // Creates and locks `dir` (DIR/lock) and binds it to `identity`
  // (DIR/worker). InvalidArgument when it cannot be written;
  // FailedPrecondition when another process holds it, or it belongs to
  // another identity (another worker's directory, changed data).
  absl::Status open();
  // Before a task of `round`/`attempt`: adopts the run (loading its files,
  // or starting over from client_init for another run's), commits or drops
  // the pending states `commit` settles, and readies a stage that writes
  // states. DataLoss when the coordinator counts states this worker no
  // longer has, or resumed from before the states it holds;
  // InvalidArgument for a task that breaks the protocol.
  absl::Status beforeTask(const ClientStateCommit &commit, int64_t round,
                          int64_t attempt, bool writesState);
  // After the stage ran (`failedWhole`: it failed as a whole; `failures`:
  // some clients failed): the attempt's pending states, written durably
  // before the result is sent. InternalError when they cannot be.
  absl::Status afterTask(int64_t round, int64_t attempt, bool writesState,
                         bool failedWhole, bool failures);
  // The run's end: the last round's states committed if they count.
  absl::Status finish(const ClientStateCommit &commit);

  int64_t committedRound() const { return committed_; }
  // Says on stderr which rounds' states it commits and drops.
  void setVerbose(bool on) { verbose_ = on; }

private:
  absl::Status adopt(uint64_t run);
  absl::Status settle(const ClientStateCommit &commit, int64_t round,
                      int64_t attempt);
  absl::Status commitPending();
  void discardPending();
  uint64_t fingerprint() const;
  std::string pendingPath() const { return runDir_ + "/pending.state"; }
  // Removes the run's clients-*.state but the committed round's.
  void removeStale() const;

  ClientStateStore &store_;
  std::string dir_, runDir_; // DIR, and DIR/run-ID of the run adopted
  uint64_t identity_;
  int lock_ = -1;
  int64_t clients_;
  uint64_t run_ = 0; // 0: no run adopted yet
  int64_t committed_ = 0;
  int64_t pendingRound_ = 0, pendingAttempt_ = 0; // 0: none
  bool verbose_ = false;
};

class RemoteBackend : public ClientBackend {
public:
  RemoteBackend(const PlanTable &plan, CoordinatorOptions options);
  ~RemoteBackend() override;

  // Starts serving; the port is then written to the port file. Errors:
  // InvalidArgument for unreadable credentials, Unavailable when the
  // address cannot be bound.
  absl::Status start();
  int port() const;

  // Waits (up to the join timeout) for the minimum workers and clients,
  // then fixes the clients of the next computations: population indices
  // 0..n-1 in (worker name, worker's client order) order, clients without
  // examples left out. Unavailable when they did not come in time.
  absl::StatusOr<std::vector<int64_t>> population();

  // Sends each worker its slice of the cohort; waits for the results until
  // all are in, `goal` clients reported, or the deadline; merges them in
  // worker-name order. Workers that did not answer are `dropped`;
  // Unavailable when fewer than `minClients` reported.
  absl::StatusOr<StageResult> runStage(const StageTask &task) override;
  std::string clientName(int64_t client) const override;

  // Tells every worker the run is over (or abandoned) and stops serving.
  void finish(bool abandoned, const std::string &message);
  RemoteCounters counters() const;
  // A process with client state: tasks carry each worker's commit, and
  // each stage's accepted workers are recorded.
  void setClientStateLedger(ClientStateLedger *ledger);

  struct State;

private:
  std::unique_ptr<State> state_;
};

struct WorkerOptions {
  std::string connect; // HOST:PORT of the coordinator
  SecurityOptions security;
  std::string name;                // stable identity (merge order, sessions)
  double reconnectMaxSeconds = 30; // backoff cap
  double giveUpAfterSeconds = 0;   // 0: keep trying
  bool verbose = false;
};

// What a worker hosts: per computation of the plan that takes client data,
// a backend over its clients (indices 0..n-1), and per client its example
// count and name.
struct WorkerClients {
  ClientBackend *train = nullptr; // next's (or main's) clients
  ClientBackend *eval = nullptr;  // eval's (may be `train`)
  std::vector<int64_t> examples;
  std::vector<std::string> names;
  uint64_t dataFingerprint = 0;
  // Told the run's seed when a coordinator welcomes the worker: the
  // rounding streams of federated_secure_mean (fedrt/SecureMean.h).
  std::function<void(uint64_t)> seeded;
  // A process with client state: the states of the worker's clients,
  // which `train` and `eval` read.
  WorkerClientStates *states = nullptr;
};

// Runs a worker until the coordinator ends the run. OK when it finished;
// FailedPrecondition when refused for another plan (naming both
// fingerprints); Unauthenticated when the token or TLS was refused;
// Aborted when the coordinator abandoned the run; DeadlineExceeded when
// reconnecting gave up; other codes for local errors.
absl::Status runWorker(const PlanTable &plan, WorkerClients &clients,
                       const WorkerOptions &options);

} // namespace fedrt
