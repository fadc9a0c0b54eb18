// The round loop (fedrt/ProcessRunner.h).
#include "fedrt/ProcessRunner.h"

#include "fedrt/Faults.h"

#include "fedrt/ClientMetrics.h"
#include "fedrt/Data.h"
#include "fedrt/Json.h"
#include "fedrt/Sampling.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fedrt {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

// On --resume, the metrics of rounds after the checkpoint (written before a
// crash that came before their checkpoint) are dropped, so the file has
// each round once.
absl::Status keepMetricsUpTo(const std::string &path, int64_t round) {
  std::ifstream in(path);
  if (!in)
    return absl::OkStatus(); // nothing written yet
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
  if (!out || std::rename(temp.c_str(), path.c_str()) != 0)
    return absl::InternalError(path + ": cannot rewrite the metrics file");
  return absl::OkStatus();
}

absl::Status roundError(int64_t round, const absl::Status &s,
                        const char *what = "round ") {
  return absl::Status(s.code(), what + std::to_string(round) + ": " +
                                    std::string(s.message()));
}

} // namespace

std::string RoundRecord::json() const {
  std::string line = "{\"round\": " + std::to_string(round) +
                     ", \"clients\": " + std::to_string(clients) +
                     ", \"dropped\": " + std::to_string(dropped) +
                     ", \"failed\": " + std::to_string(failed);
  for (const auto &[name, value] : fields)
    line.append(", \"").append(name).append("\": ").append(value);
  line += ", \"bytes_up\": " + std::to_string(bytesUp) +
          ", \"bytes_down\": " + std::to_string(bytesDown);
  if (secagg.parties > 0)
    line +=
        ", \"secagg_parties\": " + std::to_string(secagg.parties) +
        ", \"secagg_dropped_after_masking\": " +
        std::to_string(secagg.droppedAfterMasking) +
        ", \"secagg_recovered\": " + std::to_string(secagg.recovered) +
        ", \"secagg_overhead_bytes\": " + std::to_string(secagg.overheadBytes);
  if (wallMs) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", *wallMs);
    line += std::string(", \"wall_ms\": ") + ms;
  }
  return line + "}";
}

std::string RoundRecord::summary() const {
  std::string out = "{\"round\": " + std::to_string(round);
  for (const auto &[name, value] : fields)
    out.append(", \"").append(name).append("\": ").append(value);
  return out + "}";
}

std::string RoundRecord::shown() const {
  std::string out;
  for (const auto &[name, value] : fields)
    out.append("  ").append(name).append(" ").append(value);
  return out;
}

std::vector<std::pair<std::string, std::string>>
metricFields(const TypeDesc &type, const HostValue &value,
             const std::string &prefix) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t leaf = 0;
  for (size_t i = 0; i < type.children.size(); ++i) {
    // Metrics are small: the field's leaves are copied.
    HostValue field;
    std::vector<const TypeDesc *> leaves;
    type.children[i].tensorLeaves(leaves);
    for (size_t k = 0; k < leaves.size(); ++k) {
      Tensor &t = field.leaves.emplace_back();
      const Tensor &from = value.leaves[leaf++];
      t.allocate(from.element, from.dims, /*zero=*/false);
      std::memcpy(t.data.get(), from.data.get(), from.bytes());
    }
    out.emplace_back(prefix + type.fields[i], toJson(type.children[i], field));
  }
  return out;
}

void printResults(const Computation &comp,
                  const std::vector<HostValue> &results, std::ostream &out) {
  if (results.size() == 1) {
    out << toJson(comp.results[0], results[0]) << "\n";
    return;
  }
  out << "[";
  for (size_t i = 0; i < results.size(); ++i)
    out << (i ? ", " : "") << toJson(comp.results[i], results[i]);
  out << "]\n";
}

RunIdentity ProcessRunner::identity() const {
  RunIdentity id = config_.identity;
  id.fingerprint = plan_.fingerprint;
  id.seed = config_.seed;
  id.clientsPerRound = config_.clientsPerRound;
  return id;
}

ProcessRunner::ProcessRunner(const PlanTable &plan, Executor &train,
                             Executor *eval, ProcessConfig config)
    : plan_(plan), train_(train), eval_(eval), config_(std::move(config)) {
  // client_seed() derives from the run's seed.
  train_.setSeed(config_.seed);
  if (eval_)
    eval_->setSeed(config_.seed);
}

