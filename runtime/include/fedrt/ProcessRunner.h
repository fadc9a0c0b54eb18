// The round loop of a federated process (TFF's IterativeProcess driven by a
// training loop): init or resume from a checkpoint, then per round a seeded
// cohort, `next`, optionally `eval`, a metrics record, a checkpoint and a
// progress line. Every front end uses it — `simulate` with local threads,
// `serve` with remote workers — so a run means the same thing in both.
#pragma once

#include "fedrt/Checkpoint.h"
#include "fedrt/ClientState.h"
#include "fedrt/DpMechanism.h"
#include "fedrt/Executor.h"
#include "fedrt/Plan.h"

#include "absl/status/status.h"

#include <fstream>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace fedrt {

struct ProcessConfig {
  int64_t rounds = 10;          // in total; a resumed run continues to it
  int64_t clientsPerRound = 10; // 0: every client
  uint64_t seed = 0;            // sampling (and the checkpoint's identity)
  int64_t evalEvery = 0;        // 0: only after the last round
  std::string metrics;          // JSON Lines file, or none
  std::string checkpoint;       // directory, or none
  bool resume = false;
  bool forceResume = false; // resume despite other data or settings
  // The run's identity, recorded in every checkpoint (its fingerprint and
  // seed are the plan's and `seed`; the front end fills in the data).
  RunIdentity identity;
  bool timing = true;            // wall_ms in the metrics
  bool printState = false;       // the final state as JSON on stdout
  std::string progress = "auto"; // auto | always | never (stderr)
  bool verbose = false;          // per-round execution details on stderr
  // Where each round's clients come from when they change during a run
  // (remote workers join and leave): called before every attempt of a
  // round to fill the training and evaluation populations. Unset: the
  // populations given to run() hold throughout.
  std::function<absl::Status(std::vector<int64_t> &population,
                             std::vector<int64_t> &evalClients)>
      refresh;
  // Over-selection (Bonawitz et al. 2019): ceil(overSelect x
  // clientsPerRound) clients are sampled.
  double overSelect = 1.0;
  // A round whose client work fails with Unavailable (too few clients
  // reported) is run again with a new cohort, up to this many attempts.
  int64_t maxAttempts = 1;
  // federated_dp_mean (docs/privacy.md): δ and the noise's seed; the run
  // stops before a round that would take ε past dpTargetEpsilon (if set).
  DpConfig dp;
  std::optional<double> dpTargetEpsilon;
  // Steering and looking at a run (docs/runtime.md, "Steering a run"):
  std::string initState;           // JSON of the state to start from
  bool evalInitial = false;        // eval before round 1, as round 0
  int64_t evalClientsPerRound = 0; // eval over a seeded sample (0: all)
  std::string perClientMetrics;    // each evaluated client's metrics (JSONL)
};

// One round's line of the metrics file.
struct RoundRecord {
  int64_t round = 0;
  int64_t clients = 0; // sampled
  int64_t dropped = 0; // left out: did not report in time
  int64_t failed = 0;  // left out: their client work failed
  // Metric name -> value as JSON: next's metrics, then `eval_`-prefixed
  // eval metrics.
  std::vector<std::pair<std::string, std::string>> fields;
  int64_t bytesUp = 0, bytesDown = 0;
  SecAggStats secagg; // written when a secure aggregation ran
  std::optional<double> wallMs;

  // `{"round": 3, "clients": 10, "dropped": 0, "failed": 0, "loss": 0.5,
  // ...}`.
  std::string json() const;
  // The metrics alone: `{"round": 3, "loss": 0.5}` (what a run prints at
  // its end) and `  loss 0.5` (the progress line's).
  std::string summary() const;
  std::string shown() const;
};

// The fields of a metrics struct value, each as JSON, names prefixed.
std::vector<std::pair<std::string, std::string>>
metricFields(const TypeDesc &type, const HostValue &value,
             const std::string &prefix);

class ProcessRunner {
public:
  // `train` runs next over `population`; `eval` (if the process has one)
  // runs eval over `evalClients`.
  ProcessRunner(const PlanTable &plan, Executor &train, Executor *eval,
                ProcessConfig config);

  // Runs the rounds; prints the last round's metrics (and with printState
  // the final state) on `out`. Errors name the round.
  absl::Status run(const std::vector<int64_t> &population,
                   const std::vector<int64_t> &evalClients, std::ostream &out);

