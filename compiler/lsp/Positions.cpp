#include "lsp/Positions.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace fedc::lsp {

namespace {

// UTF-16 code units of the UTF-8 sequence starting with `lead` (0 for a
// continuation byte). Invalid lead bytes count as one unit, as a
// replacement character would.
unsigned utf16Units(unsigned char lead) {
  if (lead >= 0x80 && lead < 0xC0)
    return 0;
  return lead >= 0xF0 && lead < 0xF8 ? 2 : 1;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

LineTable::LineTable(std::string_view text, Encoding encoding)
    : text_(text), encoding_(encoding) {
  starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n')
      starts_.push_back(static_cast<uint32_t>(i + 1));
}

Position LineTable::position(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  unsigned line = static_cast<unsigned>(it - starts_.begin()) - 1;
  uint32_t start = starts_[line];
  if (encoding_ == Encoding::Utf8)
    return {line, offset - start};
  unsigned units = 0;
  for (uint32_t i = start; i < offset; ++i)
    units += utf16Units(static_cast<unsigned char>(text_[i]));
  return {line, units};
}

uint32_t LineTable::offset(Position p) const {
  if (p.line >= starts_.size())
    return static_cast<uint32_t>(text_.size());
  uint32_t start = starts_[p.line];
  uint32_t end = p.line + 1 < starts_.size()
                     ? starts_[p.line + 1] - 1 // the '\n'
                     : static_cast<uint32_t>(text_.size());
  if (encoding_ == Encoding::Utf8)
    return std::min<uint64_t>(uint64_t(start) + p.character, end);
  unsigned units = 0;
  uint32_t i = start;
  while (i < end && units < p.character) {
    units += utf16Units(static_cast<unsigned char>(text_[i]));
    ++i;
    while (i < end && utf16Units(static_cast<unsigned char>(text_[i])) == 0)
      ++i; // the continuation bytes of the same character
  }
  return i;
}

std::string uriToPath(std::string_view uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.substr(0, kScheme.size()) != kScheme)
    return std::string(uri);
  std::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos)
    return std::string(uri);
  rest = rest.substr(slash); // drops an authority (file://host/path)
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size()) {
      int hi = hexValue(rest[i + 1]), lo = hexValue(rest[i + 2]);
      if (hi >= 0 && lo >= 0) {
        char c = static_cast<char>(hi * 16 + lo);
        if (c == '\0')
          return std::string(uri); // no NUL inside a path
        path.push_back(c);
        i += 2;
        continue;
      }
    }
    path.push_back(rest[i]);
  }
  return path;
}

std::string pathToUri(std::string_view path) {
  std::string uri = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      uri.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      uri += hex;
    }
  }
  return uri;
}

nlohmann::json toJson(Position p) {
  return {{"line", p.line}, {"character", p.character}};
}

LocationMapper::LocationMapper(const SourceManager &sm, FileId document,
                               std::string uri, Encoding encoding)
    : sm_(sm), document_(document), uri_(std::move(uri)), encoding_(encoding) {}

const LineTable &LocationMapper::lines(FileId file) const {
  auto &table = tables_[file];
  if (!table)
    table = std::make_unique<LineTable>(sm_.text(file), encoding_);
  return *table;
}

bool LocationMapper::inDocument(SourceLoc loc) const {
  return loc.isValid() && sm_.fileOf(loc) == document_;
}

Position LocationMapper::position(SourceLoc loc) const {
  if (!loc.isValid())
    return {};
  FileId file = sm_.fileOf(loc);
  return file ? lines(file).position(sm_.offsetOf(loc)) : Position{};
}

nlohmann::json LocationMapper::range(SourceRange r) const {
  SourceLoc end = r.end.isValid() && sm_.fileOf(r.end) == sm_.fileOf(r.begin)
                      ? r.end
                      : r.begin;
  return {{"start", toJson(position(r.begin))}, {"end", toJson(position(end))}};
}

std::string LocationMapper::uriOf(SourceLoc loc) const {
  FileId file = loc.isValid() ? sm_.fileOf(loc) : 0;
  if (!file || file == document_)
    return uri_;
  return pathToUri(std::string(sm_.filename(file)));
}

nlohmann::json LocationMapper::location(SourceRange r) const {
  return {{"uri", uriOf(r.begin)}, {"range", range(r)}};
}

SourceLoc LocationMapper::locAt(Position p) const {
  return sm_.locFor(document_, lines(document_).offset(p));
}

} // namespace fedc::lsp