int64_t ProcessRunner::denominator(size_t population) const {
  // A cohort larger than the population runs everyone.
  auto n = static_cast<int64_t>(population);
  return config_.clientsPerRound == 0 ? n
                                      : std::min(config_.clientsPerRound, n);
}

void ProcessRunner::privacyCohort(int64_t round, size_t sampled,
                                  size_t population) {
  if (!dp_)
    return;
  dp_->beginRound(round);
  dp_->setCohort(denominator(population), static_cast<int64_t>(sampled),
                 static_cast<int64_t>(population));
}

absl::Status ProcessRunner::savePrivacy(int64_t round) const {
  return dp_ ? dp_->saveClips(config_.checkpoint, round, releases_)
             : absl::OkStatus();
}

absl::Status ProcessRunner::startPrivacy(int64_t first, size_t population) {
  if (privacyStarted_)
    return absl::OkStatus();
  privacyStarted_ = true;
  std::vector<const Aggregation *> releases =
      DpMechanism::releases(*plan_.next);
  if (plan_.eval)
    for (const Aggregation *a : DpMechanism::releases(*plan_.eval))
      releases.push_back(a);
  if (releases.empty())
    return absl::OkStatus();
  releases_ = releases;
  int64_t k = denominator(population);
  for (const Aggregation *a : releases)
    if (absl::Status s = DpMechanism::checkNoiseSplit(*a, k); !s.ok())
      return s;
  absl::StatusOr<std::unique_ptr<DpMechanism>> made =
      DpMechanism::create(config_.dp);
  if (!made.ok())
    return made.status();
  dp_ = *std::move(made);
  train_.setPrivacy(dp_.get());
  if (eval_)
    eval_->setPrivacy(dp_.get());
  if (config_.dp.seed)
    std::fprintf(stderr,
                 "warning: --dp-seed makes the noise of federated_dp_mean "
                 "reproducible by anyone who knows the seed: this run has no "
                 "differential privacy (use it for research and tests)\n");
  auto n = static_cast<double>(population);
  if (population > 0 && config_.dp.delta >= 1 / n)
    std::fprintf(stderr,
                 "warning: --dp-delta %g is not below 1/%zu (1 over the "
                 "population): a guarantee that allows releasing one "
                 "client's data outright with probability δ; choose δ well "
                 "below 1/N\n",
                 config_.dp.delta, population);
  // A resumed run spent rounds 1 .. first - 1 already; the run that wrote
  // the checkpoint also evaluated after its last round.
  for (int64_t r = 1; r < first; ++r)
    dp_->compose(plannedReleases(evaluates(r) || r == first - 1, population));
  if (first > 1 && !config_.checkpoint.empty()) {
    absl::Status loaded =
        dp_->loadClips(config_.checkpoint, first - 1, releases_);
    if (absl::IsNotFound(loaded))
      std::fprintf(stderr,
                   "warning: %s; adaptive clips start again from "
                   "their initial values\n",
                   std::string(loaded.message()).c_str());
    else if (!loaded.ok())
      return loaded;
  }
  return absl::OkStatus();
}

bool ProcessRunner::evaluates(int64_t round) const {
  return plan_.eval &&
         (round == config_.rounds ||
          (config_.evalEvery > 0 && round % config_.evalEvery == 0));
}

DpMechanism::Planned ProcessRunner::plannedReleases(bool evaluated,
                                                    size_t population) const {
  auto n = static_cast<double>(population);
  double sampled =
      std::min(n, std::ceil(config_.overSelect *
                            static_cast<double>(denominator(population))));
  DpMechanism::Planned out;
  for (const Aggregation *a : DpMechanism::releases(*plan_.next))
    out.emplace_back(n > 0 ? sampled / n : 1.0, a->dp.noiseMultiplier);
  if (evaluated && plan_.eval)
    for (const Aggregation *a : DpMechanism::releases(*plan_.eval))
      out.emplace_back(1.0, a->dp.noiseMultiplier);
  return out;
}

