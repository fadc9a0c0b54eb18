// Cells and text files of client data (TextInput.h).
#include "TextInput.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace fedrt::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool digits(std::string_view s, size_t &i) {
  size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  return i > start;
}

// [+-]?([0-9]+(.[0-9]*)?|.[0-9]+)([eE][+-]?[0-9]+)?; `integer` when it has
// neither a fraction nor an exponent.
bool decimal(std::string_view s, bool &integer) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-'))
    ++i;
  bool whole = digits(s, i), fraction = false;
  integer = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    integer = false;
    fraction = digits(s, i);
  }
  if (!whole && !fraction)
    return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    integer = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-'))
      ++i;
    if (!digits(s, i))
      return false;
  }
  return i == s.size();
}

std::string zlibMessage(gzFile f) {
  int code = 0;
  std::string message = gzerror(f, &code);
  // zlib prefixes the path; the caller names the file.
  size_t colon = message.rfind(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

// The bytes `path` holds once decompressed, to size the buffer: a plain
// file's size, or a gzip member's ISIZE (RFC 1952: the last 4 bytes, the
// length mod 2^32). The trailer is only believed up to deflate's largest
// ratio (1032:1) and 256 MiB, so a forged one costs at most that much zeroed
// memory; a larger file grows the buffer as it is read.
size_t expectedBytes(const std::string &path) {
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec)
    return 0;
  std::FILE *in = std::fopen(path.c_str(), "rb");
  if (!in)
    return 0;
  unsigned char magic[2] = {0, 0}, trailer[4] = {0, 0, 0, 0};
  bool gzip = size >= 18 && std::fread(magic, 1, 2, in) == 2 &&
              magic[0] == 0x1f && magic[1] == 0x8b &&
              std::fseek(in, -4, SEEK_END) == 0 &&
              std::fread(trailer, 1, 4, in) == 4;
  std::fclose(in);
  if (!gzip)
    return static_cast<size_t>(size);
  uint64_t isize = uint64_t(trailer[0]) | uint64_t(trailer[1]) << 8 |
                   uint64_t(trailer[2]) << 16 | uint64_t(trailer[3]) << 24;
  return static_cast<size_t>(
      std::min<uint64_t>({isize, 1032 * size, uint64_t(1) << 28}));
}

} // namespace

bool isNumber(std::string_view text) {
  bool integer = false;
  return decimal(trim(text), integer);
}

// The common cell, an optionally negative run of at most 18 digits (exact
// in int64), parsed in one pass. False for anything else, "-0" included
// (a float keeps its sign), which then takes the general path.
bool plainInteger(std::string_view s, int64_t &v) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  if (s.size() == i || s.size() - i > 18)
    return false;
  int64_t x = 0;
  for (size_t j = i; j < s.size(); ++j) {
    unsigned d = static_cast<unsigned char>(s[j]) - unsigned('0');
    if (d > 9)
      return false;
    x = x * 10 + d;
  }
  if (i == 1 && x == 0)
    return false;
  v = i ? -x : x;
  return true;
}

bool parseValue(std::string_view text, Element e, unsigned char *out) {
  text = trim(text);
  ElementKind kind = elementKind(e);
  if (int64_t v = 0; kind != ElementKind::Bool && plainInteger(text, v)) {
    if (kind != ElementKind::Float)
      return storeInteger(v, e, out);
    // int64 -> double rounds like from_chars on the same digits (the value
    // is that integer), then to float as below: the same bits.
    auto d = static_cast<double>(v);
    if (e == Element::F32) {
      auto f = static_cast<float>(d);
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, &d, 8);
    }
    return true;
  }
  if (kind == ElementKind::Bool) {
    if (text == "true" || text == "1")
      *out = 1;
    else if (text == "false" || text == "0")
      *out = 0;
    else
      return false;
    return true;
  }
  bool integer = false;
  if (!decimal(text, integer))
    return false;
  if (!text.empty() && text.front() == '+') // from_chars takes no '+'
    text.remove_prefix(1);
  if (kind != ElementKind::Float) {
    if (!integer)
      return false;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    return ec == std::errc() && end == text.data() + text.size() &&
           storeInteger(v, e, out);
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (end != text.data() + text.size())
    return false;
  if (ec == std::errc::result_out_of_range) {
    // Beyond the range above is an overflow; below, a subnormal or zero
    // (strtod tells which, where from_chars leaves v alone).
    v = std::strtod(std::string(text).c_str(), nullptr);
    if (std::isinf(v))
      return false;
  }
  if (!std::isfinite(v))
    return false;
  if (e == Element::F32) {
    auto f = static_cast<float>(v);
    if (std::isinf(f))
      return false;
    std::memcpy(out, &f, 4);
  } else {
    std::memcpy(out, &v, 8);
  }
  return true;
}

absl::StatusOr<FileBytes> readText(const std::string &path) {
  absl::StatusOr<FileBytes> read = readBytes(path);
  if (!read.ok())
    return read.status();
  FileBytes text = *std::move(read);
  if (size_t nul = text.find('\0'); nul != std::string::npos)
    return absl::InvalidArgumentError(
        path + ":" +
        std::to_string(1 + std::count(text.begin(),
                                      text.begin() + static_cast<long>(nul),
                                      '\n')) +
        ": a NUL byte (not a text file?)");
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) // the mark spreadsheets write
    text.erase(0, 3);
  return text;
}

absl::StatusOr<FileBytes> readBytes(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    return absl::NotFoundError(path + ": cannot open: " + std::strerror(errno));
  // Read straight into a string sized once, from the file or the gzip
  // trailer (no regrowth and copies of tens of MB); it grows only when the
  // guess was short (several gzip members, or a trailer that lies).
  FileBytes text(expectedBytes(path) + 1, '\0');
  gzbuffer(f, 1 << 17);
  size_t used = 0;
  for (;;) {
    if (used == text.size())
      text.resize(std::max<size_t>(2 * text.size(), 1 << 17));
    size_t want = std::min<size_t>(text.size() - used, 1u << 30);
    int n = gzread(f, text.data() + used, static_cast<unsigned>(want));
    if (n < 0) {
      std::string why = zlibMessage(f);
      gzclose(f);
      return absl::DataLossError(path + ": read error: " + why);
    }
    if (n == 0)
      break;
    used += static_cast<size_t>(n);
  }
  text.resize(used);
  int code = 0;
  gzerror(f, &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    std::string why = zlibMessage(f);
    gzclose(f);
    return absl::DataLossError(path + ": read error: " + why);
  }
  gzclose(f);
  return text;
}

} // namespace fedrt::detail
