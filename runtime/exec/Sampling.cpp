// Cohort sampling: a partial Fisher-Yates shuffle driven by splitmix64
// (fixed arithmetic, the same on every platform and library).
#include "fedrt/Sampling.h"
#include "fedrt/SplitMix.h"

#include <algorithm>

namespace fedrt {

namespace {

// Uniform in [0, n) without modulo bias (Lemire's method, rejection).
uint64_t below(uint64_t n, uint64_t &state) {
  for (;;) {
    unsigned __int128 m = static_cast<unsigned __int128>(splitmix64(state)) * n;
    auto low = static_cast<uint64_t>(m);
    if (low >= n || low >= (0 - n) % n)
      return static_cast<uint64_t>(m >> 64);
  }
}

} // namespace

std::vector<int64_t> sampleCohort(const std::vector<int64_t> &population,
                                  int64_t k, uint64_t seed, int64_t round) {
  std::vector<int64_t> pool = population;
  auto n = static_cast<int64_t>(pool.size());
  if (k >= n || k < 0)
    return pool;
  uint64_t state = seed * 0x9e3779b97f4a7c15ull ^
                   (static_cast<uint64_t>(round) + 0x632be59bd9b4e019ull);
  splitmix64(state);
  for (int64_t i = 0; i < k; ++i) {
    auto j =
        i + static_cast<int64_t>(below(static_cast<uint64_t>(n - i), state));
    std::swap(pool[static_cast<size_t>(i)], pool[static_cast<size_t>(j)]);
  }
  pool.resize(static_cast<size_t>(k));
  // Ascending order: the cohort's aggregation order does not depend on
  // the draw order.
  std::sort(pool.begin(), pool.end());
  return pool;
}

} // namespace fedrt
