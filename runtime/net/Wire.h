// What crosses the wire besides the protobuf envelopes (remote.proto): the
// payloads of tasks and results, their codecs, and their chunking. Shared
// by the coordinator and the worker, and fuzzed (test/fuzz), because every
// byte of it comes from the other side of a network.
#pragma once

#include "fedrt/Aggregator.h"
#include "fedrt/Plan.h"
#include "fedrt/Remote.h"
#include "fedrt/Value.h"

#include "remote.pb.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedrt::net {

// Hello.protocol; a coordinator refuses any other.
constexpr uint32_t kProtocolVersion = 1;
// The largest Chunk.data: below gRPC's default 4 MiB receive limit, so
// neither side raises it; a value of any size crosses as many chunks.
constexpr uint32_t kChunkBytes = 1u << 20;
// Any message larger than this closes the session (a chunk, plus room for
// the envelope and a result's failure messages).
constexpr int kMaxMessageBytes = 2 * static_cast<int>(kChunkBytes);

// How a payload is encoded on the wire. Lossless codecs reproduce the bytes
// exactly; int8 quantizes the float64 sums of a result, bf16 the float32
// values of a task; integers are never quantized.
enum class Codec { None, Zstd, Int8, Int8Zstd, Bf16 };

std::optional<Codec> codecNamed(std::string_view name);
const char *codecName(Codec codec);
// Every codec this build encodes and decodes (Hello.codecs).
std::vector<std::string> codecNames();

// Where int8's stochastic rounding draws from: a result's stream depends
// only on these, so a run is reproducible.
struct RoundingStream {
  uint64_t seed = 0;
  int64_t round = 0;
  uint64_t worker = 0; // FNV-1a of the worker's name
  uint32_t stage = 0;
};

// A task's payload: the stage's broadcasts then its custom aggregations'
// zeros, each a serialized HostValue.
std::string taskPayload(const std::vector<const HostValue *> &values);
// Reads a task payload for stage `stage`: InvalidArgument if it does not
// have exactly the stage's layouts.
absl::Status readTaskPayload(const Stage &stage, const std::string &raw,
                             std::vector<HostValue> &broadcasts,
                             std::vector<HostValue> &zeros);

// A result's payload: the serialized partials, one per aggregation.
std::string resultPayload(const std::vector<PartialAggregate> &partials);
// The exact size of a result payload of `stage` (partials have fixed
// layouts): what a coordinator accepts, never more.
uint64_t resultPayloadBytes(const Stage &stage);
// Reads a result payload of `stage`; InvalidArgument for bytes that do not
// fit its aggregations' layouts (or trail them).
absl::StatusOr<std::vector<PartialAggregate>>
readResultPayload(const Stage &stage, std::string_view raw,
                  BufferPool *pool = nullptr);

// Encodes a task payload (none, zstd, bf16) of `stage`.
absl::StatusOr<std::string> encodeTask(Codec codec, const Stage &stage,
                                       std::string raw);
// Decodes it to `rawBytes` bytes; InvalidArgument for a corrupt or
// oversized payload.
absl::StatusOr<std::string> decodeTask(Codec codec, const Stage &stage,
                                       std::string_view encoded,
                                       uint64_t rawBytes);
// Encodes a result payload (none, zstd, int8, int8+zstd) of `stage`.
absl::StatusOr<std::string> encodeResult(Codec codec, const Stage &stage,
                                         std::string raw,
                                         const RoundingStream &rounding);
// Decodes it to the raw payload of `stage` (resultPayloadBytes bytes).
absl::StatusOr<std::string> decodeResult(Codec codec, const Stage &stage,
                                         std::string_view encoded);

// Calls send(chunk) for each piece of `payload` in order (none for an
// empty payload), at most kChunkBytes each; stops at the first false.
bool forEachChunk(uint64_t task, const std::string &payload,
                  const std::function<bool(remote::v1::Chunk &)> &send);

// The client-state commit between its wire form and its own. commitOf:
// InvalidArgument for negative rounds or an attempt without a round.
void putCommit(const ClientStateCommit &c, remote::v1::ClientStateCommit &out);
absl::StatusOr<ClientStateCommit>
commitOf(const remote::v1::ClientStateCommit &m);

// Reassembles one payload from its chunks, refusing anything a sender
// following the protocol would not send.
class ChunkAssembly {
public:
  // Expects `bytes` bytes for task `task` (bytes <= limit, else an error).
  absl::Status begin(uint64_t task, uint64_t bytes, uint64_t limit);
  // InvalidArgument for a chunk of another task, out of sequence, too
  // large, or past the announced size.
  absl::Status add(const remote::v1::Chunk &chunk);
  bool active() const { return active_; }
  bool complete() const { return active_ && payload_.size() == expected_; }
  uint64_t task() const { return task_; }
  // The payload, once complete; the assembly is then idle again.
  std::string take();

private:
  bool active_ = false;
  uint64_t task_ = 0, expected_ = 0;
  uint32_t next_ = 0;
  std::string payload_;
};

} // namespace fedrt::net
