// Remote execution (docs/remote.md): the coordinator's ClientBackend, which
// runs each stage's client work on workers that dialled in over gRPC
// (remote.proto), and the worker's side, which hosts clients and answers
// tasks with pre-aggregated partials. The executor and the round loop are
// the same as in simulation; only where clients run differs.
#pragma once

#include "fedrt/ClientBackend.h"
#include "fedrt/Plan.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
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
};

// Runs a worker until the coordinator ends the run. OK when it finished;
// FailedPrecondition when refused for another plan (naming both
// fingerprints); Unauthenticated when the token or TLS was refused;
// Aborted when the coordinator abandoned the run; DeadlineExceeded when
// reconnecting gave up; other codes for local errors.
absl::Status runWorker(const PlanTable &plan, WorkerClients &clients,
                       const WorkerOptions &options);

} // namespace fedrt
