// The invocation context of generated code, seen from C++ (the runtime and
// `fedc call`): an arena for temporaries and the first failed check.
#pragma once

#include "fedrt/abi.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

struct fedrt_context {
  // First, at offset 0: generated code loads it after every call.
  int32_t failed = 0;
  // The arena: fixed-size chunks, never moved, so pointers stay valid until
  // a release below them or reset().
  struct FreeDeleter {
    void operator()(char *p) const { std::free(p); }
  };
  struct Chunk {
    std::unique_ptr<char, FreeDeleter> memory;
    uint64_t size;
  };
  std::vector<Chunk> chunks;
  uint64_t chunkIndex = 0;            // chunk being filled
  std::vector<uint64_t> leftAt;       // per chunk: its offset when left
  uint64_t offset = 0;                // bytes used in it
  uint64_t limit = uint64_t(4) << 30; // total bytes one invocation may use
  uint64_t base = 0; // arena bytes in use when the invocation started

  std::string what;
  int64_t got = 0, expected = 0;
};

namespace fedrt {

using Context = fedrt_context;

// Clears the failure and releases the whole arena (memory is kept).
void reset(Context &ctx);
// Total bytes the arena holds now.
uint64_t arenaCapacity(const Context &ctx);
// Bytes handed out since the last reset (chunks passed over included).
uint64_t arenaInUse(const Context &ctx);
// Resets, then frees chunks beyond the first `keep` bytes.
void trim(Context &ctx, uint64_t keep);
// The failed check as a message: "file.fed:3:9: what (got 4, expected 3)".
std::string failureMessage(const Context &ctx);

} // namespace fedrt
