// Between fedc's source locations (byte offsets) and the protocol's
// positions (line and character, counted in UTF-16 code units unless the
// client accepts UTF-8), and between file paths and `file://` URIs.
#pragma once

#include "basic/SourceManager.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fedc::lsp {

enum class Encoding { Utf8, Utf16 };

struct Position {
  unsigned line = 0;      // 0-based
  unsigned character = 0; // 0-based, in the encoding's units
};

// The line starts of one text (lines end at '\n'; a '\r' before it is an
// ordinary character of the line).
class LineTable {
public:
  LineTable(std::string_view text, Encoding encoding);
  Position position(uint32_t offset) const;
  // The byte offset of `p`, clamped to its line and to the text.
  uint32_t offset(Position p) const;

private:
  std::string_view text_;
  Encoding encoding_;
  std::vector<uint32_t> starts_;
};

// "file:///a/b%20c.fed" -> "/a/b c.fed"; other URIs are returned as they
// are (an unsaved buffer is named by its URI).
std::string uriToPath(std::string_view uri);
// An absolute path as a file:// URI, percent-encoding what must be.
std::string pathToUri(std::string_view path);

// Maps the locations of one compilation to protocol ranges and locations;
// `document` is the open file, named by `uri` (the client's spelling).
class LocationMapper {
public:
  LocationMapper(const SourceManager &sm, FileId document, std::string uri,
                 Encoding encoding);
  bool inDocument(SourceLoc loc) const;
  Position position(SourceLoc loc) const;
  nlohmann::json range(SourceRange r) const;
  nlohmann::json location(SourceRange r) const; // {uri, range}
  std::string uriOf(SourceLoc loc) const;
  SourceLoc locAt(Position p) const; // in the document
  FileId document() const { return document_; }
  const SourceManager &sources() const { return sm_; }

private:
  const LineTable &lines(FileId file) const;

  const SourceManager &sm_;
  FileId document_;
  std::string uri_;
  Encoding encoding_;
  mutable std::map<FileId, std::unique_ptr<LineTable>> tables_;
};

nlohmann::json toJson(Position p);

} // namespace fedc::lsp
