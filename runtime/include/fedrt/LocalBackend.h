// Client work on this machine's threads: the simulated clients of
// `simulate`, and a remote worker's own clients. The cohort is cut into
// fixed blocks (their size depends only on the cohort size); each thread
// folds whole blocks into partial aggregates, up to 32 clients per batch,
// and block partials merge in block order — so any thread count gives
// bit-identical results, and memory is O(threads x model), not O(clients x
// model).
#pragma once

#include "fedrt/ClientBackend.h"
#include "fedrt/ClientData.h"
#include "fedrt/ClientState.h"
#include "fedrt/Context.h"

#include <functional>
#include <memory>
#include <vector>

namespace fedrt {

// Worker threads and their invocation contexts, shared by the backends of
// one process (training and evaluation data run on the same threads).
class ThreadTeam {
public:
  explicit ThreadTeam(int threads);
  ~ThreadTeam();
  int size() const { return static_cast<int>(contexts_.size()); }
  // Runs job(t) for t in [0, n) concurrently, job 0 on the caller; each t
  // with its own context (n <= size()). Returns when all have finished.
  void run(size_t n, const std::function<void(size_t, Context &)> &job);
  // Frees each context's arena beyond `keep` bytes.
  void trim(uint64_t keep);

private:
  struct Pool;
  std::unique_ptr<Pool> pool_; // size() - 1 workers
  std::vector<std::unique_ptr<Context>> contexts_;
};

// Secure aggregation of federated_secure_sum in simulation
// (docs/secure-aggregation.md): every client is its own SecAgg+ party,
// running the same protocol code as remote workers, in this process.
struct SecureAggregationOptions {
  bool enabled = false;
  uint32_t threshold = 0;  // t; 0: ⌈2(k + 1)/3⌉
  uint32_t neighbours = 0; // k; 0: 2⌈log2 n⌉ (capped at n - 1)
  // The run's seed: ring order and key contexts, and the rounding streams
  // of federated_secure_mean (which also a worker's backend, enabled or
  // not, needs).
  uint64_t seed = 0;
};

class LocalBackend : public ClientBackend {
public:
  // `inputs`: the client datasets of the computations it runs, one per
  // client input in order (all of the same clients).
  LocalBackend(ThreadTeam &team, std::vector<const ClientDataset *> inputs);

  absl::StatusOr<StageResult> runStage(const StageTask &task) override;
  std::string clientName(int64_t client) const override;

  void setSecureAggregation(SecureAggregationOptions options) {
    secure_ = options;
  }
  // Where the clients' states live (a process with client state): read by
  // the client fns, their new states staged for the round's commit. Client
  // c's state is the store's `first + c` (simulate --layout: one store of
  // the population for the workers' backends).
  void setClientStates(ClientStateStore *states, int64_t first = 0) {
    states_ = states;
    statesFirst_ = first;
  }

  // Clients per block for a cohort of `clients` (at most 16 blocks).
  static size_t blockSize(size_t clients);
  // The stage key of aggregation `aggregation`'s secure-mean rounding
  // (fedrt/SecureMean.h).
  uint64_t roundingKey(const StageTask &task, size_t aggregation) const;

private:
  struct Block;
  struct OrderedMerge;
  struct Batch;
  // The task's seeds and client states are there when its computation
  // reads them (else InvalidArgument, FailedPrecondition).
  absl::Status checkTask(const StageTask &task) const;
  // Folds the clients of one block; failed clients are left out whole.
  absl::Status foldBlock(const StageTask &task, Context &ctx, Block &block);
  // Runs the client fn for the block's next clients from cohort position
  // `next` that are not excluded, as many as `batch` holds; a client
  // whose fn fails is recorded and excluded.
  void runClients(const StageTask &task, Context &ctx, Block &block,
                  Batch &batch, size_t &next);
  // Folds the batch's outputs into the block's partials and, for secure
  // sums, keeps each client's own values; false when an aggregation
  // refused a client's value (then excluded: the block folds again).
  absl::StatusOr<bool> foldBatch(const StageTask &task, Context &ctx,
                                 Block &block, Batch &batch);
  // The stage's result from its merged blocks.
  absl::StatusOr<StageResult> collect(const StageTask &task,
                                      OrderedMerge &merge);
  // Replaces the secure sums of `result` by SecAgg+ over `inputs` (per
  // aggregation, each reporting client's integer values in cohort order;
  // SecureAggregation.cpp).
  absl::Status
  secureAggregate(const StageTask &task,
                  const std::vector<std::vector<std::vector<int64_t>>> &inputs,
                  StageResult &result);

  ThreadTeam &team_;
  std::vector<const ClientDataset *> inputs_;
  BufferPool pool_; // partial aggregates' buffers, reused across rounds
  SecureAggregationOptions secure_;
  ClientStateStore *states_ = nullptr;
  int64_t statesFirst_ = 0;
};

} // namespace fedrt
