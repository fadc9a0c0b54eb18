// Large buffers backed by transparent huge pages.
//
// Client data columns (a Fashion-MNIST image column is 47 MB), files being
// read, the arena's chunks and large tensors are allocated here: from 2 MiB
// up, 2-MiB aligned and advised to use huge pages (madvise(MADV_HUGEPAGE),
// which the kernel honours in THP mode "madvise", Debian's default, or
// "always"). One 2-MiB page instead of 512 4-KiB ones means 512 times fewer
// page faults on first touch and TLB misses afterwards; on a virtual
// machine, where each of those costs a walk of two page tables, a program
// loading Fashion-MNIST's raw IDX files went from 445 ms to 38 ms
// (bench/load_bench.py; bench/RESULTS.md, "Data loading").
// NumPy advises its large arrays the same way. Smaller buffers are plain
// aligned_alloc; where the kernel refuses huge pages they stay small ones.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace fedrt {

inline constexpr size_t kHugePageBytes = size_t(1) << 21;

// `bytes` bytes (at least 1) aligned to `alignment` (a power of two, at
// most 2 MiB); from kHugePageBytes up, huge-page aligned and its whole
// 2-MiB pages advised (the tail stays 4-KiB pages: no memory is added).
// nullptr when out of memory. Release with std::free.
void *allocateBuffer(size_t bytes, size_t alignment);

// A standard allocator over allocateBuffer (64-byte aligned), for
// containers that may grow to megabytes.
template <class T> struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <class U> HugePageAllocator(const HugePageAllocator<U> &) {}
  T *allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length();
    void *p = allocateBuffer(n * sizeof(T), 64);
    if (!p)
      throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) { std::free(p); }
  template <class U> bool operator==(const HugePageAllocator<U> &) const {
    return true;
  }
};

// The bytes of a data column (abi.h's column layout).
using ByteColumn = std::vector<unsigned char, HugePageAllocator<unsigned char>>;
// A file's bytes as read (text or binary).
using FileBytes =
    std::basic_string<char, std::char_traits<char>, HugePageAllocator<char>>;

} // namespace fedrt
