// simulate --layout FILE: the clients split among named workers as a
// remote run holds them, each worker's slice of a cohort folded by its own
// LocalBackend and the slices merged in worker-name order: exactly what a
// coordinator does with the workers' partials, so the two agree bit for bit
// (docs/remote.md, "Determinism contract").
#include "Options.h"

#include "Coordinator.h"
#include "Simulation.h"

#include "fedrt/Executor.h"
#include "fedrt/LocalBackend.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

namespace fedrt::cli {

namespace {

struct WorkerData {
  std::string name;
  std::vector<ClientDataset> data;
  std::unique_ptr<LocalBackend> backend;
  int64_t first = 0; // population index of its first client
};

// The clients of every worker, population indices in (worker name, client)
// order.
class GroupedBackend : public ClientBackend {
public:
  GroupedBackend(std::vector<WorkerData> &workers, const Options &o)
      : workers_(workers) {
    secure_.secaggThreshold = static_cast<uint32_t>(o.secaggThreshold);
    secure_.secaggNeighbours = static_cast<uint32_t>(o.secaggNeighbours);
    secure_.seed = o.seed;
    secureOn_ = o.secagg == "on";
  }

  absl::StatusOr<StageResult> runStage(const StageTask &task) override {
    const Stage &stage = task.computation->stages[task.stage];
    StageResult result;
    std::optional<std::vector<PartialAggregate>> total;
    Context ctx;
    // Secure sums: the workers are SecAgg+ parties, as under serve.
    std::vector<std::vector<uint64_t>> masked;
    for (WorkerData &w : workers_) {
      StageTask slice = task;
      slice.cohort.clear();
      slice.population.clear();
      slice.clientSeeds.clear();
      auto size = static_cast<int64_t>(w.data.empty() ? 0 : w.data[0].size());
      for (size_t i = 0; i < task.cohort.size(); ++i) {
        int64_t c = task.cohort[i];
        if (c < w.first || c >= w.first + size)
          continue;
        slice.cohort.push_back(c - w.first);
        slice.population.push_back(c);
        if (!task.clientSeeds.empty())
          slice.clientSeeds.push_back(task.clientSeeds[i]);
      }
      if (slice.cohort.empty())
        continue;
      absl::StatusOr<StageResult> r = w.backend->runStage(slice);
      if (!r.ok())
        return r.status();
      for (ClientFailure f : r->failures) {
        f.client += w.first;
        result.failures.push_back(std::move(f));
      }
      result.reported += r->reported;
      result.stats.blocks += r->stats.blocks;
      result.stats.threadsUsed =
          std::max(result.stats.threadsUsed, r->stats.threadsUsed);
      result.stats.bytesUp += r->stats.bytesUp;
      result.stats.bytesDown += r->stats.bytesDown;
      if (secureOn_) {
        masked.push_back(net::secureSums(r->partials));
        net::clearSecureSums(r->partials);
      }
      if (r->reported == 0)
        continue;
      if (!total) {
        total = std::move(r->partials);
        continue;
      }
      for (size_t i = 0; i < total->size(); ++i)
        if (absl::Status m = (*total)[i].merge(r->partials[i], ctx); !m.ok())
          return m;
    }
    if (total && secureOn_)
      if (absl::Status s = secureSum(task, masked, *total, result.stats);
          !s.ok())
        return s;
    if (total) {
      result.partials = std::move(*total);
    } else {
      for (size_t i = 0; i < stage.aggregations.size(); ++i)
        result.partials.emplace_back(stage.aggregations[i], task.zeros[i]);
    }
    return result;
  }

  std::string clientName(int64_t client) const override {
    for (const WorkerData &w : workers_)
      if (!w.data.empty() && client >= w.first &&
          client < w.first + static_cast<int64_t>(w.data[0].size()))
        return w.backend->clientName(client - w.first) + " of worker '" +
               w.name + "'";
    return "client " + std::to_string(client);
  }

private:
  // Runs SecAgg+ over the workers' secure sums (`inputs`, one per worker
  // with clients in the stage) into `total`, as the coordinator would.
  absl::Status secureSum(const StageTask &task,
                         const std::vector<std::vector<uint64_t>> &inputs,
                         std::vector<PartialAggregate> &total,
                         StageStats &stats) const {
    absl::StatusOr<std::optional<secagg::Params>> params =
        net::secureParams(secure_, task, inputs.size());
    if (!params.ok())
      return params.status();
    if (!*params)
      return absl::OkStatus();
    absl::StatusOr<secagg::SimulationResult> sum =
        secagg::simulate(**params, inputs);
    if (!sum.ok())
      return sum.status();
    net::setSecureSums(total, sum->sum);
    const secagg::Metrics &m = sum->metrics;
    stats.secagg.parties += m.parties;
    stats.secagg.overheadBytes += m.bytesUp + m.bytesDown - m.inputBytes;
    return absl::OkStatus();
  }