  // A process with client state: the store the training backend reads
  // and writes (committed after each round, checkpointed with the state).
  void setClientStates(ClientStateKeeper *states) { states_ = states; }

private:
  // The state to start from, and the first round to run: init's (or
  // --init-state's), or the checkpoint's on resume (`finished`: the
  // checkpoint is already done).
  absl::Status start(HostValue &state, int64_t &first, std::ostream &out,
                     bool &finished);
  RunIdentity identity() const;
  // Once, before the first round runs: the DP mechanism of a process with
  // DP means (else none), shared by both executors; ε composed over the
  // rounds before `first`, adaptive clips read back on resume.
  absl::Status startPrivacy(int64_t first, size_t population);
  // The cohort of a round's attempt, for its DP means.
  void privacyCohort(int64_t round, size_t sampled, size_t population);
  // The adaptive clips, next to the checkpoint of `round`.
  absl::Status savePrivacy(int64_t round) const;
  // The fixed denominator of a round's DP means: --clients-per-round (at
  // most the population), or every client.
  int64_t denominator(size_t population) const;
  // Whether round `round` would take ε past --dp-target-epsilon (said on
  // stderr).
  bool overBudget(int64_t round, size_t population) const;
  // Whether `round` runs eval (every --eval-every rounds, and the last).
  bool evaluates(int64_t round) const;
  // The DP means a round releases, as (q, z): next's with q = the clients
  // sampled over the population, eval's (when it runs) with q = 1.
  DpMechanism::Planned plannedReleases(bool evaluated, size_t population) const;
  void progress(int64_t round, int64_t first, const std::string &shown,
                bool evaluated, int64_t clientsDone, double elapsedSeconds);
  // One round of next, retried with another cohort (up to --max-attempts)
  // while a backend reports Unavailable; `stopped` when the DP budget
  // stops the run before it. On success the new state is in `state` and
  // the round's counts and next's metrics in `record`.
  absl::Status trainRound(int64_t round, HostValue &state,
                          std::vector<int64_t> &trainClients,
                          std::vector<int64_t> &evalClients,
                          RoundRecord &record, bool &stopped);
  // eval's metrics (when the round evaluates) and the DP metrics, into
  // `record`; whether eval ran in `evaluated`.
  absl::Status evaluateRound(int64_t round, const HostValue &state,
                             const std::vector<int64_t> &evalClients,
                             RoundRecord &record, bool &evaluated);
  // eval over the round's eval cohort (all of `evalClients`, or a seeded
  // sample of --eval-clients-per-round), then with --per-client-metrics
  // over each of them alone: a line per client, and the summary fields.
  absl::Status evaluate(int64_t round, const HostValue &state,
                        const std::vector<int64_t> &evalClients,
                        RoundRecord &record);
  // --eval-initial: eval of the starting state, written as round 0 (and
  // its summary in `summary`: what `--rounds 0` prints).
  absl::Status evaluateInitial(const HostValue &state,
                               std::vector<int64_t> &trainClients,
                               std::vector<int64_t> &evalClients,
                               std::string &summary);
  // The state of --init-state, checked against the state type.
  absl::StatusOr<HostValue> readInitState() const;
  // The steering flags' conditions: an eval to run, one that may run over
  // single clients.
  absl::Status checkSteering() const;
  // Opens the metrics files (appending on resume).
  absl::Status openOutputs();
  // Removes the checkpoint directory's client states of rounds but `round`.
  void removeOtherClientStates(int64_t round) const;
  // The adaptive clips and the checkpoint of `round` (with --checkpoint).
  absl::Status checkpointRound(int64_t round, HostValue &state);
  // The last metrics (or the last round run) and, with --print-state, the
  // state, on `out`.
  absl::Status finish(int64_t completed, const std::string &lastMetrics,
                      const HostValue &state, std::ostream &out) const;

  const PlanTable &plan_;
  Executor &train_;
  Executor *eval_;
  ProcessConfig config_;
  std::unique_ptr<DpMechanism> dp_;
  ClientStateKeeper *states_ = nullptr; // client state, if the process has it
  bool privacyStarted_ = false;
  std::vector<const Aggregation *> releases_; // next's DP means, then eval's
  std::ofstream metrics_, perClient_;
};

// A one-shot computation's results on `out`: one value as JSON, several as
// a JSON array.
void printResults(const Computation &comp,
                  const std::vector<HostValue> &results, std::ostream &out);

} // namespace fedrt
