// Aggregation throughput (DESIGN §8): the weighted mean of N client updates
// of P float32 values through libfedrt's aggregator, against a read-only
// streaming kernel over the same buffers (the machine's read limit,
// measured in the same run), and through the executor with 1 and 2
// threads; and federated_dp_mean's (weighted, every client clipped, noise
// z = 1) fold and release, against the weighted mean's. Prints one JSON
// object per (N, P) on stdout.
//
// usage: agg_bench N P [REPETITIONS]
#include "fedrt/Aggregator.h"
#include "fedrt/ClientData.h"
#include "fedrt/DpMechanism.h"
#include "fedrt/Executor.h"
#include "fedrt/LocalBackend.h"
#include "plan.pb.h"

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace fedrt;

namespace {

// The client fn of the executor runs: the record itself, and its weight.
void valueAndWeight(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
  float w = 1.0f + std::floor(7.0f * reinterpret_cast<const float *>(in[0])[0]);
  uint32_t bits;
  std::memcpy(&bits, &w, 4);
  out[2] = bits;
}
void noServer(fedrt_context *, const uint64_t *, uint64_t *) {}
void passThrough(fedrt_context *, const uint64_t *in, uint64_t *out) {
  out[0] = in[0];
  out[1] = in[1];
}

// The data both this and bench/peers/aggregate_numpy.py use:
// x[c, k] = ((c * P + k) * 2654435761 mod 2^32) / 2^32,
// w[c] = 1 + floor(7 x[c, 0]).
void fill(float *x, int64_t c, int64_t p) {
  for (int64_t k = 0; k < p; ++k) {
    uint64_t i = static_cast<uint64_t>(c * p + k);
    x[k] =
        static_cast<float>((i * 2654435761ull) % 4294967296ull) / 4294967296.0f;
  }
}

template <class F> double best(int reps, F &&f) {
  double t = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    t = std::min(t, std::chrono::duration<double>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  return t;
}

volatile double sink;

// Sums every value of clients [from, to): each byte read once, SIMD.
double readAll(const std::vector<const float *> &x, int64_t p, size_t from,
               size_t to) {
  double total = 0;
  for (size_t c = from; c < to; ++c)
    total += Eigen::Map<const Eigen::ArrayXf>(x[c], p).sum();
  return total;
}

// A plan whose main(data) = federated_mean(data, weight: ...) over values
// of `type`, with this file's stage functions.
absl::Status weightedMeanPlan(const TypeDesc &type, PlanTable &plan) {
  proto::Plan spec;
  spec.set_version(proto::PLAN_VERSION_CURRENT);
  spec.set_main("main");
  proto::Computation *c = spec.add_computations();
  c->set_name("main");
  proto::Input *in = c->add_inputs();
  in->set_name("data");
  in->set_at_clients(true);
  type.toProto(*in->mutable_type());
  proto::Stage *st = c->add_stages();
  st->set_client_fn(1);
  proto::Aggregation *wmean = st->add_aggregations();
  wmean->set_kind(proto::WEIGHTED_MEAN);
  type.toProto(*wmean->mutable_value());
  type.toProto(*wmean->mutable_result());
  c->set_update_fn(2);
  type.toProto(*c->add_results());
  std::string serialized;
  spec.SerializeToString(&serialized);
  static const StageFn functions[] = {noServer, valueAndWeight, passThrough};
  return loadPlan(serialized.data(), serialized.size(), functions, 3, plan);
}

// n clients of one record each, holding f32[p] values.
ClientDataset syntheticClients(const TypeDesc &type, int64_t n, int64_t p) {
  ClientDataset data;
  data.type = type;
  data.record = data.type;
  data.layout = recordLayout(data.record);
  for (int64_t c = 0; c < n; ++c) {
    Columns col;
    col.records = 1;
    col.columns.emplace_back(static_cast<size_t>(p) * 4);
    fill(reinterpret_cast<float *>(col.columns[0].data()), c, p);
    data.clients.push_back(std::move(col));
    data.names.push_back(std::to_string(c));
  }
  return data;
}

// Every client's output slots, as the client stage writes them, and the
// pointers to them the aggregator folds.
struct ClientOutputs {
  std::vector<std::vector<uint64_t>> slots;
  std::vector<const uint64_t *> pointers;
};

ClientOutputs clientOutputs(const std::vector<const float *> &x, int64_t p) {
  ClientOutputs out;
  for (const float *values : x) {
    std::vector<uint64_t> s(3);
    uint64_t in[2] = {reinterpret_cast<uint64_t>(values),
                      static_cast<uint64_t>(p)};
    valueAndWeight(nullptr, in, s.data());
    out.slots.push_back(s);
  }
  for (auto &s : out.slots)
    out.pointers.push_back(s.data());
  return out;
}

void foldAll(PartialAggregate &partial, const ClientOutputs &clients,
             Context &ctx) {
  auto name = [](size_t c) { return std::to_string(c); };
  (void)partial.add(clients.pointers.data(), clients.pointers.size(), 0, ctx,
                    name);
}

// The aggregator alone: every client's slots folded as one batch; the
// best of `reps` seconds, the mean in `mean`.
double aggregatorTime(const Aggregation &agg, const ClientOutputs &clients,
                      int reps, HostValue &mean) {
  Context ctx;
  BufferPool pool; // as the executor keeps one across rounds
  return best(reps, [&] {
    PartialAggregate partial(agg, nullptr, &pool);
    foldAll(partial, clients, ctx);
    mean = *partial.report(ctx);
  });
}

// The DP mean of the same values: one more pass over each client for its
// norm, the clip as its weight, N(0, 1) noise on the P sums; the best of
// `reps` seconds.
double dpMeanTime(const Aggregation &agg, const ClientOutputs &clients,
                  int reps) {
  Context ctx;
  BufferPool pool;
  Aggregation dpAgg = agg;
  dpAgg.kind = Aggregation::Kind::DpMean;
  dpAgg.dp.clip = 1.0;
  dpAgg.dp.noiseMultiplier = 1.0;
  dpAgg.dp.maxWeight = 8;
  DpConfig dpConfig;
  dpConfig.seed = 1;
  std::unique_ptr<DpMechanism> dp = *DpMechanism::create(dpConfig);
  auto n = static_cast<int64_t>(clients.pointers.size());
  return best(reps, [&] {
    dp->beginRound(1);
    dp->setCohort(n, n, 10 * n);
    PartialAggregate partial(dpAgg, nullptr, &pool);
    partial.setClip(dp->clip(dpAgg));
    foldAll(partial, clients, ctx);
    sink = dp->release(dpAgg, partial)->leaves[0].as<float>()[0];
  });
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: agg_bench N P [REPETITIONS]\n");
    return 2;
  }
  int64_t n = std::stoll(argv[1]), p = std::stoll(argv[2]);
  int reps = argc > 3 ? std::stoi(argv[3]) : 5;
  TypeDesc type = *parseType("f32[" + std::to_string(p) + "]");
  PlanTable plan;
  if (absl::Status s = weightedMeanPlan(type, plan); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  ClientDataset data = syntheticClients(type, n, p);
  std::vector<const float *> x;
  std::vector<int64_t> cohort;
  for (const Columns &col : data.clients) {
    cohort.push_back(static_cast<int64_t>(x.size()));
    x.push_back(reinterpret_cast<const float *>(col.columns[0].data()));
  }
  double bytes = static_cast<double>(n) * static_cast<double>(p) * 4;

  double read1 = best(reps, [&] { sink = readAll(x, p, 0, x.size()); });
  double read2 = best(reps, [&] {
    double a = 0, b = 0;
    std::thread other([&] { b = readAll(x, p, x.size() / 2, x.size()); });
    a = readAll(x, p, 0, x.size() / 2);
    other.join();
    sink = a + b;
  });
  HostValue mean;
  const Aggregation &agg = plan.main->stages[0].aggregations[0];
  ClientOutputs clients = clientOutputs(x, p);
  double aggregator = aggregatorTime(agg, clients, reps, mean);
  double dpTime = dpMeanTime(agg, clients, reps);
  auto executorTime = [&](int threads) {
    ThreadTeam team(threads);
    LocalBackend clients(team, {&data});
    Executor executor(clients);
    return best(reps, [&] {
      absl::StatusOr<std::vector<HostValue>> r =
          executor.run(*plan.main, {}, cohort);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
        std::exit(1);
      }
    });
  };
  double exec1 = executorTime(1), exec2 = executorTime(2);
  std::printf("{\"n\": %lld, \"p\": %lld, \"bytes\": %.0f, \"read1_s\": %.6g, "
              "\"read2_s\": %.6g, \"aggregator_s\": %.6g, \"executor1_s\": "
              "%.6g, \"executor2_s\": %.6g, \"dp_s\": %.6g, \"checksum\": "
              "%.9g}\n",
              static_cast<long long>(n), static_cast<long long>(p), bytes,
              read1, read2, aggregator, exec1, exec2, dpTime,
              static_cast<double>(mean.leaves[0].as<float>()[p / 2]));
  return 0;
}
