// Fuzzes what a coordinator or a worker decodes from the network: any
// bytes, read as a stream of length-prefixed (2 bytes, little-endian)
// protobuf messages of either direction, go through the same steps as a
// session (a result's header, its chunks reassembled, the payload decoded
// with the codec it names, the partials read against a stage; a task's
// payload decoded and read as broadcast values). Every step must succeed
// or return an error, never crash, hang or allocate from an unchecked
// length.
#include "Wire.h"

#include <cstdint>
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

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint64_t limit = resultPayloadBytes(stage()) * 2 + 4096;
  ChunkAssembly up, down;
  remote::v1::Result result;
  remote::v1::Task task;
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
      }
    }
    remote::v1::CoordinatorMessage c;
    if (c.ParseFromArray(data + pos, static_cast<int>(n))) {
      if (c.has_task()) {
        task = c.task();
        down = ChunkAssembly();
        if (down.begin(task.task(), task.payload_bytes(), limit).ok() &&
            down.complete())
          finishTask(task, down.take());
      } else if (c.has_chunk() && down.add(c.chunk()).ok() && down.complete()) {
        finishTask(task, down.take());
      }
    }
    pos += n;
  }
  return 0;
}
