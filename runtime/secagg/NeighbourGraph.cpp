// The Harary neighbour graph of SecAgg+ (NeighbourGraph.h).
#include "NeighbourGraph.h"

#include "fedrt/SplitMix.h"

#include <algorithm>
#include <cmath>

namespace fedrt::secagg {

NeighbourGraph::NeighbourGraph(std::vector<uint32_t> parties,
                               uint32_t neighbours, uint64_t seed)
    : ids_(std::move(parties)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
  const size_t n = ids_.size();
  neighbours_.resize(n);
  if (n == 0)
    return;
  uint32_t k = neighbours + (neighbours & 1);
  degree_ = std::min<uint32_t>(k, static_cast<uint32_t>(n - 1));
  // The ring: a seeded Fisher-Yates shuffle of the positions.
  std::vector<size_t> ring(n);
  for (size_t i = 0; i < n; ++i)
    ring[i] = i;
  uint64_t state = seed;
  for (size_t i = n - 1; i > 0; --i)
    std::swap(ring[i], ring[splitmix64(state) % (i + 1)]);
  if (degree_ == n - 1) {
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        if (i != j)
          neighbours_[i].push_back(ids_[j]);
    return;
  }
  const size_t half = degree_ / 2;
  for (size_t r = 0; r < n; ++r) {
    auto &out = neighbours_[ring[r]];
    for (size_t d = 1; d <= half; ++d) {
      out.push_back(ids_[ring[(r + d) % n]]);
      out.push_back(ids_[ring[(r + n - d) % n]]);
    }
    std::sort(out.begin(), out.end());
  }
}

const std::vector<uint32_t> &NeighbourGraph::of(uint32_t party) const {
  static const std::vector<uint32_t> none;
  auto it = std::lower_bound(ids_.begin(), ids_.end(), party);
  if (it == ids_.end() || *it != party)
    return none;
  return neighbours_[static_cast<size_t>(it - ids_.begin())];
}

bool NeighbourGraph::adjacent(uint32_t a, uint32_t b) const {
  const auto &n = of(a);
  return std::binary_search(n.begin(), n.end(), b);
}

uint32_t defaultNeighbours(uint32_t parties) {
  if (parties <= 1)
    return 0;
  auto log2n = static_cast<uint32_t>(std::ceil(std::log2(parties)));
  uint32_t k = 2 * log2n; // even
  return std::min(k, parties - 1);
}

uint32_t defaultThreshold(uint32_t neighbours) {
  return (2 * (neighbours + 1) + 2) / 3;
}

} // namespace fedrt::secagg
