// Calls the entry point of debug.fed's `scale`, for debug-info.test.
#include "fedrt/Context.h"

#include <cstdio>
#include <cstring>

extern "C" void fedrt_entry_scale(fedrt_context *, const uint64_t *,
                                  uint64_t *);

int main() {
  float x[4] = {1, 2, 3, 4}, k = 2;
  uint32_t kbits;
  std::memcpy(&kbits, &k, 4);
  uint64_t args[] = {reinterpret_cast<uint64_t>(x), 4, kbits};
  uint64_t results[2];
  fedrt_context ctx;
  fedrt_entry_scale(&ctx, args, results);
  const float *y = reinterpret_cast<const float *>(results[0]);
  std::printf("%g %g %g %g\n", y[0], y[1], y[2], y[3]);
}
