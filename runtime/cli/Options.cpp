// The flags of a compiled program's command line (docs/runtime.md).
#include "Options.h"

#include <string>

namespace fedrt::cli {

// CLI11's own range checks misreport a non-number as out of range.
CLI::Validator integerIn(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string &text) -> std::string {
        bool digits = !text.empty() && text.size() < 19 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoll(text) < lo || std::stoll(text) > hi)
          return "expected an integer from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", found '" + text + "'";
        return "";
      },
      "INT");
}

namespace {

CLI::Validator count(int64_t lo, int64_t hi = int64_t(1) << 50) {
  return integerIn(lo, hi);
}

// Where the clients and their records come from.
void addDataOptions(CLI::App &app, Options &o) {
  app.add_option("--data", o.data,
                 "Client data: a directory with one file per client (CSV or "
                 "JSON Lines, gzip accepted), one file split with --partition, "
                 "or synthetic:R (R generated records per client, with "
                 "--clients); NAME=PATH per input when there are several")
      ->type_name("PATH")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--partition", o.partition,
                 "Split --data FILE: iid | dirichlet:ALPHA | shards:K | "
                 "by:COLUMN")
      ->type_name("SPEC");
  app.add_option("--clients", o.clients,
                 "Number of clients of --partition or synthetic data")
      ->check(count(1, 100000000));
  app.add_option("--eval-data", o.evalData,
                 "Data for eval: a directory (one client per file) or one file "
                 "(one client); default: the training clients")
      ->type_name("PATH");
}

// How many rounds, which clients each, and how the work is spread.
void addRoundOptions(CLI::App &app, Options &o) {
  app.add_option("--rounds", o.rounds, "Rounds of next to run (total)")
      ->check(count(0));
  app.add_option("--clients-per-round", o.clientsPerRound,
                 "Clients sampled per round without replacement (0: all)")
      ->check(count(0))
      ->each([&o](const std::string &) { o.clientsPerRoundGiven = true; });
  app.add_option("--seed", o.seed, "Seed of the partition and the sampling")
      ->check(count(0));
  app.add_option("--threads", o.threads,
                 "Threads for client work (default: every core); results do "
                 "not depend on it")
      ->check(count(1, 1024));
  app.add_option("--eval-every", o.evalEvery,
                 "Run eval every E rounds (and after the last; 0: only after "
                 "the last)")
      ->check(count(0));
  app.add_option("--eval-clients-per-round", o.evalClientsPerRound,
                 "Run eval over K clients sampled each time (seeded by --seed "
                 "and the round; 0: every eval client)")
      ->check(count(0));
  app.add_flag("--eval-initial", o.evalInitial,
               "Run eval on the starting state before round 1 (round 0 in "
               "the metrics)");
}

// What a run writes: metrics, state, partition dumps and checkpoints.
void addOutputOptions(CLI::App &app, Options &o) {
  app.add_option("--metrics", o.metrics,
                 "Append one JSON object per round to FILE.jsonl")
      ->type_name("FILE");
  app.add_flag_callback(
      "--no-timing", [&o] { o.timing = false; },
      "Leave wall_ms out of the metrics (for byte-identical files)");
  app.add_flag("--print-state", o.printState,
               "Print the final server state as JSON after the last round");
  app.add_option("--init-state", o.initState,
                 "Start from the state in FILE.json (as --print-state writes "
                 "it) or FILE.npz (an array per field, nested ones named "
                 "'outer.inner') instead of running init")
      ->type_name("FILE");
  app.add_option("--per-client-metrics", o.perClientMetrics,
                 "Write each evaluated client's eval metrics to FILE.jsonl "
                 "(and their min, p10, p90, max into the round's metrics)")
      ->type_name("FILE");
  app.add_option("--client-state-memory", o.clientStateMemory,
                 "MiB of client states kept in memory; beyond it they move "
                 "to a memory-mapped file (in --state-dir, else $TMPDIR)")
      ->check(count(1, int64_t(1) << 30));
  app.add_option("--state-dir", o.stateDir,
                 "Where client states spill to when they outgrow "
                 "--client-state-memory; a worker keeps its clients' states "
                 "there (docs/remote.md)")
      ->type_name("DIR");
  app.add_option("--dump-partition", o.dumpPartition,
                 "Write every client's records (indices into the --data file "
                 "with --partition) and every round's cohort to FILE.json, "
                 "so another implementation can train the same clients")
      ->type_name("FILE");
  app.add_option("--checkpoint", o.checkpoint,
                 "Write the server state to DIR/state.ckpt after every round")
      ->type_name("DIR");
  app.add_flag("--resume", o.resume, "Continue from the --checkpoint");
  app.add_flag("--force-resume", o.forceResume,
               "With --resume: continue even where --data, --partition, "
               "--clients, --clients-per-round or --seed differ from the "
               "checkpoint's run (a warning names each); the program must "
               "be the same");
}

// Secure aggregation, what -v prints, and differential privacy.
void addPrivacyOptions(CLI::App &app, Options &o) {
  app.add_option("--secagg", o.secagg,
                 "simulate: on (each client a SecAgg+ party) | off (secure "
                 "sums added in the clear: the same result, without the "
                 "protocol's cost, for scale runs)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--secagg-threshold", o.secaggThreshold,
                 "Secure aggregation: shares that rebuild a party's secrets "
                 "(default: 2/3 of a neighbourhood, rounded up); higher "
                 "resists more collusion, lower survives more dropouts")
      ->check(count(2, 1000000));
  app.add_option("--secagg-neighbours", o.secaggNeighbours,
                 "Secure aggregation: parties each party masks with "
                 "(default: 2*ceil(log2 n); n - 1 or more: all)")
      ->check(count(2, 1000000));
  app.add_flag("-v,--verbose", o.verbose,
               "Print how each computation ran (clients, blocks, threads) on "
               "stderr");
  app.add_option("--dp-delta", o.dpDelta,
                 "δ of the (ε, δ) reported for federated_dp_mean (default "
                 "1e-5; keep it below 1/population)")
      ->check(CLI::Range(1e-300, 0.5));
  app.add_option_function<uint64_t>(
         "--dp-seed", [&o](const uint64_t &seed) { o.dpSeed = seed; },
         "Seed federated_dp_mean's noise: reproducible results, and no "
         "privacy (default: a key from the OS)")
      ->check(count(0));
  app.add_option_function<double>(
         "--dp-target-epsilon",
         [&o](const double &eps) { o.dpTargetEpsilon = eps; },
         "Stop before the round that would take ε past this budget")
      ->check(CLI::PositiveNumber);
}

} // namespace

void addRunOptions(CLI::App &app, Options &o) {
  app.set_help_flag("-h,--help", "Print this help and exit");
  // A repeated option takes its last value, as in most tools.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  addDataOptions(app, o);
  addRoundOptions(app, o);
  addOutputOptions(app, o);
  addPrivacyOptions(app, o);
  app.add_option("--progress", o.progress,
                 "Progress line on stderr: auto (on a terminal) | always | "
                 "never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
}

} // namespace fedrt::cli
