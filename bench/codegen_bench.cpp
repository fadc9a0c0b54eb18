// Generated code against the same computations written directly with Eigen
// (the peer a C++ programmer would write), in one run. Ratios are printed
// by bench/run_codegen_bench.py.
#include "fedrt/Context.h"

#include <Eigen/Dense>
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

extern "C" {
void fedrt_entry_chain(fedrt_context *, const uint64_t *, uint64_t *);
void fedrt_entry_logreg_step(fedrt_context *, const uint64_t *, uint64_t *);
}

namespace {

constexpr int kChain = 65536;
using Matrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<float> randomVector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

uint64_t ptr(const void *p) { return reinterpret_cast<uint64_t>(p); }

void BM_ChainGenerated(benchmark::State &state) {
  auto a = randomVector(kChain, 1), x = randomVector(kChain, 2),
       y = randomVector(kChain, 3);
  fedrt_context ctx;
  uint64_t args[] = {ptr(a.data()), kChain,        ptr(x.data()),
                     kChain,        ptr(y.data()), kChain};
  uint64_t results[2];
  for (auto _ : state) {
    fedrt::reset(ctx);
    fedrt_entry_chain(&ctx, args, results);
    benchmark::DoNotOptimize(results[0]);
  }
  state.SetBytesProcessed(state.iterations() * kChain * 4 * 4);
}

void BM_ChainEigen(benchmark::State &state) {
  auto a = randomVector(kChain, 1), x = randomVector(kChain, 2),
       y = randomVector(kChain, 3);
  Eigen::Map<const Eigen::ArrayXf> A(a.data(), kChain), X(x.data(), kChain),
      Y(y.data(), kChain);
  Eigen::ArrayXf out(kChain);
  for (auto _ : state) {
    out = (2.0f * A * X + Y - 1.0f).max(0.0f);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kChain * 4 * 4);
}

struct StepData {
  std::vector<float> w = randomVector(64 * 10, 4), b = randomVector(10, 5),
                     x = randomVector(32 * 64, 6);
  std::vector<int32_t> y;
  StepData() {
    for (int i = 0; i < 32; ++i)
      y.push_back(i % 10);
  }
};

void BM_LogRegStepGenerated(benchmark::State &state) {
  StepData d;
  fedrt_context ctx;
  uint64_t args[] = {ptr(d.w.data()), 64, 10, ptr(d.b.data()), 10,
                     ptr(d.x.data()), 32, 64, ptr(d.y.data()), 32};
  uint64_t results[5];
  for (auto _ : state) {
    fedrt::reset(ctx);
    fedrt_entry_logreg_step(&ctx, args, results);
    benchmark::DoNotOptimize(results[0]);
  }
}

void BM_LogRegStepEigen(benchmark::State &state) {
  StepData d;
  Eigen::Map<const Matrix> W(d.w.data(), 64, 10), X(d.x.data(), 32, 64);
  Eigen::Map<const Eigen::RowVectorXf> B(d.b.data(), 10);
  Matrix newW(64, 10);
  Eigen::RowVectorXf newB(10);
  Matrix z(32, 10), onehot(32, 10);
  for (auto _ : state) {
    // one_hot is part of the step, as in the .fed code.
    onehot.setZero();
    for (int i = 0; i < 32; ++i)
      onehot(i, d.y[i]) = 1.0f;
    z.noalias() = X * W;
    z.rowwise() += B;
    Eigen::VectorXf max = z.rowwise().maxCoeff();
    z = (z.colwise() - max).array().exp().matrix();
    Eigen::VectorXf sum = z.rowwise().sum();
    z = z.array().colwise() / sum.array();
    z = (z - onehot) / 32.0f;
    newW.noalias() = W - 0.05f * (X.transpose() * z);
    newB = B - 0.05f * z.colwise().sum();
    benchmark::DoNotOptimize(newW.data());
    benchmark::DoNotOptimize(newB.data());
  }
}

} // namespace

BENCHMARK(BM_ChainGenerated);
BENCHMARK(BM_ChainEigen);
BENCHMARK(BM_LogRegStepGenerated);
BENCHMARK(BM_LogRegStepEigen);
BENCHMARK_MAIN();
