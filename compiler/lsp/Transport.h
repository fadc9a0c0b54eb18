// The base protocol of the Language Server Protocol: messages framed by a
// `Content-Length` header, read from and written to byte streams (stdio).
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

namespace fedc::lsp {

enum class ReadStatus {
  Message,   // `body` holds one message
  Eof,       // the stream ended (possibly inside a message)
  Malformed, // a header block without a valid Content-Length (skipped)
  TooLarge,  // a body over kMaxMessageBytes, not read yet (`length`)
};

struct ReadResult {
  ReadStatus status;
  std::string body;
  std::string error; // why, for Malformed and TooLarge
  size_t length = 0; // TooLarge: the bytes to skip (after answering)
};

// Bodies the server reads at most; larger ones are skipped unread. The
// compiler refuses sources over 16 MiB anyway (SourceManager).
constexpr size_t kMaxMessageBytes = 64u << 20;

// Reads the next message. Header lines end in "\r\n" (a bare "\n" is
// accepted); a malformed header block is skipped up to its blank line, so
// the next message is read normally.
ReadResult readMessage(std::istream &in);

// Writes one message with its header and flushes.
void writeMessage(std::ostream &out, std::string_view body);

} // namespace fedc::lsp
