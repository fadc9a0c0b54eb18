// Large buffers backed by transparent huge pages (fedrt/Memory.h).
#include "fedrt/Memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace fedrt {

void *allocateBuffer(size_t bytes, size_t alignment) {
  bytes = std::max<size_t>(bytes, 1);
  // glibc's aligned_alloc takes any size; round to the alignment anyway
  // (C11 asked for a multiple).
  size_t size = (bytes + alignment - 1) & ~(alignment - 1);
  if (size < bytes)
    return nullptr;
  if (size < kHugePageBytes)
    return std::aligned_alloc(alignment, size);
  void *p = std::aligned_alloc(kHugePageBytes, size);
  // Only the whole huge pages are advised: the tail stays 4-KiB pages, so
  // a buffer costs its size in memory, not its size rounded up to 2 MiB.
  // Advice, not a requirement: without THP the pages stay 4 KiB.
#ifdef MADV_HUGEPAGE
  if (p)
    ::madvise(p, size & ~(kHugePageBytes - 1), MADV_HUGEPAGE);
#endif
  return p;
}

} // namespace fedrt
