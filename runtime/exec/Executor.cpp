// The executor (fedrt/Executor.h).
#include "fedrt/Executor.h"

#include "fedrt/SplitMix.h"

#include <algorithm>

namespace fedrt {

Executor::Executor(ClientBackend &clients, FailurePolicy policy)
    : clients_(clients), policy_(policy) {}

absl::StatusOr<std::vector<HostValue>>
Executor::callServer(StageFn fn, const std::vector<uint64_t> &serverSlots,
                     const std::vector<HostValue> &aggregated,
                     const std::vector<const TypeDesc *> &aggregatedTypes,
                     const std::vector<const TypeDesc *> &outs) {
  std::vector<uint64_t> in = serverSlots;
  for (size_t i = 0; i < aggregated.size(); ++i)
    toSlots(*aggregatedTypes[i], aggregated[i], in);
  size_t count = 1;
  for (const TypeDesc *t : outs)
    count += t->slots();
  std::vector<uint64_t> out(count, 0);
  reset(serverContext_);
  fn(&serverContext_, in.data(), out.data());
  if (serverContext_.failed)
    return absl::InvalidArgumentError("server: " +
                                      failureMessage(serverContext_));
  std::vector<HostValue> values;
  values.reserve(outs.size());
  size_t next = 0;
  for (const TypeDesc *t : outs)
    values.push_back(fromSlots(*t, out.data(), next));
  reset(serverContext_);
  return values;
}

absl::StatusOr<DpMechanism *> Executor::privacy(int64_t round, size_t cohort) {
  if (privacy_)
    return privacy_;
  if (!ownPrivacy_) {
    absl::StatusOr<std::unique_ptr<DpMechanism>> made =
        DpMechanism::create(DpConfig());
    if (!made.ok())
      return made.status();
    ownPrivacy_ = *std::move(made);
  }
  auto n = static_cast<int64_t>(cohort);
  ownPrivacy_->beginRound(round);
  ownPrivacy_->setCohort(n, n, n);
  return ownPrivacy_.get();
}

namespace {

// A stage's task for the clients: the server's prepared values are its
// broadcasts, then the zeros of its custom aggregations, in that order.
StageTask stageTask(const Computation &comp, size_t k,
                    const std::vector<HostValue> &prepared, DpMechanism *dp) {
  const Stage &stage = comp.stages[k];
  StageTask task;
  task.computation = &comp;
  task.stage = k;
  for (size_t i = 0; i < stage.broadcasts.size(); ++i)
    task.broadcasts.push_back(&prepared[i]);
  size_t nextZero = stage.broadcasts.size();
  for (const Aggregation &a : stage.aggregations) {
    task.zeros.push_back(
        a.kind == Aggregation::Kind::Custom ? &prepared[nextZero++] : nullptr);
    task.dpClips.push_back(a.kind == Aggregation::Kind::DpMean ? dp->clip(a)
                                                               : 0.0);
  }
  return task;
}

// Adds one stage's counts to the computation's (the widest stage's blocks
// and threads; the last stage's reporting clients).
void addStageStats(const StageResult &result, RunStats &st) {
  st.failed += static_cast<int64_t>(result.failures.size());
  st.dropped += static_cast<int64_t>(result.dropped.size());
  st.reported = result.reported;
  st.failures.insert(st.failures.end(), result.failures.begin(),
                     result.failures.end());
  st.blocks = std::max(st.blocks, result.stats.blocks);
  st.threadsUsed = std::max(st.threadsUsed, result.stats.threadsUsed);
  st.bytesUp += result.stats.bytesUp;
  st.bytesDown += result.stats.bytesDown;
  st.secagg.add(result.stats.secagg);
}

} // namespace

namespace {

// Each client's client_seed(), from its position in `order` (ascending).
std::vector<int64_t> clientSeeds(uint64_t seed, int64_t round,
                                 const std::vector<int64_t> &clients,
                                 const std::vector<int64_t> &order) {
  std::vector<int64_t> seeds;
  seeds.reserve(clients.size());
  for (int64_t c : clients) {
    auto at = std::lower_bound(order.begin(), order.end(), c);
    seeds.push_back(clientSeed(seed, round, at - order.begin()));
  }
  return seeds;
}

} // namespace

absl::StatusOr<std::vector<HostValue>>
Executor::run(const Computation &comp,
              const std::vector<const HostValue *> &server,
              const std::vector<int64_t> &cohort, int64_t round,
              RunStats *stats, const std::vector<int64_t> *population) {
  RunStats local;
  RunStats &st = stats ? *stats : local;
  std::vector<uint64_t> serverSlots;
  size_t nextServer = 0;
  for (const Computation::Input &in : comp.inputs) {
    if (in.clients)
      continue;
    if (in.role == Computation::Input::Role::RoundNumber)
      serverSlots.push_back(static_cast<uint64_t>(round));
    else
      toSlots(in.type, *server[nextServer++], serverSlots);
  }
  std::vector<HostValue> aggregated;
  std::vector<const TypeDesc *> aggregatedTypes;
  // Clients that failed or dropped out of an earlier stage take no part
  // in later ones (their contribution is left out of the whole round).
  std::vector<int64_t> active = cohort;
  DpMechanism *dp = nullptr;
  if (!DpMechanism::releases(comp).empty()) {
    absl::StatusOr<DpMechanism *> made = privacy(round, cohort.size());
    if (!made.ok())
      return made.status();
    dp = *made;
  }

  for (size_t k = 0; k < comp.stages.size(); ++k) {
    const Stage &stage = comp.stages[k];
    // Server prepare: the broadcasts, then the zeros of custom aggregations.
    std::vector<const TypeDesc *> outs;
    for (const TypeDesc &t : stage.broadcasts)
      outs.push_back(&t);
    for (const Aggregation &a : stage.aggregations)
      if (a.kind == Aggregation::Kind::Custom)
        outs.push_back(&a.accumulator);
    absl::StatusOr<std::vector<HostValue>> prepared = callServer(
        stage.server, serverSlots, aggregated, aggregatedTypes, outs);
    if (!prepared.ok())
      return prepared.status();
    StageTask task = stageTask(comp, k, *prepared, dp);
    task.cohort = active;
    task.round = round;
    if (comp.readsClientSeed())
      task.clientSeeds =
          clientSeeds(seed_, round, active, population ? *population : cohort);

    absl::StatusOr<StageResult> result = clients_.runStage(task);
    if (!result.ok())
      return result.status();
    if (!result->failures.empty() && policy_ == FailurePolicy::FailRun)
      return absl::InvalidArgumentError(result->failures.front().message);
    for (const ClientFailure &f : result->failures)
      active.erase(std::find(active.begin(), active.end(), f.client));
    for (int64_t c : result->dropped)
      active.erase(std::find(active.begin(), active.end(), c));
    addStageStats(*result, st);
    for (size_t i = 0; i < stage.aggregations.size(); ++i) {
      const Aggregation &a = stage.aggregations[i];
      absl::StatusOr<HostValue> value =
          a.kind == Aggregation::Kind::DpMean
              ? dp->release(a, result->partials[i])
              : result->partials[i].report(serverContext_);
      if (!value.ok())
        return value.status();
      aggregated.push_back(*std::move(value));
      aggregatedTypes.push_back(&stage.aggregations[i].result);
    }
  }
  std::vector<const TypeDesc *> outs;
  for (const TypeDesc &t : comp.results)
    outs.push_back(&t);
  return callServer(comp.update, serverSlots, aggregated, aggregatedTypes,
                    outs);
}

} // namespace fedrt
