// Simulation: a one-shot main over every client, or a process's rounds
// (init; then per round: sample a cohort, next, optionally eval, metrics,
// checkpoint, progress).
#include "Options.h"

#include "fedrt/Executor.h"
#include "fedrt/LocalBackend.h"
#include "fedrt/ProcessRunner.h"
#include "fedrt/Sampling.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>

namespace fedrt::cli {

// Loads every client input of `comp` from `paths` (one PATH, or NAME=PATH
// per input).
bool loadInputs(const Computation &comp, const std::vector<std::string> &paths,
                const Options &o, std::vector<ClientDataset> &out,
                std::string &error) {
  std::vector<const Computation::Input *> inputs;
  for (const Computation::Input &in : comp.inputs)
    if (in.isData())
      inputs.push_back(&in);
  out.clear();
  if (inputs.empty())
    return true;
  if (paths.empty()) {
    error = "--data is required: '" + comp.name + "' takes client data (" +
            inputs[0]->name + ": " + inputs[0]->type.str() + ")";
    return false;
  }
  for (const Computation::Input *in : inputs) {
    std::string path;
    for (const std::string &p : paths) {
      size_t eq = p.find('=');
      if (eq != std::string::npos && p.substr(0, eq) == in->name)
        path = p.substr(eq + 1);
    }
    if (path.empty() && inputs.size() == 1 && paths.size() == 1)
      path = paths[0];
    if (path.empty()) {
      error = "--data " + in->name + "=PATH is required ('" + comp.name +
              "' has " + std::to_string(inputs.size()) + " client inputs)";
      return false;
    }
    DataSource source{path, o.partition, o.clients, o.seed};
    out.emplace_back();
    std::vector<std::string> notes;
    if (absl::Status s = loadClients(in->type, source, out.back(), &notes);
        !s.ok()) {
      error = std::string(s.message());
      return false;
    }
    for (const std::string &n : notes)
      std::fprintf(stderr, "note: %s\n", n.c_str());
    if (out.back().size() != out.front().size()) {
      error = "--data for '" + in->name + "' has " +
              std::to_string(out.back().size()) + " clients, but '" +
              inputs[0]->name + "' has " + std::to_string(out.front().size());
      return false;
    }
  }
  return true;
}

// The clients that hold data; an empty client is reported and never
// sampled (its mean would divide by zero).
std::vector<int64_t> eligible(const std::vector<ClientDataset> &data,
                              const char *what) {
  std::vector<int64_t> clients;
  if (data.empty())
    return clients;
  size_t empty = 0;
  for (size_t c = 0; c < data[0].size(); ++c) {
    bool hasData = true;
    for (const ClientDataset &d : data)
      hasData = hasData && !d.empty(c);
    if (hasData)
      clients.push_back(static_cast<int64_t>(c));
    else
      ++empty;
  }
  if (empty)
    std::fprintf(stderr,
                 "note: %zu of %zu %s%sclients hold no records; they take no "
                 "part\n",
                 empty, data[0].size(), what, *what ? " " : "");
  return clients;
}

uint64_t dataFingerprint(const std::vector<ClientDataset> &inputs) {
  uint64_t h = 0;
  for (size_t i = 0; i < inputs.size(); ++i)
    h ^= inputs[i].fingerprint() * (i + 1);
  return h;
}

std::vector<const ClientDataset *>
pointers(const std::vector<ClientDataset> &d) {
  std::vector<const ClientDataset *> out;
  for (const ClientDataset &x : d)
    out.push_back(&x);
  return out;
}

ProcessConfig processConfig(const Options &o) {
  ProcessConfig config;
  config.rounds = o.rounds;
  config.clientsPerRound = o.clientsPerRound;
  config.seed = o.seed;
  config.evalEvery = o.evalEvery;
  config.metrics = o.metrics;
  config.checkpoint = o.checkpoint;
  config.resume = o.resume;
  config.forceResume = o.forceResume;
  config.timing = o.timing;
  config.printState = o.printState;
  config.progress = o.progress;
  config.verbose = o.verbose;
  config.dp.delta = o.dpDelta;
  config.dp.seed = o.dpSeed;
  config.dpTargetEpsilon = o.dpTargetEpsilon;
  config.initState = o.initState;
  config.evalInitial = o.evalInitial;
  config.evalClientsPerRound = o.evalClientsPerRound;
  config.perClientMetrics = o.perClientMetrics;
  return config;
}

SecureAggregationOptions secureAggregation(const Options &o) {
  SecureAggregationOptions s;
  s.enabled = o.secagg == "on";
  s.threshold = static_cast<uint32_t>(o.secaggThreshold);
  s.neighbours = static_cast<uint32_t>(o.secaggNeighbours);
  s.seed = o.seed;
  return s;
}

std::string evalDataMismatch(const PlanTable &plan) {
  if (!plan.eval)
    return "";
  const Computation::Input *trainIn = nullptr, *evalIn = nullptr;
  for (const Computation::Input &in : plan.next->inputs)
    if (in.isData())
      trainIn = &in;
  for (const Computation::Input &in : plan.eval->inputs)
    if (in.isData())
      evalIn = &in;
  if (trainIn && evalIn && trainIn->type != evalIn->type)
    return "'" + plan.eval->name + "' takes " + evalIn->type.str() +
           " but the training data is " + trainIn->type.str();
  return "";
}

namespace {

// {"clients": [[record, ...], ...], "cohorts": [[client, ...], ...]}:
// each client's source records (with --partition; else its record count)
// and the cohort of rounds 1..R.
bool dumpPartition(const std::string &path, const ClientDataset &data,
                   const std::vector<int64_t> &population, const Options &o,
                   std::string &error) {
  std::ofstream out(path);
  if (!out) {
    error = path + ": cannot write the partition";
    return false;
  }
  out << "{\"clients\": [";
  for (size_t c = 0; c < data.size(); ++c) {
    out << (c ? ",\n" : "\n");
    if (c < data.sourceRecords.size()) {
      out << "[";
      for (size_t r = 0; r < data.sourceRecords[c].size(); ++r)
        out << (r ? ", " : "") << data.sourceRecords[c][r];
      out << "]";
    } else {
      out << (data.empty(c)           ? 0
              : data.syntheticClients ? data.syntheticRecords
                                      : data.clients[c].records);
    }
  }
  out << "],\n\"cohorts\": [";
  for (int64_t round = 1; round <= o.rounds; ++round) {
    std::vector<int64_t> cohort = sampleCohort(
        population, o.clientsPerRound == 0 ? -1 : o.clientsPerRound, o.seed,
        round);
    out << (round > 1 ? ",\n[" : "\n[");
    for (size_t i = 0; i < cohort.size(); ++i)
      out << (i ? ", " : "") << cohort[i];
    out << "]";
  }
  out << "]}\n";
  return static_cast<bool>(out);
}

} // namespace

int runMain(const PlanTable &plan, const Options &o) {
  const Computation &main = *plan.main;
  std::vector<ClientDataset> data;
  std::string error;
  if (!loadInputs(main, o.data, o, data, error)) {
    reportError(error);
    return 1;
  }
  std::vector<int64_t> cohort = eligible(data, "");
  if (!data.empty() && cohort.empty()) {
    reportError("no client holds any data");
    return 1;
  }
  ThreadTeam team(o.threads);
  LocalBackend clients(team, pointers(data));
  clients.setSecureAggregation(secureAggregation(o));
  Executor executor(clients);
  executor.setSeed(o.seed);
  RunStats stats;
  absl::StatusOr<std::vector<HostValue>> results =
      executor.run(main, {}, cohort, 0, &stats);
  if (!results.ok()) {
    reportError(std::string(results.status().message()));
    return 1;
  }
  if (o.verbose)
    std::fprintf(stderr, "%s: %zu clients in %lld blocks on %lld threads\n",
                 main.name.c_str(), cohort.size(),
                 static_cast<long long>(stats.blocks),
                 static_cast<long long>(stats.threadsUsed));
  if (o.verbose && stats.secagg.parties > 0)
    std::fprintf(stderr,
                 "%s: secure aggregation: %lld parties, %lld dropped after "
                 "masking, %lld recovered, %lld bytes of protocol overhead\n",
                 main.name.c_str(),
                 static_cast<long long>(stats.secagg.parties),
                 static_cast<long long>(stats.secagg.droppedAfterMasking),
                 static_cast<long long>(stats.secagg.recovered),
                 static_cast<long long>(stats.secagg.overheadBytes));
  printResults(main, *results, std::cout);
  return 0;
}

int runProcess(const PlanTable &plan, const Options &o) {
  std::string error;
  auto fail = [&](const std::string &message) {
    reportError(message);
    return 1;
  };
  std::vector<ClientDataset> train, evalData;
  if (!loadInputs(*plan.next, o.data, o, train, error))
    return fail(error);
  std::vector<int64_t> population = eligible(train, "training");
  if (population.empty())
    return fail("no training client holds any data");
  std::vector<int64_t> evalClients;
  if (plan.eval) {
    if (o.evalData.empty()) {
      // The training clients, if eval reads the same kind of data.
      if (std::string m = evalDataMismatch(plan); !m.empty())
        return fail(m + "; give --eval-data");
      evalClients = population;
    } else {
      Options single = o;
      single.partition.clear();
      single.clients = 0;
      if (!loadInputs(*plan.eval, {o.evalData}, single, evalData, error))
        return fail(error);
      evalClients = eligible(evalData, "evaluation");
      if (evalClients.empty())
        return fail("no evaluation client holds any data");
    }
  } else if (!o.evalData.empty()) {
    return fail("--eval-data given, but process '" + plan.processName +
                "' has no eval");
  }
  if (o.resume && o.checkpoint.empty())
    return fail("--resume needs --checkpoint DIR");
  if (!o.dumpPartition.empty() &&
      !dumpPartition(o.dumpPartition, train[0], population, o, error))
    return fail(error);

  if (o.clientsPerRoundGiven &&
      o.clientsPerRound > static_cast<int64_t>(population.size()))
    std::fprintf(stderr,
                 "note: --clients-per-round %lld is more than the %zu clients "
                 "that hold data; every round runs all of them\n",
                 static_cast<long long>(o.clientsPerRound), population.size());
  ThreadTeam team(o.threads);
  LocalBackend trainClients(team, pointers(train));
  LocalBackend evalClientsBackend(team, evalData.empty() ? pointers(train)
                                                         : pointers(evalData));
  trainClients.setSecureAggregation(secureAggregation(o));
  evalClientsBackend.setSecureAggregation(secureAggregation(o));
  Executor trainer(trainClients), evaluator(evalClientsBackend);
  ProcessConfig config = processConfig(o);
  if (!o.checkpoint.empty()) // only a checkpoint's run needs it
    config.identity.data = dataFingerprint(train);
  config.identity.partition = o.partition;
  config.identity.population = static_cast<int64_t>(train[0].size());
  ProcessRunner runner(plan, trainer, plan.eval ? &evaluator : nullptr, config);
  std::optional<ClientStateStore> states;
  if (plan.hasClientState) {
    if (plan.eval && plan.eval->readsClientState() && !o.evalData.empty())
      return fail("--eval-data given, but eval '" + plan.eval->name +
                  "' reads the client state, which only the training clients "
                  "have");
    states.emplace(plan.clientState,
                   static_cast<uint64_t>(o.clientStateMemory) << 20,
                   o.stateDir);
    if (absl::Status s = states->initialize(plan.clientInit); !s.ok())
      return fail(std::string(s.message()));
    trainClients.setClientStates(&*states);
    evalClientsBackend.setClientStates(&*states);
    runner.setClientStates(&*states);
  }
  if (absl::Status s = runner.run(population, evalClients, std::cout); !s.ok())
    return fail(std::string(s.message()));
  return 0;
}

} // namespace fedrt::cli
