// Client work on this machine's threads (fedrt/LocalBackend.h).
#include "fedrt/LocalBackend.h"

#include "fedrt/SecureMean.h"

#define EIGEN_USE_THREADS
#include <unsupported/Eigen/CXX11/ThreadPool>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>

namespace fedrt {

// Eigen's non-blocking pool (the one TensorFlow runs on) and a barrier.
struct ThreadTeam::Pool {
  explicit Pool(int workers) : pool(workers) {}
  Eigen::ThreadPool pool;
};

ThreadTeam::ThreadTeam(int threads) {
  threads = std::max(threads, 1);
  for (int i = 0; i < threads; ++i)
    contexts_.push_back(std::make_unique<Context>());
  if (threads > 1)
    pool_ = std::make_unique<Pool>(threads - 1);
}

ThreadTeam::~ThreadTeam() = default;

void ThreadTeam::trim(uint64_t keep) {
  for (auto &ctx : contexts_)
    fedrt::trim(*ctx, keep);
}

void ThreadTeam::run(size_t n,
                     const std::function<void(size_t, Context &)> &job) {
  n = std::min(n, contexts_.size());
  if (n == 0)
    return;
  Eigen::Barrier done(static_cast<unsigned>(n - 1));
  for (size_t t = 1; t < n; ++t)
    pool_->pool.Schedule([&, t] {
      job(t, *contexts_[t]);
      done.Notify();
    });
  job(0, *contexts_[0]);
  done.Wait();
}

namespace {

using Partials = std::vector<PartialAggregate>;

// A client's values stay in its thread's arena until its batch is folded:
// up to 32 clients, fewer once their temporaries pass 256 MiB (folding
// early changes no result: PartialAggregate::add).
constexpr size_t kMaxBatch = 32;
constexpr uint64_t kBatchArena = uint64_t(256) << 20;

} // namespace

struct LocalBackend::Block {
  size_t first = 0, end = 0; // cohort positions
  std::optional<Partials> partials;
  std::vector<ClientFailure> failures;
  // Secure aggregation: per aggregation, each folded client's integer
  // values (empty unless the aggregation is a secure sum).
  std::vector<std::vector<std::vector<int64_t>>> secureInputs;
  // The new client states of the block's clients that did not fail: the
  // clients, and their states packed one after the other.
  std::vector<int64_t> stateClients;
  std::vector<unsigned char> states;
};

// Blocks finish in any order and merge in block order (what makes results
// independent of the thread count and timing): a finished block waits in
// `done` until every earlier one has merged. Used under a lock.
struct LocalBackend::OrderedMerge {
  std::map<size_t, Block> done;
  size_t merged = 0;
  std::optional<Partials> total;
  std::vector<ClientFailure> failures;
  std::vector<std::vector<std::vector<int64_t>>> secureInputs;
  // Where new client states go as their blocks merge (null: none kept).
  ClientStateStore *clientStates = nullptr;

  absl::Status add(size_t index, Block block, Context &ctx) {
    done.emplace(index, std::move(block));
    while (!done.empty() && done.begin()->first == merged) {
      Block next = std::move(done.begin()->second);
      done.erase(done.begin());
      ++merged;
      failures.insert(failures.end(), next.failures.begin(),
                      next.failures.end());
      for (size_t i = 0; i < next.stateClients.size(); ++i)
        clientStates->stage(next.stateClients[i],
                            next.states.data() +
                                i * clientStates->stateBytes());
      secureInputs.resize(next.secureInputs.size());
      for (size_t i = 0; i < next.secureInputs.size(); ++i)
        for (auto &values : next.secureInputs[i])
          secureInputs[i].push_back(std::move(values));
      if (!total) {
        total = std::move(next.partials);
        continue;
      }
      for (size_t i = 0; i < next.partials->size(); ++i)
        if (absl::Status m = (*total)[i].merge((*next.partials)[i], ctx);
            !m.ok())
          return m;
    }
    return absl::OkStatus();
  }
};

LocalBackend::LocalBackend(ThreadTeam &team,
                           std::vector<const ClientDataset *> inputs)
    : team_(team), inputs_(std::move(inputs)) {}

uint64_t LocalBackend::roundingKey(const StageTask &task,
                                   size_t aggregation) const {
  return secure_mean::stageKey(secure_.seed, task.round, task.stage,
                               aggregation);
}

size_t LocalBackend::blockSize(size_t clients) {
  return clients <= 16 ? 1 : (clients + 15) / 16;
}

std::string LocalBackend::clientName(int64_t client) const {
  return inputs_.empty()
             ? "client " + std::to_string(client)
             : "client '" + inputs_[0]->name(static_cast<size_t>(client)) + "'";
}

// What folding a block works with: the broadcast slots every client
// starts from, the clients' outputs of one batch, and who is excluded.
struct LocalBackend::Batch {
  std::vector<uint64_t> broadcast;
  std::vector<size_t> offsets; // of each aggregation's value in an output
  size_t stateOffset = 0;      // of the new client state in an output
  std::vector<std::vector<uint64_t>> outs;
  std::vector<const uint64_t *> outPointers;
  std::vector<size_t> positions;   // cohort position of each output
  std::vector<int64_t> population; // population index of each output
  std::vector<Columns> scratch;    // synthetic clients' generated data
  std::vector<HostValue> states;   // each output's client state (if read)
  std::vector<bool> excluded;      // by position in the block
  std::vector<uint64_t> in;
  size_t count = 0; // outputs in this batch
  Partials partials;

