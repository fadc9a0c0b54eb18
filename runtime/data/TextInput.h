// Internal to runtime/data: what the CSV and JSON Lines loaders share.
#pragma once

#include "fedrt/Data.h"

#include "absl/status/statusor.h"

#include <string>
#include <string_view>

namespace fedrt::detail {

// The one number grammar of data cells (docs/runtime.md, "Data"):
//   integers  [+-]?[0-9]+                         range-checked for e
//   floats    [+-]?([0-9]+(.[0-9]*)?|.[0-9]+)([eE][+-]?[0-9]+)?
//             (an integer is a float too; no hex, no inf or nan; a value
//             beyond the element's range is an error, a subnormal is fine)
//   bools     true false 1 0
// Writes elementSize(e) bytes at `out`; false if `text` is not a complete
// value of `e`. Surrounding spaces and tabs are ignored.
bool parseValue(std::string_view text, Element e, unsigned char *out);

// Whether `text` is a number in that grammar (what tells a header line).
bool isNumber(std::string_view text);

// The whole of a plain or gzip file, without a leading UTF-8 byte-order
// mark. Errors name the file: it cannot be opened, a read or
// decompression error (a truncated gzip stream), or a NUL byte (the line
// it is on).
absl::StatusOr<FileBytes> readText(const std::string &path);
// The whole of a plain or gzip file, as bytes (readText's errors, without
// the text checks).
absl::StatusOr<FileBytes> readBytes(const std::string &path);

} // namespace fedrt::detail
