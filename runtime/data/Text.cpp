// Cells and text files of client data (TextInput.h).
#include "TextInput.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
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

} // namespace

bool isNumber(std::string_view text) {
  bool integer = false;
  return decimal(trim(text), integer);
}

bool parseValue(std::string_view text, Element e, unsigned char *out) {
  text = trim(text);
  if (elementKind(e) == ElementKind::Bool) {
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
  if (!isFloat(e)) {
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

absl::StatusOr<std::string> readText(const std::string &path) {
  absl::StatusOr<std::string> read = readBytes(path);
  if (!read.ok())
    return read.status();
  std::string text = *std::move(read);
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

absl::StatusOr<std::string> readBytes(const std::string &path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    return absl::NotFoundError(path + ": cannot open: " + std::strerror(errno));
  // Read straight into the string, sized from the file (a plain file: one
  // allocation and no copy; gzip grows it geometrically).
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  std::string text;
  text.reserve(ec ? 0 : static_cast<size_t>(size) + 1);
  gzbuffer(f, 1 << 17);
  size_t used = 0;
  for (;;) {
    if (text.size() - used < (1 << 16))
      text.resize(std::max(text.capacity(), used + (1 << 17)));
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
