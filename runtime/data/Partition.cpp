#include "fedrt/Partition.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>

namespace fedrt {

namespace {

// std::shuffle's result depends on the library; this Fisher-Yates on a
// fixed generator does not.
void shuffle(std::vector<int64_t> &v, std::mt19937_64 &rng) {
  for (size_t i = v.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(rng() % i);
    std::swap(v[i - 1], v[j]);
  }
}

// Marsaglia-Tsang gamma(shape, 1) from the generator's raw bits, so the
// draws are the same with any standard library.
double uniform(std::mt19937_64 &rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

double normal(std::mt19937_64 &rng) {
  return std::sqrt(-2.0 * std::log(uniform(rng))) *
         std::cos(6.283185307179586 * uniform(rng));
}

double gamma(double shape, std::mt19937_64 &rng) {
  if (shape < 1.0)
    return gamma(shape + 1.0, rng) * std::pow(uniform(rng), 1.0 / shape);
  double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = normal(rng), v = 1.0 + c * x;
    if (v <= 0)
      continue;
    v = v * v * v;
    double u = uniform(rng);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v))
      return d * v;
  }
}

std::map<int64_t, std::vector<int64_t>>
byLabel(const std::vector<int64_t> &labels) {
  std::map<int64_t, std::vector<int64_t>> groups;
  for (size_t i = 0; i < labels.size(); ++i)
    groups[labels[i]].push_back(static_cast<int64_t>(i));
  return groups;
}

} // namespace

absl::StatusOr<PartitionSpec> parsePartition(const std::string &text) {
  std::string kind = text.substr(0, text.find(':'));
  std::string arg = text.find(':') == std::string::npos
                        ? ""
                        : text.substr(text.find(':') + 1);
  char *end = nullptr;
  PartitionSpec spec;
  if (kind == "iid" && arg.empty()) {
    spec.kind = PartitionSpec::Kind::Iid;
    return spec;
  }
  if (kind == "dirichlet") {
    spec.alpha = std::strtod(arg.c_str(), &end);
    if (!arg.empty() && *end == '\0' && spec.alpha > 0) {
      spec.kind = PartitionSpec::Kind::Dirichlet;
      return spec;
    }
    return absl::InvalidArgumentError(
        "dirichlet:ALPHA needs a positive number, found '" + arg + "'");
  }
  if (kind == "shards") {
    long k = std::strtol(arg.c_str(), &end, 10);
    if (!arg.empty() && *end == '\0' && k > 0 && k < 1000000) {
      spec.kind = PartitionSpec::Kind::Shards;
      spec.shards = static_cast<int>(k);
      return spec;
    }
    return absl::InvalidArgumentError(
        "shards:K needs a positive integer, found '" + arg + "'");
  }
  if (kind == "by" && !arg.empty()) {
    spec.kind = PartitionSpec::Kind::By;
    spec.column = arg;
    return spec;
  }
  return absl::InvalidArgumentError(
      "unknown partition '" + text +
      "': use iid, dirichlet:ALPHA, shards:K or by:COLUMN");
}

Assignment partitionIid(int64_t records, int clients, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(records));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  shuffle(order, rng);
  Assignment out(static_cast<size_t>(clients));
  for (int c = 0; c < clients; ++c) {
    int64_t begin = records * c / clients, end = records * (c + 1) / clients;
    out[static_cast<size_t>(c)].assign(order.begin() + begin,
                                       order.begin() + end);
  }
  return out;
}

Assignment partitionDirichlet(const std::vector<int64_t> &labels, int clients,
                              double alpha, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Assignment out(static_cast<size_t>(clients));
  for (auto &[label, members] : byLabel(labels)) {
    shuffle(members, rng);
    std::vector<double> p(static_cast<size_t>(clients));
    double total = 0;
    for (double &x : p)
      total += x = gamma(alpha, rng);
    // Largest-remainder rounding of each client's share: floors first, then
    // one more record to the largest fractions (ties to the lower index),
    // so no client index is systematically short.
    auto n = static_cast<double>(members.size());
    std::vector<size_t> counts(p.size());
    std::vector<std::pair<double, size_t>> remainders;
    size_t given = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      double share = p[c] / total * n;
      counts[c] = static_cast<size_t>(std::floor(share));
      given += counts[c];
      remainders.emplace_back(share - std::floor(share), c);
    }
    std::stable_sort(
        remainders.begin(), remainders.end(),
        [](const auto &a, const auto &b) { return a.first > b.first; });
    for (size_t i = 0; given < members.size(); ++i, ++given)
      ++counts[remainders[i % remainders.size()].second];
    size_t begin = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      out[c].insert(out[c].end(), members.begin() + static_cast<long>(begin),
                    members.begin() + static_cast<long>(begin + counts[c]));
      begin += counts[c];
    }
  }
  for (auto &client : out)
    std::sort(client.begin(), client.end());
  return out;
}

Assignment partitionShards(const std::vector<int64_t> &labels, int clients,
                           int shards, uint64_t seed) {
  std::vector<int64_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return labels[a] < labels[b]; });
  int64_t count = static_cast<int64_t>(clients) * shards;
  std::vector<int64_t> shardIds(static_cast<size_t>(count));
  std::iota(shardIds.begin(), shardIds.end(), 0);
  std::mt19937_64 rng(seed);
  shuffle(shardIds, rng);
  int64_t n = static_cast<int64_t>(order.size());
  Assignment out(static_cast<size_t>(clients));
  for (int64_t s = 0; s < count; ++s) {
    int64_t shard = shardIds[static_cast<size_t>(s)];
    auto &client = out[static_cast<size_t>(s / shards)];
    client.insert(client.end(), order.begin() + n * shard / count,
                  order.begin() + n * (shard + 1) / count);
  }
  for (auto &client : out)
    std::sort(client.begin(), client.end());
  return out;
}

Assignment partitionBy(const std::vector<std::string> &keys) {
  std::map<std::string, size_t> index;
  Assignment out;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto [it, added] = index.emplace(keys[i], out.size());
    if (added)
      out.emplace_back();
    out[it->second].push_back(static_cast<int64_t>(i));
  }
  return out;
}

} // namespace fedrt
