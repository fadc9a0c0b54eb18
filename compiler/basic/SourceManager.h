// SourceManager owns the text of every file the compiler reads and maps
// locations back to file, line and column for diagnostics.
#pragma once

#include "basic/SourceLocation.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedc {

using FileId = uint32_t; // 0 is "no file"

struct PresumedLoc {
  std::string_view filename;
  unsigned line = 0;   // 1-based
  unsigned column = 0; // 1-based, in bytes
};

class SourceManager {
public:
  // Loads a file from disk. On failure returns 0 and sets `error`.
  FileId loadFile(const std::string &path, std::string &error);
  // Adds an in-memory buffer (tests, fuzzing, stdin).
  FileId addBuffer(std::string name, std::string text);

  std::string_view text(FileId file) const;
  std::string_view filename(FileId file) const;
  SourceLoc startOf(FileId file) const;
  SourceLoc locFor(FileId file, uint32_t offset) const;

  FileId fileOf(SourceLoc loc) const;
  uint32_t offsetOf(SourceLoc loc) const;
  PresumedLoc presumed(SourceLoc loc) const;
  // The text of line `line` (1-based) of `file`, without its line break.
  std::string_view lineText(FileId file, unsigned line) const;
  unsigned lineCount(FileId file) const;

  // Largest buffer the compiler accepts; larger inputs are refused up front
  // (a token costs ~100 bytes, so this bounds the front end's memory).
  static constexpr size_t kMaxBufferSize = 16u << 20;

private:
  struct Buffer {
    std::string name;
    std::string text;
    uint32_t base = 0; // raw location of offset 0
    mutable std::vector<uint32_t> lineStarts;
  };
  const Buffer &buffer(FileId file) const { return *buffers_[file - 1]; }
  const std::vector<uint32_t> &lineStarts(const Buffer &b) const;

  std::vector<std::unique_ptr<Buffer>> buffers_;
  uint32_t nextBase_ = 1;
};

} // namespace fedc
