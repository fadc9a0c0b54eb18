#include "lsp/Transport.h"

#include <cctype>
#include <optional>
#include <vector>

namespace fedc::lsp {

namespace {

// Longest header line kept; the rest of a longer line is read and dropped,
// so garbage without line breaks costs no memory.
constexpr size_t kMaxHeaderLine = 1024;
constexpr size_t kMaxHeaderLines = 32;

// One header line without its line break; nullopt at the end of the stream.
std::optional<std::string> readLine(std::istream &in, bool &truncated) {
  std::string line;
  truncated = false;
  int c;
  while ((c = in.get()) != std::char_traits<char>::eof()) {
    if (c == '\n') {
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      return line;
    }
    if (line.size() < kMaxHeaderLine)
      line.push_back(static_cast<char>(c));
    else
      truncated = true;
  }
  return std::nullopt;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// The value of a `Content-Length` header: decimal digits only.
std::optional<size_t> parseLength(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  if (value.empty() || value.size() > 18)
    return std::nullopt;
  size_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

} // namespace

ReadResult readMessage(std::istream &in) {
  std::optional<size_t> length;
  std::string problem;
  size_t lines = 0;
  for (;;) {
    bool truncated = false;
    std::optional<std::string> line = readLine(in, truncated);
    if (!line)
      return {ReadStatus::Eof, "", ""};
    if (line->empty()) {
      if (lines == 0)
        continue; // blank lines between messages
      break;
    }
    if (++lines > kMaxHeaderLines || truncated) {
      problem = "header too long";
      continue;
    }
    size_t colon = line->find(':');
    if (colon == std::string::npos) {
      problem = "header line without ':'";
    } else if (equalsIgnoreCase(std::string_view(*line).substr(0, colon),
                                "Content-Length")) {
      length = parseLength(std::string_view(*line).substr(colon + 1));
      if (!length)
        problem = "invalid Content-Length";
    }
  }
  if (problem.empty() && !length)
    problem = "no Content-Length header";
  if (!problem.empty())
    return {ReadStatus::Malformed, "", problem};
  if (*length > kMaxMessageBytes)
    return {ReadStatus::TooLarge, "",
            "message of " + std::to_string(*length) + " bytes is too large",
            *length};
  std::string body(*length, '\0');
  in.read(body.data(), static_cast<std::streamsize>(*length));
  if (static_cast<size_t>(in.gcount()) != *length)
    return {ReadStatus::Eof, "", ""};
  return {ReadStatus::Message, std::move(body), ""};
}

void writeMessage(std::ostream &out, std::string_view body) {
  out << "Content-Length: " << body.size() << "\r\n\r\n" << body;
  out.flush();
}

} // namespace fedc::lsp
