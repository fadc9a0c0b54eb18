// Splitting one central dataset across simulated clients (--partition):
// each function returns, per client, the record indices it holds. Every
// record goes to exactly one client, and the same seed gives the same split.
#pragma once

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fedrt {

struct PartitionSpec {
  enum class Kind { Iid, Dirichlet, Shards, By } kind = Kind::Iid;
  double alpha = 0;   // dirichlet:ALPHA
  int shards = 0;     // shards:K (per client)
  std::string column; // by:COLUMN
};

// Parses "iid", "dirichlet:0.5", "shards:2", "by:user"; InvalidArgument
// says what is wrong.
absl::StatusOr<PartitionSpec> parsePartition(const std::string &text);

using Assignment = std::vector<std::vector<int64_t>>;

// Shuffled, then cut into `clients` parts whose sizes differ by at most 1.
Assignment partitionIid(int64_t records, int clients, uint64_t seed);

// Label skew: each label's records are shared out in proportions drawn
// from Dirichlet(alpha) over the clients (small alpha: few labels each).
Assignment partitionDirichlet(const std::vector<int64_t> &labels, int clients,
                              double alpha, uint64_t seed);

// McMahan et al.'s pathological split: records sorted by label, cut into
// clients × shards shards, `shards` random shards per client.
Assignment partitionShards(const std::vector<int64_t> &labels, int clients,
                           int shards, uint64_t seed);

// One client per distinct key, in order of first appearance.
Assignment partitionBy(const std::vector<std::string> &keys);

} // namespace fedrt
