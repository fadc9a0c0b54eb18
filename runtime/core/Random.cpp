// Deterministic samples for random_normal<T>(seed, stddev) and
// random_uniform<T>(seed, low, high) (element i is a function of (seed, i)
// only), and the permutation of shuffle(data, seed).
#include "fedrt/abi.h"

#include <cmath>
#include <cstring>

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

// A uniform double in [0, 1) from 53 random bits of (seed, i).
double uniform01(int64_t seed, int64_t i) {
  uint64_t base =
      splitmix64(static_cast<uint64_t>(seed) ^ 0x5851F42D4C957F2Dull) ^
      (static_cast<uint64_t>(i) * 0xD1B54A32D192ED03ull);
  return static_cast<double>(splitmix64(base) >> 11) * 0x1.0p-53;
}

// dropout(x, rate, seed): keep where random_uniform's sample of (seed, i)
// is >= rate, scaled by 1 / (1 - rate) (inverted dropout, Srivastava et al.
// 2014, as PyTorch's and Keras's), so the expectation is x.
template <typename T>
void dropout(int64_t seed, T rate, const T *x, T *out, int64_t n) {
  T scale = rate < T(1) ? T(1) / (T(1) - rate) : T(0);
  for (int64_t i = 0; i < n; ++i)
    out[i] =
        uniform01(seed, i) >= static_cast<double>(rate) ? x[i] * scale : T(0);
}

} // namespace

extern "C" {

void fedrt_random_uniform_f32(int64_t seed, float low, float high, float *out,
                              int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    auto x = static_cast<float>(low + (static_cast<double>(high) - low) *
                                          uniform01(seed, i));
    out[i] = x < high ? x : low; // rounding up to `high` stays in range
  }
}

void fedrt_random_uniform_f64(int64_t seed, double low, double high,
                              double *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double x = low + (high - low) * uniform01(seed, i);
    out[i] = x < high ? x : low;
  }
}

void fedrt_shuffle_rows(int64_t seed, int64_t n, int64_t *rows) {
  for (int64_t i = 0; i < n; ++i)
    rows[i] = i;
  uint64_t key =
      splitmix64(static_cast<uint64_t>(seed) ^ 0x9E6C63D0676A9A99ull);
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t r = splitmix64(key + static_cast<uint64_t>(i));
    auto j = static_cast<int64_t>(
        (static_cast<unsigned __int128>(r) * static_cast<uint64_t>(i + 1)) >>
        64);
    int64_t t = rows[i];
    rows[i] = rows[j];
    rows[j] = t;
  }
}

void fedrt_gather_rows(const void *src, void *dst, const int64_t *rows,
                       int64_t n, int64_t row_bytes) {
  const auto *from = static_cast<const unsigned char *>(src);
  auto *to = static_cast<unsigned char *>(dst);
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(to + i * row_bytes, from + rows[i] * row_bytes,
                static_cast<size_t>(row_bytes));
}

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

void fedrt_dropout_f32(int64_t seed, float rate, const float *x, float *out,
                       int64_t n) {
  dropout(seed, rate, x, out, n);
}

void fedrt_dropout_f64(int64_t seed, double rate, const double *x, double *out,
                       int64_t n) {
  dropout(seed, rate, x, out, n);
}

} // extern "C"
