// Fault injection points (fedrt/Faults.h).
#include "fedrt/Faults.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

namespace fedrt {

namespace {

struct FaultSpec {
  std::string point; // empty: no fault configured
  long hit = 1;
};

const FaultSpec &spec() {
  static const FaultSpec s = [] {
    FaultSpec f;
    const char *env = std::getenv("FEDRT_FAULT");
    if (!env || !*env)
      return f;
    std::string text = env;
    size_t colon = text.rfind(':');
    f.point = text.substr(0, colon);
    if (colon != std::string::npos)
      f.hit = std::strtol(text.c_str() + colon + 1, nullptr, 10);
    return f;
  }();
  return s;
}

} // namespace

bool faultActive(const char *point) {
  const FaultSpec &f = spec();
  if (f.point.empty() || f.point != point)
    return false;
  static std::atomic<long> hits{0};
  return hits.fetch_add(1) + 1 == f.hit;
}

void faultPause(const char *point) {
  if (!faultActive(point))
    return;
  std::fprintf(stderr, "fault: paused at %s\n", point);
  const char *release = std::getenv("FEDRT_FAULT_RELEASE");
  std::error_code ec;
  for (int i = 0; i < 6000 && release && !std::filesystem::exists(release, ec);
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void faultPoint(const char *point) {
  if (faultActive(point))
    std::raise(SIGKILL);
}

} // namespace fedrt
