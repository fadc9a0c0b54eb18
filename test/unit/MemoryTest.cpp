// Large buffers are huge-page aligned and advised (fedrt/Memory.h); the
// kernel's advice flag shows in /proc/self/smaps as VmFlags "hg". The flag
// says the advice was given, not that the kernel (THP mode "never") used
// huge pages.
#include "fedrt/Memory.h"
#include "fedrt/Data.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace fedrt {
namespace {

// The VmFlags of the mapping that holds `p`, or "" when none does.
std::string vmFlags(const void *p) {
  auto at = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0)
      return line;
  }
  return "";
}

// Without THP in the kernel there is no advice to give.
bool kernelHasHugePages() {
  return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good();
}

bool advised(const void *p) {
  return vmFlags(p).find(" hg") != std::string::npos;
}

TEST(MemoryTest, LargeBuffersAreHugePageAlignedAndAdvised) {
  if (!kernelHasHugePages())
    GTEST_SKIP() << "the kernel has no transparent huge pages";
  for (size_t bytes :
       {kHugePageBytes, 3 * kHugePageBytes + 1, size_t(47040000)}) {
    void *p = allocateBuffer(bytes, 64);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u) << bytes;
    EXPECT_TRUE(advised(p)) << bytes << ": " << vmFlags(p);
    static_cast<unsigned char *>(p)[bytes - 1] = 1; // all of it is usable
    // A tail short of a whole huge page is not advised: rounding it up to
    // 2 MiB would cost memory.
    if (bytes % kHugePageBytes != 0)
      EXPECT_FALSE(advised(static_cast<unsigned char *>(p) + bytes - 1))
          << bytes << ": "
          << vmFlags(static_cast<unsigned char *>(p) + bytes - 1);
    std::free(p);
  }
}

TEST(MemoryTest, SmallBuffersKeepTheirAlignment) {
  for (size_t alignment : {size_t(8), size_t(64), size_t(4096)}) {
    void *p = allocateBuffer(1000, alignment);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignment, 0u);
    std::free(p);
  }
  void *p = allocateBuffer(0, 64); // a zero-byte request is still a buffer
  EXPECT_NE(p, nullptr);
  std::free(p);
}

TEST(MemoryTest, DataColumnsUseHugePages) {
  if (!kernelHasHugePages())
    GTEST_SKIP() << "the kernel has no transparent huge pages";
  ByteColumn column(size_t(20) << 20);
  EXPECT_TRUE(advised(column.data())) << vmFlags(column.data());
  FileBytes file(size_t(5) << 20, '\0');
  EXPECT_TRUE(advised(file.data())) << vmFlags(file.data());
}

} // namespace
} // namespace fedrt
