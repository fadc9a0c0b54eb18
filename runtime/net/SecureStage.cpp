// Secure aggregation among workers (Coordinator.h, docs/secure-
// aggregation.md): while a stage with secure sums runs, the coordinator
// relays the SecAgg+ rounds between its workers; each worker's result
// carries its secure sums masked, and the unmasking round gives their
// total without the coordinator seeing any one worker's sums.
#include "Coordinator.h"

#include "fedrt/SplitMix.h"

#include <set>

namespace fedrt::net {

using remote::v1::CoordinatorMessage;

namespace {

bool isSecure(const Aggregation &a) { return a.secure(); }

} // namespace

std::vector<uint64_t>
secureSums(const std::vector<PartialAggregate> &partials) {
  std::vector<uint64_t> out;
  for (const PartialAggregate &p : partials)
    if (isSecure(p.aggregation()))
      for (int64_t x : p.integerSums())
        out.push_back(static_cast<uint64_t>(x));
  return out;
}

void clearSecureSums(std::vector<PartialAggregate> &partials) {
  for (PartialAggregate &p : partials)
    if (isSecure(p.aggregation()))
      p.setIntegerSums({});
}

void setSecureSums(std::vector<PartialAggregate> &partials,
                   const std::vector<uint64_t> &sums) {
  size_t at = 0;
  for (PartialAggregate &p : partials) {
    if (!isSecure(p.aggregation()))
      continue;
    size_t n = p.integerSums().size();
    std::vector<int64_t> mine;
    for (size_t i = 0; i < n && at < sums.size(); ++i)
      mine.push_back(static_cast<int64_t>(sums[at++]));
    p.setIntegerSums(mine);
  }
}

absl::StatusOr<std::optional<secagg::Params>>
secureParams(const CoordinatorOptions &options, const StageTask &task,
             size_t parties) {
  const Stage &stage = task.computation->stages[task.stage];
  secagg::Params params;
  params.bits = 0;
  // The widest modulus of the stage's secure aggregations (the cohort's
  // values below 2^b sum below 2^(b + ⌈log2 clients⌉); a secure mean's
  // levels keep one bit more): one SecAgg+ run sums them all.
  const Aggregation *widest = nullptr;
  for (const Aggregation &a : stage.aggregations)
    if (isSecure(a)) {
      int bits = a.secureModulusBits(task.cohort.size());
      if (!widest || bits > params.bits)
        widest = &a;
      params.bits = std::max(params.bits, bits);
      params.length += PartialAggregate(a, nullptr).integerSums().size();
    }
  if (!widest)
    return std::nullopt;
  auto fail = [&](const std::string &why) {
    return absl::FailedPreconditionError(
        std::string(aggregationName(widest->kind)) + " over " +
        std::to_string(parties) + " workers: " + why);
  };
  if (parties < 3)
    return fail("secure aggregation needs at least 3 parties (with 2, each "
                "learns the other's value from the sum)");
  if (params.bits > 63)
    return fail("the sum of values below 2^" +
                std::to_string(widest->bitwidth) + " needs a modulus of 2^" +
                std::to_string(params.bits) + ", above 2^63");
  auto n = static_cast<uint32_t>(parties);
  params.neighbours = options.secaggNeighbours ? options.secaggNeighbours
                                               : secagg::defaultNeighbours(n);
  uint32_t k = std::min(params.neighbours + (params.neighbours & 1), n - 1);
  params.threshold = options.secaggThreshold ? options.secaggThreshold
                                             : secagg::defaultThreshold(k);
  uint64_t state = options.seed ^ (uint64_t(task.round) << 20) ^
                   (uint64_t(task.stage) << 8) ^ 0x5ec;
  params.session = splitmix64(state);
  if (absl::Status s = secagg::validate(params, n); !s.ok())
    return fail(std::string(s.message()));
  return params;
}

} // namespace fedrt::net

namespace fedrt {

absl::Status
RemoteBackend::State::receiveSecAgg(const std::shared_ptr<Session> &s,
                                    const remote::v1::SecAggUp &m) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = pending.find(m.task());
  if (it == pending.end() || it->second->session != s->id) {
    ++counters.latePartials; // a closed stage's: ignored
    return absl::OkStatus();
  }
  Pending &p = *it->second;
  auto misfiled = [] {
    return absl::InvalidArgumentError(
        "a repeated or misaddressed secure aggregation message");
  };
  switch (m.kind_case()) {
  case remote::v1::SecAggUp::kAdvertiseKeys:
    if (p.advertiseKeys || m.advertise_keys().party() != p.party)
      return misfiled();
    p.advertiseKeys = m.advertise_keys();
    break;
  case remote::v1::SecAggUp::kShareKeys:
    if (p.shareKeys || m.share_keys().party() != p.party)
      return misfiled();
    p.shareKeys = m.share_keys();
    break;
  case remote::v1::SecAggUp::kUnmaskShares:
    if (p.unmaskShares || m.unmask_shares().party() != p.party)
      return misfiled();
    p.unmaskShares = m.unmask_shares();
    break;
  default:
    return absl::InvalidArgumentError(
        "a secure aggregation message of no known kind");
  }
  p.bytesUp += static_cast<int64_t>(m.ByteSizeLong());
  changed.notify_all();
  return absl::OkStatus();
}

} // namespace fedrt

namespace fedrt::net {

namespace {

// One SecAgg+ run among a stage's workers, under the state's lock.
struct Relay {
  RemoteBackend::State &st;
  std::unique_lock<std::mutex> &lock;
  const std::vector<Slice> &slices;
  Clock::time_point deadline;
  secagg::Server server;

