// The coordinator's backend (fedrt/Remote.h): the population from the
// workers that joined, a stage as one task per worker, the results merged
// in worker-name order.
#include "Coordinator.h"

#include "Security.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace fedrt {

using net::Clock;
using net::Pending;
using net::Session;
using remote::v1::CoordinatorMessage;

RemoteBackend::RemoteBackend(const PlanTable &plan, CoordinatorOptions options)
    : state_(std::make_unique<State>(plan, std::move(options))) {}

RemoteBackend::~RemoteBackend() {
  if (state_->server)
    finish(false, "");
}

int RemoteBackend::port() const { return state_->port; }

RemoteCounters RemoteBackend::counters() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->counters;
}

absl::Status RemoteBackend::start() {
  State &st = *state_;
  std::optional<net::Codec> up = net::codecNamed(st.options.compressUp);
  std::optional<net::Codec> down = net::codecNamed(st.options.compressDown);
  if (!up || *up == net::Codec::Bf16)
    return absl::InvalidArgumentError("--compress-up takes none, zstd, int8 "
                                      "or int8+zstd, not '" +
                                      st.options.compressUp + "'");
  if (!down || *down == net::Codec::Int8 || *down == net::Codec::Int8Zstd)
    return absl::InvalidArgumentError(
        "--compress-down takes none, zstd or bf16, not '" +
        st.options.compressDown + "'");
  st.up = *up;
  st.down = *down;
  absl::StatusOr<std::string> token = net::readToken(st.options.security);
  if (!token.ok())
    return token.status();
  st.token = *token;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      net::serverCredentials(st.options.security);
  if (!credentials.ok())
    return credentials.status();
  for (const auto &c : st.plan.computations)
    for (const Stage &s : c->stages)
      st.maxResultBytes = std::max<uint64_t>(
          st.maxResultBytes, ZSTD_compressBound(net::resultPayloadBytes(s)));

  grpc::ServerBuilder builder;
  builder.AddListeningPort(st.options.listen, *credentials, &st.port);
  builder.RegisterService(&st);
  builder.SetMaxReceiveMessageSize(net::kMaxMessageBytes);
  // Workers ping every 10 s (keepalive); the server's defaults would
  // answer pings more often than every 5 minutes with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  st.server = builder.BuildAndStart();
  if (!st.server || st.port == 0)
    return absl::UnavailableError("cannot listen on " + st.options.listen);
  if (st.options.security.insecure)
    std::fprintf(stderr,
                 "warning: --insecure: workers connect in plaintext, "
                 "unauthenticated unless --token-file (whose token then "
                 "crosses in the clear)\n");
  st.log("listening on " +
         st.options.listen.substr(0, st.options.listen.rfind(':')) + ":" +
         std::to_string(st.port));
  if (!st.options.portFile.empty()) {
    std::string temp = st.options.portFile + ".tmp";
    std::ofstream out(temp, std::ios::trunc);
    out << st.port << "\n";
    out.close();
    if (!out || std::rename(temp.c_str(), st.options.portFile.c_str()) != 0)
      return absl::InvalidArgumentError(st.options.portFile +
                                        ": cannot write the port file");
  }
  st.watchdog = std::thread([&st] { st.watchHeartbeats(); });
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> RemoteBackend::population() {
  State &st = *state_;
  std::unique_lock<std::mutex> lock(st.mutex);
  auto clients = [&] {
    int64_t n = 0;
    for (auto &[name, s] : st.live)
      for (int64_t e : s->examples)
        n += e > 0 ? 1 : 0;
    return n;
  };
  auto enough = [&] {
    return static_cast<int64_t>(st.live.size()) >= st.options.minWorkers &&
           clients() >= st.options.minClients;
  };
  auto deadline =
      Clock::now() +
      std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(st.options.joinTimeoutSeconds));
  if (!st.changed.wait_until(lock, deadline, enough))
    return absl::UnavailableError(
        std::to_string(st.live.size()) + " of --min-workers " +
        std::to_string(st.options.minWorkers) + " workers and " +
        std::to_string(clients()) + " of --min-clients " +
        std::to_string(st.options.minClients) + " clients joined within " +
        std::to_string(static_cast<int64_t>(st.options.joinTimeoutSeconds)) +
        " s");
  st.members.clear();
  for (auto &[name, s] : st.live) // std::map: in name order
    for (size_t i = 0; i < s->examples.size(); ++i)
      if (s->examples[i] > 0)
        st.members.push_back({name, static_cast<int64_t>(i)});
  std::vector<int64_t> out(st.members.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<int64_t>(i);
  return out;
}

std::string RemoteBackend::clientName(int64_t client) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (client < 0 || static_cast<size_t>(client) >= state_->members.size())
    return "client " + std::to_string(client);
  const net::Member &m = state_->members[static_cast<size_t>(client)];
  std::string name = "client " + std::to_string(m.local);
  auto it = state_->live.find(m.worker);
  if (it != state_->live.end() &&
      static_cast<size_t>(m.local) < it->second->clientNames.size())
    name = "client '" + it->second->clientNames[m.local] + "'";
  return name + " of worker '" + m.worker + "'";
}

