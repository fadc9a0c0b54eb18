#include "fedrt/Context.h"
#include "fedrt/Memory.h"

#include <algorithm>
#include <cstdlib>

namespace {

constexpr uint64_t kAlignment = 64;
constexpr uint64_t kMinChunk = uint64_t(1) << 20;

// Marks pack (chunk index, offset) into one integer.
constexpr int kOffsetBits = 40;

uint64_t alignUp(uint64_t n) {
  return (n + kAlignment - 1) & ~(kAlignment - 1);
}

// Handed out after the arena limit is hit: the failure makes every fn
// return before it writes much, so one small block serves all.
alignas(64) char scratch[4096];

} // namespace

namespace fedrt {

void reset(Context &ctx) {
  ctx.chunkIndex = 0;
  ctx.offset = 0;
  ctx.base = 0;
  ctx.failed = 0;
  ctx.what.clear();
}

uint64_t arenaInUse(const Context &ctx) {
  // Bytes handed out: what was used of each chunk left behind, not the
  // chunks' sizes (those depend on earlier invocations).
  uint64_t used = ctx.offset;
  for (uint64_t i = 0; i < ctx.chunkIndex && i < ctx.leftAt.size(); ++i)
    used += ctx.leftAt[i];
  return used;
}

void trim(Context &ctx, uint64_t keep) {
  reset(ctx);
  uint64_t total = arenaCapacity(ctx);
  while (!ctx.chunks.empty() && total > keep) {
    total -= ctx.chunks.back().size;
    ctx.chunks.pop_back();
  }
}

uint64_t arenaCapacity(const Context &ctx) {
  uint64_t total = 0;
  for (const auto &c : ctx.chunks)
    total += c.size;
  return total;
}

std::string failureMessage(const Context &ctx) {
  if (ctx.got == FEDRT_NO_VALUES && ctx.expected == FEDRT_NO_VALUES)
    return ctx.what;
  return ctx.what + " (got " + std::to_string(ctx.got) + ", expected " +
         std::to_string(ctx.expected) + ")";
}

} // namespace fedrt

extern "C" {

void *fedrt_arena_alloc(fedrt_context *ctx, uint64_t bytes) {
  bytes = alignUp(std::max<uint64_t>(bytes, 1));
  while (ctx->chunkIndex < ctx->chunks.size()) {
    auto &chunk = ctx->chunks[ctx->chunkIndex];
    if (ctx->offset + bytes <= chunk.size) {
      void *p = chunk.memory.get() + ctx->offset;
      ctx->offset += bytes;
      return p;
    }
    ctx->leftAt.resize(ctx->chunks.size());
    ctx->leftAt[ctx->chunkIndex] = ctx->offset;
    ++ctx->chunkIndex;
    ctx->offset = 0;
  }
  // The limit is on what this invocation uses (since `base`), not on what
  // earlier ones left allocated, so it does not depend on history.
  uint64_t used =
      fedrt::arenaInUse(*ctx) - std::min(ctx->base, fedrt::arenaInUse(*ctx));
  if (bytes > ctx->limit || used + bytes > ctx->limit) {
    fedrt_fail(ctx, "arena exhausted: bytes requested",
               static_cast<int64_t>(bytes), static_cast<int64_t>(ctx->limit));
    return scratch;
  }
  uint64_t size =
      std::max(bytes, std::min(std::max(kMinChunk, fedrt::arenaCapacity(*ctx)),
                               ctx->limit - used));
  // aligned_alloc needs a size that is a multiple of the alignment.
  size = alignUp(size);
  auto *memory = static_cast<char *>(fedrt::allocateBuffer(size, kAlignment));
  if (!memory) {
    fedrt_fail(ctx, "out of memory: bytes requested",
               static_cast<int64_t>(size), 0);
    return scratch;
  }
  fedrt_context::Chunk chunk{
      std::unique_ptr<char, fedrt_context::FreeDeleter>(memory), size};
  ctx->chunks.push_back(std::move(chunk));
  ctx->leftAt.resize(ctx->chunks.size());
  ctx->chunkIndex = ctx->chunks.size() - 1;
  ctx->offset = bytes;
  return ctx->chunks.back().memory.get();
}

uint64_t fedrt_arena_mark(fedrt_context *ctx) {
  return (ctx->chunkIndex << kOffsetBits) | ctx->offset;
}

void fedrt_arena_release(fedrt_context *ctx, uint64_t mark) {
  ctx->chunkIndex = mark >> kOffsetBits;
  ctx->offset = mark & ((uint64_t(1) << kOffsetBits) - 1);
}

void fedrt_fail(fedrt_context *ctx, const char *what, int64_t got,
                int64_t expected) {
  if (ctx->failed)
    return; // the first failure is the one to report
  ctx->failed = 1;
  ctx->what = what;
  ctx->got = got;
  ctx->expected = expected;
}

int32_t fedrt_failed(const fedrt_context *ctx) { return ctx->failed ? 1 : 0; }

} // extern "C"
