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

bool parsePartition(const std::string &text, PartitionSpec &spec,
                    std::string &error) {
  std::string kind = text.substr(0, text.find(':'));
  std::string arg = text.find(':') == std::string::npos
                        ? ""
                        : text.substr(text.find(':') + 1);
  char *end = nullptr;
  if (kind == "iid" && arg.empty()) {
    spec.kind = PartitionSpec::Kind::Iid;
    return true;
  }
  if (kind == "dirichlet") {
    spec.alpha = std::strtod(arg.c_str(), &end);
    if (!arg.empty() && *end == '\0' && spec.alpha > 0) {
      spec.kind = PartitionSpec::Kind::Dirichlet;
      return true;
    }
    error = "dirichlet:ALPHA needs a positive number, found '" + arg + "'";
    return false;
  }
  if (kind == "shards") {
    long k = std::strtol(arg.c_str(), &end, 10);
    if (!arg.empty() && *end == '\0' && k > 0 && k < 1000000) {
      spec.kind = PartitionSpec::Kind::Shards;
      spec.shards = static_cast<int>(k);
      return true;
    }
    error = "shards:K needs a positive integer, found '" + arg + "'";
    return false;
  }
  if (kind == "by" && !arg.empty()) {
    spec.kind = PartitionSpec::Kind::By;
    spec.column = arg;
    return true;
  }
  error = "unknown partition '" + text +
          "': use iid, dirichlet:ALPHA, shards:K or by:COLUMN";
  return false;
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
    // Cumulative cut points; the last client takes the rounding remainder.
    double cumulative = 0;
    size_t begin = 0;
    for (size_t c = 0; c < p.size(); ++c) {
      cumulative += p[c] / total;
      size_t end =
          c + 1 == p.size()
              ? members.size()
              : std::min(members.size(),
                         static_cast<size_t>(cumulative * members.size()));
      end = std::max(end, begin);
      out[c].insert(out[c].end(), members.begin() + begin,
                    members.begin() + end);
      begin = end;
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
