// `main` of every compiled program: parses the plan table the program
// carries and its command line, then simulates (one-shot main or process
// rounds), coordinates remote workers (serve), hosts clients for a
// coordinator (worker) or describes the plan.
#include "Options.h"

#include <cstdio>
#include <initializer_list>
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

namespace fedrt::cli {
namespace {

// The command line: the run flags, then the subcommands (describe, serve,
// worker, simulate) which inherit them.
void addCommandLine(CLI::App &app, Options &o, NetOptions &net) {
  addRunOptions(app, o);
  // The run flags may follow a subcommand (subcommands inherit this).
  app.fallthrough();
  CLI::App *simulate =
      app.add_subcommand("simulate", "Run in simulation (the default)");
  simulate
      ->add_option("--layout", o.layout,
                   "Split the clients among named workers as FILE says "
                   "([{\"name\": ..., \"data\": ...}, ...]) and merge as a "
                   "remote run does: the same results bit for bit")
      ->type_name("FILE");
  CLI::App *plot = app.add_subcommand(
      "plot", "Draw every numeric metric of --metrics files against the "
              "rounds, the runs overlaid: plot a.jsonl b.jsonl -o curves.svg "
              "(or .html)");
  plot->add_option("runs", o.plotInputs, "Metrics files (JSON Lines)")
      ->required()
      ->type_name("RUN.jsonl");
  plot->add_option("-o,--output", o.plotOutput,
                   "The picture: FILE.svg or FILE.html")
      ->required()
      ->type_name("FILE");
  plot->add_option("--only", o.plotOnly,
                   "Draw only these metrics (comma-separated names)")
      ->delimiter(',')
      ->type_name("NAME,...");
  app.add_subcommand("describe",
                     "Print the plan: computations, stages, types, parameter "
                     "counts, fingerprint");
  addServeOptions(*app.add_subcommand(
                      "serve", "Coordinate remote workers: run the rounds "
                               "with clients hosted by workers that connect"),
                  net);
  addWorkerOptions(
      *app.add_subcommand("worker",
                          "Host clients (--data) for a coordinator: connect "
                          "to it and run the tasks it sends"),
      net);
  app.require_subcommand(0, 1);
}

// Flags given where they have no meaning (a process flag to a one-shot
// program, a worker's flag to serve, the coordinator's to a worker) are
// refused rather than ignored: true after reporting one.
bool misplacedFlags(const CLI::App &app, const Options &o,
                    const PlanTable &plan) {
  if (plan.kind == PlanTable::Kind::Main &&
      (o.command == "simulate" || o.command == "serve"))
    for (const char *flag :
         {"--rounds", "--clients-per-round", "--eval-every", "--eval-data",
          "--metrics", "--no-timing", "--checkpoint", "--resume",
          "--print-state", "--dump-partition", "--progress", "--dp-delta",
          "--dp-seed", "--dp-target-epsilon", "--init-state", "--eval-initial",
          "--eval-clients-per-round", "--per-client-metrics"})
      if (app.count(flag) > 0) {
        reportError(std::string(flag) +
                    " applies to processes; this program runs its federated "
                    "fn main once");
        return true;
      }
  // Each side of a remote run refuses the other side's flags rather than
  // ignoring them.
  auto refuseFlags = [&](std::initializer_list<const char *> flags,
                         const std::string &why) {
    for (const char *flag : flags)
      if (app.count(flag) > 0) {
        reportError(std::string(flag) + " " + why);
        return true;
      }
    return false;
  };
  if ((o.command == "serve" || o.command == "worker") &&
      refuseFlags({"--secagg"}, "applies to simulate: over the network "
                                "secure sums are always masked"))
    return true;
  if (o.command == "serve" &&
      refuseFlags({"--data", "--partition", "--clients", "--eval-data",
                   "--dump-partition", "--threads"},
                  "belongs to the workers: serve holds no client data"))
    return true;
  if (o.command == "worker" &&
      refuseFlags({"--rounds",
                   "--clients-per-round",
                   "--eval-every",
                   "--metrics",
                   "--no-timing",
                   "--checkpoint",
                   "--resume",
                   "--force-resume",
                   "--print-state",
                   "--dump-partition",
                   "--progress",
                   "--eval-data",
                   "--dp-delta",
                   "--dp-seed",
                   "--dp-target-epsilon",
                   "--secagg-threshold",
                   "--secagg-neighbours",
                   "--init-state",
                   "--eval-initial",
                   "--eval-clients-per-round",
                   "--per-client-metrics"},
                  "belongs to the coordinator (serve), which runs the rounds"))
    return true;
  return false;
}

// Runs the parsed command: serve, worker, or a simulation.
int runCommand(const PlanTable &plan, Options &o, const NetOptions &net) {
  bool process = plan.kind == PlanTable::Kind::Process;
  try {
    if (o.command == "serve")
      return runServe(plan, o, net);
    if (o.command == "worker")
      return runWorkerCommand(plan, o, net);
    if (!o.layout.empty())
      return process ? runProcessLayout(plan, o) : runMainLayout(plan, o);
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

} // namespace
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

  Options o;
  CLI::App app(plan.kind == PlanTable::Kind::Process
                   ? "Runs the federated process '" + plan.processName +
                         "' in simulation (init, then rounds of next)."
                   : "Runs the federated computation 'main' once over the "
                     "clients' data and prints its result as JSON.",
               programName);
  NetOptions net;
  addCommandLine(app, o, net);
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
  if (misplacedFlags(app, o, plan))
    return 2;
  if (o.command == "describe")
    return describe(plan, o);
  if (o.command == "plot")
    return plotCommand(o);
  if (o.threads == 0)
    o.threads =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (plan.kind == PlanTable::Kind::None) {
    reportError("this program has neither a process nor a federated fn main");
    return 1;
  }
  return runCommand(plan, o, net);
}
