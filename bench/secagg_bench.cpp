// SecAgg+ cost per round (docs/secure-aggregation.md): drives the
// runtime/secagg Party and Server state machines for n parties with m
// values each, timing the parties' and the coordinator's work apart and
// counting the bytes of every message; the peer is the same sum in the
// clear. Prints one JSON object.
// usage: secagg_bench N M [K]   (K = 0: the default neighbours)
#include "Protocol.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace fedrt::secagg;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::vector<uint64_t> input(uint32_t party, size_t m, int bits) {
  std::mt19937_64 g(party);
  std::vector<uint64_t> x(m);
  for (auto &v : x)
    v = g() & modulusMask(bits - 11);
  return x;
}

[[noreturn]] void die(const absl::Status &s) {
  std::fprintf(stderr, "secagg_bench: %s\n", std::string(s.message()).c_str());
  std::exit(1);
}

template <typename T> T check(absl::StatusOr<T> v) {
  if (!v.ok())
    die(v.status());
  return *std::move(v);
}

// Seconds and bytes of one round, split between the parties and the
// coordinator.
struct Meter {
  double client = 0, coordinator = 0;
  int64_t up = 0, down = 0;

  template <typename F> auto party(F f) {
    auto t = Clock::now();
    auto out = f();
    client += since(t);
    up += static_cast<int64_t>(out.ByteSizeLong());
    return out;
  }
  template <typename F> auto serve(F f) {
    auto t = Clock::now();
    auto out = f();
    coordinator += since(t);
    return out;
  }
};

// The four rounds (advertise keys, share keys, masked input, unmasking)
// for every party; returns the sum the coordinator recovers.
std::vector<uint64_t> secureRound(std::vector<Party> &parties, Server &server,
                                  const Params &p, Meter &meter) {
  auto deliver = [&](const auto &msg) {
    meter.serve([&] { return server.receive(msg); }).IgnoreError();
  };
  for (Party &q : parties)
    deliver(meter.party([&] { return q.advertiseKeys(); }));
  auto keys = check(meter.serve([&] { return server.closeAdvertise(); }));
  for (auto &[id, msg] : keys) {
    meter.down += static_cast<int64_t>(msg.ByteSizeLong());
    deliver(meter.party([&] { return check(parties[id].shareKeys(msg)); }));
  }
  auto relayed = check(meter.serve([&] { return server.closeShareKeys(); }));
  for (auto &[id, msg] : relayed) {
    meter.down += static_cast<int64_t>(msg.ByteSizeLong());
    std::vector<uint64_t> x = input(id, p.length, p.bits);
    deliver(meter.party([&] { return check(parties[id].maskInput(msg, x)); }));
  }
  auto requests = check(meter.serve([&] { return server.closeMaskedInput(); }));
  for (auto &[id, msg] : requests) {
    meter.down += static_cast<int64_t>(msg.ByteSizeLong());
    deliver(meter.party([&] { return check(parties[id].unmask(msg)); }));
  }
  return check(meter.serve([&] { return server.closeUnmasking(); }));
}

// The peer: the same sum in the clear; `seconds` counts only the additions.
std::vector<uint64_t> plainSum(uint32_t n, const Params &p, double &seconds) {
  std::vector<uint64_t> plain(p.length, 0);
  seconds = 0;
  for (uint32_t i = 0; i < n; ++i) {
    std::vector<uint64_t> x = input(i, p.length, p.bits);
    auto s = Clock::now();
    for (size_t j = 0; j < p.length; ++j)
      plain[j] = (plain[j] + x[j]) & modulusMask(p.bits);
    seconds += since(s);
  }
  return plain;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: secagg_bench N M [K]\n");
    return 2;
  }
  auto n = static_cast<uint32_t>(std::atoi(argv[1]));
  auto m = static_cast<size_t>(std::atoll(argv[2]));
  uint32_t k = argc > 3 ? static_cast<uint32_t>(std::atoi(argv[3])) : 0;
  Params p;
  p.bits = 32;
  p.length = m;
  p.session = 1;
  p.neighbours = k ? k : defaultNeighbours(n);
  p.threshold = defaultThreshold(std::min(p.neighbours, n - 1));
  std::vector<Party> parties;
  for (uint32_t i = 0; i < n; ++i)
    parties.emplace_back(i, p);
  Server server(p);
  Meter meter;
  std::vector<uint64_t> sum = secureRound(parties, server, p, meter);
  double plainSeconds = 0;
  std::vector<uint64_t> plain = plainSum(n, p, plainSeconds);
  if (plain != sum) {
    std::fprintf(stderr, "secagg_bench: the secure sum differs\n");
    return 1;
  }
  const int64_t inputBytes = int64_t(n) * static_cast<int64_t>(m) * 4;
  std::printf(
      "{\"n\": %u, \"m\": %zu, \"k\": %u, \"t\": %u, "
      "\"client_s\": %.6f, \"coordinator_s\": %.6f, "
      "\"plain_s\": %.6f, \"bytes_up\": %lld, \"bytes_down\": %lld, "
      "\"input_bytes\": %lld}\n",
      n, m, std::min(p.neighbours, n - 1), p.threshold, meter.client / n,
      meter.coordinator, plainSeconds, static_cast<long long>(meter.up),
      static_cast<long long>(meter.down), static_cast<long long>(inputBytes));
  return 0;
}
