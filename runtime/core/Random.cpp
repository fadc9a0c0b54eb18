// Deterministic normal samples for random_normal<T>(seed, stddev): element
// i is a function of (seed, i) only.
#include "fedrt/abi.h"

#include <cmath>

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A uniform double in (0, 1] from 53 random bits.
double uniform(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 1.0) * 0x1.0p-53;
}

double normal(int64_t seed, int64_t i) {
  uint64_t base = splitmix64(static_cast<uint64_t>(seed)) ^
                  (static_cast<uint64_t>(i) * 0xD1B54A32D192ED03ull);
  double u1 = uniform(splitmix64(base));
  double u2 = uniform(splitmix64(base + 1));
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

} // namespace

extern "C" {

void fedrt_random_normal_f32(int64_t seed, float stddev, float *out,
                             int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(stddev * normal(seed, i));
}

void fedrt_random_normal_f64(int64_t seed, double stddev, double *out,
                             int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = stddev * normal(seed, i);
}

} // extern "C"
