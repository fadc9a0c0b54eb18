// fedc lsp's building blocks: positions in UTF-16 and UTF-8, file URIs, and
// the Content-Length framing with its recovery from malformed headers.
#include "lsp/Positions.h"
#include "lsp/Transport.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fedc::lsp {
namespace {

// "é" is 2 bytes and 1 UTF-16 unit; "𝔽" 4 bytes and 2 units.
constexpr std::string_view kText = "ab\n/* \xc3\xa9\xf0\x9d\x94\xbd */ x\nlast";

TEST(LspPositionsTest, CountsUtf16UnitsOrBytes) {
  LineTable utf16(kText, Encoding::Utf16), utf8(kText, Encoding::Utf8);
  uint32_t x = static_cast<uint32_t>(kText.find('x'));
  EXPECT_EQ(utf16.position(x).line, 1u);
  EXPECT_EQ(utf16.position(x).character, 10u); // "/* " é 𝔽 " */ "
  EXPECT_EQ(utf8.position(x).character, 13u);
  EXPECT_EQ(utf16.offset({1, 10}), x);
  EXPECT_EQ(utf8.offset({1, 13}), x);
  // Inside the surrogate pair: the character's start or its end, never a
  // continuation byte.
  uint32_t inside = utf16.offset({1, 5});
  EXPECT_TRUE(inside == 3 + 3 + 2 || inside == 3 + 3 + 6) << inside;
}

TEST(LspPositionsTest, ClampsToTheLineAndTheText) {
  LineTable lines(kText, Encoding::Utf16);
  EXPECT_EQ(lines.offset({0, 99}), 2u); // the '\n' ending "ab"
  EXPECT_EQ(lines.offset({99, 0}), kText.size());
  EXPECT_EQ(lines.position(static_cast<uint32_t>(kText.size())).line, 2u);
  EXPECT_EQ(lines.position(1000).character, 4u);
}

TEST(LspPositionsTest, FileUrisRoundTrip) {
  std::string path = "/tmp/a b/\xc3\xa9t\xc3\xa9.fed";
  std::string uri = pathToUri(path);
  EXPECT_EQ(uri, "file:///tmp/a%20b/%C3%A9t%C3%A9.fed");
  EXPECT_EQ(uriToPath(uri), path);
  EXPECT_EQ(uriToPath("file://host/x.fed"), "/x.fed");
  EXPECT_EQ(uriToPath("untitled:1"), "untitled:1");
  EXPECT_EQ(uriToPath("file:///a%00b"), "file:///a%00b"); // no NUL in paths
  EXPECT_EQ(uriToPath("file:///a%zz%4"), "/a%zz%4");
}

TEST(LspTransportTest, ReadsFramesAndRecoversFromBadHeaders) {
  std::istringstream in("Content-Length: 2\r\n\r\n{}"
                        "\r\nContent-Type: x\r\n\r\n"         // no length
                        "content-length: 1x\r\n\r\n"          // not a number
                        "Content-Length:   3  \n\n[1]"        // bare \n
                        "Content-Length: 99999999999\r\n\r\n" // too large
                        "Content-Length: 5\r\n\r\n{");        // cut short
  EXPECT_EQ(readMessage(in).body, "{}");
  ReadResult r = readMessage(in);
  EXPECT_EQ(r.status, ReadStatus::Malformed);
  EXPECT_EQ(r.error, "no Content-Length header");
  EXPECT_EQ(readMessage(in).error, "invalid Content-Length");
  EXPECT_EQ(readMessage(in).body, "[1]");
  r = readMessage(in);
  EXPECT_EQ(r.status, ReadStatus::TooLarge);
  EXPECT_EQ(r.length, 99999999999u);
  EXPECT_EQ(readMessage(in).status, ReadStatus::Eof);
}

TEST(LspTransportTest, LongHeaderLinesCostNoMemory) {
  std::istringstream in(std::string(1 << 20, 'x') +
                        "\r\n\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(readMessage(in).error, "header too long");
  EXPECT_EQ(readMessage(in).body, "ok");
}

TEST(LspTransportTest, WritesTheHeader) {
  std::ostringstream out;
  writeMessage(out, "{\"a\":1}");
  EXPECT_EQ(out.str(), "Content-Length: 7\r\n\r\n{\"a\":1}");
}

} // namespace
} // namespace fedc::lsp
