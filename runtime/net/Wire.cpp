// Payloads, codecs and chunks of the remote protocol (net/Wire.h).
#include "Wire.h"

#include "fedrt/SecureMean.h"
#include "fedrt/SplitMix.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fedrt::net {

namespace {

// int8 blocks: values per block, each block led by its min and scale
// (float64): 1 + 16/256 bytes per value instead of 8.
constexpr size_t kInt8Block = 256;

struct CodecInfo {
  Codec codec;
  const char *name;
};
constexpr CodecInfo kCodecs[] = {{Codec::None, "none"},
                                 {Codec::Zstd, "zstd"},
                                 {Codec::Int8, "int8"},
                                 {Codec::Int8Zstd, "int8+zstd"},
                                 {Codec::Bf16, "bf16"}};

absl::Status corrupt(const std::string &what) {
  return absl::InvalidArgumentError("corrupt payload: " + what);
}

// Level 3 (zstd's default), with the frame's content checksum: a flipped
// bit on the way is an error, not a different model.
std::string zstdCompress(const std::string &raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  size_t n =
      ZSTD_compress2(cctx, out.data(), out.size(), raw.data(), raw.size());
  ZSTD_freeCCtx(cctx);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// Decompresses one zstd frame that must hold at most `limit` bytes (and
// exactly `exact` when given): the length field is checked before any
// allocation.
absl::StatusOr<std::string> zstdDecompress(std::string_view in, uint64_t limit,
                                           bool exact) {
  unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
    return corrupt("not a zstd frame with its size");
  if (size > limit || (exact && size != limit))
    return corrupt("a zstd frame of " + std::to_string(size) + " bytes where " +
                   (exact ? "" : "at most ") + std::to_string(limit) +
                   " are expected");
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != size)
    return corrupt(std::string("zstd: ") +
                   (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
  return out;
}

// The fixed layout of a stage's result payload: per aggregation a 17-byte
// header (clients, weight, started), then per tensor leaf its elements as
// 8-byte float64 sums (`real`) or int64s; a custom aggregation's
// accumulator is opaque (never quantized).
struct Segment {
  enum Kind { Opaque, Reals } kind;
  uint64_t bytes; // raw
};

std::vector<Segment> resultLayout(const Stage &stage) {
  std::vector<Segment> out;
  for (const Aggregation &a : stage.aggregations) {
    if (a.kind == Aggregation::Kind::Custom) {
      std::string zero;
      serialize(HostValue::zeros(a.accumulator), zero);
      out.push_back({Segment::Opaque, 17 + zero.size()});
      continue;
    }
    out.push_back({Segment::Opaque, 17});
    std::vector<const TypeDesc *> leaves;
    a.value.tensorLeaves(leaves);
    for (const TypeDesc *leaf : leaves) {
      auto bytes = static_cast<uint64_t>(leaf->elements()) * 8;
      // A secure aggregation's accumulators are integers (a secure
      // mean's quantized levels).
      bool real = isFloat(leaf->element) && !a.secure();
      out.push_back({real ? Segment::Reals : Segment::Opaque, bytes});
    }
    if (a.kind == Aggregation::Kind::SecureMean && a.secureMean.weighted)
      out.push_back({Segment::Opaque,
                     secure_mean::weightLimbs(a.bitwidth) * uint64_t(8)});
  }
  return out;
}

uint64_t int8Bytes(uint64_t values) {
  return values + (values + kInt8Block - 1) / kInt8Block * 16;
}

// Per block: min, scale, then each value as q in [0, 255] with
// x ~ min + q * scale, rounded up with probability frac (stochastic
// rounding: unbiased, E[min + q * scale] = x).
absl::Status quantize(const double *x, size_t n, uint64_t &state,
                      std::string &out) {
  for (size_t first = 0; first < n; first += kInt8Block) {
    size_t count = std::min(kInt8Block, n - first);
    double lo = x[first], hi = x[first];
    for (size_t i = first; i < first + count; ++i) {
      if (!std::isfinite(x[i]))
        return absl::InvalidArgumentError("int8: a sum is not finite");
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    double scale = (hi - lo) / 255.0;
    out.append(reinterpret_cast<const char *>(&lo), 8);
    out.append(reinterpret_cast<const char *>(&scale), 8);
    for (size_t i = first; i < first + count; ++i) {
      double u = static_cast<double>(splitmix64(state) >> 11) * 0x1p-53;
      double q = scale > 0 ? std::floor((x[i] - lo) / scale + u) : 0;
      out.push_back(
          static_cast<char>(static_cast<uint8_t>(std::clamp(q, 0.0, 255.0))));
    }
  }
  return absl::OkStatus();
}

absl::Status dequantize(std::string_view in, size_t &pos, size_t n,
                        std::string &out) {
  for (size_t first = 0; first < n; first += kInt8Block) {
    size_t count = std::min(kInt8Block, n - first);
    if (in.size() - pos < 16 + count)
      return corrupt("an int8 block is truncated");
    double lo, scale;
    std::memcpy(&lo, in.data() + pos, 8);
    std::memcpy(&scale, in.data() + pos + 8, 8);
    pos += 16;
    if (!std::isfinite(lo) || !std::isfinite(scale) || scale < 0)
      return corrupt("an int8 block's range is not finite");
    for (size_t i = 0; i < count; ++i) {
      double x =
          lo + static_cast<double>(static_cast<uint8_t>(in[pos++])) * scale;
      out.append(reinterpret_cast<const char *>(&x), 8);
    }
  }
  return absl::OkStatus();
}

// The float32 leaves of a task payload as bf16 (round to nearest even).
// The layout comes from the stage, never from the bytes.
struct TaskLeaf {
  uint64_t header; // element, rank, dims
  uint64_t elements;
  bool f32;
  size_t elementBytes;
};

std::vector<std::vector<TaskLeaf>> taskLayout(const Stage &stage) {
  std::vector<const TypeDesc *> types;
  for (const TypeDesc &t : stage.broadcasts)
    types.push_back(&t);
  for (const Aggregation &a : stage.aggregations)
    if (a.kind == Aggregation::Kind::Custom)
      types.push_back(&a.accumulator);
  std::vector<std::vector<TaskLeaf>> out;
  for (const TypeDesc *t : types) {
    std::vector<const TypeDesc *> leaves;
    t->tensorLeaves(leaves);
    auto &value = out.emplace_back();
    for (const TypeDesc *leaf : leaves)
      value.push_back(
          {16 + 8 * leaf->dims.size(), static_cast<uint64_t>(leaf->elements()),
           leaf->element == Element::F32, elementSize(leaf->element)});
  }
  return out;
}

uint64_t taskRawBytes(const std::vector<std::vector<TaskLeaf>> &layout) {
  uint64_t n = 0;
  for (const auto &value : layout) {
    n += 8;
    for (const TaskLeaf &l : value)
      n += l.header + l.elements * l.elementBytes;
  }
  return n;
}

} // namespace

std::optional<Codec> codecNamed(std::string_view name) {
  for (const CodecInfo &c : kCodecs)
    if (name == c.name)
      return c.codec;
  return std::nullopt;
}

const char *codecName(Codec codec) {
  for (const CodecInfo &c : kCodecs)
    if (c.codec == codec)
      return c.name;
  return "none";
}

std::vector<std::string> codecNames() {
  std::vector<std::string> out;
  for (const CodecInfo &c : kCodecs)
    out.emplace_back(c.name);
  return out;
}

std::string taskPayload(const std::vector<const HostValue *> &values) {
  std::string out;
  for (const HostValue *v : values)
    serialize(*v, out);
  return out;
}

absl::Status readTaskPayload(const Stage &stage, const std::string &raw,
                             std::vector<HostValue> &broadcasts,
                             std::vector<HostValue> &zeros) {
  size_t pos = 0;
  std::string error;
  broadcasts.clear();
  zeros.clear();
  for (const TypeDesc &t : stage.broadcasts)
    if (!deserialize(t, raw, pos, broadcasts.emplace_back(), error))
      return corrupt("a broadcast value: " + error);
  for (const Aggregation &a : stage.aggregations)
    if (a.kind == Aggregation::Kind::Custom &&
        !deserialize(a.accumulator, raw, pos, zeros.emplace_back(), error))
      return corrupt("an aggregation's zero: " + error);
  if (pos != raw.size())
    return corrupt(std::to_string(raw.size() - pos) + " trailing bytes");
  return absl::OkStatus();
}

std::string resultPayload(const std::vector<PartialAggregate> &partials) {
  std::string out;
  for (const PartialAggregate &p : partials)
    p.serialize(out);
  return out;
}

uint64_t resultPayloadBytes(const Stage &stage) {
  uint64_t n = 0;
  for (const Segment &s : resultLayout(stage))
    n += s.bytes;
  return n;
}

absl::StatusOr<std::vector<PartialAggregate>>
readResultPayload(const Stage &stage, std::string_view raw, BufferPool *pool) {
  if (raw.size() != resultPayloadBytes(stage))
    return corrupt("a result of " + std::to_string(raw.size()) +
                   " bytes where the stage's partials take " +
                   std::to_string(resultPayloadBytes(stage)));
  std::vector<PartialAggregate> out;
  size_t pos = 0;
  for (const Aggregation &a : stage.aggregations) {
    absl::StatusOr<PartialAggregate> p =
        PartialAggregate::deserialize(a, raw, pos, pool);
    if (!p.ok())
      return corrupt(std::string(p.status().message()));
    out.push_back(*std::move(p));
  }
  if (pos != raw.size())
    return corrupt(std::to_string(raw.size() - pos) + " trailing bytes");
  return out;
}

absl::StatusOr<std::string> encodeTask(Codec codec, const Stage &stage,
                                       std::string raw) {
  switch (codec) {
  case Codec::None:
    return raw;
  case Codec::Zstd:
    return zstdCompress(raw);
  case Codec::Bf16: {
    std::string out;
    size_t pos = 0;
    for (const auto &value : taskLayout(stage)) {
      out.append(raw, pos, 8);
      pos += 8;
      for (const TaskLeaf &l : value) {
        out.append(raw, pos, l.header);
        pos += l.header;
        if (!l.f32) {
          out.append(raw, pos, l.elements * l.elementBytes);
          pos += l.elements * l.elementBytes;
          continue;
        }
        for (uint64_t i = 0; i < l.elements; ++i, pos += 4) {
          uint32_t bits;
          std::memcpy(&bits, raw.data() + pos, 4);
          // Round to nearest even; NaN stays NaN (quiet bit kept).
          uint32_t rounded = (bits & 0x7f800000u) == 0x7f800000u
                                 ? bits | ((bits & 0xffffu) ? 0x10000u : 0)
                                 : bits + 0x7fffu + ((bits >> 16) & 1);
          auto half = static_cast<uint16_t>(rounded >> 16);
          out.append(reinterpret_cast<const char *>(&half), 2);
        }
      }
    }
    return out;
  }
  case Codec::Int8:
  case Codec::Int8Zstd:
    break;
  }
  return absl::InvalidArgumentError(std::string(codecName(codec)) +
                                    " does not encode tasks");
}

absl::StatusOr<std::string> decodeTask(Codec codec, const Stage &stage,
                                       std::string_view encoded,
                                       uint64_t rawBytes) {
  auto layout = taskLayout(stage);
  uint64_t expected = taskRawBytes(layout);
  if (rawBytes != expected)
    return corrupt("a task of " + std::to_string(rawBytes) +
                   " bytes where the stage's values take " +
                   std::to_string(expected));
  switch (codec) {
  case Codec::None:
    if (encoded.size() != expected)
      return corrupt("a task payload of the wrong size");
    return std::string(encoded);
  case Codec::Zstd:
    return zstdDecompress(encoded, expected, /*exact=*/true);
  case Codec::Bf16: {
    std::string out;
    out.reserve(expected);
    size_t pos = 0;
    auto take = [&](uint64_t n) {
      if (encoded.size() - pos < n)
        return false;
      out.append(encoded.data() + pos, n);
      pos += n;
      return true;
    };
    for (const auto &value : layout) {
      if (!take(8))
        return corrupt("a bf16 task is truncated");
      for (const TaskLeaf &l : value) {
        if (!take(l.header))
          return corrupt("a bf16 task is truncated");
        if (!l.f32) {
          if (!take(l.elements * l.elementBytes))
            return corrupt("a bf16 task is truncated");
          continue;
        }
        if ((encoded.size() - pos) / 2 < l.elements)
          return corrupt("a bf16 task is truncated");
        for (uint64_t i = 0; i < l.elements; ++i, pos += 2) {
          uint16_t half;
          std::memcpy(&half, encoded.data() + pos, 2);
          uint32_t bits = uint32_t(half) << 16;
          out.append(reinterpret_cast<const char *>(&bits), 4);
        }
      }
    }
    if (pos != encoded.size())
      return corrupt("trailing bytes after a bf16 task");
    return out;
  }
  case Codec::Int8:
  case Codec::Int8Zstd:
    break;
  }
  return corrupt(std::string(codecName(codec)) + " does not encode tasks");
}

absl::StatusOr<std::string> encodeResult(Codec codec, const Stage &stage,
                                         std::string raw,
                                         const RoundingStream &rounding) {
  if (codec == Codec::None)
    return raw;
  if (codec == Codec::Zstd)
    return zstdCompress(raw);
  if (codec != Codec::Int8 && codec != Codec::Int8Zstd)
    return absl::InvalidArgumentError(std::string(codecName(codec)) +
                                      " does not encode results");
  uint64_t state =
      rounding.seed * 0x9e3779b97f4a7c15ull ^
      (static_cast<uint64_t>(rounding.round) * 0xbf58476d1ce4e5b9ull) ^
      (rounding.worker * 0x94d049bb133111ebull) ^
      (uint64_t(rounding.stage) + 0x632be59bd9b4e019ull);
  splitmix64(state);
  std::string out;
  size_t pos = 0;
  for (const Segment &s : resultLayout(stage)) {
    if (s.kind == Segment::Opaque) {
      out.append(raw, pos, s.bytes);
    } else {
      std::vector<double> values(s.bytes / 8);
      std::memcpy(values.data(), raw.data() + pos, s.bytes);
      if (absl::Status q = quantize(values.data(), values.size(), state, out);
          !q.ok())
        return q;
    }
    pos += s.bytes;
  }
  return codec == Codec::Int8Zstd ? zstdCompress(out) : out;
}

absl::StatusOr<std::string> decodeResult(Codec codec, const Stage &stage,
                                         std::string_view encoded) {
  uint64_t expected = resultPayloadBytes(stage);
  if (codec == Codec::None) {
    if (encoded.size() != expected)
      return corrupt("a result payload of the wrong size");
    return std::string(encoded);
  }
  if (codec == Codec::Zstd)
    return zstdDecompress(encoded, expected, /*exact=*/true);
  if (codec != Codec::Int8 && codec != Codec::Int8Zstd)
    return corrupt(std::string(codecName(codec)) + " does not encode results");
  std::vector<Segment> layout = resultLayout(stage);
  std::string unpacked;
  if (codec == Codec::Int8Zstd) {
    uint64_t int8Size = 0;
    for (const Segment &s : layout)
      int8Size += s.kind == Segment::Opaque ? s.bytes : int8Bytes(s.bytes / 8);
    absl::StatusOr<std::string> z =
        zstdDecompress(encoded, int8Size, /*exact=*/true);
    if (!z.ok())
      return z.status();
    unpacked = *std::move(z);
    encoded = unpacked;
  }
  std::string out;
  out.reserve(expected);
  size_t pos = 0;
  for (const Segment &s : layout) {
    if (s.kind == Segment::Opaque) {
      if (encoded.size() - pos < s.bytes)
        return corrupt("an int8 result is truncated");
      out.append(encoded.data() + pos, s.bytes);
      pos += s.bytes;
    } else if (absl::Status d = dequantize(encoded, pos, s.bytes / 8, out);
               !d.ok()) {
      return d;
    }
  }
  if (pos != encoded.size())
    return corrupt("trailing bytes after an int8 result");
  return out;
}

bool forEachChunk(uint64_t task, const std::string &payload,
                  const std::function<bool(remote::v1::Chunk &)> &send) {
  uint32_t seq = 0;
  for (size_t pos = 0; pos < payload.size(); pos += kChunkBytes) {
    remote::v1::Chunk chunk;
    chunk.set_task(task);
    chunk.set_seq(seq++);
    chunk.set_data(payload.substr(pos, kChunkBytes));
    if (!send(chunk))
      return false;
  }
  return true;
}

absl::Status ChunkAssembly::begin(uint64_t task, uint64_t bytes,
                                  uint64_t limit) {
  if (active_)
    return absl::InvalidArgumentError(
        "a new payload before the previous one was complete");
  if (bytes > limit)
    return absl::InvalidArgumentError("a payload of " + std::to_string(bytes) +
                                      " bytes (at most " +
                                      std::to_string(limit) + " expected)");
  active_ = true;
  task_ = task;
  expected_ = bytes;
  next_ = 0;
  payload_.clear();
  payload_.reserve(bytes);
  return absl::OkStatus();
}

absl::Status ChunkAssembly::add(const remote::v1::Chunk &chunk) {
  if (!active_ || chunk.task() != task_)
    return absl::InvalidArgumentError("a chunk of task " +
                                      std::to_string(chunk.task()) +
                                      " that is not being received");
  if (chunk.seq() != next_)
    return absl::InvalidArgumentError("chunk " + std::to_string(chunk.seq()) +
                                      " out of sequence (expected " +
                                      std::to_string(next_) + ")");
  if (chunk.data().empty() || chunk.data().size() > kChunkBytes ||
      chunk.data().size() > expected_ - payload_.size())
    return absl::InvalidArgumentError(
        "a chunk of " + std::to_string(chunk.data().size()) +
        " bytes past the payload's announced size");
  ++next_;
  payload_ += chunk.data();
  return absl::OkStatus();
}

std::string ChunkAssembly::take() {
  active_ = false;
  std::string out;
  out.swap(payload_);
  return out;
}

void putCommit(const ClientStateCommit &c, remote::v1::ClientStateCommit &out) {
  out.set_run(c.run);
  out.set_accepted_round(c.acceptedRound);
  out.set_accepted_attempt(static_cast<int32_t>(c.acceptedAttempt));
  out.set_durable_round(c.durableRound);
}

absl::StatusOr<ClientStateCommit>
commitOf(const remote::v1::ClientStateCommit &m) {
  if (m.accepted_round() < 0 || m.durable_round() < 0 ||
      m.accepted_attempt() < 0 ||
      (m.accepted_round() == 0) != (m.accepted_attempt() == 0))
    return absl::InvalidArgumentError("a malformed client-state commit");
  ClientStateCommit c;
  c.run = m.run();
  c.acceptedRound = m.accepted_round();
  c.acceptedAttempt = m.accepted_attempt();
  c.durableRound = m.durable_round();
  return c;
}

} // namespace fedrt::net
