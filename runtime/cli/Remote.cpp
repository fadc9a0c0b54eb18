// `serve` and `worker` (docs/remote.md): the coordinator runs the same
// round loop as simulate over a RemoteBackend; a worker hosts its clients
// on a LocalBackend. Exit statuses are decided here.
#include "Options.h"

#include "fedrt/Executor.h"
#include "fedrt/Hash.h"
#include "fedrt/LocalBackend.h"
#include "fedrt/Remote.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

namespace fedrt::cli {

namespace {

// Exit statuses of serve and worker besides 0, 1 (an error) and 2 (usage).
constexpr int kPlanMismatch = 3;
constexpr int kRunAbandoned = 4;
constexpr int kGaveUp = 5;
constexpr int kAuthRefused = 6;

void addSecurityOptions(CLI::App &app, NetOptions &n, bool serve) {
  app.add_flag("--insecure", n.insecure,
               "Plaintext without TLS (a warning is printed)");
  app.add_option("--tls-cert", n.tlsCert,
                 serve ? "The coordinator's TLS certificate (PEM)"
                       : "This worker's certificate, for mutual TLS (PEM)")
      ->type_name("FILE");
  app.add_option("--tls-key", n.tlsKey, "The private key of --tls-cert (PEM)")
      ->type_name("FILE");
  app.add_option("--tls-ca", n.tlsCa,
                 serve ? "Require worker certificates signed by this CA "
                         "(mutual TLS)"
                       : "The CA that signed the coordinator's certificate")
      ->type_name("FILE");
  app.add_option("--token-file", n.tokenFile,
                 "A shared secret: workers must present the token in FILE")
      ->type_name("FILE");
}

SecurityOptions security(const NetOptions &n) {
  return {n.insecure, n.tlsCert, n.tlsKey, n.tlsCa, n.tokenFile};
}

} // namespace

void addServeOptions(CLI::App &serve, NetOptions &n) {
  serve
      .add_option("--listen", n.listen,
                  "HOST:PORT to listen on (PORT 0: any free port)")
      ->required();
  serve
      .add_option("--port-file", n.portFile,
                  "Write the port listened on to FILE")
      ->type_name("FILE");
  addSecurityOptions(serve, n, true);
  serve
      .add_option("--min-workers", n.minWorkers,
                  "Workers to wait for before each round (default 1)")
      ->check(integerIn(1, 1000000));
  serve
      .add_option("--min-clients", n.minClients,
                  "Clients that must report for a round to count; fewer "
                  "and the round is run again (default 1)")
      ->check(integerIn(1, int64_t(1) << 40));
  serve
      .add_option("--round-timeout", n.roundTimeout,
                  "Seconds a stage waits for results before it closes "
                  "without the late workers (default 300)")
      ->check(CLI::Range(0.01, 1e6));
  serve
      .add_option("--join-timeout", n.joinTimeout,
                  "Seconds to wait for --min-workers before giving up the "
                  "run (default 300)")
      ->check(CLI::Range(0.01, 1e7));
  serve
      .add_option("--over-select", n.overSelect,
                  "Sample ceil(F x --clients-per-round) clients; a stage "
                  "closes once --clients-per-round reported (default 1)")
      ->check(CLI::Range(1.0, 10.0));
  serve
      .add_option("--max-attempts", n.maxAttempts,
                  "Attempts of a round before the run is abandoned "
                  "(default 3)")
      ->check(integerIn(1, 1000));
  serve
      .add_option("--heartbeat-ms", n.heartbeatMs,
                  "Workers' heartbeat period; 3 missed: the worker is dead "
                  "(default 2000)")
      ->check(integerIn(50, 600000));
  serve
      .add_option("--compress-up", n.compressUp,
                  "Results' encoding: none | zstd | int8 | int8+zstd")
      ->check(CLI::IsMember({"none", "zstd", "int8", "int8+zstd"}));
  serve
      .add_option("--compress-down", n.compressDown,
                  "Tasks' encoding: none | zstd | bf16")
      ->check(CLI::IsMember({"none", "zstd", "bf16"}));
}

void addWorkerOptions(CLI::App &worker, NetOptions &n) {
  worker.add_option("--connect", n.connect, "The coordinator's HOST:PORT")
      ->required();
  worker
      .add_option("--name", n.name,
                  "This worker's stable name (default: HOST-PID); results "
                  "merge in name order, and a worker that rejoins with its "
                  "name replaces its old session")
      ->type_name("ID");
  addSecurityOptions(worker, n, false);
  worker
      .add_option("--reconnect-max", n.reconnectMax,
                  "Longest wait between reconnection attempts, seconds "
                  "(default 30)")
      ->check(CLI::Range(0.05, 3600.0));
  worker
      .add_option("--give-up-after", n.giveUpAfter,
                  "Exit (status 5) after this many seconds without a "
                  "coordinator (default: never)")
      ->check(CLI::Range(0.0, 1e7));
}

// Exit status 0 when serve's flags fit the plan, else 1 or 2 (reported).
static int checkServeOptions(const PlanTable &plan, const Options &o,
                             const NetOptions &n) {
  if (!n.insecure && (n.tlsCert.empty() || n.tlsKey.empty())) {
    reportError("give --tls-cert and --tls-key (or --insecure for plaintext)");
    return 2;
  }
  if (plan.kind == PlanTable::Kind::Process) {
    if (std::string m = evalDataMismatch(plan); !m.empty()) {
      reportError(m + "; remote eval runs on the workers' training clients");
      return 1;
    }
    if (o.resume && o.checkpoint.empty()) {
      reportError("--resume needs --checkpoint DIR");
      return 2;
    }
  }
  return 0;
}

static CoordinatorOptions coordinatorOptions(const Options &o,
                                             const NetOptions &n) {
  CoordinatorOptions c;
  c.listen = n.listen;
  c.portFile = n.portFile;
  c.security = security(n);
  c.minWorkers = n.minWorkers;
  c.minClients = n.minClients;
  c.roundTimeoutSeconds = n.roundTimeout;
  c.joinTimeoutSeconds = n.joinTimeout;
  c.heartbeatMs = static_cast<uint32_t>(n.heartbeatMs);
  c.compressUp = n.compressUp;
  c.compressDown = n.compressDown;
  c.seed = o.seed;
  c.verbose = o.verbose;
  c.secaggThreshold = static_cast<uint32_t>(o.secaggThreshold);
  c.secaggNeighbours = static_cast<uint32_t>(o.secaggNeighbours);
  if (n.overSelect > 1.0 && o.clientsPerRound > 0)
    c.goal = o.clientsPerRound;
  return c;
}

static void reportCounters(const RemoteCounters &counters) {
  if (counters.latePartials || counters.corrupt || counters.refused)
    std::fprintf(stderr,
                 "coordinator: %lld late results dropped, %lld sessions "
                 "closed for malformed messages, %lld joins refused\n",
                 static_cast<long long>(counters.latePartials),
                 static_cast<long long>(counters.corrupt),
                 static_cast<long long>(counters.refused));
}

int runServe(const PlanTable &plan, const Options &o, const NetOptions &n) {
  if (int status = checkServeOptions(plan, o, n); status != 0)
    return status;
  CoordinatorOptions c = coordinatorOptions(o, n);
  RemoteBackend backend(plan, c);
  if (absl::Status s = backend.start(); !s.ok()) {
    reportError(std::string(s.message()));
    return 1;
  }
  auto end = [&](const absl::Status &s) {
    if (s.ok()) {
      backend.finish(false, "");
      return 0;
    }
    backend.finish(true, std::string(s.message()));
    bool abandoned = s.code() == absl::StatusCode::kUnavailable;
    reportError((abandoned ? "run abandoned: " : "") +
                std::string(s.message()));
    return abandoned ? kRunAbandoned : 1;
  };
  Executor trainer(backend, FailurePolicy::DropClient);
  trainer.setSeed(o.seed);
  if (plan.kind == PlanTable::Kind::Main) {
    absl::StatusOr<std::vector<int64_t>> cohort = backend.population();
    if (!cohort.ok())
      return end(cohort.status());
    absl::StatusOr<std::vector<HostValue>> results =
        trainer.run(*plan.main, {}, *cohort, 0);
    if (!results.ok())
      return end(results.status());
    printResults(*plan.main, *results, std::cout);
    std::cout.flush();
    return end(absl::OkStatus());
  }
  Executor evaluator(backend, FailurePolicy::DropClient);
  ProcessConfig config = processConfig(o);
  // Remote clients come and go: the checkpoint's identity is the program,
  // the seed and the cohort size.
  config.identity.partition = "remote";
  config.overSelect = n.overSelect;
  config.maxAttempts = n.maxAttempts;
  config.refresh = [&backend](std::vector<int64_t> &population,
                              std::vector<int64_t> &evalClients) {
    absl::StatusOr<std::vector<int64_t>> p = backend.population();
    if (!p.ok())
      return p.status();
    population = *p;
    evalClients = *std::move(p);
    return absl::OkStatus();
  };
  ProcessRunner runner(plan, trainer, plan.eval ? &evaluator : nullptr, config);
  // Client state stays on the workers; the coordinator keeps the record of
  // whose results each round accepted (docs/remote.md, "Client state").
  std::optional<ClientStateLedger> ledger;
  if (plan.hasClientState) {
    std::random_device entropy;
    uint64_t run = (static_cast<uint64_t>(entropy()) << 32) ^ entropy();
    ledger.emplace(run == 0 ? 1 : run);
    backend.setClientStateLedger(&*ledger);
    runner.setClientStates(&*ledger);
  }
  absl::Status s = runner.run({}, {}, std::cout);
  std::cout.flush();
  reportCounters(backend.counters());
  return end(s);
}

// What a worker announces of its clients: per client its example count
// (0: never sampled) and name, and its data's fingerprint.
static WorkerClients hostedClients(const std::vector<ClientDataset> &data) {
  WorkerClients clients;
  size_t count = data.empty() ? 0 : data[0].size();
  clients.examples.assign(count, 0);
  for (int64_t c : eligible(data, "")) {
    const ClientDataset &d = data[0];
    clients.examples[static_cast<size_t>(c)] =
        d.syntheticClients ? d.syntheticRecords
                           : d.clients[static_cast<size_t>(c)].records;
  }
  for (size_t i = 0; i < count; ++i)
    clients.names.push_back(data[0].name(i));
  clients.dataFingerprint = dataFingerprint(data);
  return clients;
}

// A worker's client states (docs/remote.md, "Client state"): a store of
// its `count` clients in --state-dir, bound to the program, its data and
// its name, read and written by `backend`.
static absl::Status
keepClientStates(const PlanTable &plan, const Options &o,
                 const std::string &name, size_t count, WorkerClients &clients,
                 LocalBackend &backend, std::optional<ClientStateStore> &store,
                 std::optional<WorkerClientStates> &states) {
  store.emplace(plan.clientState,
                static_cast<uint64_t>(o.clientStateMemory) << 20, o.stateDir);
  if (absl::Status s = store->initialize(plan.clientInit); !s.ok())
    return s;
  uint64_t identity[3] = {plan.fingerprint, clients.dataFingerprint,
                          fnv1a(name)};
  states.emplace(
      *store, o.stateDir,
      fnv1a(std::string_view(reinterpret_cast<const char *>(identity),
                             sizeof identity)),
      static_cast<int64_t>(count));
  if (absl::Status s = states->open(); !s.ok())
    return s;
  states->setVerbose(o.verbose);
  backend.setClientStates(&*store);
  clients.states = &*states;
  return absl::OkStatus();
}

int runWorkerCommand(const PlanTable &plan, const Options &o,
                     const NetOptions &n) {
  if (!n.insecure && n.tlsCa.empty()) {
    reportError("give --tls-ca (the CA of the coordinator's certificate), or "
                "--insecure for plaintext");
    return 2;
  }
  if (plan.hasClientState && (o.stateDir.empty() || n.name.empty())) {
    reportError("process '" + plan.processName +
                "' keeps client state (client_init): a worker keeps its "
                "clients' states in --state-dir DIR under a stable --name");
    return 2;
  }
  if (plan.kind == PlanTable::Kind::Process)
    if (std::string m = evalDataMismatch(plan); !m.empty()) {
      reportError(m + "; remote eval runs on the workers' training clients");
      return 1;
    }
  const Computation &comp =
      plan.kind == PlanTable::Kind::Main ? *plan.main : *plan.next;
  std::vector<ClientDataset> data;
  std::string error;
  if (!loadInputs(comp, o.data, o, data, error)) {
    reportError(error);
    return 1;
  }
  WorkerClients clients = hostedClients(data);
  size_t count = clients.names.size();
  ThreadTeam team(o.threads);
  LocalBackend backend(team, pointers(data));
  clients.train = &backend;
  clients.eval = &backend;
  std::optional<ClientStateStore> store;
  std::optional<WorkerClientStates> states;
  if (plan.hasClientState)
    if (absl::Status s = keepClientStates(plan, o, n.name, count, clients,
                                          backend, store, states);
        !s.ok()) {
      reportError(std::string(s.message()));
      return 1;
    }
  clients.seeded = [&backend](uint64_t seed) {
    SecureAggregationOptions rounding;
    rounding.seed = seed; // the worker's own clients: no protocol of its own
    backend.setSecureAggregation(rounding);
  };
  WorkerOptions w;
  w.connect = n.connect;
  w.security = security(n);
  w.name = n.name;
  if (w.name.empty()) {
    char host[256] = "worker";
    gethostname(host, sizeof host - 1);
    w.name = std::string(host) + "-" + std::to_string(getpid());
  }
  w.reconnectMaxSeconds = n.reconnectMax;
  w.giveUpAfterSeconds = n.giveUpAfter;
  w.verbose = o.verbose;
  absl::Status s = runWorker(plan, clients, w);
  if (s.ok())
    return 0;
  reportError(std::string(s.message()));
  switch (s.code()) {
  case absl::StatusCode::kFailedPrecondition:
    return kPlanMismatch;
  case absl::StatusCode::kUnauthenticated:
    return kAuthRefused;
  case absl::StatusCode::kAborted:
    return kRunAbandoned;
  case absl::StatusCode::kDeadlineExceeded:
    return kGaveUp;
  default:
    return 1;
  }
}

} // namespace fedrt::cli
