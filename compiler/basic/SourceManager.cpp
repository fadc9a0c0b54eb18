#include "basic/SourceManager.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fedc {

FileId SourceManager::loadFile(const std::string &path, std::string &error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = "is a directory";
    return 0;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return 0;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return 0;
  }
  std::string text = std::move(content).str();
  if (text.size() > kMaxBufferSize) {
    error = "file is larger than 16 MiB";
    return 0;
  }
  return addBuffer(path, std::move(text));
}

FileId SourceManager::addBuffer(std::string name, std::string text) {
  auto b = std::make_unique<Buffer>();
  b->name = std::move(name);
  b->text = std::move(text);
  b->base = nextBase_;
  // One extra position so the end-of-file location is distinct and valid.
  nextBase_ += static_cast<uint32_t>(b->text.size()) + 1;
  buffers_.push_back(std::move(b));
  return static_cast<FileId>(buffers_.size());
}

std::string_view SourceManager::text(FileId file) const {
  return buffer(file).text;
}

std::string_view SourceManager::filename(FileId file) const {
  return buffer(file).name;
}

SourceLoc SourceManager::startOf(FileId file) const {
  return SourceLoc::fromRaw(buffer(file).base);
}

SourceLoc SourceManager::locFor(FileId file, uint32_t offset) const {
  const Buffer &b = buffer(file);
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(b.text.size()));
  return SourceLoc::fromRaw(b.base + offset);
}

FileId SourceManager::fileOf(SourceLoc loc) const {
  if (!loc.isValid())
    return 0;
  // Buffers are in increasing base order.
  auto it =
      std::upper_bound(buffers_.begin(), buffers_.end(), loc.raw(),
                       [](uint32_t raw, const std::unique_ptr<Buffer> &b) {
                         return raw < b->base;
                       });
  if (it == buffers_.begin())
    return 0;
  const Buffer &b = **(it - 1);
  if (loc.raw() > b.base + b.text.size())
    return 0;
  return static_cast<FileId>(it - buffers_.begin());
}

uint32_t SourceManager::offsetOf(SourceLoc loc) const {
  FileId f = fileOf(loc);
  return f ? loc.raw() - buffer(f).base : 0;
}

const std::vector<uint32_t> &SourceManager::lineStarts(const Buffer &b) const {
  if (b.lineStarts.empty()) {
    b.lineStarts.push_back(0);
    for (uint32_t i = 0; i < b.text.size(); ++i)
      if (b.text[i] == '\n')
        b.lineStarts.push_back(i + 1);
  }
  return b.lineStarts;
}

PresumedLoc SourceManager::presumed(SourceLoc loc) const {
  PresumedLoc p;
  FileId f = fileOf(loc);
  if (!f)
    return p;
  const Buffer &b = buffer(f);
  uint32_t offset = loc.raw() - b.base;
  const auto &starts = lineStarts(b);
  auto it = std::upper_bound(starts.begin(), starts.end(), offset);
  p.filename = b.name;
  p.line = static_cast<unsigned>(it - starts.begin());
  p.column = offset - *(it - 1) + 1;
  return p;
}

unsigned SourceManager::lineCount(FileId file) const {
  return static_cast<unsigned>(lineStarts(buffer(file)).size());
}

std::string_view SourceManager::lineText(FileId file, unsigned line) const {
  const Buffer &b = buffer(file);
  const auto &starts = lineStarts(b);
  if (line == 0 || line > starts.size())
    return {};
  uint32_t begin = starts[line - 1];
  uint32_t end = line < starts.size() ? starts[line] - 1
                                      : static_cast<uint32_t>(b.text.size());
  std::string_view text(b.text);
  std::string_view result = text.substr(begin, end - begin);
  if (!result.empty() && result.back() == '\r')
    result.remove_suffix(1);
  return result;
}

} // namespace fedc