  Pending *pending(size_t party) const {
    const Slice &slice = slices[party];
    if (!slice.task)
      return nullptr;
    auto it = st.pending.find(slice.task);
    return it == st.pending.end() ? nullptr : it->second.get();
  }
  // The parties still in the protocol (sent the last round's messages).
  std::set<uint32_t> in;

  // Waits until every party still in has `arrived` or is lost (or the
  // deadline).
  void wait(const std::function<bool(const Pending &)> &arrived) {
    st.changed.wait_until(lock, deadline, [&] {
      for (uint32_t i : in)
        if (Pending *p = pending(i); p && !p->gone && !arrived(*p))
          return false;
      return true;
    });
  }
  // Hands the coordinator's side a party's message; one it refuses is
  // logged and its sender takes no further part.
  template <typename Message> void deliver(const Message &m) {
    if (absl::Status s = server.receive(m); !s.ok())
      st.log(std::string(s.message()));
  }
  // Sends each party still in its message of the next round.
  template <typename Message>
  void send(const std::map<uint32_t, Message> &messages,
            Message *(remote::v1::SecAggDown::*field)()) {
    in.clear();
    for (const auto &[party, message] : messages) {
      in.insert(party);
      const Slice &slice = slices.at(party);
      auto it = st.live.find(slice.worker);
      if (it == st.live.end() || !pending(party))
        continue;
      CoordinatorMessage m;
      m.mutable_secagg()->set_task(slice.task);
      *(m.mutable_secagg()->*field)() = message;
      it->second->send(std::move(m));
    }
  }
};

} // namespace

absl::StatusOr<std::vector<uint64_t>>
secureRounds(RemoteBackend::State &st, std::unique_lock<std::mutex> &lock,
             const std::vector<Slice> &slices, const secagg::Params &params,
             Clock::time_point deadline, SecAggStats &stats) {
  Relay r{st, lock, slices, deadline, secagg::Server(params), {}};
  auto abandoned = [&](const absl::Status &s) {
    stats.parties = r.server.metrics().parties;
    // Too few parties: this round attempt is abandoned (and may be
    // retried with a new cohort); nothing was unmasked.
    return absl::UnavailableError(s.message());
  };
  for (uint32_t i = 0; i < slices.size(); ++i)
    r.in.insert(i);
  // A worker whose stage failed whole answers with its result at once.
  r.wait([](const Pending &p) { return p.advertiseKeys || p.done; });
  for (size_t i = 0; i < slices.size(); ++i)
    if (Pending *p = r.pending(i); p && p->advertiseKeys)
      r.deliver(*p->advertiseKeys);
  auto keys = r.server.closeAdvertise();
  if (!keys.ok())
    return abandoned(keys.status());
  r.send(*keys, &remote::v1::SecAggDown::mutable_keys_advertised);

  r.wait([](const Pending &p) { return p.shareKeys.has_value(); });
  for (size_t i = 0; i < slices.size(); ++i)
    if (Pending *p = r.pending(i); p && p->shareKeys)
      r.deliver(*p->shareKeys);
  auto relayed = r.server.closeShareKeys();
  if (!relayed.ok())
    return abandoned(relayed.status());
  r.send(*relayed, &remote::v1::SecAggDown::mutable_shares_relayed);

  // The masked inputs are the results' secure sums.
  r.wait([](const Pending &p) { return p.done; });
  for (size_t i = 0; i < slices.size(); ++i) {
    Pending *p = r.pending(i);
    if (!p || !p->done || !r.in.count(static_cast<uint32_t>(i)))
      continue;
    secagg::v1::MaskedInput m;
    m.set_party(static_cast<uint32_t>(i));
    std::vector<uint64_t> values = secureSums(p->partials);
    m.set_values(secagg::packValues(values, params.bits));
    r.deliver(m);
  }
  auto requests = r.server.closeMaskedInput();
  if (!requests.ok())
    return abandoned(requests.status());
  r.send(*requests, &remote::v1::SecAggDown::mutable_unmask_request);

  r.wait([](const Pending &p) { return p.unmaskShares.has_value(); });
  for (size_t i = 0; i < slices.size(); ++i)
    if (Pending *p = r.pending(i); p && p->unmaskShares)
      r.deliver(*p->unmaskShares);
  auto sum = r.server.closeUnmasking();
  const secagg::Metrics &m = r.server.metrics();
  stats.parties = m.parties;
  stats.droppedAfterMasking = m.droppedAfterMasking;
  stats.recovered = m.recoveredKeys + m.droppedAfterMasking;
  stats.overheadBytes = m.bytesUp + m.bytesDown - m.inputBytes;
  st.log("secure aggregation: " + std::to_string(m.parties) + " parties, " +
         std::to_string(m.droppedBeforeMasking) +
         " dropped after sharing keys (masks rebuilt: " +
         std::to_string(m.recoveredKeys) + "), " +
         std::to_string(m.droppedAfterMasking) +
         " dropped after masking (counted), " + std::to_string(m.summed) +
         " summed, t = " + std::to_string(params.threshold) +
         ", k = " + std::to_string(params.neighbours));
  if (!sum.ok())
    return abandoned(sum.status());
  // A result whose masked input was not summed (its worker left the
  // protocol early) must not be merged either: its clients are dropped.
  // (A result of no clients, whose stage failed whole, keeps its failures.)
  for (size_t i = 0; i < slices.size(); ++i)
    if (Pending *p = r.pending(i);
        p && p->done && p->reported > 0 &&
        !r.server.summed().count(static_cast<uint32_t>(i)))
      p->done = false;
  return sum;
}

} // namespace fedrt::net
