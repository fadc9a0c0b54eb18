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

// One line (without its end); false at end of file.
bool readLine(gzFile f, std::string &line);

} // namespace fedrt::detail