  Batch(const StageTask &task, const Block &block, size_t inputs) {
    const Stage &stage = task.computation->stages[task.stage];
    for (size_t i = 0; i < stage.broadcasts.size(); ++i)
      toSlots(stage.broadcasts[i], *task.broadcasts[i], broadcast);
    size_t outSlots = 1;
    int64_t valueBytes = 1;
    for (const Aggregation &a : stage.aggregations) {
      offsets.push_back(outSlots - 1);
      outSlots += a.clientSlots();
      valueBytes += a.value.bytes();
    }
    // A computation that writes the client state reads it (loadPlan).
    const Computation::Input *state = task.computation->clientStateInput();
    stateOffset = outSlots - 1;
    if (state && stage.writesClientState)
      outSlots += state->type.slots();
    if (state) // each output's own copy of its client's state
      valueBytes += state->type.bytes();
    auto size = static_cast<size_t>(std::clamp<int64_t>(
        (int64_t(256) << 20) / valueBytes, 1, static_cast<int64_t>(kMaxBatch)));
    size = std::min(size, std::max<size_t>(block.end - block.first, 1));
    outs.assign(size, std::vector<uint64_t>(outSlots));
    outPointers.resize(size);
    positions.resize(size);
    population.resize(size);
    scratch.resize(size * inputs);
    excluded.assign(block.end - block.first, false);
    if (state)
      for (size_t c = 0; c < size; ++c) // its own buffers: 64-byte aligned
        states.push_back(HostValue::zeros(state->type));
  }
};

void LocalBackend::runClients(const StageTask &task, Context &ctx, Block &block,
                              Batch &batch, size_t &next) {
  const Stage &stage = task.computation->stages[task.stage];
  batch.count = 0;
  for (; next < block.end && batch.count < batch.outs.size() &&
         (batch.count == 0 || arenaInUse(ctx) < kBatchArena);
       ++next) {
    if (batch.excluded[next - block.first])
      continue;
    auto client = static_cast<size_t>(task.cohort[next]);
    size_t c = batch.count;
    batch.in = batch.broadcast;
    size_t j = 0; // the client's datasets, in the order of its data inputs
    for (const Computation::Input &in : task.computation->inputs) {
      if (in.role == Computation::Input::Role::ClientSeed) {
        batch.in.push_back(static_cast<uint64_t>(task.clientSeeds[next]));
      } else if (in.role == Computation::Input::Role::ClientState) {
        states_->unpack(states_->stateOf(statesFirst_ + task.cohort[next]),
                        batch.states[c]);
        toSlots(in.type, batch.states[c], batch.in);
      } else if (in.clients && j < inputs_.size()) {
        inputs_[j]->slots(client, batch.in,
                          &batch.scratch[c * inputs_.size() + j]);
        ++j;
      }
    }
    ctx.base = arenaInUse(ctx); // the arena limit is per client
    stage.client(&ctx, batch.in.data(), batch.outs[c].data());
    if (ctx.failed) {
      block.failures.push_back(
          {task.cohort[next],
           clientName(task.cohort[next]) + ": " + failureMessage(ctx)});
      batch.excluded[next - block.first] = true;
      ctx.failed = 0;
      continue;
    }
    if (stage.writesClientState) { // after the aggregations' values
      block.stateClients.push_back(statesFirst_ + task.cohort[next]);
      states_->packSlots(batch.outs[c].data() + batch.stateOffset,
                         block.states);
    }
    batch.outPointers[c] = batch.outs[c].data();
    batch.positions[c] = next;
    batch.population[c] =
        task.population.empty() ? task.cohort[next] : task.population[next];
    ++batch.count;
  }
}

absl::StatusOr<bool> LocalBackend::foldBatch(const StageTask &task,
                                             Context &ctx, Block &block,
                                             Batch &batch) {
  const Stage &stage = task.computation->stages[task.stage];
  auto name = [&](size_t c) {
    return clientName(task.cohort[batch.positions[c]]);
  };
  for (size_t i = 0; i < batch.partials.size(); ++i) {
    size_t culprit = SIZE_MAX;
    absl::Status s = batch.partials[i].add(
        batch.outPointers.data(), batch.count, batch.offsets[i], ctx, name,
        &culprit, batch.population.data());
    if (s.ok())
      continue;
    if (culprit == SIZE_MAX)
      return s; // the sum itself overflows: no client to leave out
    block.failures.push_back(
        {task.cohort[batch.positions[culprit]], std::string(s.message())});
    batch.excluded[batch.positions[culprit] - block.first] = true;
    return false;
  }
  for (size_t i = 0; i < block.secureInputs.size(); ++i) {
    if (!stage.aggregations[i].secure())
      continue;
    // Each client's own values: a partial of that client alone (its
    // range was checked when the batch was folded; a secure mean's
    // rounding is the same again).
    for (size_t c = 0; c < batch.count; ++c) {
      PartialAggregate one(stage.aggregations[i], nullptr);
      one.setRounding(roundingKey(task, i));
      if (absl::Status s = one.add(
              &batch.outPointers[c], 1, batch.offsets[i], ctx,
              [&](size_t) { return name(c); }, nullptr, &batch.population[c]);
          !s.ok())
        return s;
      block.secureInputs[i].push_back(one.integerSums());
    }
  }
  return true;
}

absl::Status LocalBackend::foldBlock(const StageTask &task, Context &ctx,
                                     Block &block) {
  const Stage &stage = task.computation->stages[task.stage];
  Batch batch(task, block, inputs_.size());
  // Folds the block's clients not excluded; a client whose value an
  // aggregation refuses is excluded and the block folded again, so a
  // failed client's contribution is left out whole.
  for (;;) {
    batch.partials.clear();
    block.stateClients.clear(); // the clients run again
    block.states.clear();
    for (size_t i = 0; i < stage.aggregations.size(); ++i) {
      batch.partials.emplace_back(stage.aggregations[i], task.zeros[i], &pool_);
      if (i < task.dpClips.size())
        batch.partials.back().setClip(task.dpClips[i]);
      batch.partials.back().setRounding(roundingKey(task, i));
    }
    block.secureInputs.assign(secure_.enabled ? stage.aggregations.size() : 0,
                              {});
    size_t next = block.first;
    bool folded = true;
    while (next < block.end && folded) {
      reset(ctx);
      runClients(task, ctx, block, batch, next);
      absl::StatusOr<bool> ok = foldBatch(task, ctx, block, batch);
      if (!ok.ok())
        return ok.status();
      folded = *ok;
    }
    reset(ctx);
    if (folded) {
      block.partials = std::move(batch.partials);
      return absl::OkStatus();
    }
  }
}

// A stage's counts: clients that reported, blocks and threads, and the
// bytes a real deployment would move (broadcasts down, values up).
static void countStage(const Stage &stage, size_t cohort, size_t blocks,
                       size_t threadsUsed, StageResult &result) {
  result.reported = static_cast<int64_t>(cohort - result.failures.size());
  result.stats.blocks = static_cast<int64_t>(blocks);
  result.stats.threadsUsed = static_cast<int64_t>(threadsUsed);
  for (const TypeDesc &t : stage.broadcasts)
    result.stats.bytesDown += t.bytes() * static_cast<int64_t>(cohort);
  for (const Aggregation &a : stage.aggregations)
    result.stats.bytesUp += a.value.bytes() * result.reported;
}

absl::Status LocalBackend::checkTask(const StageTask &task) const {
  size_t cohort = task.cohort.size();
  if (task.computation->readsClientSeed() && task.clientSeeds.size() != cohort)
    return absl::InvalidArgumentError(
        "'" + task.computation->name + "' reads client_seed(), but " +
        std::to_string(task.clientSeeds.size()) + " seeds came for " +
        std::to_string(cohort) + " clients");
  if ((task.computation->readsClientState() ||
       task.computation->stages[task.stage].writesClientState) &&
      !states_)
    return absl::FailedPreconditionError(
        "'" + task.computation->name +
        "' reads the client state, but no client states are kept here");
  return absl::OkStatus();
}

// The stage's result from its merged blocks: the partials (secure sums by
// SecAgg+), the failures in cohort order, and the failed clients' pending
// states dropped.
absl::StatusOr<StageResult> LocalBackend::collect(const StageTask &task,
                                                  OrderedMerge &merge) {
  const Stage &stage = task.computation->stages[task.stage];
  StageResult result;
  if (merge.total) {
    result.partials = std::move(*merge.total);
  } else {
    for (size_t i = 0; i < stage.aggregations.size(); ++i)
      result.partials.emplace_back(stage.aggregations[i], task.zeros[i],
                                   &pool_);
  }
  if (secure_.enabled)
    if (absl::Status s = secureAggregate(task, merge.secureInputs, result);
        !s.ok())
      return s;
  std::vector<ClientFailure> &failures = merge.failures;
  // Failures in cohort order (population indices ascend with it).
  std::stable_sort(failures.begin(), failures.end(),
                   [](const ClientFailure &a, const ClientFailure &b) {
                     return a.client < b.client;
                   });
  result.failures = std::move(failures);
  // The others' new states (staged as their blocks merged) wait for the
  // round to commit; failed clients keep the state they had, also one
  // written in an earlier stage of this round.
  // (Only the computation that writes states: eval's failures leave the
  // round's pending states, which a remote worker's eval reads, alone.)
  if (states_ && task.computation->writesClientState()) {
    std::vector<int64_t> failed;
    for (const ClientFailure &f : result.failures)
      failed.push_back(statesFirst_ + f.client); // ascending: sorted
    states_->discard(failed);
  }
  return result;
}

namespace {

// `f()`, with an exception (std::bad_alloc) as ResourceExhausted.
template <class F> absl::Status guarded(F &&f) {
  try {
    return f();
  } catch (const std::exception &e) {
    return absl::ResourceExhaustedError(std::string("out of memory (") +
                                        e.what() + ")");
  }
}

} // namespace

absl::StatusOr<StageResult> LocalBackend::runStage(const StageTask &task) {
  if (absl::Status s = checkTask(task); !s.ok())
    return s;
  const Stage &stage = task.computation->stages[task.stage];
  size_t cohort = task.cohort.size();
  if (stage.writesClientState)
    if (absl::Status s = guarded([&] {
          states_->reserveRound(cohort);
          return absl::OkStatus();
        });
        !s.ok())
      return s;
  size_t size = blockSize(cohort);
  size_t blocks = (cohort + size - 1) / size;
  size_t threads = std::min<size_t>(static_cast<size_t>(team_.size()), blocks);
  // Thread t starts with block t (so every thread of a run takes part),
  // then takes the next unclaimed one.
  std::atomic<size_t> nextBlock{threads};
  std::atomic<size_t> threadsUsed{0};
  std::mutex mutex;
  OrderedMerge merge;
  merge.clientStates = states_;
  absl::Status error;
  std::atomic<bool> stop{false};

  auto work = [&](size_t thread, Context &ctx) {
    bool first = true;
    while (!stop.load()) {
      size_t b = first ? thread : nextBlock.fetch_add(1);
      if (b >= blocks)
        return;
      if (first)
        threadsUsed.fetch_add(1);
      first = false;
      Block block;
      block.first = b * size;
      block.end = std::min(cohort, (b + 1) * size);
      // Out of memory for a client's data or values: an error, not an
      // abort (threads must not let exceptions escape).
      absl::Status s = guarded([&] { return foldBlock(task, ctx, block); });
      std::lock_guard<std::mutex> lock(mutex);
      if (s.ok())
        s = guarded([&] { return merge.add(b, std::move(block), ctx); });
      if (!s.ok()) {
        if (error.ok())
          error = s;
        stop = true;
        return;
      }
    }
  };
  team_.run(threads, work);
  if (!error.ok())
    return error;

  absl::StatusOr<StageResult> result = collect(task, merge);
  if (!result.ok())
    return result.status();
  // A client that needed gigabytes of temporaries does not keep them.
  team_.trim(uint64_t(256) << 20);
  countStage(stage, cohort, blocks, threadsUsed.load(), *result);
  return result;
}

} // namespace fedrt
