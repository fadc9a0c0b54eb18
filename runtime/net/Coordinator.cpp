// The coordinator's sessions (net/Coordinator.h): joins and refusals,
// results reassembled from chunks and decoded on the session's own thread,
// heartbeats and the dead-worker watchdog.
#include "Coordinator.h"

#include "Security.h"

#include "fedrt/Hash.h"

#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

namespace fedrt::net {

using remote::v1::CoordinatorMessage;
using remote::v1::WorkerMessage;

namespace {

// Tests set FEDRT_RECORD_MESSAGES=FILE to keep every message the
// coordinator receives (length-prefixed), to check what crosses the wire.
void record(const WorkerMessage &m) {
  static const char *path = std::getenv("FEDRT_RECORD_MESSAGES");
  if (!path || !*path)
    return;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::ofstream out(path, std::ios::app | std::ios::binary);
  std::string bytes = m.SerializeAsString();
  uint64_t n = bytes.size();
  out.write(reinterpret_cast<const char *>(&n), 8);
  out << bytes;
}

std::string hex(uint64_t x) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(x));
  return text;
}

} // namespace

void Session::send(CoordinatorMessage message) {
  std::lock_guard<std::mutex> lock(outMutex);
  if (closing)
    return;
  outbox.push_back(std::move(message));
  outReady.notify_one();
}

void Session::drain(Stream &stream) {
  for (;;) {
    CoordinatorMessage out;
    {
      std::unique_lock<std::mutex> lock(outMutex);
      outReady.wait(lock, [&] { return closing || !outbox.empty(); });
      if (outbox.empty())
        return;
      out = std::move(outbox.front());
      outbox.pop_front();
    }
    if (!stream.Write(out)) {
      close();
      return;
    }
  }
}

void Session::cancel() {
  std::lock_guard<std::mutex> lock(outMutex);
  if (!handlerDone)
    context->TryCancel();
}

void Session::endHandler() {
  std::lock_guard<std::mutex> lock(outMutex);
  handlerDone = true;
}

void Session::close() {
  std::lock_guard<std::mutex> lock(outMutex);
  closing = true;
  outReady.notify_one();
}

} // namespace fedrt::net

namespace fedrt {

using namespace net;

RemoteBackend::State::State(const PlanTable &plan, CoordinatorOptions o)
    : plan(plan), options(std::move(o)) {}

int64_t RemoteBackend::State::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                               started)
      .count();
}

void RemoteBackend::State::log(const std::string &line) const {
  std::fprintf(stderr, "coordinator: %s\n", line.c_str());
}

grpc::Status RemoteBackend::State::admit(grpc::ServerContext *context,
                                         const remote::v1::Hello &hello,
                                         remote::v1::Refusal &refusal) {
  auto refuse = [&](remote::v1::Refusal::Reason reason, grpc::StatusCode code,
                    const std::string &message) {
    refusal.set_reason(reason);
    refusal.set_message(message);
    return grpc::Status(code, message);
  };
  if (!token.empty()) {
    auto it = context->client_metadata().find("authorization");
    std::string given = it == context->client_metadata().end()
                            ? ""
                            : std::string(it->second.data(), it->second.size());
    if (!sameToken(given, "Bearer " + token))
      return refuse(remote::v1::Refusal::UNAUTHENTICATED,
                    grpc::StatusCode::UNAUTHENTICATED,
                    given.empty() ? "no token (the coordinator requires "
                                    "--token-file)"
                                  : "wrong token");
  }
  if (hello.protocol() != kProtocolVersion)
    return refuse(remote::v1::Refusal::PLAN_MISMATCH,
                  grpc::StatusCode::FAILED_PRECONDITION,
                  "protocol mismatch: coordinator speaks version " +
                      std::to_string(kProtocolVersion) + ", worker " +
                      std::to_string(hello.protocol()));
  if (hello.plan_fingerprint() != plan.fingerprint)
    return refuse(remote::v1::Refusal::PLAN_MISMATCH,
                  grpc::StatusCode::FAILED_PRECONDITION,
                  "plan mismatch: coordinator runs '" + plan.processName +
                      "' with fingerprint " + hex(plan.fingerprint) +
                      ", worker '" + hello.name() + "' runs '" +
                      hello.program() + "' with fingerprint " +
                      hex(hello.plan_fingerprint()));
  auto malformed = [&](const std::string &why) {
    return refuse(remote::v1::Refusal::MALFORMED,
                  grpc::StatusCode::INVALID_ARGUMENT,
                  "malformed hello: " + why);
  };
  if (hello.name().empty() || hello.name().size() > 256)
    return malformed("a worker name must have 1 to 256 characters");
  if (hello.client_examples_size() > 100000000)
    return malformed("too many clients");
  if (hello.client_names_size() != 0 &&
      hello.client_names_size() != hello.client_examples_size())
    return malformed("client names and counts differ in number");
  for (int64_t e : hello.client_examples())
    if (e < 0)
      return malformed("a negative example count");
  for (const std::string &n : hello.client_names())
    if (n.size() > 4096)
      return malformed("a client name longer than 4096 bytes");
  std::set<std::string> codecs(hello.codecs().begin(), hello.codecs().end());
  for (Codec c : {up, down})
    if (!codecs.count(codecName(c)))
      return refuse(remote::v1::Refusal::PLAN_MISMATCH,
                    grpc::StatusCode::FAILED_PRECONDITION,
                    std::string("the worker cannot use codec ") + codecName(c));
  return grpc::Status::OK;
}

