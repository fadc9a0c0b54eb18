// A worker (fedrt/Remote.h): dials the coordinator, announces its clients,
// runs the tasks it is sent on its own threads and answers each with one
// pre-aggregated result; reconnects with exponential backoff and jitter.
#include "Wire.h"

#include "Security.h"

#include "fedrt/Faults.h"
#include "fedrt/Hash.h"
#include "fedrt/Remote.h"

#include "Coordinator.h"

#include "remote.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

namespace fedrt {

namespace {

using remote::v1::CoordinatorMessage;
using remote::v1::WorkerMessage;
using Clock = std::chrono::steady_clock;
using ClientStream =
    grpc::ClientReaderWriter<WorkerMessage, CoordinatorMessage>;

void say(const std::string &line) {
  std::fprintf(stderr, "worker: %s\n", line.c_str());
}

// One connection's session: the stream, a lock for its writes (results
// and heartbeats come from two threads) and the negotiated settings.
class Session {
public:
  Session(const PlanTable &plan, WorkerClients &clients,
          const WorkerOptions &options, ClientStream &stream)
      : plan_(plan), clients_(clients), options_(options), stream_(stream) {}

  bool write(const WorkerMessage &m) {
    std::lock_guard<std::mutex> lock(writeMutex_);
    return stream_.Write(m);
  }
  // Runs the session after its Welcome until the stream ends (false) or
  // the run finishes (`finish` filled in).
  absl::Status serve(const remote::v1::Welcome &welcome,
                     remote::v1::Finish &finish, bool &finished);

private:
  absl::Status runTask(const remote::v1::Task &task,
                       const std::string &payload);
  // A task decoded and checked: its clients, broadcasts, zeros and DP clips
  // (the StageTask points into the vectors beside it).
  struct DecodedTask {
    StageTask task;
    std::vector<HostValue> broadcasts, zeros;
  };
  absl::Status readTask(const remote::v1::Task &t, const std::string &payload,
                        const Stage &stage, DecodedTask &out);
  // Encodes and sends a task's result (header, then its chunks).
  absl::Status sendResult(const remote::v1::Task &t, const Stage &stage,
                          WorkerMessage &header, std::string resultRaw,
                          Clock::time_point start);
  // Secure sums (docs/secure-aggregation.md): the worker is a SecAgg+
  // party; its result waits, masked, for the key rounds.
  absl::Status beginSecAgg(const remote::v1::Task &t, const Stage &stage,
                           WorkerMessage header, StageResult result,
                           Clock::time_point start);
  absl::Status continueSecAgg(const remote::v1::SecAggDown &m);
  void heartbeats(uint32_t periodMs);
  bool sendHostile(uint64_t task);
  // An error of the client states (fedrt/Remote.h) ends the worker, not
  // just the session: reconnecting cannot bring the states back.
  absl::Status clientStatesFailed(const absl::Status &s) {
    fatal_ = true;
    return absl::Status(s.code(), "client states: " + std::string(s.message()));
  }

