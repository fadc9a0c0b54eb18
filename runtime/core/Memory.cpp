// Large buffers backed by transparent huge pages (fedrt/Memory.h).
#include "fedrt/Memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace fedrt {

void *allocateBuffer(size_t bytes, size_t alignment) {
  bytes = std::max<size_t>(bytes, 1);
  if (bytes < kHugePageBytes) {
    // aligned_alloc wants a multiple of the alignment.
    size_t size = (bytes + alignment - 1) & ~(alignment - 1);
    return size < bytes ? nullptr : std::aligned_alloc(alignment, size);
  }
  size_t size = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (size < bytes)
    return nullptr;
  void *p = std::aligned_alloc(kHugePageBytes, size);
  // Advice, not a requirement: without THP the pages stay 4 KiB.
  if (p)
    ::madvise(p, size, MADV_HUGEPAGE);
  return p;
}

} // namespace fedrt
