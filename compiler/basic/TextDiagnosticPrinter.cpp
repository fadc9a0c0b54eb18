#include "basic/TextDiagnosticPrinter.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace fedc {

namespace {

const char *kReset = "\033[0m";
const char *kBold = "\033[1m";
const char *kRed = "\033[1;31m";
const char *kMagenta = "\033[1;35m";
const char *kCyan = "\033[1;36m";
const char *kGreen = "\033[1;32m";

const char *severityColor(Severity s) {
  switch (s) {
  case Severity::Error:
    return kRed;
  case Severity::Warning:
    return kMagenta;
  case Severity::Note:
    return kCyan;
  }
  return kRed;
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80         ? 1
             : (c >> 5) == 6  ? 2
             : (c >> 4) == 14 ? 3
             : (c >> 3) == 30 ? 4
                              : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80)
      return 0;
  return n;
}

// A source line made printable: tabs expanded, control and invalid bytes
// shown as <XX>. `columnOf[b]` is the display column of byte b.
struct DisplayLine {
  std::vector<std::string> cells; // one printed character per column
  std::vector<unsigned> columnOf;
};

DisplayLine makeDisplayLine(std::string_view line) {
  DisplayLine d;
  d.columnOf.resize(line.size() + 1);
  unsigned col = 0;
  size_t i = 0;
  while (i < line.size()) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    size_t n = utf8SequenceLength(line, i);
    for (size_t k = 0; k < std::max<size_t>(n, 1); ++k)
      d.columnOf[i + k] = col;
    if (c == '\t') {
      unsigned width = 4 - col % 4;
      d.cells.insert(d.cells.end(), width, " ");
      col += width;
      i += 1;
    } else if (n == 0 || c < 0x20 || c == 0x7F) {
      for (char ch : fmt::format("<{:02X}>", c))
        d.cells.emplace_back(1, ch);
      col += 4;
      i += 1;
    } else {
      d.cells.emplace_back(line.substr(i, n));
      col += 1;
      i += n;
    }
  }
  d.columnOf[line.size()] = col;
  return d;
}

// The line shown for a diagnostic: its display cells and where its bytes
// start and end in the file.
struct SnippetLine {
  FileId file;
  uint32_t start, end; // byte offsets
  DisplayLine display;
  unsigned column(uint32_t offset) const {
    offset = std::clamp(offset, start, end);
    return display.columnOf[offset - start];
  }
};

// '~' under the diagnostic's ranges on this line, '^' at `caret`.
std::string markerLine(const Diagnostic &diag, const SourceManager &sm,
                       const SnippetLine &line, unsigned caret) {
  unsigned width = static_cast<unsigned>(line.display.cells.size());
  std::string markers(width + 1, ' ');
  for (const SourceRange &r : diag.ranges) {
    if (sm.fileOf(r.begin) != line.file)
      continue;
    uint32_t b = sm.offsetOf(r.begin), e = sm.offsetOf(r.end);
    if (e <= line.start || b > line.end)
      continue;
    for (unsigned c = line.column(b); c < line.column(e) && c < markers.size();
         ++c)
      markers[c] = '~';
  }
  markers[std::min<unsigned>(caret, width)] = '^';
  return markers;
}

// The replacement text of the fix-its on this line, under what they
// replace.
std::string fixItLine(const Diagnostic &diag, const SourceManager &sm,
                      const SnippetLine &line) {
  std::string fixLine;
  for (const FixIt &f : diag.fixits) {
    if (sm.fileOf(f.range.begin) != line.file)
      continue;
    uint32_t b = sm.offsetOf(f.range.begin);
    if (b < line.start || b > line.end)
      continue;
    unsigned c = line.column(b);
    if (fixLine.size() < c)
      fixLine.resize(c, ' ');
    fixLine.replace(c, std::min(f.replacement.size(), fixLine.size() - c),
                    f.replacement);
  }
  return fixLine;
}

} // namespace

