// CSV client files (docs/runtime.md, "Data"), and the text helpers the JSON
// Lines loader shares.
#include "TextInput.h"
#include "fedrt/Data.h"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

namespace fedrt {

int64_t RecordLayout::width() const {
  int64_t n = 0;
  for (const Leaf &l : leaves)
    n += l.size;
  return n;
}

namespace {

std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r\"");
  size_t e = s.find_last_not_of(" \t\r\"");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string &line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos)
      return fields;
    start = comma + 1;
  }
}

} // namespace

namespace detail {

bool parseValue(const std::string &text, Element e, unsigned char *out) {
  const char *b = text.data(), *end = b + text.size();
  if (text.empty())
    return false;
  if (elementKind(e) == ElementKind::Signed ||
      elementKind(e) == ElementKind::Unsigned) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(b, end, v);
    return ec == std::errc() && ptr == end && storeInteger(v, e, out);
  }
  switch (e) {
  case Element::F32:
  case Element::F64: {
    char *stop = nullptr;
    errno = 0;
    double v = std::strtod(text.c_str(), &stop);
    // Out of range is an overflow (a subnormal result is fine); NaN and
    // infinities are not data.
    if (stop != text.c_str() + text.size() || !std::isfinite(v) ||
        (errno == ERANGE && std::fabs(v) > 1.0))
      return false;
    if (e == Element::F32) {
      float f = static_cast<float>(v);
      if (std::isinf(f) && !std::isinf(v))
        return false;
      std::memcpy(out, &f, 4);
    } else {
      std::memcpy(out, &v, 8);
    }
    return true;
  }
  case Element::Bool:
    if (text == "true" || text == "1")
      *out = 1;
    else if (text == "false" || text == "0")
      *out = 0;
    else
      return false;
    return true;
  default:
    return false;
  }
}

namespace {
// zlib's message without the path it prefixes ("path: unexpected end of
// file"): the caller names the file.
std::string zlibMessage(gzFile f) {
  int code = 0;
  std::string message = gzerror(f, &code);
  size_t colon = message.rfind(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}
} // namespace

bool LineReader::next(std::string &line) {
  line.clear();
  if (!error_.empty())
    return false;
  for (;;) {
    size_t end = buffer_.find('\n', pos_);
    if (end == std::string::npos && !eof_) {
      buffer_.erase(0, pos_);
      pos_ = 0;
      char block[65536];
      int n = gzread(file_, block, sizeof block);
      if (n < 0) {
        error_ = std::string(" read error: ") + zlibMessage(file_);
        return false;
      }
      if (n == 0) {
        eof_ = true;
        int code = 0;
        gzerror(file_, &code);
        if (code != Z_OK && code != Z_STREAM_END) {
          error_ = std::string(" read error: ") + zlibMessage(file_);
          return false;
        }
      }
      buffer_.append(block, static_cast<size_t>(n));
      continue;
    }
    if (end == std::string::npos && pos_ == buffer_.size())
      return false; // end of file
    size_t stop = end == std::string::npos ? buffer_.size() : end;
    line.assign(buffer_, pos_, stop - pos_);
    pos_ = end == std::string::npos ? buffer_.size() : end + 1;
    ++lines_;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find('\0') != std::string::npos) {
      error_ = std::to_string(lines_) + ": a NUL byte (not a text file?)";
      line.clear();
      return false;
    }
    return true;
  }
}

} // namespace detail

namespace {

using detail::GzFile;
using detail::LineReader;
using detail::parseValue;

bool isNumber(const std::string &s) {
  unsigned char scratch[8];
  return parseValue(s, Element::F64, scratch);
}

} // namespace

bool loadCsv(const std::string &path, const RecordLayout &layout, Columns &out,
             std::string &error) {
  GzFile f{gzopen(path.c_str(), "rb")};
  if (!f.file) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  out = Columns{};
  out.columns.resize(layout.leaves.size());
  // Where each scalar of a record comes from (a field index per value).
  std::vector<size_t> source;
  std::string line;
  int64_t lineNo = 0;
  bool first = true;
  size_t expectedFields = static_cast<size_t>(layout.width());
  LineReader reader(f.file);
  while (reader.next(line)) {
    ++lineNo;
    if (trim(line).empty())
      continue;
    std::vector<std::string> fields = split(line);
    if (first) {
      first = false;
      bool header = false;
      for (const std::string &field : fields)
        header = header || !isNumber(field);
      if (header) {
        expectedFields = fields.size();
        std::map<std::string, size_t> byName;
        for (size_t i = 0; i < fields.size(); ++i)
          byName.emplace(fields[i], i);
        for (const Leaf &leaf : layout.leaves) {
          if (leaf.name.empty()) { // a bare record: the first columns
            for (int64_t k = 0; k < leaf.size; ++k)
              source.push_back(static_cast<size_t>(k));
            if (static_cast<size_t>(leaf.size) > fields.size()) {
              error = path + ":" + std::to_string(lineNo) +
                      ": expected at least " + std::to_string(leaf.size) +
                      " columns";
              return false;
            }
            continue;
          }
          for (int64_t k = 0; k < leaf.size; ++k) {
            std::string column =
                leaf.tensor ? leaf.name + std::to_string(k) : leaf.name;
            auto it = byName.find(column);
            if (it == byName.end()) {
              error = path + ":" + std::to_string(lineNo) +
                      ": missing column '" + column + "' for field '" +
                      leaf.name + "'";
              return false;
            }
            source.push_back(it->second);
          }
        }
        continue;
      }
      for (int64_t i = 0; i < layout.width(); ++i)
        source.push_back(static_cast<size_t>(i));
    }
    if (fields.size() != expectedFields) {
      error = path + ":" + std::to_string(lineNo) + ": expected " +
              std::to_string(expectedFields) + " values, found " +
              std::to_string(fields.size());
      return false;
    }
    size_t value = 0;
    for (size_t j = 0; j < layout.leaves.size(); ++j) {
      const Leaf &leaf = layout.leaves[j];
      size_t size = elementSize(leaf.element);
      std::vector<unsigned char> &column = out.columns[j];
      for (int64_t k = 0; k < leaf.size; ++k, ++value) {
        size_t field = source[value];
        column.resize(column.size() + size);
        if (!parseValue(fields[field], leaf.element,
                        column.data() + column.size() - size)) {
          error = path + ":" + std::to_string(lineNo) + ":" +
                  std::to_string(field + 1) + ": expected " +
                  elementName(leaf.element) +
                  (leaf.name.empty() ? std::string()
                                     : " for field '" + leaf.name + "'") +
                  ", found '" + fields[field] + "'";
          return false;
        }
      }
    }
    ++out.records;
  }
  if (!reader.error().empty()) {
    error = path + ":" + reader.error();
    return false;
  }
  return true;
}

} // namespace fedrt
