// Fuzzes what a coordinator or a worker decodes from the network: any
// bytes, read as a stream of length-prefixed (2 bytes, little-endian)
// protobuf messages of either direction, go through the same steps as a
// session (a result's header, its chunks reassembled, the payload decoded
// with the codec it names, the partials read against a stage; a task's
// payload decoded and read as broadcast values). Every step must succeed
// or return an error, never crash, hang or allocate from an unchecked
// length. SecAgg+ messages go through the protocol's state machines in
// the round they belong to. Tasks' and Finish's client-state commits
// drive a worker's client states (fedrt/Remote.h) in a scratch directory.
#include "Protocol.h"
#include "Wire.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace {

using namespace fedrt;
using namespace fedrt::net;

const Stage &stage() {
  static const Stage s = [] {
    Stage st;
    st.broadcasts.push_back(TypeDesc::tensor(Element::F32, {16}));
    st.broadcasts.push_back(TypeDesc::tensor(Element::I64, {2}));
    Aggregation mean;
    mean.kind = Aggregation::Kind::WeightedMean;
    mean.value = TypeDesc::tensor(Element::F32, {16});
    mean.accumulator = mean.result = mean.value; // as the plan loader sets
    st.aggregations.push_back(mean);
    Aggregation sum;
    sum.kind = Aggregation::Kind::Sum;
    sum.value = TypeDesc::tensor(Element::I32, {3});
    sum.accumulator = sum.result = sum.value;
    st.aggregations.push_back(sum);
    return st;
  }();
  return s;
}

void finishResult(const remote::v1::Result &r, const std::string &payload) {
  std::optional<Codec> codec = codecNamed(r.codec());
  if (!codec)
    return;
  absl::StatusOr<std::string> raw = decodeResult(*codec, stage(), payload);
  if (!raw.ok())
    return;
  absl::StatusOr<std::vector<PartialAggregate>> partials =
      readResultPayload(stage(), *raw);
  if (!partials.ok() || partials->size() < 2)
    return;
  // Merging and reporting a decoded partial is what the coordinator does
  // next: errors allowed, crashes not.
  Context ctx;
  (void)(*partials)[0].merge((*partials)[0], ctx);
  (void)(*partials)[0].report(ctx);
  (void)(*partials)[1].report(ctx);
}

void finishTask(const remote::v1::Task &t, const std::string &payload) {
  std::optional<Codec> codec = codecNamed(t.codec());
  if (!codec)
    return;
  absl::StatusOr<std::string> raw =
      decodeTask(*codec, stage(), payload, t.raw_bytes());
  if (!raw.ok())
    return;
  std::vector<HostValue> broadcasts, zeros;
  (void)readTaskPayload(stage(), *raw, broadcasts, zeros);
}

// SecAgg+ (docs/secure-aggregation.md): three honest parties run the
// protocol up to the round a fuzzed message belongs to; then the message
// replaces party 0's (to the coordinator's side) or the coordinator's
// message to party 0 (to the party's side), and the round is closed.
// Refusals are expected; crashes, hangs and wrong-size reads are not.
struct SecAggRun {
  secagg::Params params;
  std::vector<secagg::Party> parties;
  secagg::Server server;
  std::map<uint32_t, secagg::v1::KeysAdvertised> keys;
  std::map<uint32_t, secagg::v1::SharesRelayed> relayed;
  std::map<uint32_t, secagg::v1::UnmaskRequest> requests;

  static secagg::Params make() {
    secagg::Params p;
    p.threshold = 2;
    p.neighbours = 2;
    p.bits = 16;
    p.length = 4;
    p.session = 7;
    return p;
  }
  SecAggRun() : params(make()), server(params) {
    for (uint32_t i = 0; i < 3; ++i)
      parties.emplace_back(i, params);
  }
  // Runs rounds [0, round) honestly, leaving party 0's message of `round`
  // (0..3) to the caller; false if the honest run fails.
  bool upTo(int round) {
    auto all = [&](auto f) {
      for (uint32_t i = 0; i < 3; ++i)
        if (!f(i))
          return false;
      return true;
    };
    auto step = [&](int r, uint32_t i, auto message) {
      return r == round && i == 0 ? true : server.receive(message).ok();
    };
    if (!all(
            [&](uint32_t i) { return step(0, i, parties[i].advertiseKeys()); }))
      return false;
    if (round == 0)
      return true;
    auto k = server.closeAdvertise();
    if (!k.ok())
      return false;
    keys = *k;
    if (!all([&](uint32_t i) {
          auto m = parties[i].shareKeys(keys[i]);
          return m.ok() && step(1, i, *m);
        }))
      return false;
    if (round == 1)
      return true;
    auto r = server.closeShareKeys();
    if (!r.ok())
      return false;
    relayed = *r;
    if (!all([&](uint32_t i) {
          auto m = parties[i].maskInput(relayed[i], {1, 2, 3, 4});
          return m.ok() && step(2, i, *m);
        }))
      return false;
    if (round == 2)
      return true;
    auto q = server.closeMaskedInput();
    if (!q.ok())
      return false;
    requests = *q;
    return all([&](uint32_t i) {
      auto m = parties[i].unmask(requests[i]);
      return m.ok() && step(3, i, *m);
    });
  }
};

