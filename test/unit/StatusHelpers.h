// Tests of status-returning runtime APIs in the shape `ok(call, error)`:
// true on success, else the message in `error`.
#pragma once

#include "absl/status/statusor.h"

#include <string>

namespace fedrt::testing {

inline bool ok(const absl::Status &s, std::string &error) {
  error = std::string(s.message());
  return s.ok();
}

template <class T>
bool ok(absl::StatusOr<T> v, T &out, std::string &error) {
  if (!v.ok())
    return ok(v.status(), error);
  out = *std::move(v);
  error.clear();
  return true;
}

} // namespace fedrt::testing
