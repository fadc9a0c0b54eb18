#include "basic/VerifyDiagnosticConsumer.h"

#include <charconv>
#include <optional>
#include <string>

namespace fedc {

namespace {

struct Directive {
  Severity severity;
  SourceLoc loc;                // where the directive is written
  std::optional<unsigned> line; // empty: `@*`, any line or no location
  unsigned count = 1;
  std::string text;
};

// The comment bodies of a .fed file, each with its offset. Strings are
// skipped so that `"// not a comment"` is not scanned.
std::vector<std::pair<size_t, std::string_view>>
comments(std::string_view text) {
  std::vector<std::pair<size_t, std::string_view>> result;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '"') {
      ++i;
      while (i < text.size() && text[i] != '"' && text[i] != '\n')
        i += text[i] == '\\' ? 2 : 1;
      ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      size_t end = text.find('\n', i);
      end = end == std::string_view::npos ? text.size() : end;
      result.emplace_back(i, text.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      end = end == std::string_view::npos ? text.size() : end + 2;
      result.emplace_back(i, text.substr(i, end - i));
      i = end;
    } else {
      ++i;
    }
  }
  return result;
}

void skipSpaces(std::string_view s, size_t &i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
    ++i;
}

bool readNumber(std::string_view s, size_t &i, unsigned &value) {
  size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  if (i == start)
    return false;
  auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + i, value);
  return ec == std::errc();
}

// Parses the directives of one file. Malformed ones are reported.
// Parses what follows a directive's severity: `@line` (`@+n`, `@-n`,
// `@*`), a count and `{{text}}`, from body[i]. Returns why it is
// malformed, or nullptr; `i` ends after the text or at the error.
const char *parseDirectiveTail(std::string_view body, size_t &i, unsigned here,
                               Directive &d) {
  d.line = here;
  if (i < body.size() && body[i] == '@') {
    ++i;
    if (i < body.size() && body[i] == '*') {
      d.line.reset();
      ++i;
    } else {
      char sign = i < body.size() ? body[i] : '\0';
      if (sign == '+' || sign == '-')
        ++i;
      unsigned n = 0;
      if (!readNumber(body, i, n))
        return "expected a line number or offset after '@'";
      if (sign == '+')
        d.line = here + n;
      else if (sign == '-')
        d.line = n < here ? here - n : 0;
      else
        d.line = n;
    }
  }
  skipSpaces(body, i);
  if (i < body.size() && body[i] >= '0' && body[i] <= '9') {
    if (!readNumber(body, i, d.count) || d.count == 0)
      return "expected a positive count";
    skipSpaces(body, i);
  }
  if (body.substr(i, 2) != "{{")
    return "cannot find start ('{{') of expected text";
  size_t end = body.find("}}", i + 2);
  if (end == std::string_view::npos)
    return "cannot find end ('}}') of expected text";
  d.text = std::string(body.substr(i + 2, end - i - 2));
  i = end + 2;
  return nullptr;
}

bool parseDirectives(const SourceManager &sm, FileId file,
                     std::vector<Directive> &out, bool &expectNone,
                     DiagnosticEngine &report) {
  bool ok = true;
  std::string_view text = sm.text(file);
  for (auto [offset, body] : comments(text)) {
    size_t pos = 0;
    while ((pos = body.find("expected-", pos)) != std::string_view::npos) {
      SourceLoc loc = sm.locFor(file, static_cast<uint32_t>(offset + pos));
      size_t i = pos + 9;
      std::string_view rest = body.substr(i);
      Directive d;
      if (rest.rfind("no-diagnostics", 0) == 0) {
        expectNone = true;
        pos = i + 14;
        continue;
      }
      if (rest.rfind("error", 0) == 0) {
        d.severity = Severity::Error;
        i += 5;
      } else if (rest.rfind("warning", 0) == 0) {
        d.severity = Severity::Warning;
        i += 7;
      } else if (rest.rfind("note", 0) == 0) {
        d.severity = Severity::Note;
        i += 4;
      } else {
        pos = i;
        continue; // prose that happens to say "expected-"
      }
      d.loc = loc;
      if (const char *why =
              parseDirectiveTail(body, i, sm.presumed(loc).line, d)) {
        report.report(loc, DiagId::VerifyMalformedDirective).arg(why);
        ok = false;
      } else {
        out.push_back(std::move(d));
      }
      pos = i;
    }
  }
  return ok;
}

} // namespace

bool VerifyDiagnosticConsumer::verify(const std::vector<FileId> &files,
                                      DiagnosticEngine &report) {
  std::vector<Directive> directives;
  bool ok = true;
  bool expectNone = false;
  for (FileId f : files)
    ok &= parseDirectives(sm_, f, directives, expectNone, report);
  if (directives.empty() && !expectNone && ok) {
    report.report(files.empty() ? SourceLoc() : sm_.startOf(files.front()),
                  DiagId::VerifyNoDirectives);
    return false;
  }

  std::vector<bool> matched(seen_.size(), false);
  auto fullText = [](const Diagnostic &d) {
    return d.message + " [" + diagInfo(d.id).name + "]";
  };
  for (const Directive &d : directives) {
    FileId file = sm_.fileOf(d.loc);
    unsigned found = 0;
    for (size_t k = 0; k < seen_.size() && found < d.count; ++k) {
      const Diagnostic &diag = seen_[k];
      if (matched[k] || diag.severity != d.severity)
        continue;
      if (d.line) {
        if (!diag.loc.isValid() || sm_.fileOf(diag.loc) != file ||
            sm_.presumed(diag.loc).line != *d.line)
          continue;
      }
      if (fullText(diag).find(d.text) == std::string::npos)
        continue;
      matched[k] = true;
      ++found;
    }
    for (; found < d.count; ++found) {
      report.report(d.loc, DiagId::VerifyNotSeen)
          .arg(severityName(d.severity))
          .arg(d.text);
      ok = false;
    }
  }
  for (size_t k = 0; k < seen_.size(); ++k) {
    if (matched[k])
      continue;
    report.report(seen_[k].loc, DiagId::VerifyUnexpected)
        .arg(severityName(seen_[k].severity))
        .arg(fullText(seen_[k]));
    ok = false;
  }
  return ok;
}

} // namespace fedc
