// StackGuard lets recursive phases stop cleanly before deep input exhausts
// the native stack: a phase creates one on entry and asks `exhausted()` as it
// recurses, then reports NestingTooDeep instead of crashing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fedc {

class StackGuard {
public:
  // Budget is what remains of this thread's stack below the caller's frame,
  // less a reserve for the work done between checks (and for sanitizers,
  // whose frames are larger).
  StackGuard();
  bool exhausted() const;

  static constexpr size_t kReserve = 2u << 20;

private:
  uintptr_t start_;
  size_t budget_;
};

} // namespace fedc
