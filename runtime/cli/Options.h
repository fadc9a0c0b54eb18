// The command line of a compiled program (docs/runtime.md), internal to
// runtime/cli.
#pragma once

#include "fedrt/ClientData.h"
#include "fedrt/LocalBackend.h"
#include "fedrt/Plan.h"
#include "fedrt/ProcessRunner.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedrt::cli {

struct Options {
  std::string command = "simulate"; // simulate | describe | serve | worker
  std::vector<std::string> data;    // PATH, or NAME=PATH per client input
  std::string partition;
  int clients = 0;
  std::string evalData;
  int64_t rounds = 10;
  int64_t clientsPerRound = 10;      // 0: every client
  bool clientsPerRoundGiven = false; // on the command line, not the default
  uint64_t seed = 0;
  int threads = 0; // 0: the machine's cores
  int64_t evalEvery = 0;
  std::string metrics;
  std::string checkpoint;
  bool resume = false;
  bool forceResume = false;
  std::string progress = "auto"; // auto | always | never
  bool timing = true;            // wall_ms in metrics
  bool printState = false;       // the final state as JSON on stdout
  std::string dumpPartition;     // clients' records and cohorts as JSON
  bool verbose = false;          // per-round execution details on stderr
  std::string layout; // simulate: the workers' data, as a remote run has it
  // federated_secure_sum's SecAgg+ (docs/secure-aggregation.md); 0: default
  int64_t secaggThreshold = 0, secaggNeighbours = 0;
  std::string secagg = "on"; // simulate: on | off (plain sums, same result)
  // federated_dp_mean (docs/privacy.md).
  double dpDelta = 1e-5;
  std::optional<uint64_t> dpSeed;        // else noise from the OS
  std::optional<double> dpTargetEpsilon; // stop before passing it
  // Steering and looking at a run (docs/runtime.md, "Steering a run").
  std::string initState;           // --init-state: JSON of the start state
  bool evalInitial = false;        // --eval-initial: eval as round 0
  int64_t evalClientsPerRound = 0; // --eval-clients-per-round (0: all)
  std::string perClientMetrics;    // --per-client-metrics FILE.jsonl
  // Client state (docs/runtime.md, "Client state"): MiB of states held in
  // memory before they move to a mapped file in stateDir (else $TMPDIR).
  int64_t clientStateMemory = 4096;
  std::string stateDir;
  // `plot`: metrics files in, the picture out.
  std::vector<std::string> plotInputs;
  std::string plotOutput;
  std::vector<std::string> plotOnly; // the metrics to draw (empty: all)
};

// The flags of `serve` and `worker` (docs/remote.md).
struct NetOptions {
  std::string listen, portFile;       // serve
  std::string connect, name;          // worker
  bool insecure = false;              // both
  std::string tlsCert, tlsKey, tlsCa; // both
  std::string tokenFile;              // both
  int64_t minWorkers = 1, minClients = 1;
  double roundTimeout = 300, joinTimeout = 300, overSelect = 1.0;
  int64_t maxAttempts = 3;
  int64_t heartbeatMs = 2000;
  std::string compressUp = "none", compressDown = "none";
  double reconnectMax = 30, giveUpAfter = 0;
};

// A CLI11 check for an integer in [lo, hi] that says which was found.
CLI::Validator integerIn(int64_t lo, int64_t hi);
// The flags `simulate` takes (and `serve`, which runs the same rounds).
void addRunOptions(CLI::App &app, Options &o);

void addServeOptions(CLI::App &serve, NetOptions &n);
void addWorkerOptions(CLI::App &worker, NetOptions &n);

// Prints "PROGRAM: error: MESSAGE" on stderr.
void reportError(const std::string &message);

int describe(const PlanTable &plan, const Options &options);
// `plot RUN.jsonl ... -o FILE.svg|.html` (Plot.cpp).
int plotCommand(const Options &options);
int runMain(const PlanTable &plan, const Options &options);
int runProcess(const PlanTable &plan, const Options &options);
int runServe(const PlanTable &plan, const Options &options,
             const NetOptions &net);
int runWorkerCommand(const PlanTable &plan, const Options &options,
                     const NetOptions &net);
// simulate --layout: the clients grouped as the workers of a remote run
// hold them, merged in the same order (docs/remote.md, "Determinism").
int runMainLayout(const PlanTable &plan, const Options &options);
int runProcessLayout(const PlanTable &plan, const Options &options);

// Shared by simulate, serve and worker (Simulate.cpp).
// Loads every client input of `comp` from `paths` (one PATH, or NAME=PATH
// per input); false with `error` set.
bool loadInputs(const Computation &comp, const std::vector<std::string> &paths,
                const Options &o, std::vector<ClientDataset> &out,
                std::string &error);
// The clients that hold data (an empty client is noted on stderr).
std::vector<int64_t> eligible(const std::vector<ClientDataset> &data,
                              const char *what);
std::vector<const ClientDataset *>
pointers(const std::vector<ClientDataset> &d);
// The fingerprint of a run's client inputs (input i weighted by i + 1):
// what a checkpoint or a worker's hello identifies its data by. A pass over
// every byte of the data.
uint64_t dataFingerprint(const std::vector<ClientDataset> &inputs);
// The round loop's settings from the command line (identity left empty).
ProcessConfig processConfig(const Options &o);
// simulate's secure aggregation: --secagg, --secagg-threshold/-neighbours.
SecureAggregationOptions secureAggregation(const Options &o);
// "'eval' takes other data than next" as an error, or "".
std::string evalDataMismatch(const PlanTable &plan);

} // namespace fedrt::cli
