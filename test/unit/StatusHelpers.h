// Tests of status-returning runtime APIs in the shape `ok(call, error)`:
// true on success, else the message in `error`.
#pragma once

#include "absl/status/statusor.h"

#include <filesystem>
#include <string>
#include <vector>

namespace fedrt::testing {

// Removes `path` (a file or a directory tree) when the test program exits,
// so tests leave nothing in the temporary directory. Returns `path`.
inline const std::string &removeAtExit(const std::string &path) {
  struct Paths {
    std::vector<std::string> paths;
    ~Paths() {
      std::error_code ec;
      for (const std::string &p : paths)
        std::filesystem::remove_all(p, ec);
    }
  };
  static Paths created;
  created.paths.push_back(path);
  return path;
}

inline bool ok(const absl::Status &s, std::string &error) {
  error = std::string(s.message());
  return s.ok();
}

template <class T> bool ok(absl::StatusOr<T> v, T &out, std::string &error) {
  if (!v.ok())
    return ok(v.status(), error);
  out = *std::move(v);
  error.clear();
  return true;
}

} // namespace fedrt::testing