void secaggUp(const remote::v1::SecAggUp &m) {
  SecAggRun run;
  switch (m.kind_case()) {
  case remote::v1::SecAggUp::kAdvertiseKeys:
    if (run.upTo(0)) {
      (void)run.server.receive(m.advertise_keys());
      (void)run.server.closeAdvertise();
    }
    break;
  case remote::v1::SecAggUp::kShareKeys:
    if (run.upTo(1)) {
      (void)run.server.receive(m.share_keys());
      (void)run.server.closeShareKeys();
    }
    break;
  case remote::v1::SecAggUp::kUnmaskShares:
    if (run.upTo(3)) {
      (void)run.server.receive(m.unmask_shares());
      (void)run.server.closeUnmasking();
    }
    break;
  default:
    break;
  }
}

void secaggDown(const remote::v1::SecAggDown &m) {
  SecAggRun run;
  secagg::Party &p = run.parties[0];
  switch (m.kind_case()) {
  case remote::v1::SecAggDown::kKeysAdvertised:
    if (run.upTo(1)) {
      secagg::Party fresh(0, run.params);
      fresh.advertiseKeys();
      (void)fresh.shareKeys(m.keys_advertised());
    }
    break;
  case remote::v1::SecAggDown::kSharesRelayed:
    if (run.upTo(2))
      (void)p.maskInput(m.shares_relayed(), {1, 2, 3, 4});
    break;
  case remote::v1::SecAggDown::kUnmaskRequest:
    if (run.upTo(3))
      (void)p.unmask(m.unmask_request());
    break;
  default:
    break;
  }
}

// A worker of 4 clients with f32 states, afresh for each input (its
// directory emptied), made when the input first carries a commit.
struct WorkerStates {
  WorkerStates()
      : store(*parseType("f32"), 1024, ""), states(store, directory(), 1, 4) {
    (void)store.initialize(
        [](fedrt_context *, const uint64_t *, uint64_t *out) { out[0] = 0; });
    (void)states.open();
  }
  static std::string directory() {
    static const std::string dir =
        "/tmp/fedrt-remote-fuzzer-" + std::to_string(::getpid());
    static const struct Removal { // the directory goes with the process
      ~Removal() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } removal;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return dir;
  }
  ClientStateStore store;
  WorkerClientStates states;
};

// A task's commit as the worker applies it: settled, then (for even
// stages) new states for its clients staged and written.
void clientStates(std::unique_ptr<WorkerStates> &w, const remote::v1::Task &t) {
  if (!t.has_client_state())
    return;
  absl::StatusOr<ClientStateCommit> c = commitOf(t.client_state());
  if (!c.ok())
    return;
  if (!w)
    w = std::make_unique<WorkerStates>();
  bool writes = t.stage() % 2 == 0;
  if (!w->states.beforeTask(*c, t.round(), t.attempt(), writes).ok())
    return;
  float one = 1;
  for (int64_t client : t.clients())
    if (writes && client >= 0 && client < 4)
      w->store.stage(client, reinterpret_cast<const unsigned char *>(&one));
  (void)w->states.afterTask(t.round(), t.attempt(), writes, false,
                            t.clients_size() > 4);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint64_t limit = resultPayloadBytes(stage()) * 2 + 4096;
  ChunkAssembly up, down;
  remote::v1::Result result;
  remote::v1::Task task;
  std::unique_ptr<WorkerStates> states;
  size_t pos = 0;
  while (size - pos >= 2) {
    size_t n = data[pos] | (size_t(data[pos + 1]) << 8);
    pos += 2;
    n = std::min(n, size - pos);
    remote::v1::WorkerMessage w;
    if (w.ParseFromArray(data + pos, static_cast<int>(n))) {
      if (w.has_result()) {
        result = w.result();
        up = ChunkAssembly();
        if (up.begin(result.task(), result.payload_bytes(), limit).ok() &&
            up.complete())
          finishResult(result, up.take());
      } else if (w.has_chunk() && up.add(w.chunk()).ok() && up.complete()) {
        finishResult(result, up.take());
      } else if (w.has_secagg()) {
        secaggUp(w.secagg());
      }
    }
    remote::v1::CoordinatorMessage c;
    if (c.ParseFromArray(data + pos, static_cast<int>(n))) {
      if (c.has_task()) {
        task = c.task();
        clientStates(states, task);
        down = ChunkAssembly();
        if (down.begin(task.task(), task.payload_bytes(), limit).ok() &&
            down.complete())
          finishTask(task, down.take());
      } else if (c.has_chunk() && down.add(c.chunk()).ok() && down.complete()) {
        finishTask(task, down.take());
      } else if (c.has_secagg()) {
        secaggDown(c.secagg());
      } else if (c.has_finish() && c.finish().has_client_state() && states) {
        absl::StatusOr<ClientStateCommit> commit =
            commitOf(c.finish().client_state());
        if (commit.ok())
          (void)states->states.finish(*commit);
      }
    }
    pos += n;
  }
  return 0;
}