bool ProcessRunner::overBudget(int64_t round, size_t population) const {
  if (!dp_ || !config_.dpTargetEpsilon)
    return false;
  absl::StatusOr<privacy::Epsilon> next =
      dp_->epsilonWith(plannedReleases(evaluates(round), population));
  if (!next.ok() || next->epsilon <= *config_.dpTargetEpsilon)
    return false;
  absl::StatusOr<privacy::Epsilon> now = dp_->epsilon();
  std::fprintf(stderr,
               "note: stopping before round %lld: it would bring ε to %.6g "
               "(δ = %g), past --dp-target-epsilon %g; ε so far %.6g\n",
               static_cast<long long>(round), next->epsilon, config_.dp.delta,
               *config_.dpTargetEpsilon, now.ok() ? now->epsilon : 0.0);
  return true;
}

absl::StatusOr<HostValue> ProcessRunner::readInitState() const {
  const std::string &path = config_.initState;
  const TypeDesc &type = plan_.init->results[0];
  absl::StatusOr<HostValue> state;
  std::string where = path + ": "; // an .npz's errors name it themselves
  if (looksLikeNpz(path)) {
    state = valueFromNpz(type, path);
    where.clear();
  } else {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in)
      return absl::InvalidArgumentError(path +
                                        ": cannot read the initial state");
    state = valueFromJson(type, text.str(), true);
  }
  if (!state.ok())
    return absl::InvalidArgumentError(
        where + std::string(state.status().message()) + " (the state of '" +
        plan_.processName + "' is " + type.str() +
        ", as --print-state writes it)");
  return state;
}

