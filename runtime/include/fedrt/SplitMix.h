// splitmix64 (Steele, Lea and Flood, 2014): the fixed generator behind
// cohort sampling and synthetic client data — plain integer arithmetic, so
// every platform and library draws the same numbers.
#pragma once

#include <cstdint>

namespace fedrt {

inline uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

} // namespace fedrt

namespace fedrt {

// client_seed() (docs/language.md, "Run context"): the seed of the client at
// `position` in the population (its rank among the clients that hold data,
// an order no cohort changes) in round `round` of a run with seed `seed`.
// Each input goes through a full splitmix64 step, so neighbouring rounds
// and positions give unrelated seeds; the program sees only the result,
// never the position. A fixed function of its three inputs: any thread
// count, worker layout or resume gives the same seeds.
inline int64_t clientSeed(uint64_t seed, int64_t round, int64_t position) {
  uint64_t state = seed ^ 0x243f6a8885a308d3ull; // this stream's domain
  uint64_t withRound = splitmix64(state) ^ static_cast<uint64_t>(round);
  uint64_t withPosition =
      splitmix64(withRound) ^ static_cast<uint64_t>(position);
  return static_cast<int64_t>(splitmix64(withPosition));
}

} // namespace fedrt
