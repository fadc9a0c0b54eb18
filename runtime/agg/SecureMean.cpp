// federated_secure_mean's fixed-point encoding (fedrt/SecureMean.h).
#include "fedrt/SecureMean.h"

#include "fedrt/SplitMix.h"

#include <algorithm>
#include <cmath>

namespace fedrt::secure_mean {

namespace {

double levels(int bits) {
  return static_cast<double>((uint64_t(1) << bits) - 1);
}

} // namespace

double step(double range, int bits) { return 2 * range / levels(bits); }

uint64_t quantize(double v, double range, int bits, double u) {
  const double top = levels(bits);
  double clipped = std::clamp(v, -range, range);
  double t = std::min((clipped + range) / (2 * range) * top, top);
  double down = std::floor(t);
  auto level = static_cast<uint64_t>(down);
  if (u < t - down && down < top)
    ++level;
  return level;
}

double dequantizeSum(int64_t levels, int64_t clients, double range, int bits) {
  // 2 levels - clients (2^B - 1) is exact in 128 bits; Δ / 2 = R / (2^B - 1).
  __int128 twice = 2 * static_cast<__int128>(levels) -
                   static_cast<__int128>(clients) *
                       static_cast<__int128>((uint64_t(1) << bits) - 1);
  return static_cast<double>(twice) * (range / secure_mean::levels(bits));
}

uint64_t stageKey(uint64_t seed, int64_t round, size_t stage,
                  size_t aggregation) {
  uint64_t state = seed ^ 0x5ec3ea4ull;
  uint64_t key = splitmix64(state);
  for (uint64_t part :
       {static_cast<uint64_t>(round), uint64_t(stage), uint64_t(aggregation)}) {
    state = key ^ part;
    key = splitmix64(state);
  }
  return key;
}

uint64_t clientKey(uint64_t stageKey, int64_t client) {
  uint64_t state =
      stageKey ^ (static_cast<uint64_t>(client) * 0xd1342543de82ef95ull);
  return splitmix64(state);
}

double uniform(uint64_t clientKey, uint64_t k) {
  uint64_t state = clientKey + k * 0xbf58476d1ce4e5b9ull;
  return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

size_t weightLimbs(int bits) {
  return static_cast<size_t>((kWeightBits + bits - 1) / bits);
}

bool addWeight(double w, int bits, int64_t *limbs) {
  if (!std::isfinite(w) || w < 0 || w >= kWeightLimit)
    return false;
  // w x 2^16 is exact (a power of two); the rounding to an integer is
  // round-half-even, the same everywhere.
  auto fixed =
      static_cast<uint64_t>(std::nearbyint(std::ldexp(w, kWeightFractionBits)));
  if (fixed >> kWeightBits)
    return false;
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  for (size_t j = 0; j < weightLimbs(bits); ++j)
    limbs[j] += static_cast<int64_t>((fixed >> (j * bits)) & mask);
  return true;
}

double weightSum(const int64_t *limbs, size_t count, int bits) {
  __int128 sum = 0;
  for (size_t j = count; j-- > 0;)
    sum = (sum << bits) + limbs[j];
  return std::ldexp(static_cast<double>(sum), -kWeightFractionBits);
}

} // namespace fedrt::secure_mean
