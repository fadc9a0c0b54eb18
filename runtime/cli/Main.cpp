// `main` of every compiled program: parses the plan table the program
// carries and its command line, then simulates (one-shot main or process
// rounds) or describes the plan.
#include "Options.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <thread>

namespace fedrt::cli {

namespace {
std::string programName = "program";
}

void reportError(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", programName.c_str(), message.c_str());
}

} // namespace fedrt::cli

int main(int argc, char **argv) {
  using namespace fedrt;
  using namespace fedrt::cli;
  if (argc > 0) {
    std::string self = argv[0];
    programName = self.substr(self.find_last_of('/') + 1);
  }
  PlanTable plan;
  if (absl::Status s =
          loadPlan(fedrt_plan_bytes, fedrt_plan_size, fedrt_plan_functions,
                   fedrt_plan_function_count, plan);
      !s.ok()) {
    reportError("corrupt plan: " + std::string(s.message()));
    return 1;
  }

  // CLI11's own range checks misreport a non-number as out of range.
  auto count = [](int64_t lo, int64_t hi = int64_t(1) << 50) {
    return CLI::Validator(
        [lo, hi](std::string &text) -> std::string {
          bool digits =
              !text.empty() && text.size() < 19 &&
              text.find_first_not_of("0123456789") == std::string::npos;
          if (!digits || std::stoll(text) < lo || std::stoll(text) > hi)
            return "expected an integer from " + std::to_string(lo) + " to " +
                   std::to_string(hi) + ", found '" + text + "'";
          return "";
        },
        "INT");
  };
  Options o;
  CLI::App app(plan.kind == PlanTable::Kind::Process
                   ? "Runs the federated process '" + plan.processName +
                         "' in simulation (init, then rounds of next)."
                   : "Runs the federated computation 'main' once over the "
                     "clients' data and prints its result as JSON.",
               programName);
  app.set_help_flag("-h,--help", "Print this help and exit");
  // A repeated option takes its last value, as in most tools.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
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
  app.add_option("--rounds", o.rounds, "Rounds of next to run (total)")
      ->check(count(0));
  app.add_option("--clients-per-round", o.clientsPerRound,
                 "Clients sampled per round without replacement (0: all)")
      ->check(count(0));
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
  app.add_option("--metrics", o.metrics,
                 "Append one JSON object per round to FILE.jsonl")
      ->type_name("FILE");
  app.add_flag_callback(
      "--no-timing", [&o] { o.timing = false; },
      "Leave wall_ms out of the metrics (for byte-identical files)");
  app.add_flag("--print-state", o.printState,
               "Print the final server state as JSON after the last round");
  app.add_option("--dump-partition", o.dumpPartition,
                 "Write every client's records (indices into the --data file "
                 "with --partition) and every round's cohort to FILE.json, "
                 "so another implementation can train the same clients")
      ->type_name("FILE");
  app.add_option("--checkpoint", o.checkpoint,
                 "Write the server state to DIR/state.ckpt after every round")
      ->type_name("DIR");
  app.add_flag("--resume", o.resume, "Continue from the --checkpoint");
  app.add_flag("-v,--verbose", o.verbose,
               "Print how each computation ran (clients, blocks, threads) on "
               "stderr");
  app.add_option("--progress", o.progress,
                 "Progress line on stderr: auto (on a terminal) | always | "
                 "never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_subcommand("simulate", "Run in simulation (the default)");
  app.add_subcommand("describe",
                     "Print the plan: computations, stages, types, parameter "
                     "counts, fingerprint");
  app.add_subcommand("serve", "Coordinate remote workers (not in this build)");
  app.add_subcommand("worker",
                     "Host clients for a coordinator (not in this build)");
  app.require_subcommand(0, 1);
  if (argc > 1 &&
      (std::string(argv[1]) == "serve" || std::string(argv[1]) == "worker")) {
    reportError("'" + std::string(argv[1]) +
                "' needs remote execution (runtime/net), which this build "
                "does not have yet; run in simulation");
    return 2;
  }
  app.fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError &e) {
    reportError(e.what());
    return 2;
  }
  for (CLI::App *sub : app.get_subcommands())
    o.command = sub->get_name();
  if (plan.kind == PlanTable::Kind::Main && o.command == "simulate")
    for (const char *flag :
         {"--rounds", "--clients-per-round", "--eval-every", "--eval-data",
          "--metrics", "--no-timing", "--checkpoint", "--resume",
          "--print-state", "--dump-partition", "--progress"})
      if (app.count(flag) > 0) {
        reportError(std::string(flag) +
                    " applies to processes; this program runs its federated "
                    "fn main once");
        return 2;
      }
  if (o.command == "describe")
    return describe(plan);
  if (o.threads == 0)
    o.threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    switch (plan.kind) {
    case PlanTable::Kind::Process:
      return runProcess(plan, o);
    case PlanTable::Kind::Main:
      return runMain(plan, o);
    case PlanTable::Kind::None:
      break;
    }
  } catch (const std::bad_alloc &) {
    reportError("out of memory");
    return 1;
  } catch (const std::exception &e) {
    reportError(e.what());
    return 1;
  }
  reportError("this program has neither a process nor a federated fn main");
  return 1;
}
