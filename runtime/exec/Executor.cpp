// The executor (fedrt/Executor.h).
#include "fedrt/Executor.h"
#include "fedrt/Aggregator.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace fedrt {

namespace {

std::string failure(const Context &ctx) {
  return ctx.what + " (got " + std::to_string(ctx.got) + ", expected " +
         std::to_string(ctx.expected) + ")";
}

int64_t valueBytes(const TypeDesc &t) {
  if (t.kind == TypeDesc::Kind::Tensor)
    return t.elements() * static_cast<int64_t>(elementSize(t.element));
  int64_t n = 0;
  for (const TypeDesc &c : t.children)
    n += valueBytes(c);
  return n;
}

using Partials = std::vector<PartialAggregate>;

} // namespace

// Threads started once per executor (a round's stage would otherwise pay
// for starting them every time): run(n, job) runs job(0) on the caller and
// job(1..n-1) on workers, and returns when all have finished.
class WorkerPool {
public:
  explicit WorkerPool(size_t workers) {
    for (size_t i = 1; i <= workers; ++i)
      threads_.emplace_back([this, i] { serve(i); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (std::thread &t : threads_)
      t.join();
  }

  void run(size_t n, const std::function<void(size_t)> &job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      active_ = n;
      pending_ = n - 1;
      ++generation_;
    }
    start_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

private:
  void serve(size_t index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(size_t)> *job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_)
          return;
        seen = generation_;
        if (index >= active_)
          continue;
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0)
        done_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_, done_;
  const std::function<void(size_t)> *job_ = nullptr;
  size_t active_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

Executor::Executor(int threads) : threads_(threads < 1 ? 1 : threads) {
  for (int i = 0; i < threads_; ++i)
    contexts_.push_back(std::make_unique<Context>());
  if (threads_ > 1)
    workers_ = std::make_unique<WorkerPool>(static_cast<size_t>(threads_ - 1));
}

Executor::~Executor() = default;

size_t Executor::blockSize(size_t clients) {
  return clients <= 16 ? 1 : (clients + 15) / 16;
}

bool Executor::run(const Computation &comp,
                   const std::vector<const HostValue *> &server,
                   const std::vector<const ClientDataset *> &clients,
                   const std::vector<int64_t> &cohort,
                   std::vector<HostValue> &results, std::string &error,
                   RunStats *stats) {
  std::vector<const Computation::Input *> serverInputs, clientInputs;
  for (const Computation::Input &in : comp.inputs)
    (in.clients ? clientInputs : serverInputs).push_back(&in);
  std::vector<uint64_t> serverSlots;
  for (size_t i = 0; i < serverInputs.size(); ++i)
    toSlots(serverInputs[i]->type, *server[i], serverSlots);
  std::vector<HostValue> aggregated;
  std::vector<const TypeDesc *> aggregatedTypes;

  auto callServer = [&](StageFn fn, const std::vector<const TypeDesc *> &outs,
                        std::vector<HostValue> &values) {
    std::vector<uint64_t> in = serverSlots;
    for (size_t i = 0; i < aggregated.size(); ++i)
      toSlots(*aggregatedTypes[i], aggregated[i], in);
    size_t count = 1;
    for (const TypeDesc *t : outs)
      count += t->slots();
    std::vector<uint64_t> out(count, 0);
    reset(serverContext_);
    fn(&serverContext_, in.data(), out.data());
    if (serverContext_.failed) {
      error = "server: " + failure(serverContext_);
      return false;
    }
    size_t next = 0;
    for (const TypeDesc *t : outs)
      values.push_back(fromSlots(*t, out.data(), next));
    reset(serverContext_);
    return true;
  };

  for (const Stage &stage : comp.stages) {
    // Server prepare: the broadcasts, then the zeros of custom aggregations.
    std::vector<const TypeDesc *> outs;
    for (const TypeDesc &t : stage.broadcasts)
      outs.push_back(&t);
    for (const Aggregation &a : stage.aggregations)
      if (a.kind == Aggregation::Kind::Custom)
        outs.push_back(&a.accumulator);
    std::vector<HostValue> prepared;
    if (!callServer(stage.server, outs, prepared))
      return false;
    std::vector<uint64_t> broadcastSlots;
    for (size_t i = 0; i < stage.broadcasts.size(); ++i)
      toSlots(stage.broadcasts[i], prepared[i], broadcastSlots);
    std::vector<const HostValue *> zeros;
    size_t nextZero = stage.broadcasts.size();
    for (const Aggregation &a : stage.aggregations)
      zeros.push_back(a.kind == Aggregation::Kind::Custom
                          ? &prepared[nextZero++]
                          : nullptr);
    auto freshPartials = [&] {
      Partials p;
      for (size_t i = 0; i < stage.aggregations.size(); ++i)
        p.emplace_back(stage.aggregations[i], zeros[i], &pool_);
      return p;
    };
    size_t outSlots = 1;
    for (const Aggregation &a : stage.aggregations)
      outSlots += a.clientSlots();

    // Client work: blocks of the cohort, merged in block order.
    size_t block = blockSize(cohort.size());
    size_t blocks = (cohort.size() + block - 1) / block;
    // Thread t starts with block t (so every thread of a run takes part),
    // then takes the next unclaimed one.
    size_t threads = std::min<size_t>(static_cast<size_t>(threads_), blocks);
    std::atomic<size_t> nextBlock{threads};
    std::atomic<size_t> threadsUsed{0};
    std::mutex mutex;
    std::map<size_t, Partials> done; // finished blocks awaiting their turn
    size_t merged = 0;
    std::optional<Partials> total;
    std::string firstError;
    size_t firstErrorClient = SIZE_MAX;
    std::atomic<bool> stop{false};

    // Clients whose values are folded together (their outputs stay in the
    // thread's arena until then): up to 32, at most ~256 MiB of values.
    // Results do not depend on it (PartialAggregate::add).
    int64_t valueSize = 1;
    for (const Aggregation &a : stage.aggregations)
      valueSize += valueBytes(a.value);
    size_t batch = static_cast<size_t>(
        std::clamp<int64_t>((int64_t(256) << 20) / valueSize, 1, 32));
    constexpr uint64_t kBatchArena = uint64_t(256) << 20;
    std::vector<size_t> offsets; // of each aggregation's value in `out`
    for (size_t i = 0, offset = 0; i < stage.aggregations.size(); ++i) {
      offsets.push_back(offset);
      offset += stage.aggregations[i].clientSlots();
    }
    auto clientName = [&](size_t client) {
      return clients.empty() ? "client " + std::to_string(client)
                             : "client '" + clients[0]->name(client) + "'";
    };

    auto workBlocks = [&](Context &ctx, size_t thread) {
      std::vector<uint64_t> in;
      std::vector<std::vector<uint64_t>> outs(batch,
                                              std::vector<uint64_t>(outSlots));
      std::vector<const uint64_t *> outPointers(batch);
      // Generated data of synthetic clients, per client of the batch.
      std::vector<Columns> scratch(batch * clients.size());
      std::string localError;
      bool firstBlock = true;
      while (!stop.load()) {
        size_t b = firstBlock ? thread : nextBlock.fetch_add(1);
        if (b >= blocks)
          return;
        if (firstBlock)
          threadsUsed.fetch_add(1);
        firstBlock = false;
        Partials partial = freshPartials();
        size_t failedAt = SIZE_MAX;
        size_t end = std::min(cohort.size(), (b + 1) * block);
        size_t first = b * block;
        while (first < end && failedAt == SIZE_MAX) {
          size_t count = 0;
          reset(ctx);
          // Up to `batch` clients; fewer once their temporaries pass
          // kBatchArena (folding early changes no result).
          while (count < batch && first + count < end &&
                 (count == 0 || arenaInUse(ctx) < kBatchArena)) {
            size_t c = count;
            auto client = static_cast<size_t>(cohort[first + c]);
            in = broadcastSlots;
            for (size_t j = 0; j < clients.size(); ++j)
              clients[j]->slots(client, in, &scratch[c * clients.size() + j]);
            ctx.base = arenaInUse(ctx); // the arena limit is per client
            stage.client(&ctx, in.data(), outs[c].data());
            if (ctx.failed) {
              localError = clientName(client) + ": " + failure(ctx);
              failedAt = first + c;
              break;
            }
            outPointers[c] = outs[c].data();
            ++count;
          }
          if (failedAt != SIZE_MAX)
            break;
          auto name = [&, first](size_t c) {
            return clientName(static_cast<size_t>(cohort[first + c]));
          };
          for (size_t i = 0; i < partial.size(); ++i)
            if (!partial[i].add(outPointers.data(), count, offsets[i], ctx,
                                name, localError)) {
              failedAt = first;
              break;
            }
          first += count;
        }
        reset(ctx);
        std::lock_guard<std::mutex> lock(mutex);
        if (failedAt != SIZE_MAX) {
          if (failedAt < firstErrorClient) {
            firstErrorClient = failedAt;
            firstError = localError;
          }
          stop = true;
          return;
        }
        done.emplace(b, std::move(partial));
        while (!done.empty() && done.begin()->first == merged) {
          Partials next = std::move(done.begin()->second);
          done.erase(done.begin());
          ++merged;
          if (!total) {
            total = std::move(next);
            continue;
          }
          for (size_t i = 0; i < next.size(); ++i)
            if (!(*total)[i].merge(next[i], ctx, localError)) {
              firstError = localError;
              firstErrorClient = 0;
              stop = true;
              return;
            }
        }
      }
    };
    auto work = [&](Context &ctx, size_t thread) {
      try {
        workBlocks(ctx, thread);
      } catch (const std::exception &e) {
        // Out of memory for a client's data or values: an error, not an
        // abort (threads must not let exceptions escape).
        std::lock_guard<std::mutex> lock(mutex);
        if (firstError.empty())
          firstError = std::string("out of memory (") + e.what() + ")";
        firstErrorClient = 0;
        stop = true;
      }
    };
    if (threads <= 1)
      work(*contexts_[0], 0);
    else
      workers_->run(threads, [&](size_t t) { work(*contexts_[t], t); });
    if (!firstError.empty()) {
      error = firstError;
      return false;
    }
    if (!total)
      total = freshPartials();
    for (size_t i = 0; i < stage.aggregations.size(); ++i) {
      HostValue result;
      if (!(*total)[i].report(result, serverContext_, error))
        return false;
      aggregated.push_back(std::move(result));
      aggregatedTypes.push_back(&stage.aggregations[i].result);
    }
    if (stats) {
      stats->threadsUsed = std::max<int64_t>(
          stats->threadsUsed, static_cast<int64_t>(threadsUsed.load()));
      stats->blocks = std::max<int64_t>(stats->blocks,
                                        static_cast<int64_t>(blocks));
      for (const TypeDesc &t : stage.broadcasts)
        stats->bytesDown += valueBytes(t) * static_cast<int64_t>(cohort.size());
      for (const Aggregation &a : stage.aggregations)
        stats->bytesUp +=
            valueBytes(a.value) * static_cast<int64_t>(cohort.size());
    }
  }
  // A client that needed gigabytes of temporaries does not keep them.
  for (auto &ctx : contexts_)
    trim(*ctx, uint64_t(256) << 20);
  std::vector<const TypeDesc *> outs;
  for (const TypeDesc &t : comp.results)
    outs.push_back(&t);
  results.clear();
  return callServer(comp.update, outs, results);
}

} // namespace fedrt