void RemoteBackend::State::retire(const std::shared_ptr<Session> &s,
                                  const std::string &why) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (s->alive) {
      s->alive = false;
      auto it = live.find(s->name);
      if (it != live.end() && it->second == s)
        live.erase(it);
      for (auto &[task, p] : pending)
        if (p->session == s->id) {
          p->gone = true;
          if (!p->done)
            p->lost = true;
        }
      if (!why.empty() && !finished)
        log("worker '" + s->name + "' (" + s->peer + ") left: " + why);
    }
    changed.notify_all();
  }
  s->close();
}

grpc::Status RemoteBackend::State::Join(grpc::ServerContext *context,
                                        Stream *stream) {
  auto s = std::make_shared<Session>();
  s->context = context;
  s->peer = context->peer();
  s->lastSeenMs = nowMs();
  {
    std::lock_guard<std::mutex> lock(mutex);
    s->id = nextSession++;
    connecting.push_back(s);
  }
  auto unlist = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    std::erase(connecting, s);
  };
  // The context dies with this call: nobody cancels it after.
  struct EndHandler {
    Session &s;
    ~EndHandler() { s.endHandler(); }
  } endHandler{*s};
  WorkerMessage m;
  if (!stream->Read(&m) || !m.has_hello()) {
    unlist();
    log("closed a connection from " + s->peer +
        ": its first message was not a hello");
    return {grpc::StatusCode::INVALID_ARGUMENT, "expected a hello"};
  }
  record(m);
  const remote::v1::Hello &hello = m.hello();
  remote::v1::Refusal refusal;
  grpc::Status admitted = admit(context, hello, refusal);
  unlist();
  if (!admitted.ok()) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++counters.refused;
    }
    log("refused worker '" + hello.name().substr(0, 256) + "' (" + s->peer +
        "): " + refusal.message());
    CoordinatorMessage out;
    *out.mutable_refusal() = refusal;
    stream->Write(out);
    return admitted;
  }
  s->name = hello.name();
  s->examples.assign(hello.client_examples().begin(),
                     hello.client_examples().end());
  s->clientNames.assign(hello.client_names().begin(),
                        hello.client_names().end());
  std::thread writer([s, stream] { s->drain(*stream); });
  enlist(s);
  readSession(s, *stream);
  writer.join();
  return grpc::Status::OK;
}

void RemoteBackend::State::enlist(const std::shared_ptr<Session> &s) {
  // The welcome goes first, before a round can queue a task.
  CoordinatorMessage welcome;
  remote::v1::Welcome *w = welcome.mutable_welcome();
  w->set_session(std::to_string(s->id));
  w->set_heartbeat_ms(options.heartbeatMs);
  w->set_chunk_bytes(kChunkBytes);
  w->set_compress_up(codecName(up));
  w->set_compress_down(codecName(down));
  w->set_seed(options.seed);
  s->send(std::move(welcome));
  std::shared_ptr<Session> replaced;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = live.find(s->name);
    if (it != live.end())
      replaced = it->second;
  }
  if (replaced) {
    retire(replaced, "replaced by a new session with the same name");
    replaced->cancel();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    live[s->name] = s;
    changed.notify_all();
  }
  int64_t clients = 0;
  for (int64_t e : s->examples)
    clients += e > 0 ? 1 : 0;
  log("worker '" + s->name + "' joined from " + s->peer + " with " +
      std::to_string(clients) + " client" + (clients == 1 ? "" : "s"));
}

void RemoteBackend::State::readSession(const std::shared_ptr<Session> &s,
                                       Stream &stream) {
  WorkerMessage m;
  // gRPC ends the reads without a status we can see: say what it can be.
  std::string why = "its stream ended (closed by the worker, a broken "
                    "connection, or a message over the 2 MiB limit)";
  while (stream.Read(&m)) {
    record(m);
    s->lastSeenMs = nowMs();
    if (absl::Status r = receive(s, m); !r.ok()) {
      why = std::string(r.message());
      if (!r.ok() && r.code() != absl::StatusCode::kCancelled) {
        std::lock_guard<std::mutex> lock(mutex);
        ++counters.corrupt;
      }
      log("closing the session of worker '" + s->name + "' (" + s->peer +
          "): " + why);
      s->cancel();
      break;
    }
  }
  retire(s, why);
}