namespace {

using net::Slice;

// Sends each slice's worker its task and the payload's chunks (through
// the worker's outbox: a stalled worker never blocks this); a slice whose
// worker is gone keeps task 0. Called under st.mutex.
void dispatch(RemoteBackend::State &st, const StageTask &task,
              std::vector<Slice> &slices, const std::string &payload,
              uint64_t rawBytes, const secagg::Params *secure) {
  auto deadlineMs = static_cast<uint32_t>(
      std::min(st.options.roundTimeoutSeconds * 1000, 4e9));
  for (Slice &slice : slices) {
    auto it = st.live.find(slice.worker);
    if (it == st.live.end())
      continue; // gone since the population was fixed: dropped
    Session &s = *it->second;
    slice.task = st.nextTask++;
    auto p = std::make_unique<Pending>();
    p->session = s.id;
    p->stage = &task.computation->stages[task.stage];
    p->clients = slice.local;
    CoordinatorMessage header;
    remote::v1::Task *t = header.mutable_task();
    t->set_task(slice.task);
    t->set_round(task.round);
    if (st.ledger) {
      t->set_attempt(static_cast<int32_t>(st.ledger->attempt()));
      net::putCommit(st.ledger->commitFor(slice.worker),
                     *t->mutable_client_state());
    }
    t->set_computation(task.computation->name);
    t->set_stage(static_cast<uint32_t>(task.stage));
    for (int64_t l : slice.local)
      t->add_clients(l);
    for (int64_t seed : slice.seeds)
      t->add_client_seeds(seed);
    t->set_deadline_ms(deadlineMs);
    t->set_payload_bytes(payload.size());
    t->set_raw_bytes(rawBytes);
    t->set_codec(net::codecName(st.down));
    for (double clip : task.dpClips)
      t->add_dp_clips(clip);
    const Stage &stage = task.computation->stages[task.stage];
    if (std::any_of(stage.aggregations.begin(), stage.aggregations.end(),
                    [](const Aggregation &a) {
                      return a.kind == Aggregation::Kind::SecureMean;
                    }))
      for (int64_t c : slice.members)
        t->add_population(c);
    if (secure) {
      remote::v1::SecAggSetup *setup = t->mutable_secagg();
      setup->set_party(static_cast<uint32_t>(&slice - slices.data()));
      setup->set_session(secure->session);
      setup->set_threshold(secure->threshold);
      setup->set_neighbours(secure->neighbours);
      setup->set_bits(static_cast<uint32_t>(secure->bits));
      p->party = setup->party();
    }
    p->bytesDown += static_cast<int64_t>(header.ByteSizeLong());
    s.send(std::move(header));
    net::forEachChunk(slice.task, payload, [&](remote::v1::Chunk &chunk) {
      CoordinatorMessage m;
      *m.mutable_chunk() = std::move(chunk);
      p->bytesDown += static_cast<int64_t>(m.ByteSizeLong());
      s.send(std::move(m));
      return true;
    });
    st.pending[slice.task] = std::move(p);
  }
}

// Merges the slices' results into `result` in slice (= worker name)
// order; a slice without a complete result is dropped whole.
absl::Status merge(const std::vector<Slice> &slices,
                   std::vector<std::unique_ptr<Pending>> &taken,
                   const std::vector<uint64_t> *secureSum,
                   StageResult &result) {
  std::optional<std::vector<PartialAggregate>> total;
  Context ctx;
  size_t next = 0;
  for (const Slice &slice : slices) {
    std::unique_ptr<Pending> p = std::move(taken[next++]);
    if (p)
      result.stats.bytesDown += p->bytesDown;
    if (!p || !p->done) {
      result.dropped.insert(result.dropped.end(), slice.members.begin(),
                            slice.members.end());
      continue;
    }
    result.stats.bytesUp += p->bytesUp;
    result.reported += p->reported;
    for (const ClientFailure &f : p->failures) {
      auto at =
          std::lower_bound(slice.local.begin(), slice.local.end(), f.client) -
          slice.local.begin();
      result.failures.push_back(
          {slice.members[static_cast<size_t>(at)], f.message});
    }
    // Masked secure sums are summed by the protocol, not here.
    if (secureSum)
      net::clearSecureSums(p->partials);
    if (p->reported == 0)
      continue;
    if (!total) {
      total = std::move(p->partials);
      continue;
    }
    for (size_t i = 0; i < total->size(); ++i)
      if (absl::Status m = (*total)[i].merge(p->partials[i], ctx); !m.ok())
        return m;
  }
  if (total) {
    result.partials = std::move(*total);
    if (secureSum)
      net::setSecureSums(result.partials, *secureSum);
  }
  return absl::OkStatus();
}

// The cohort as runs of consecutive clients on one worker (the task each
// worker gets). Needs st.mutex held.
std::vector<Slice> slicesOf(RemoteBackend::State &st, const StageTask &task) {
  std::vector<Slice> slices;
  for (size_t i = 0; i < task.cohort.size(); ++i) {
    int64_t c = task.cohort[i];
    const net::Member &m = st.members.at(static_cast<size_t>(c));
    if (slices.empty() || slices.back().worker != m.worker)
      slices.push_back({m.worker, {}, {}, {}, 0});
    slices.back().members.push_back(c);
    slices.back().local.push_back(m.local);
    if (!task.clientSeeds.empty())
      slices.back().seeds.push_back(task.clientSeeds[i]);
  }
  return slices;
}

// True when every dispatched slice reported or was lost, or when `goal`
// (> 0: over-selection) clients have reported. Needs st.mutex held.
bool allSettled(const RemoteBackend::State &st,
                const std::vector<Slice> &slices, int64_t goal) {
  int64_t reported = 0;
  bool all = true;
  for (const Slice &slice : slices) {
    if (!slice.task)
      continue;
    const Pending &p = *st.pending.at(slice.task);
    all = all && (p.done || p.lost);
    reported += p.done ? p.reported : 0;
  }
  return all || (goal > 0 && reported >= goal);
}

// Takes the slices' pending results out of the table (null for a slice
// never dispatched): a result arriving from now on is late. Needs st.mutex.
std::vector<std::unique_ptr<Pending>>
takePending(RemoteBackend::State &st, const std::vector<Slice> &slices) {
  std::vector<std::unique_ptr<Pending>> taken;
  for (const Slice &slice : slices) {
    std::unique_ptr<Pending> p;
    if (slice.task) {
      p = std::move(st.pending.at(slice.task));
      st.pending.erase(slice.task);
    }
    taken.push_back(std::move(p));
  }
  return taken;
}

} // namespace