  std::vector<WorkerData> &workers_;
  CoordinatorOptions secure_;
  bool secureOn_ = true;
};

// Reads FILE: [{"name": N, "data": PATH, "partition": SPEC, "clients": K,
// "seed": S}, ...]; PATH relative to FILE's folder; partition, clients and
// seed as a worker's flags (seed defaults to --seed).
bool loadLayout(const Computation &comp, const Options &o,
                std::vector<WorkerData> &workers, std::string &error) {
  std::ifstream in(o.layout);
  if (!in) {
    error = o.layout + ": cannot read the layout";
    return false;
  }
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_array() || doc.empty()) {
    error = o.layout + ": a layout is a JSON array of workers "
                       "({\"name\": ..., \"data\": ...})";
    return false;
  }
  std::filesystem::path base = std::filesystem::path(o.layout).parent_path();
  std::map<std::string, const nlohmann::json *> byName;
  for (const nlohmann::json &w : doc) {
    if (!w.is_object() || !w.contains("name") || !w["name"].is_string() ||
        !w.contains("data") || !w["data"].is_string()) {
      error = o.layout + ": every worker needs a \"name\" and a \"data\" path";
      return false;
    }
    if (!byName.emplace(w["name"].get<std::string>(), &w).second) {
      error = o.layout + ": worker '" + w["name"].get<std::string>() +
              "' appears twice";
      return false;
    }
  }
  int64_t next = 0;
  for (auto &[name, w] : byName) { // merge order: by name
    Options one = o;
    std::filesystem::path data = (*w)["data"].get<std::string>();
    bool synthetic = data.string().rfind("synthetic:", 0) == 0;
    one.data = {data.is_absolute() || synthetic ? data.string()
                                                : (base / data).string()};
    one.partition = w->value("partition", std::string());
    one.clients = w->value("clients", 0);
    one.seed = w->value("seed", o.seed);
    WorkerData &wd = workers.emplace_back();
    wd.name = name;
    if (!loadInputs(comp, one.data, one, wd.data, error)) {
      error.insert(0, "worker '" + name + "': ");
      return false;
    }
    wd.first = next;
    next += wd.data.empty() ? 0 : static_cast<int64_t>(wd.data[0].size());
  }
  return true;
}

// Every worker's clients that hold data, as population indices.
std::vector<int64_t> layoutPopulation(const std::vector<WorkerData> &workers) {
  std::vector<int64_t> out;
  for (const WorkerData &w : workers)
    for (int64_t c : eligible(w.data, ("worker '" + w.name + "'").c_str()))
      out.push_back(w.first + c);
  return out;
}

bool prepare(const Computation &comp, const Options &o, ThreadTeam &team,
             std::vector<WorkerData> &workers, std::string &error) {
  if (!o.data.empty() || !o.partition.empty() || !o.evalData.empty()) {
    error = "--layout names each worker's data; --data, --partition and "
            "--eval-data do not apply";
    return false;
  }
  if (!loadLayout(comp, o, workers, error))
    return false;
  for (WorkerData &w : workers) {
    w.backend = std::make_unique<LocalBackend>(team, pointers(w.data));
    SecureAggregationOptions rounding; // a worker's: no protocol of its own
    rounding.seed = o.seed;
    w.backend->setSecureAggregation(rounding);
  }
  return true;
}

} // namespace

int runMainLayout(const PlanTable &plan, const Options &o) {
  ThreadTeam team(o.threads);
  std::vector<WorkerData> workers;
  std::string error;
  if (!prepare(*plan.main, o, team, workers, error)) {
    reportError(error);
    return 1;
  }
  GroupedBackend clients(workers, o);
  Executor executor(clients);
  executor.setSeed(o.seed);
  absl::StatusOr<std::vector<HostValue>> results =
      executor.run(*plan.main, {}, layoutPopulation(workers), 0);
  if (!results.ok()) {
    reportError(std::string(results.status().message()));
    return 1;
  }
  printResults(*plan.main, *results, std::cout);
  return 0;
}

int runProcessLayout(const PlanTable &plan, const Options &o) {
  if (std::string m = evalDataMismatch(plan); !m.empty()) {
    reportError(m + "; with --layout, eval runs on the workers' training "
                    "clients");
    return 1;
  }
  ThreadTeam team(o.threads);
  std::vector<WorkerData> workers;
  std::string error;
  if (!prepare(*plan.next, o, team, workers, error)) {
    reportError(error);
    return 1;
  }
  std::vector<int64_t> population = layoutPopulation(workers);
  if (population.empty()) {
    reportError("no training client holds any data");
    return 1;
  }
  if (o.resume && o.checkpoint.empty()) {
    reportError("--resume needs --checkpoint DIR");
    return 1;
  }
  GroupedBackend clients(workers, o);
  Executor trainer(clients), evaluator(clients);
  ProcessConfig config = processConfig(o);
  if (!o.checkpoint.empty()) // only a checkpoint's run needs it
    for (const WorkerData &w : workers)
      config.identity.data ^= dataFingerprint(w.data);
  config.identity.partition = "layout";
  // The clients the data holds (as simulate's): client-state files are
  // bounded by it.
  for (const WorkerData &w : workers)
    if (!w.data.empty())
      config.identity.population =
          std::max(config.identity.population,
                   w.first + static_cast<int64_t>(w.data[0].size()));
  ProcessRunner runner(plan, trainer, plan.eval ? &evaluator : nullptr, config);
  // Client state: one store of the population, each worker's backend
  // reading its clients' part (a remote worker keeps the same part).
  std::optional<ClientStateStore> states;
  if (plan.hasClientState) {
    states.emplace(plan.clientState,
                   static_cast<uint64_t>(o.clientStateMemory) << 20,
                   o.stateDir);
    if (absl::Status s = states->initialize(plan.clientInit); !s.ok()) {
      reportError(std::string(s.message()));
      return 1;
    }
    for (WorkerData &w : workers)
      w.backend->setClientStates(&*states, w.first);
    runner.setClientStates(&*states);
  }
  if (absl::Status s = runner.run(population, population, std::cout); !s.ok()) {
    reportError(std::string(s.message()));
    return 1;
  }
  return 0;
}

} // namespace fedrt::cli