absl::Status RemoteBackend::State::receive(const std::shared_ptr<Session> &s,
                                           const WorkerMessage &m) {
  int64_t now = nowMs();
  if (now - s->windowStartMs >= 1000) {
    s->windowStartMs = now;
    s->windowMessages = 0;
  }
  if (++s->windowMessages > options.maxMessagesPerSecond)
    return absl::ResourceExhaustedError(
        "more than " + std::to_string(options.maxMessagesPerSecond) +
        " messages in a second");
  switch (m.kind_case()) {
  case WorkerMessage::kHeartbeat:
    return absl::OkStatus();
  case WorkerMessage::kResult:
    s->incomingBytes = static_cast<int64_t>(m.ByteSizeLong());
    return beginResult(s, m.result());
  case WorkerMessage::kChunk:
    if (absl::Status a = s->incoming.add(m.chunk()); !a.ok())
      return a;
    s->incomingBytes += static_cast<int64_t>(m.ByteSizeLong());
    return s->incoming.complete() ? completeResult(s) : absl::OkStatus();
  case WorkerMessage::kSecagg:
    return receiveSecAgg(s, m.secagg());
  case WorkerMessage::kLeave:
    return absl::CancelledError("it left: " +
                                m.leave().reason().substr(0, 200));
  case WorkerMessage::kHello:
    return absl::InvalidArgumentError("a second hello");
  case WorkerMessage::KIND_NOT_SET:
    break;
  }
  return absl::InvalidArgumentError("a message of no known kind");
}

absl::Status
RemoteBackend::State::beginResult(const std::shared_ptr<Session> &s,
                                  const remote::v1::Result &r) {
  uint64_t limit = maxResultBytes;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = pending.find(r.task());
    if (it != pending.end() && it->second->session == s->id) {
      const Pending &p = *it->second;
      limit = ZSTD_compressBound(resultPayloadBytes(*p.stage));
      auto count = static_cast<int64_t>(p.clients.size());
      if (r.reported() < 0 || r.reported() + r.failures_size() != count)
        return absl::InvalidArgumentError(
            "a result for " + std::to_string(r.reported()) + " + " +
            std::to_string(r.failures_size()) + " clients of a task of " +
            std::to_string(count));
      std::set<int64_t> failed;
      for (const remote::v1::ClientFailure &f : r.failures())
        if (!std::binary_search(p.clients.begin(), p.clients.end(),
                                f.client()) ||
            !failed.insert(f.client()).second || f.message().size() > 4096)
          return absl::InvalidArgumentError(
              "a failure of a client not in the task");
    }
  }
  if (r.codec() != codecName(up))
    return absl::InvalidArgumentError("a result encoded with '" +
                                      r.codec().substr(0, 32) +
                                      "', not the negotiated " + codecName(up));
  s->incomingResult = r;
  if (absl::Status b = s->incoming.begin(r.task(), r.payload_bytes(), limit);
      !b.ok())
    return b;
  return r.payload_bytes() == 0 ? completeResult(s) : absl::OkStatus();
}

absl::Status
RemoteBackend::State::completeResult(const std::shared_ptr<Session> &s) {
  std::string payload = s->incoming.take();
  const remote::v1::Result &r = s->incomingResult;
  const Stage *stage = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = pending.find(r.task());
    if (it == pending.end() || it->second->session != s->id ||
        it->second->lost || it->second->done) {
      ++counters.latePartials;
      if (options.verbose)
        log("dropped a late result of task " + std::to_string(r.task()) +
            " from worker '" + s->name + "'");
      return absl::OkStatus();
    }
    stage = it->second->stage;
  }
  absl::StatusOr<std::string> raw = decodeResult(up, *stage, payload);
  if (!raw.ok())
    return raw.status();
  absl::StatusOr<std::vector<PartialAggregate>> partials =
      readResultPayload(*stage, *raw, &pool);
  if (!partials.ok())
    return partials.status();
  for (const PartialAggregate &p : *partials)
    if (p.clients() != r.reported())
      return absl::InvalidArgumentError(
          "a partial of " + std::to_string(p.clients()) +
          " clients in a result of " + std::to_string(r.reported()));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = pending.find(r.task());
  if (it == pending.end() || it->second->lost || it->second->done) {
    ++counters.latePartials;
    return absl::OkStatus();
  }
  Pending &p = *it->second;
  p.partials = *std::move(partials);
  p.reported = r.reported();
  for (const remote::v1::ClientFailure &f : r.failures())
    p.failures.push_back({f.client(), f.message()});
  p.bytesUp = s->incomingBytes;
  p.done = true;
  changed.notify_all();
  return absl::OkStatus();
}

void RemoteBackend::State::watchHeartbeats() {
  int64_t deadAfter =
      int64_t(options.heartbeatMs) * options.deadAfterHeartbeats;
  for (;;) {
    std::vector<std::shared_ptr<Session>> silent;
    {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait_for(lock, std::chrono::milliseconds(100));
      if (finished)
        return;
      int64_t now = nowMs();
      for (auto &[name, s] : live)
        if (now - s->lastSeenMs > deadAfter)
          silent.push_back(s);
      for (auto &s : connecting)
        if (now - s->lastSeenMs > deadAfter)
          silent.push_back(s);
    }
    for (auto &s : silent) {
      if (!s->name.empty())
        retire(s, "no heartbeat for " + std::to_string(deadAfter) + " ms");
      s->cancel();
    }
  }
}

} // namespace fedrt