void TextDiagnosticPrinter::handle(const Diagnostic &diag) {
  const DiagInfo &info = diagInfo(diag.id);
  if (useColor_)
    out_ << kBold;
  if (diag.loc.isValid()) {
    PresumedLoc p = sm_.presumed(diag.loc);
    out_ << p.filename << ':' << p.line << ':' << p.column << ": ";
  } else {
    out_ << "fedc: ";
  }
  if (useColor_)
    out_ << severityColor(diag.severity);
  out_ << severityName(diag.severity) << ": ";
  if (useColor_)
    out_ << kReset << kBold;
  out_ << diag.message;
  if (useColor_)
    out_ << kReset;
  out_ << " [" << info.name << "]\n";
  if (diag.loc.isValid())
    printSnippet(diag);
  out_.flush();
}

void TextDiagnosticPrinter::printSnippet(const Diagnostic &diag) {
  FileId file = sm_.fileOf(diag.loc);
  if (!file)
    return;
  PresumedLoc p = sm_.presumed(diag.loc);
  std::string_view line = sm_.lineText(file, p.line);
  uint32_t lineStart = sm_.offsetOf(diag.loc) - (p.column - 1);
  // On a huge line only the bytes around the caret can be shown; cut them
  // out first so the cost does not grow with the line.
  constexpr uint32_t kByteWindow = 4 * kMaxExcerptColumns;
  constexpr size_t kTwoWindows = 2 * size_t{kByteWindow};
  uint32_t caretByte = p.column - 1;
  if (line.size() > kTwoWindows) {
    uint32_t from = caretByte > kByteWindow ? caretByte - kByteWindow : 0;
    // Do not start inside a UTF-8 sequence.
    while (from > 0 && (static_cast<unsigned char>(line[from]) & 0xC0) == 0x80)
      --from;
    line = line.substr(from, kTwoWindows);
    lineStart += from;
  }
  SnippetLine shown{file, lineStart,
                    lineStart + static_cast<uint32_t>(line.size()),
                    makeDisplayLine(line)};
  const DisplayLine &display = shown.display;
  unsigned width = static_cast<unsigned>(display.cells.size());
  unsigned caret = shown.column(lineStart + p.column - 1);
  std::string markers = markerLine(diag, sm_, shown, caret);
  std::string fixLine = fixItLine(diag, sm_, shown);

  // Very long lines (minified or hostile input) are cut to a window around
  // the caret so one diagnostic stays one screenful.
  unsigned from = 0, to = width;
  if (width > kMaxExcerptColumns) {
    from = caret > kMaxExcerptColumns / 2 ? caret - kMaxExcerptColumns / 2 : 0;
    to = std::min(width, from + kMaxExcerptColumns);
  }
  auto cut = [&](const std::string &s) {
    std::string r = from < s.size() ? s.substr(from, to - from + 1) : "";
    while (!r.empty() && r.back() == ' ')
      r.pop_back();
    return r;
  };
  std::string sourceExcerpt;
  for (unsigned c = from; c < to; ++c)
    sourceExcerpt += display.cells[c];
  std::string gutter = fmt::format("{:>5} | ", p.line);
  std::string blank = "      | ";
  std::string prefix = from > 0 ? "..." : "";
  std::string suffix = to < width ? "..." : "";
  std::string pad(prefix.size(), ' ');
  out_ << gutter << prefix << sourceExcerpt << suffix << '\n';
  out_ << blank << pad;
  if (useColor_)
    out_ << kGreen;
  out_ << cut(markers);
  if (useColor_)
    out_ << kReset;
  out_ << '\n';
  if (!fixLine.empty()) {
    out_ << blank << pad;
    if (useColor_)
      out_ << kGreen;
    out_ << cut(fixLine);
    if (useColor_)
      out_ << kReset;
    out_ << '\n';
  }
}

} // namespace fedc
