// The k-regular neighbour graph of SecAgg+ (Bell et al. 2020, §3): parties
// sit on a ring in a seeded random order and each is joined to the k/2
// nearest on either side (a Harary graph H(k, n)), so a party shares keys
// and masks with k = O(log n) others instead of all n - 1. With k >= n - 1
// it is the complete graph of the original SecAgg.
#pragma once

#include <cstdint>
#include <vector>

namespace fedrt::secagg {

class NeighbourGraph {
public:
  // `parties`: the ids of the parties, any order; `neighbours`: k (an odd
  // k is rounded up to even; capped at n - 1); `seed` fixes the ring order.
  NeighbourGraph(std::vector<uint32_t> parties, uint32_t neighbours,
                 uint64_t seed);

  // The neighbours of `party` (ascending ids, itself excluded); empty for
  // an unknown party.
  const std::vector<uint32_t> &of(uint32_t party) const;
  bool adjacent(uint32_t a, uint32_t b) const;
  // The degree every party has.
  uint32_t degree() const { return degree_; }

private:
  std::vector<uint32_t> ids_;                     // ascending
  std::vector<std::vector<uint32_t>> neighbours_; // by position in ids_
  uint32_t degree_ = 0;
};

// The default k for n parties: 2·⌈log2 n⌉, capped at n - 1 (a Harary
// graph H(k, n) stays connected until k parties drop; the trade-off:
// docs/secure-aggregation.md).
uint32_t defaultNeighbours(uint32_t parties);
// The default threshold: ⌈2(k + 1)/3⌉ of a neighbourhood of k + 1 (a
// party and its k neighbours); with the complete graph, ⌈2n/3⌉.
uint32_t defaultThreshold(uint32_t neighbours);

} // namespace fedrt::secagg