  const PlanTable &plan_;
  WorkerClients &clients_;
  const WorkerOptions &options_;
  ClientStream &stream_;
  std::mutex writeMutex_;
  net::Codec up_ = net::Codec::None, down_ = net::Codec::None;
  uint64_t seed_ = 0;
  std::mutex stopMutex_;
  std::condition_variable stopCv_;
  bool stop_ = false;
  // The task whose result waits for the SecAgg+ rounds (one at a time:
  // a new task abandons an older one).
  struct SecureTask {
    remote::v1::Task task;
    const Stage *stage = nullptr;
    WorkerMessage header;
    std::vector<PartialAggregate> partials;
    std::unique_ptr<secagg::Party> party;
    Clock::time_point start;
  };
  std::optional<SecureTask> secure_;
  bool fatal_ = false;

public:
  bool fatal() const { return fatal_; }
};

void Session::heartbeats(uint32_t periodMs) {
  WorkerMessage beat;
  beat.mutable_heartbeat();
  std::unique_lock<std::mutex> lock(stopMutex_);
  while (!stopCv_.wait_for(lock, std::chrono::milliseconds(periodMs),
                           [&] { return stop_; }))
    if (!write(beat))
      return;
}

// Test hooks (fedrt/Faults.h): instead of its result the worker sends a
// message that breaks the protocol, and the coordinator must close only
// this session. True if one was sent.
bool Session::sendHostile(uint64_t task) {
  WorkerMessage m;
  if (faultActive("worker-second-hello")) {
    m.mutable_hello()->set_name(options_.name);
  } else if (faultActive("worker-oversized-chunk")) {
    m.mutable_chunk()->set_task(task);
    m.mutable_chunk()->set_data(std::string(3 * net::kChunkBytes, 'x'));
  } else if (faultActive("worker-chunk-out-of-order")) {
    m.mutable_chunk()->set_task(task);
    m.mutable_chunk()->set_seq(5);
    m.mutable_chunk()->set_data("x");
  } else {
    return false;
  }
  write(m);
  return true;
}

absl::Status Session::readTask(const remote::v1::Task &t,
                               const std::string &payload, const Stage &stage,
                               DecodedTask &out) {
  StageTask &task = out.task;
  task.stage = t.stage();
  task.round = t.round();
  int64_t previous = -1;
  for (int64_t c : t.clients()) {
    if (c <= previous || c >= static_cast<int64_t>(clients_.examples.size()))
      return absl::InvalidArgumentError(
          "a task names clients this worker does not host");
    previous = c;
    task.cohort.push_back(c);
  }
  if (out.task.computation->readsClientSeed() &&
      t.client_seeds_size() != t.clients_size())
    return absl::InvalidArgumentError(
        "a task without a client_seed() for each of its clients");
  task.clientSeeds.assign(t.client_seeds().begin(), t.client_seeds().end());
  std::optional<net::Codec> codec = net::codecNamed(t.codec());
  if (!codec || *codec != down_)
    return absl::InvalidArgumentError("a task with codec '" + t.codec() + "'");
  absl::StatusOr<std::string> raw =
      net::decodeTask(*codec, stage, payload, t.raw_bytes());
  if (!raw.ok())
    return raw.status();
  if (absl::Status s =
          net::readTaskPayload(stage, *raw, out.broadcasts, out.zeros);
      !s.ok())
    return s;
  for (const HostValue &b : out.broadcasts)
    task.broadcasts.push_back(&b);
  size_t nextZero = 0;
  for (const Aggregation &a : stage.aggregations)
    task.zeros.push_back(
        a.kind == Aggregation::Kind::Custom ? &out.zeros[nextZero++] : nullptr);
  // A DP mean's clip comes with the task (it adapts); it must be a norm.
  if (t.dp_clips_size() != 0 &&
      static_cast<size_t>(t.dp_clips_size()) != stage.aggregations.size())
    return absl::InvalidArgumentError("a task with the wrong number of clips");
  for (size_t i = 0; i < stage.aggregations.size(); ++i) {
    double clip = t.dp_clips_size() ? t.dp_clips(static_cast<int>(i)) : 0.0;
    if (stage.aggregations[i].kind == Aggregation::Kind::DpMean &&
        !(clip > 0 && std::isfinite(clip)))
      return absl::InvalidArgumentError(
          "a task without a valid clip for federated_dp_mean");
    task.dpClips.push_back(clip);
  }
  // A secure mean's clients round with their population indices' streams.
  bool secureMean =
      std::any_of(stage.aggregations.begin(), stage.aggregations.end(),
                  [](const Aggregation &a) {
                    return a.kind == Aggregation::Kind::SecureMean;
                  });
  if (secureMean && t.population_size() != t.clients_size())
    return absl::InvalidArgumentError(
        "a task for a secure mean without its clients' population indices");
  if (secureMean)
    task.population.assign(t.population().begin(), t.population().end());
  return absl::OkStatus();
}

absl::Status Session::runTask(const remote::v1::Task &t,
                              const std::string &payload) {
  auto start = Clock::now();
  const Computation *comp = plan_.find(t.computation());
  if (!comp || t.stage() >= comp->stages.size())
    return absl::InvalidArgumentError("a task for an unknown computation");
  const Stage &stage = comp->stages[t.stage()];
  ClientBackend *backend = comp == plan_.eval ? clients_.eval : clients_.train;
  DecodedTask decoded;
  decoded.task.computation = comp;
  if (absl::Status s = readTask(t, payload, stage, decoded); !s.ok())
    return s;
  StageTask &task = decoded.task;
  faultPoint("worker-task");
  if (faultActive("worker-stop"))
    std::raise(SIGSTOP); // a straggler, until a test sends SIGCONT

  // Only the computation that writes states has any to save; eval reads.
  WorkerClientStates *states = clients_.states;
  bool writes = stage.writesClientState;
  bool training = comp->writesClientState();
  if (states) {
    absl::StatusOr<ClientStateCommit> commit = net::commitOf(t.client_state());
    if (!commit.ok())
      return commit.status();
    if (absl::Status s =
            states->beforeTask(*commit, t.round(), t.attempt(), writes);
        !s.ok())
      return clientStatesFailed(s);
  }

  WorkerMessage header;
  remote::v1::Result *r = header.mutable_result();
  r->set_task(t.task());
  std::string resultRaw;
  absl::StatusOr<StageResult> result = backend->runStage(task);
  // The new states are on disk before the result that counts them leaves.
  if (states && training)
    if (absl::Status s =
            states->afterTask(t.round(), t.attempt(), writes, !result.ok(),
                              result.ok() && !result->failures.empty());
        !s.ok())
      return clientStatesFailed(s);
  if (!result.ok()) {
    // The stage failed as a whole (an overflow of the sum): every client
    // is reported failed with its message, nothing is aggregated.
    for (int64_t c : task.cohort) {
      remote::v1::ClientFailure *f = r->add_failures();
      f->set_client(c);
      f->set_message(std::string(result.status().message()));
    }
    std::vector<PartialAggregate> empty;
    for (size_t i = 0; i < stage.aggregations.size(); ++i)
      empty.emplace_back(stage.aggregations[i], task.zeros[i]);
    resultRaw = net::resultPayload(empty);
  } else {
    r->set_reported(result->reported);
    for (const ClientFailure &cf : result->failures) {
      remote::v1::ClientFailure *f = r->add_failures();
      f->set_client(cf.client);
      f->set_message(cf.message);
    }
    if (t.has_secagg())
      return beginSecAgg(t, stage, std::move(header), std::move(*result),
                         start);
    resultRaw = net::resultPayload(result->partials);
  }
  return sendResult(t, stage, header, std::move(resultRaw), start);
}

absl::Status Session::sendResult(const remote::v1::Task &t, const Stage &stage,
                                 WorkerMessage &header, std::string resultRaw,
                                 Clock::time_point start) {
  remote::v1::Result *r = header.mutable_result();
  r->set_raw_bytes(resultRaw.size());
  net::RoundingStream rounding{seed_, t.round(), fnv1a(options_.name),
                               t.stage()};
  absl::StatusOr<std::string> encoded =
      net::encodeResult(up_, stage, std::move(resultRaw), rounding);
  if (!encoded.ok())
    return encoded.status();
  if (faultActive("worker-corrupt-result") && !encoded->empty())
    (*encoded)[encoded->size() / 2] ^= 0x5a; // a flipped byte on the wire
  r->set_payload_bytes(encoded->size());
  r->set_codec(net::codecName(up_));
  r->set_compute_ms(
      std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  faultPoint("worker-result");
  if (sendHostile(t.task()))
    return absl::OkStatus();
  if (!write(header))
    return absl::OkStatus(); // the stream broke: the caller sees it
  net::forEachChunk(t.task(), *encoded, [&](remote::v1::Chunk &chunk) {
    WorkerMessage m;
    *m.mutable_chunk() = std::move(chunk);
    return write(m);
  });
  if (options_.verbose)
    say("task " + std::to_string(t.task()) + " (" + t.computation() +
        " stage " + std::to_string(t.stage()) + ", round " +
        std::to_string(t.round()) + "): " + std::to_string(t.clients_size()) +
        " clients");
  return absl::OkStatus();
}

absl::Status Session::beginSecAgg(const remote::v1::Task &t, const Stage &stage,
                                  WorkerMessage header, StageResult result,
                                  Clock::time_point start) {
  const remote::v1::SecAggSetup &setup = t.secagg();
  secagg::Params params;
  params.threshold = setup.threshold();
  params.neighbours = setup.neighbours();
  params.bits = static_cast<int>(std::min<uint32_t>(setup.bits(), 64));
  params.session = setup.session();
  params.length = net::secureSums(result.partials).size();
  SecureTask st;
  st.task = t;
  st.stage = &stage;
  st.header = std::move(header);
  st.partials = std::move(result.partials);
  st.party = std::make_unique<secagg::Party>(setup.party(), params);
  st.start = start;
  WorkerMessage m;
  m.mutable_secagg()->set_task(t.task());
  *m.mutable_secagg()->mutable_advertise_keys() = st.party->advertiseKeys();
  secure_ = std::move(st);
  write(m);
  return absl::OkStatus();
}

// The worker's side of the key rounds, masking and unmasking. A message
// the party refuses (a protocol violation) ends its part in the round:
// it is logged, nothing is revealed, and the coordinator's deadline drops
// the worker from the stage.
absl::Status Session::continueSecAgg(const remote::v1::SecAggDown &m) {
  if (!secure_ || secure_->task.task() != m.task())
    return absl::OkStatus(); // an abandoned task's: ignored
  SecureTask &st = *secure_;
  WorkerMessage up;
  up.mutable_secagg()->set_task(m.task());
  auto refused = [&](const absl::Status &s) {
    say(std::string(s.message()));
    secure_.reset();
    return absl::OkStatus();
  };
  switch (m.kind_case()) {
  case remote::v1::SecAggDown::kKeysAdvertised: {
    faultPoint("secagg-advertise"); // dies having advertised its keys
    auto out = st.party->shareKeys(m.keys_advertised());
    if (!out.ok())
      return refused(out.status());
    *up.mutable_secagg()->mutable_share_keys() = *out;
    break;
  }
  case remote::v1::SecAggDown::kSharesRelayed: {
    faultPoint("secagg-share-keys"); // dies having shared its keys
    auto masked =
        st.party->maskInput(m.shares_relayed(), net::secureSums(st.partials));
    if (!masked.ok())
      return refused(masked.status());
    std::vector<uint64_t> values;
    secagg::unpackValues(masked->values(), st.party->bits(),
                         net::secureSums(st.partials).size(), values);
    net::setSecureSums(st.partials, values);
    return sendResult(st.task, *st.stage, st.header,
                      net::resultPayload(st.partials), st.start);
  }
  case remote::v1::SecAggDown::kUnmaskRequest: {
    faultPoint("secagg-masked-input"); // dies having sent its masked input
    auto shares = st.party->unmask(m.unmask_request());
    if (!shares.ok())
      return refused(shares.status());
    if (faultActive("secagg-both-shares") &&
        shares->mask_seed_shares_size() > 1)
      *shares->add_masking_key_shares() = shares->mask_seed_shares(1);
    *up.mutable_secagg()->mutable_unmask_shares() = *shares;
    secure_.reset();
    break;
  }
  default:
    return absl::InvalidArgumentError(
        "a secure aggregation message of no known kind");
  }
  write(up);
  return absl::OkStatus();
}

absl::Status Session::serve(const remote::v1::Welcome &welcome,
                            remote::v1::Finish &finish, bool &finished) {
  std::optional<net::Codec> up = net::codecNamed(welcome.compress_up());
  std::optional<net::Codec> down = net::codecNamed(welcome.compress_down());
  if (!up || !down)
    return absl::InvalidArgumentError("the coordinator chose unknown codecs");
  up_ = *up;
  down_ = *down;
  seed_ = welcome.seed();
  if (clients_.seeded)
    clients_.seeded(seed_);
  uint32_t period = std::clamp<uint32_t>(welcome.heartbeat_ms(), 50, 60000);
  std::thread beats([this, period] { heartbeats(period); });
  absl::Status status;
  net::ChunkAssembly incoming;
  remote::v1::Task task;
  CoordinatorMessage m;
  // The largest task payload the plan can send (a coordinator that sends
  // more is broken or hostile).
  uint64_t limit = 0;
  for (const auto &c : plan_.computations)
    for (const Stage &s : c->stages) {
      uint64_t n = 64;
      for (const TypeDesc &b : s.broadcasts)
        n += static_cast<uint64_t>(b.bytes()) + 64 + 8 * b.slots();
      for (const Aggregation &a : s.aggregations)
        n += static_cast<uint64_t>(a.accumulator.bytes()) + 64 +
             8 * a.accumulator.slots();
      limit = std::max(limit, n + n / 64 + 1024);
    }
  while (status.ok() && stream_.Read(&m)) {
    switch (m.kind_case()) {
    case CoordinatorMessage::kSecagg:
      status = continueSecAgg(m.secagg());
      break;
    case CoordinatorMessage::kTask:
      task = m.task();
      secure_.reset(); // a new task: an older one's round is over
      status = incoming.begin(task.task(), task.payload_bytes(), limit);
      if (status.ok() && task.payload_bytes() == 0)
        status = runTask(task, incoming.take());
      break;
    case CoordinatorMessage::kChunk:
      status = incoming.add(m.chunk());
      if (status.ok() && incoming.complete())
        status = runTask(task, incoming.take());
      break;
    case CoordinatorMessage::kFinish:
      finish = m.finish();
      finished = true;
      if (clients_.states && finish.has_client_state()) {
        absl::StatusOr<ClientStateCommit> c =
            net::commitOf(finish.client_state());
        status = c.ok() ? clients_.states->finish(*c) : c.status();
        if (!status.ok())
          status = clientStatesFailed(status);
      }
      break;
    default:
      status = absl::InvalidArgumentError("an unexpected message");
    }
    if (finished)
      break;
  }
  {
    std::lock_guard<std::mutex> lock(stopMutex_);
    stop_ = true;
    stopCv_.notify_all();
  }
  beats.join();
  return status;
}

std::shared_ptr<grpc::Channel>
makeChannel(const WorkerOptions &o,
            const std::shared_ptr<grpc::ChannelCredentials> &credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, net::kMaxMessageBytes);
  // Our own backoff decides when to retry; gRPC's reconnects stay quick.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(o.connect, credentials, args);
}

// Whether the server at HOST:PORT accepts a connection but answers the
// plaintext HTTP/2 preface with a TLS alert or by closing it unanswered (a
// gRPC TLS server does that): a plaintext worker's "socket closed" then
// means the coordinator wants TLS, not that it is down.
bool speaksTls(const std::string &target) {
  size_t colon = target.rfind(':');
  if (colon == std::string::npos)
    return false;
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *found = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0)
    return false;
  bool tls = false;
  int fd = socket(found->ai_family, SOCK_STREAM, 0);
  timeval timeout{2, 0};
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    static const char preface[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
    unsigned char reply[8] = {};
    if (connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
        send(fd, preface, sizeof preface - 1, MSG_NOSIGNAL) > 0) {
      ssize_t n = recv(fd, reply, sizeof reply, 0);
      tls = n == 0 || (n >= 2 && reply[0] == 0x15 && reply[1] == 0x03);
    }
    close(fd);
  }
  freeaddrinfo(found);
  return tls;
}

bool isHandshakeFailure(const grpc::Status &s) {
  const std::string &m = s.error_message();
  return m.find("andshake") != std::string::npos ||
         m.find("SSL") != std::string::npos ||
         m.find("certificate") != std::string::npos;
}

// The session's first message: who this worker is and what it hosts
// (counts, never data).
WorkerMessage helloOf(const PlanTable &plan, const WorkerClients &clients,
                      const WorkerOptions &options) {
  WorkerMessage hello;
  remote::v1::Hello *h = hello.mutable_hello();
  h->set_protocol(net::kProtocolVersion);
  h->set_plan_fingerprint(plan.fingerprint);
  h->set_program(plan.processName.empty() ? "main" : plan.processName);
  h->set_version(FEDC_VERSION);
  h->set_name(options.name);
  for (int64_t e : clients.examples)
    h->add_client_examples(e);
  for (const std::string &n : clients.names)
    h->add_client_names(n);
  h->set_data_fingerprint(clients.dataFingerprint);
  for (const std::string &c : net::codecNames())
    h->add_codecs(c);
  return hello;
}

// Whether a failed join was a refusal (Unauthenticated, never retried):
// a token refused, a TLS handshake failed, or plaintext sent to a TLS
// coordinator. OK when retrying may succeed.
absl::Status refusedBy(const grpc::Status &end, const WorkerOptions &options,
                       bool everWelcomed) {
  if (end.error_code() == grpc::StatusCode::UNAUTHENTICATED)
    return absl::UnauthenticatedError("refused: " + end.error_message());
  // A TLS coordinator that accepts the connection and closes it before
  // any answer refused this worker's certificate (TLS 1.3 reports that
  // after the client's side of the handshake): refused, unless this
  // worker has been welcomed before with the same credentials.
  bool closedUnanswered =
      end.error_message().find("Socket closed") != std::string::npos;
  if (!options.security.insecure &&
      (isHandshakeFailure(end) || (closedUnanswered && !everWelcomed)))
    return absl::UnauthenticatedError(
        "refused: TLS handshake failed with " + options.connect +
        " (a certificate that the other side's CA did not sign, or none "
        "where the coordinator requires one)");
  if (options.security.insecure && closedUnanswered &&
      speaksTls(options.connect))
    return absl::UnauthenticatedError(
        "refused: the coordinator speaks TLS (it closed a plaintext "
        "connection unanswered); give --tls-ca instead of --insecure");
  return absl::OkStatus();
}

absl::Status refusalStatus(const remote::v1::Refusal &r) {
  if (r.reason() == remote::v1::Refusal::UNAUTHENTICATED)
    return absl::UnauthenticatedError("refused: " + r.message());
  if (r.reason() == remote::v1::Refusal::PLAN_MISMATCH)
    return absl::FailedPreconditionError("refused: " + r.message());
  return absl::InvalidArgumentError("refused: " + r.message());
}

// Serves one welcomed session. Returns the run's end (OK, or abandoned by
// the coordinator) once it finishes; nullopt when the stream ended or broke
// first and the worker should reconnect.
std::optional<absl::Status>
runSession(const PlanTable &plan, WorkerClients &clients,
           const WorkerOptions &options, ClientStream &stream,
           grpc::ClientContext &context, const remote::v1::Welcome &welcome) {
  Session session(plan, clients, options, stream);
  remote::v1::Finish finish;
  bool finished = false;
  absl::Status s = session.serve(welcome, finish, finished);
  // Client states this worker cannot honour end it: reconnecting would not
  // bring them back.
  if (!s.ok() && (finished || session.fatal())) {
    WorkerMessage leave;
    leave.mutable_leave()->set_reason(std::string(s.message()));
    session.write(leave);
    context.TryCancel();
    return s;
  }
  if (!s.ok()) {
    // A broken coordinator message: this session ends, the worker
    // reconnects (its state is the coordinator's to resend).
    say("leaving the session: " + std::string(s.message()));
    WorkerMessage leave;
    leave.mutable_leave()->set_reason(std::string(s.message()));
    session.write(leave);
    context.TryCancel();
  }
  if (!finished)
    return std::nullopt;
  stream.WritesDone();
  stream.Finish();
  if (finish.abandoned())
    return absl::AbortedError("the coordinator abandoned the run: " +
                              finish.message());
  say("the run is over");
  return absl::OkStatus();
}

} // namespace

