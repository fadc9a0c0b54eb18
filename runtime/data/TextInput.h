// Internal to runtime/data: what the CSV and JSON Lines loaders share.
#pragma once

#include "fedrt/Data.h"

#include <zlib.h>

#include <string>

namespace fedrt::detail {

// Parses `text` as `e` into `out` (elementSize(e) bytes). False if it is not
// a complete value of that type (or out of its range; NaN is refused).
bool parseValue(const std::string &text, Element e, unsigned char *out);

// A plain or gzip file, closed on destruction.
struct GzFile {
  gzFile file;
  ~GzFile() {
    if (file)
      gzclose(file);
  }
};

// Lines of a plain or gzip file, read in blocks (gzread), so a NUL byte is
// seen rather than silently ending a line.
class LineReader {
public:
  explicit LineReader(gzFile f) : file_(f) {}
  // One line (without its end); false at the end of the file or on an
  // error (then error() says which).
  bool next(std::string &line);
  // Empty, or why reading stopped early: a read or decompression error
  // (a truncated gzip stream), or a NUL byte on line `line`.
  const std::string &error() const { return error_; }

private:
  gzFile file_;
  std::string buffer_;
  size_t pos_ = 0;
  bool eof_ = false;
  int64_t lines_ = 0;
  std::string error_;
};

} // namespace fedrt::detail
