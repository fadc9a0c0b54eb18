// Simulation: a one-shot main over every client, or a process's rounds
// (init; then per round: sample a cohort, next, optionally eval, metrics,
// checkpoint, progress).
#include "Options.h"

#include "fedrt/Checkpoint.h"
#include "fedrt/Executor.h"
#include "fedrt/Sampling.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

namespace fedrt::cli {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

// Loads every client input of `comp` from `paths` (one PATH, or NAME=PATH
// per input).
bool loadInputs(const Computation &comp, const std::vector<std::string> &paths,
                const Options &o, std::vector<ClientDataset> &out,
                std::string &error) {
  std::vector<const Computation::Input *> inputs;
  for (const Computation::Input &in : comp.inputs)
    if (in.clients)
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
    if (!loadClients(in->type, source, out.back(), error))
      return false;
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

std::vector<const ClientDataset *>
pointers(const std::vector<ClientDataset> &d) {
  std::vector<const ClientDataset *> out;
  for (const ClientDataset &x : d)
    out.push_back(&x);
  return out;
}

// `"name": value` for each field of a metrics struct.
void appendFields(const TypeDesc &type, const HostValue &v,
                  const std::string &prefix, std::string &out,
                  std::string &shown) {
  size_t leaf = 0;
  for (size_t i = 0; i < type.children.size(); ++i) {
    HostValue field;
    HostValue shape = HostValue::zeros(type.children[i]);
    for (size_t k = 0; k < shape.leaves.size(); ++k) {
      field.leaves.push_back(std::move(shape.leaves[k]));
      Tensor &t = field.leaves.back();
      std::memcpy(t.data.get(), v.leaves[leaf].data.get(), t.bytes());
      ++leaf;
    }
    std::string value = toJson(type.children[i], field);
    out += ", \"" + prefix + type.fields[i] + "\": " + value;
    shown += "  " + prefix + type.fields[i] + " " + value;
  }
}

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

// On --resume, the metrics of rounds after the checkpoint (written before a
// crash that came before their checkpoint) are dropped, so the file has
// each round once.
bool keepMetricsUpTo(const std::string &path, int64_t round,
                     std::string &error) {
  std::ifstream in(path);
  if (!in)
    return true; // nothing written yet
  std::string kept, line;
  while (std::getline(in, line)) {
    int64_t r = -1;
    if (std::sscanf(line.c_str(), "{\"round\": %lld",
                    reinterpret_cast<long long *>(&r)) == 1 &&
        r <= round)
      kept += line + "\n";
  }
  std::string temp = path + ".tmp";
  std::ofstream out(temp, std::ios::trunc);
  out << kept;
  out.close();
  if (!out || std::rename(temp.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rewrite the metrics file";
    return false;
  }
  return true;
}

// --verbose: how a computation's client work was spread.
void logRun(const Options &o, const std::string &what, size_t clients,
            const RunStats &stats) {
  if (o.verbose)
    std::fprintf(stderr, "%s: %zu clients in %lld blocks on %lld threads\n",
                 what.c_str(), clients, static_cast<long long>(stats.blocks),
                 static_cast<long long>(stats.threadsUsed));
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
  Executor executor(o.threads);
  std::vector<HostValue> results;
  RunStats stats;
  if (!executor.run(main, {}, pointers(data), cohort, results, error,
                    &stats)) {
    reportError(error);
    return 1;
  }
  logRun(o, main.name, cohort.size(), stats);
  if (results.size() == 1) {
    std::cout << toJson(main.results[0], results[0]) << "\n";
  } else {
    std::cout << "[";
    for (size_t i = 0; i < results.size(); ++i)
      std::cout << (i ? ", " : "") << toJson(main.results[i], results[i]);
    std::cout << "]\n";
  }
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
      const Computation::Input *trainIn = nullptr, *evalIn = nullptr;
      for (const Computation::Input &in : plan.next->inputs)
        if (in.clients)
          trainIn = &in;
      for (const Computation::Input &in : plan.eval->inputs)
        if (in.clients)
          evalIn = &in;
      if (trainIn && evalIn && trainIn->type.str() != evalIn->type.str())
        return fail("'" + plan.eval->name + "' takes " + evalIn->type.str() +
                    " but the training data is " + trainIn->type.str() +
                    "; give --eval-data");
      evalData.clear();
      evalClients = population;
    } else {
      Options single = o;
      single.partition.clear();
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

  Executor executor(o.threads);
  std::vector<HostValue> results;
  if (!executor.run(*plan.init, {}, {}, {}, results, error))
    return fail("init: " + error);
  HostValue state = std::move(results[0]);
  const TypeDesc &stateType = plan.init->results[0];
  int64_t first = 1;
  if (o.resume) {
    Checkpoint c;
    if (!readCheckpoint(o.checkpoint, stateType, plan.fingerprint, c, error))
      return fail(error);
    if (c.seed != o.seed)
      return fail("the checkpoint in " + o.checkpoint +
                  " was written with "
                  "--seed " +
                  std::to_string(c.seed) + ", not " + std::to_string(o.seed));
    state = std::move(c.state);
    first = c.round + 1;
    std::fprintf(stderr, "note: resuming after round %lld from %s\n",
                 static_cast<long long>(c.round),
                 checkpointPath(o.checkpoint).c_str());
    if (!o.metrics.empty() && !keepMetricsUpTo(o.metrics, c.round, error))
      return fail(error);
    if (c.round >= o.rounds) {
      std::fprintf(stderr,
                   "note: the checkpoint has completed %lld rounds; nothing "
                   "to run for --rounds %lld\n",
                   static_cast<long long>(c.round),
                   static_cast<long long>(o.rounds));
      std::cout << "{\"round\": " << c.round << "}\n";
      if (o.printState)
        std::cout << toJson(stateType, state) << "\n";
      return 0;
    }
  }

  std::ofstream metrics;
  if (!o.metrics.empty()) {
    metrics.open(o.metrics, o.resume ? std::ios::app : std::ios::trunc);
    if (!metrics)
      return fail(o.metrics + ": cannot write the metrics file");
  }
  bool terminal = ::isatty(STDERR_FILENO);
  bool progress = o.progress == "always" || (o.progress == "auto" && terminal);
  std::string lastShown;
  auto runStart = Clock::now();
  int64_t clientsDone = 0;
  std::string lastMetrics;
  const std::vector<const ClientDataset *> trainData = pointers(train);
  const std::vector<const ClientDataset *> evalSet =
      evalData.empty() ? trainData : pointers(evalData);
  for (int64_t round = first; round <= o.rounds; ++round) {
    auto roundStart = Clock::now();
    std::vector<int64_t> cohort = sampleCohort(
        population, o.clientsPerRound == 0 ? -1 : o.clientsPerRound, o.seed,
        round);
    RunStats stats;
    if (!executor.run(*plan.next, {&state}, trainData, cohort, results, error,
                      &stats))
      return fail("round " + std::to_string(round) + ": " + error);
    logRun(o, "round " + std::to_string(round), cohort.size(), stats);
    state = std::move(results[0]);
    std::string fields, shown;
    if (plan.next->results.size() > 1)
      appendFields(plan.next->results[1], results[1], "", fields, shown);
    bool evaluate =
        plan.eval &&
        (round == o.rounds || (o.evalEvery > 0 && round % o.evalEvery == 0));
    if (evaluate) {
      std::vector<HostValue> m;
      if (!executor.run(*plan.eval, {&state}, evalSet, evalClients, m, error))
        return fail("eval after round " + std::to_string(round) + ": " + error);
      appendFields(plan.eval->results[0], m[0], "eval_", fields, shown);
    }
    clientsDone += static_cast<int64_t>(cohort.size());
    double wall = msSince(roundStart);
    std::string line = "{\"round\": " + std::to_string(round) +
                       ", \"clients\": " + std::to_string(cohort.size()) +
                       ", \"dropped\": 0" + fields +
                       ", \"bytes_up\": " + std::to_string(stats.bytesUp) +
                       ", \"bytes_down\": " + std::to_string(stats.bytesDown);
    if (o.timing) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.3f", wall);
      line += std::string(", \"wall_ms\": ") + ms;
    }
    line += "}";
    if (metrics.is_open()) {
      metrics << line << "\n";
      metrics.flush();
    }
    if (!fields.empty())
      lastMetrics = "{\"round\": " + std::to_string(round) + fields + "}";
    if (!o.checkpoint.empty()) {
      // The state moves through the checkpoint record, not copied.
      Checkpoint c{plan.fingerprint, o.seed, round, std::move(state)};
      bool written = writeCheckpoint(o.checkpoint, c, error);
      state = std::move(c.state);
      if (!written)
        return fail(error);
    }
    if (!shown.empty())
      lastShown = shown;
    if (progress) {
      // On a terminal one line updated in place; in a log, a line per
      // evaluation and at the end.
      double elapsed = msSince(runStart) / 1000;
      double perRound = elapsed / static_cast<double>(round - first + 1);
      bool last = round == o.rounds;
      if (terminal || evaluate || last)
        std::fprintf(stderr,
                     "%sround %lld/%lld%s  |  %.0f clients/s  ETA %.0fs%s",
                     terminal ? "\r\033[K" : "", static_cast<long long>(round),
                     static_cast<long long>(o.rounds), lastShown.c_str(),
                     static_cast<double>(clientsDone) / std::max(elapsed, 1e-9),
                     perRound * static_cast<double>(o.rounds - round),
                     terminal && !last ? "" : "\n");
    }
  }
  std::cout << (lastMetrics.empty()
                    ? "{\"round\": " + std::to_string(o.rounds) + "}"
                    : lastMetrics)
            << "\n";
  if (o.printState)
    std::cout << toJson(stateType, state) << "\n";
  return 0;
}

} // namespace fedrt::cli
