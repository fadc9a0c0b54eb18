// Secure aggregation in one process (Simulation.h).
#include "Simulation.h"

#include <atomic>
#include <optional>
#include <thread>

namespace fedrt::secagg {

namespace {

// Runs job(i) for i in [0, n) on `threads` threads (each party's work is
// independent; the coordinator then takes the messages in id order, so
// the result does not depend on the thread count).
void parallelFor(size_t n, int threads,
                 const std::function<void(size_t)> &job) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;)
      job(i);
  };
  std::vector<std::thread> team;
  for (int t = 1; t < threads && static_cast<size_t>(t) < n; ++t)
    team.emplace_back(worker);
  worker();
  for (std::thread &t : team)
    t.join();
}

// One round: each party still in (a key of `in`) not dropping out after
// the previous round answers `in`'s message; the coordinator receives the
// answers in id order.
template <typename In, typename Answer>
absl::Status
round(const std::map<uint32_t, In> &in, int threads,
      const std::function<bool(uint32_t)> &stops,
      const std::function<absl::StatusOr<Answer>(uint32_t, const In &)> &f,
      const std::function<absl::Status(const Answer &)> &deliver) {
  std::vector<std::pair<uint32_t, const In *>> todo;
  for (const auto &[id, m] : in)
    if (!stops(id))
      todo.emplace_back(id, &m);
  std::vector<std::optional<absl::StatusOr<Answer>>> out(todo.size());
  parallelFor(todo.size(), threads, [&](size_t i) {
    out[i].emplace(f(todo[i].first, *todo[i].second));
  });
  for (auto &answer : out) {
    if (!answer->ok())
      return answer->status();
    if (absl::Status s = deliver(**answer); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

} // namespace

absl::StatusOr<SimulationResult>
simulate(const Params &params, const std::vector<std::vector<uint64_t>> &inputs,
         const std::function<Dropout(uint32_t)> &dropout,
         const std::function<void(const std::string &)> &record, int threads) {
  const auto n = static_cast<uint32_t>(inputs.size());
  if (absl::Status s = validate(params, n); !s.ok())
    return s;
  auto after = [&](Dropout phase) {
    return std::function<bool(uint32_t)>(
        [&, phase](uint32_t id) { return dropout && dropout(id) == phase; });
  };
  std::vector<Party> parties;
  parties.reserve(n);
  for (uint32_t id = 0; id < n; ++id)
    parties.emplace_back(id, params);
  Server server(params);
  auto deliver = [&](const auto &m) {
    if (record)
      record(m.SerializeAsString());
    return server.receive(m);
  };
  std::map<uint32_t, int> start;
  for (uint32_t id = 0; id < n; ++id)
    start[id] = 0;
  absl::Status s = round<int, v1::AdvertiseKeys>(
      start, threads, [](uint32_t) { return false; },
      [&](uint32_t id, const int &) -> absl::StatusOr<v1::AdvertiseKeys> {
        return parties[id].advertiseKeys();
      },
      deliver);
  if (!s.ok())
    return s;
  auto keys = server.closeAdvertise();
  if (!keys.ok())
    return keys.status();
  s = round<v1::KeysAdvertised, v1::ShareKeys>(
      *keys, threads, after(Dropout::AfterAdvertise),
      [&](uint32_t id, const v1::KeysAdvertised &m) {
        return parties[id].shareKeys(m);
      },
      deliver);
  if (!s.ok())
    return s;
  auto relayed = server.closeShareKeys();
  if (!relayed.ok())
    return relayed.status();
  s = round<v1::SharesRelayed, v1::MaskedInput>(
      *relayed, threads, after(Dropout::AfterShareKeys),
      [&](uint32_t id, const v1::SharesRelayed &m) {
        return parties[id].maskInput(m, inputs[id]);
      },
      deliver);
  if (!s.ok())
    return s;
  auto requests = server.closeMaskedInput();
  if (!requests.ok())
    return requests.status();
  s = round<v1::UnmaskRequest, v1::UnmaskShares>(
      *requests, threads, after(Dropout::AfterMaskedInput),
      [&](uint32_t id, const v1::UnmaskRequest &m) {
        return parties[id].unmask(m);
      },
      deliver);
  if (!s.ok())
    return s;
  auto sum = server.closeUnmasking();
  if (!sum.ok())
    return sum.status();
  SimulationResult result;
  result.sum = std::move(*sum);
  result.summed.assign(server.summed().begin(), server.summed().end());
  result.metrics = server.metrics();
  return result;
}

} // namespace fedrt::secagg
