// Runs one computation of the plan: for each stage, the server fn, then the
// client fn of every client of the cohort on a pool of threads, folding
// each client's values into its aggregations as soon as it finishes; then
// the server update. The cohort is cut into fixed blocks (their size
// depends only on the cohort size) and block partials merge in block
// order, so any thread count gives bit-identical results, and memory is
// O(threads x model), not O(clients x model).
#pragma once

#include "fedrt/Aggregator.h"
#include "fedrt/ClientData.h"
#include "fedrt/Context.h"
#include "fedrt/Plan.h"
#include "fedrt/Value.h"

#include <memory>
#include <string>
#include <vector>

namespace fedrt {

struct RunStats {
  int64_t bytesDown = 0; // broadcast bytes x clients
  int64_t bytesUp = 0;   // aggregated value bytes x clients
  int64_t blocks = 0;      // most blocks of the cohort in one stage
  int64_t threadsUsed = 0; // most threads that ran a block in one stage
};

class WorkerPool;

class Executor {
public:
  explicit Executor(int threads);
  ~Executor();

  int threads() const { return threads_; }

  // `server` holds the computation's server inputs in order; `clients` one
  // dataset per client input, in order; `cohort` the client indices that
  // take part. False with `error` (naming the client) on any failure.
  bool run(const Computation &comp,
           const std::vector<const HostValue *> &server,
           const std::vector<const ClientDataset *> &clients,
           const std::vector<int64_t> &cohort, std::vector<HostValue> &results,
           std::string &error, RunStats *stats = nullptr);

  // Clients per block for a cohort of `clients` (at most 16 blocks).
  static size_t blockSize(size_t clients);

private:
  int threads_;
  std::vector<std::unique_ptr<Context>> contexts_; // one per thread
  std::unique_ptr<WorkerPool> workers_;            // threads_ - 1 workers
  Context serverContext_;
  BufferPool pool_; // partial aggregates' buffers, reused across rounds
};

} // namespace fedrt