absl::StatusOr<StageResult> RemoteBackend::runStage(const StageTask &task) {
  State &st = *state_;
  const Stage &stage = task.computation->stages[task.stage];
  StageResult result;
  auto zeros = [&] {
    for (size_t i = 0; i < stage.aggregations.size(); ++i)
      result.partials.emplace_back(stage.aggregations[i], task.zeros[i],
                                   &st.pool);
  };
  if (task.cohort.empty()) {
    zeros();
    return result;
  }
  std::vector<const HostValue *> values = task.broadcasts;
  for (const HostValue *z : task.zeros)
    if (z)
      values.push_back(z);
  std::string raw = net::taskPayload(values);
  uint64_t rawBytes = raw.size();
  absl::StatusOr<std::string> payload =
      net::encodeTask(st.down, stage, std::move(raw));
  if (!payload.ok())
    return payload.status();

  std::unique_lock<std::mutex> lock(st.mutex);
  std::vector<Slice> slices = slicesOf(st, task);
  auto deadline =
      Clock::now() +
      std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(st.options.roundTimeoutSeconds));
  absl::StatusOr<std::optional<secagg::Params>> secure =
      net::secureParams(st.options, task, slices.size());
  if (!secure.ok())
    return secure.status();
  dispatch(st, task, slices, *payload, rawBytes, *secure ? &**secure : nullptr);
  // Over-selection closes training stages early; eval waits for everyone
  // (as does secure aggregation, whose parties are fixed at dispatch).
  int64_t goal =
      task.computation == st.plan.next && !*secure ? st.options.goal : 0;
  auto settled = [&] { return allSettled(st, slices, goal); };
  absl::StatusOr<std::vector<uint64_t>> secureSum = std::vector<uint64_t>();
  if (*secure)
    secureSum = net::secureRounds(st, lock, slices, **secure, deadline,
                                  result.stats.secagg);
  else
    st.changed.wait_until(lock, deadline, settled);
  std::vector<std::unique_ptr<Pending>> taken = takePending(st, slices);
  lock.unlock();
  // A worker's new client states count only when its result was merged.
  if (st.ledger)
    for (size_t i = 0; i < slices.size(); ++i)
      st.ledger->record(slices[i].worker, taken[i] && taken[i]->done,
                        stage.writesClientState);
  if (!secureSum.ok())
    return secureSum.status();
  if (absl::Status m =
          merge(slices, taken, *secure ? &*secureSum : nullptr, result);
      !m.ok())
    return m;
  if (result.partials.empty())
    zeros();
  result.stats.blocks = static_cast<int64_t>(slices.size());
  result.stats.threadsUsed = static_cast<int64_t>(slices.size());
  if (result.reported < st.options.minClients)
    return absl::UnavailableError(
        std::to_string(result.reported) + " of " +
        std::to_string(task.cohort.size()) + " clients reported (" +
        std::to_string(result.dropped.size()) + " dropped, --min-clients " +
        std::to_string(st.options.minClients) + ")");
  return result;
}

void RemoteBackend::setClientStateLedger(ClientStateLedger *ledger) {
  state_->ledger = ledger;
}

void RemoteBackend::finish(bool abandoned, const std::string &message) {
  State &st = *state_;
  if (!st.server)
    return;
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    st.finished = true;
    for (auto &[name, s] : st.live)
      sessions.push_back(s);
    st.changed.notify_all();
  }
  for (auto &s : sessions) {
    CoordinatorMessage m;
    m.mutable_finish()->set_abandoned(abandoned);
    m.mutable_finish()->set_message(message);
    if (st.ledger)
      net::putCommit(st.ledger->commitFor(s->name),
                     *m.mutable_finish()->mutable_client_state());
    s->send(std::move(m));
    s->close();
  }
  // Workers close their streams on Finish; whatever remains is cancelled.
  st.server->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(3));
  st.server.reset();
  if (st.watchdog.joinable())
    st.watchdog.join();
}

} // namespace fedrt
