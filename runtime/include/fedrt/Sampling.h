// Seeded cohort sampling: which clients take part in a round. The cohort
// depends only on (seed, round, population), so a resumed run samples what
// the uninterrupted run would have.
#pragma once

#include <cstdint>
#include <vector>

namespace fedrt {

// `k` distinct members of `population` (ascending client indices; all of
// it if k >= its size), drawn without replacement, returned ascending.
std::vector<int64_t> sampleCohort(const std::vector<int64_t> &population,
                                  int64_t k, uint64_t seed, int64_t round);

} // namespace fedrt