absl::Status ProcessRunner::start(HostValue &state, int64_t &first,
                                  std::ostream &out, bool &finished) {
  first = 1;
  finished = false;
  if (!config_.initState.empty() && !config_.resume) {
    absl::StatusOr<HostValue> given = readInitState();
    if (!given.ok())
      return given.status();
    state = *std::move(given);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<HostValue>> init = train_.run(*plan_.init, {}, {});
  if (!init.ok())
    return absl::Status(init.status().code(),
                        "init: " + std::string(init.status().message()));
  state = std::move((*init)[0]);
  if (!config_.resume)
    return absl::OkStatus();
  if (!config_.initState.empty())
    std::fprintf(stderr, "note: --init-state is not read: a resumed run "
                         "continues from its checkpoint\n");
  const TypeDesc &stateType = plan_.init->results[0];
  absl::StatusOr<Checkpoint> saved =
      readCheckpoint(config_.checkpoint, stateType, plan_.fingerprint);
  if (!saved.ok())
    return saved.status();
  Checkpoint &c = *saved;
  std::vector<std::string> warnings;
  if (absl::Status s = checkResume(c.run, identity(), config_.checkpoint,
                                   config_.forceResume, warnings);
      !s.ok())
    return s;
  for (const std::string &w : warnings)
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  state = std::move(c.state);
  first = c.round + 1;
  if (states_ && c.round > 0)
    if (absl::Status s = states_->load(config_.checkpoint, plan_.fingerprint,
                                       c.round, config_.identity.population);
        !s.ok())
      return s;
  std::fprintf(stderr, "note: resuming after round %lld from %s\n",
               static_cast<long long>(c.round),
               checkpointPath(config_.checkpoint).c_str());
  for (const std::string &file : {config_.metrics, config_.perClientMetrics})
    if (!file.empty())
      if (absl::Status s = keepMetricsUpTo(file, c.round); !s.ok())
        return s;
  if (c.round >= config_.rounds) {
    std::fprintf(stderr,
                 "note: the checkpoint has completed %lld rounds; nothing "
                 "to run for --rounds %lld\n",
                 static_cast<long long>(c.round),
                 static_cast<long long>(config_.rounds));
    out << "{\"round\": " << c.round << "}\n";
    if (config_.printState)
      out << toJson(stateType, state) << "\n";
    finished = true;
  }
  return absl::OkStatus();
}

void ProcessRunner::progress(int64_t round, int64_t first,
                             const std::string &shown, bool evaluated,
                             int64_t clientsDone, double elapsed) {
  bool terminal = ::isatty(STDERR_FILENO);
  bool show =
      config_.progress == "always" || (config_.progress == "auto" && terminal);
  if (!show)
    return;
  // On a terminal one line updated in place; in a log, a line per
  // evaluation and at the end.
  double perRound = elapsed / static_cast<double>(round - first + 1);
  bool last = round == config_.rounds;
  if (terminal || evaluated || last)
    std::fprintf(stderr, "%sround %lld/%lld%s  |  %.0f clients/s  ETA %.0fs%s",
                 terminal ? "\r\033[K" : "", static_cast<long long>(round),
                 static_cast<long long>(config_.rounds), shown.c_str(),
                 static_cast<double>(clientsDone) / std::max(elapsed, 1e-9),
                 perRound * static_cast<double>(config_.rounds - round),
                 terminal && !last ? "" : "\n");
}

absl::Status ProcessRunner::trainRound(int64_t round, HostValue &state,
                                       std::vector<int64_t> &trainClients,
                                       std::vector<int64_t> &evalClients,
                                       RoundRecord &record, bool &stopped) {
  std::vector<int64_t> cohort;
  RunStats stats;
  absl::StatusOr<std::vector<HostValue>> results =
      absl::UnavailableError("no attempt");
  for (int64_t attempt = 1; attempt <= config_.maxAttempts; ++attempt) {
    if (config_.refresh)
      if (absl::Status s = config_.refresh(trainClients, evalClients); !s.ok())
        return roundError(round, s);
    // The population is known now (remote workers have joined).
    if (absl::Status s = startPrivacy(round, trainClients.size()); !s.ok())
      return s;
    if ((stopped = attempt == 1 && overBudget(round, trainClients.size())))
      return absl::OkStatus();
    int64_t k = config_.clientsPerRound == 0
                    ? -1
                    : static_cast<int64_t>(std::ceil(
                          config_.overSelect *
                          static_cast<double>(config_.clientsPerRound)));
    // A retried round draws another cohort; the first is the one a run
    // without failures (and simulation) draws.
    uint64_t seed = config_.seed ^ (static_cast<uint64_t>(attempt - 1) *
                                    0xd1b54a32d192ed03ull);
    cohort = sampleCohort(trainClients, k, seed, round);
    privacyCohort(round, cohort.size(), trainClients.size());
    stats = RunStats();
    if (states_) // an abandoned attempt's clients keep their states
      states_->beginAttempt(round, attempt);
    results =
        train_.run(*plan_.next, {&state}, cohort, round, &stats, &trainClients);
    if (results.ok() ||
        results.status().code() != absl::StatusCode::kUnavailable)
      break;
    if (attempt < config_.maxAttempts)
      std::fprintf(stderr, "warning: round %lld, attempt %lld abandoned: %s\n",
                   static_cast<long long>(round),
                   static_cast<long long>(attempt),
                   std::string(results.status().message()).c_str());
  }
  if (!results.ok())
    return roundError(round, results.status());
  if (states_)
    if (absl::Status s = states_->commit(); !s.ok())
      return roundError(round, s);
  if (config_.verbose)
    std::fprintf(stderr,
                 "round %lld: %zu clients in %lld blocks on %lld threads\n",
                 static_cast<long long>(round), cohort.size(),
                 static_cast<long long>(stats.blocks),
                 static_cast<long long>(stats.threadsUsed));
  if (config_.verbose && states_)
    std::fprintf(stderr, "round %lld: %s\n", static_cast<long long>(round),
                 states_->summary().c_str());
  state = std::move((*results)[0]);
  record.round = round;
  record.clients = static_cast<int64_t>(cohort.size());
  record.dropped = stats.dropped;
  record.failed = stats.failed;
  record.bytesUp = stats.bytesUp;
  record.bytesDown = stats.bytesDown;
  record.secagg = stats.secagg;
  if (plan_.next->results.size() > 1)
    record.fields = metricFields(plan_.next->results[1], (*results)[1], "");
  return absl::OkStatus();
}

absl::Status
ProcessRunner::evaluateRound(int64_t round, const HostValue &state,
                             const std::vector<int64_t> &evalClients,
                             RoundRecord &record, bool &evaluated) {
  evaluated = evaluates(round);
  if (evaluated)
    if (absl::Status s = evaluate(round, state, evalClients, record); !s.ok())
      return s;
  if (dp_) {
    dp_->endRound();
    for (auto &field : dp_->metrics())
      record.fields.push_back(std::move(field));
  }
  return absl::OkStatus();
}

absl::Status ProcessRunner::evaluate(int64_t round, const HostValue &state,
                                     const std::vector<int64_t> &evalClients,
                                     RoundRecord &record) {
  // A sample of its own stream: the training cohort's draw is unchanged.
  std::vector<int64_t> cohort =
      config_.evalClientsPerRound > 0
          ? sampleCohort(evalClients, config_.evalClientsPerRound,
                         config_.seed ^ 0xe7037ed1a0b428dbull, round)
          : evalClients;
  auto n = static_cast<int64_t>(cohort.size());
  if (dp_) // eval's DP means run every client of the cohort: q <= 1
    dp_->setCohort(n, n, n);
  absl::StatusOr<std::vector<HostValue>> m =
      eval_->run(*plan_.eval, {&state}, cohort, round, nullptr, &evalClients);
  if (!m.ok())
    return roundError(round, m.status(), "eval after round ");
  const TypeDesc &type = plan_.eval->results[0];
  for (auto &field : metricFields(type, (*m)[0], "eval_"))
    record.fields.push_back(std::move(field));
  if (config_.perClientMetrics.empty())
    return absl::OkStatus();
  std::vector<HostValue> each;
  for (int64_t c : cohort) {
    absl::StatusOr<std::vector<HostValue>> one =
        eval_->run(*plan_.eval, {&state}, {c}, round, nullptr, &evalClients);
    // A client whose own evaluation cannot be formed (its remote worker
    // went away; its weights sum to zero alone) is left out of the file;
    // the round's aggregate eval ran already.
    if (!one.ok()) {
      std::fprintf(stderr,
                   "warning: round %lld: client %lld left out of the "
                   "per-client metrics: %s\n",
                   static_cast<long long>(round), static_cast<long long>(c),
                   std::string(one.status().message()).c_str());
      continue;
    }
    perClient_ << "{\"round\": " << round << ", \"client\": " << c;
    for (const auto &[name, value] : metricFields(type, (*one)[0], ""))
      perClient_ << ", \"" << name << "\": " << value;
    perClient_ << "}\n";
    each.push_back(std::move((*one)[0]));
  }
  perClient_.flush();
  for (auto &field : clientMetricSummary(type, each))
    record.fields.push_back(std::move(field));
  return absl::OkStatus();
}

absl::Status ProcessRunner::evaluateInitial(const HostValue &state,
                                            std::vector<int64_t> &trainClients,
                                            std::vector<int64_t> &evalClients,
                                            std::string &summary) {
  if (config_.refresh)
    if (absl::Status s = config_.refresh(trainClients, evalClients); !s.ok())
      return roundError(0, s, "eval before round 1: ");
  RoundRecord record;
  if (absl::Status s = evaluate(0, state, evalClients, record); !s.ok())
    return s;
  if (metrics_.is_open()) {
    metrics_ << record.json() << "\n";
    metrics_.flush();
  }
  summary = record.summary();
  return absl::OkStatus();
}

absl::Status ProcessRunner::openOutputs() {
  for (auto [path, file] :
       {std::pair{&config_.metrics, &metrics_},
        std::pair{&config_.perClientMetrics, &perClient_}}) {
    if (path->empty())
      continue;
    file->open(*path, config_.resume ? std::ios::app : std::ios::trunc);
    if (!*file)
      return absl::InvalidArgumentError(*path + ": cannot write the file");
  }
  return absl::OkStatus();
}

absl::Status ProcessRunner::checkpointRound(int64_t round, HostValue &state) {
  if (config_.checkpoint.empty())
    return absl::OkStatus();
  if (absl::Status s = savePrivacy(round); !s.ok())
    return s;
  // The clients' states first: until the server state's checkpoint moves
  // to this round, the previous round's states stay.
  if (states_)
    if (absl::Status s =
            states_->save(config_.checkpoint, plan_.fingerprint, round);
        !s.ok())
      return s;
  // The state moves through the checkpoint record, not copied.
  Checkpoint c{identity(), round, std::move(state)};
  absl::Status written = writeCheckpoint(config_.checkpoint, c);
  state = std::move(c.state);
  if (written.ok() && states_)
    removeOtherClientStates(round);
  return written;
}

// Once state.ckpt is at `round`, every other round's client states (the
// previous round's, and any a crash or an earlier run left) go.
void ProcessRunner::removeOtherClientStates(int64_t round) const {
  std::error_code ec;
  std::string keep = ClientStateStore::path(config_.checkpoint, round);
  for (const auto &entry :
       std::filesystem::directory_iterator(config_.checkpoint, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("clients-", 0) == 0 &&
        (name.ends_with(".state") || name.ends_with(".state.tmp")) &&
        entry.path().string() != keep)
      std::filesystem::remove(entry.path(), ec);
  }
}

absl::Status ProcessRunner::checkSteering() const {
  auto needsEval = [&](const char *flag) {
    return absl::InvalidArgumentError(std::string(flag) +
                                      " given, but process '" +
                                      plan_.processName + "' has no eval");
  };
  if (!plan_.eval) {
    if (config_.evalInitial)
      return needsEval("--eval-initial");
    if (config_.evalClientsPerRound > 0)
      return needsEval("--eval-clients-per-round");
    if (!config_.perClientMetrics.empty())
      return needsEval("--per-client-metrics");
    return absl::OkStatus();
  }
  if (!config_.perClientMetrics.empty())
    if (std::string why = perClientMetricsRefusal(*plan_.eval); !why.empty())
      return absl::InvalidArgumentError(why);
  if (config_.evalInitial && !DpMechanism::releases(*plan_.eval).empty())
    return absl::InvalidArgumentError(
        "--eval-initial: '" + plan_.eval->name +
        "' releases federated_dp_mean, and an evaluation before round 1 is "
        "outside the privacy accounting of the rounds");
  return absl::OkStatus();
}

absl::Status ProcessRunner::run(const std::vector<int64_t> &population,
                                const std::vector<int64_t> &evalClients,
                                std::ostream &out) {
  HostValue state;
  int64_t first = 1;
  bool finished = false;
  if (absl::Status s = checkSteering(); !s.ok())
    return s;
  if (absl::Status s = start(state, first, out, finished); !s.ok() || finished)
    return s;
  if (absl::Status s = openOutputs(); !s.ok())
    return s;
  std::string lastShown, lastMetrics;
  auto runStart = Clock::now();
  int64_t clientsDone = 0;
  std::vector<int64_t> trainClients = population, evalPopulation = evalClients;
  int64_t completed = first - 1; // rounds done (fewer when the budget stops)
  if (config_.evalInitial && first == 1)
    if (absl::Status s =
            evaluateInitial(state, trainClients, evalPopulation, lastMetrics);
        !s.ok())
      return s;
  for (int64_t round = first; round <= config_.rounds; ++round) {
    auto roundStart = Clock::now();
    RoundRecord record;
    bool stopped = false, evaluated = false;
    if (absl::Status s = trainRound(round, state, trainClients, evalPopulation,
                                    record, stopped);
        !s.ok() || stopped)
      return s.ok() ? finish(completed, lastMetrics, state, out) : s;
    if (absl::Status s =
            evaluateRound(round, state, evalPopulation, record, evaluated);
        !s.ok())
      return s;
    clientsDone += record.clients;
    if (config_.timing)
      record.wallMs = msSince(roundStart);
    if (metrics_.is_open()) {
      metrics_ << record.json() << "\n";
      metrics_.flush();
    }
    if (!record.fields.empty()) {
      lastMetrics = record.summary();
      lastShown = record.shown();
    }
    if (absl::Status s = checkpointRound(round, state); !s.ok())
      return s;
    if (states_) // remote workers may now make the round's states theirs
      states_->durable(round);
    faultPause("round-end");
    progress(round, first, lastShown, evaluated, clientsDone,
             msSince(runStart) / 1000);
    completed = round;
  }
  return finish(completed, lastMetrics, state, out);
}

absl::Status ProcessRunner::finish(int64_t completed,
                                   const std::string &lastMetrics,
                                   const HostValue &state,
                                   std::ostream &out) const {
  out << (lastMetrics.empty() ? "{\"round\": " + std::to_string(completed) + "}"
                              : lastMetrics)
      << "\n";
  if (config_.printState)
    out << toJson(plan_.init->results[0], state) << "\n";
  return absl::OkStatus();
}

} // namespace fedrt
