#include "basic/StackGuard.h"

#include <pthread.h>

namespace fedc {

namespace {
uintptr_t currentFrame() {
  return reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
}
} // namespace

StackGuard::StackGuard() : start_(currentFrame()), budget_(0) {
  // Default for when the stack bounds cannot be read: assume the usual
  // 8 MiB main-thread stack with half of it already in use.
  size_t available = 4u << 20;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *low = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &low, &size) == 0 && low != nullptr) {
      uintptr_t lowest = reinterpret_cast<uintptr_t>(low);
      if (start_ > lowest)
        available = start_ - lowest;
    }
    pthread_attr_destroy(&attr);
  }
  budget_ = available > 2 * kReserve ? available - kReserve : available / 2;
}

bool StackGuard::exhausted() const {
  uintptr_t here = currentFrame();
  return start_ > here && start_ - here > budget_;
}

} // namespace fedc