absl::Status runWorker(const PlanTable &plan, WorkerClients &clients,
                       const WorkerOptions &options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      net::channelCredentials(options.security);
  if (!credentials.ok())
    return credentials.status();
  absl::StatusOr<std::string> token = net::readToken(options.security);
  if (!token.ok())
    return token.status();
  if (options.security.insecure)
    std::fprintf(stderr, "warning: --insecure: this worker talks to the "
                         "coordinator in plaintext\n");
  std::shared_ptr<grpc::Channel> channel = makeChannel(options, *credentials);
  auto stub = remote::v1::Coordinator::NewStub(channel);

  WorkerMessage hello = helloOf(plan, clients, options);

  std::mt19937_64 jitter(std::random_device{}());
  double backoff = 0.25; // seconds; x1.6 per failure, +-20 % jitter
  auto lastJoined = Clock::now();
  bool everWelcomed = false;
  for (;;) {
    grpc::ClientContext context;
    if (!token->empty())
      context.AddMetadata("authorization", "Bearer " + *token);
    std::unique_ptr<ClientStream> stream = stub->Join(&context);
    CoordinatorMessage first;
    bool welcomed = false;
    if (stream->Write(hello) && stream->Read(&first)) {
      if (first.has_refusal()) {
        stream->WritesDone();
        stream->Finish();
        return refusalStatus(first.refusal());
      }
      welcomed = first.has_welcome();
    }
    if (welcomed) {
      everWelcomed = true;
      say("joined " + options.connect + " as '" + options.name + "'");
      backoff = 0.25;
      if (std::optional<absl::Status> over = runSession(
              plan, clients, options, *stream, context, first.welcome()))
        return *over;
      lastJoined = Clock::now();
    }
    context.TryCancel();
    grpc::Status end = stream->Finish();
    if (!welcomed)
      if (absl::Status r = refusedBy(end, options, everWelcomed); !r.ok())
        return r;
    double elapsed =
        std::chrono::duration<double>(Clock::now() - lastJoined).count();
    if (options.giveUpAfterSeconds > 0 && elapsed > options.giveUpAfterSeconds)
      return absl::DeadlineExceededError(
          "gave up reconnecting to " + options.connect + " after " +
          std::to_string(static_cast<int64_t>(elapsed)) + " s (" +
          end.error_message() + ")");
    double wait = std::min(backoff, options.reconnectMaxSeconds) *
                  std::uniform_real_distribution<double>(0.8, 1.2)(jitter);
    say(std::string(welcomed ? "lost the coordinator" : "cannot join") + " (" +
        end.error_message() + "); retrying in " +
        std::to_string(static_cast<int>(wait * 1000)) + " ms");
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    backoff = std::min(backoff * 1.6, options.reconnectMaxSeconds);
  }
}

} // namespace fedrt
