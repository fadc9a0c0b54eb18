// libFuzzer target over `fedc lsp`'s message handling: the input is the
// byte stream a client writes (headers, JSON-RPC, requests and
// notifications in any order, documents to analyze), after an initialize
// so documents are analyzed and queried; then the same bytes as one
// message body. Every answer must be a framed JSON-RPC 2.0 message; never
// a crash or hang (the server reads no further than the input).
#include "lsp/Server.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace {

std::string framed(const std::string &body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kInitialize =
    R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"capabilities":{}}})";

// Aborts unless `out` is a sequence of framed JSON-RPC 2.0 messages.
void checkAnswers(const std::string &out) {
  size_t at = 0;
  while (at < out.size()) {
    constexpr std::string_view kHeader = "Content-Length: ";
    size_t end = out.find("\r\n\r\n", at);
    if (out.compare(at, kHeader.size(), kHeader) != 0 ||
        end == std::string::npos)
      std::abort();
    size_t length = std::stoul(out.substr(at + kHeader.size()));
    nlohmann::json m =
        nlohmann::json::parse(out.substr(end + 4, length), nullptr, false);
    if (m.is_discarded() || !m.is_object() || m.value("jsonrpc", "") != "2.0")
      std::abort();
    at = end + 4 + length;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace fedc::lsp;
  std::string input(reinterpret_cast<const char *>(data), size);
  {
    std::istringstream in(framed(kInitialize) + input);
    std::ostringstream out;
    runServer(in, out, AnalysisOptions{});
    checkAnswers(out.str());
  }
  std::ostringstream out;
  Server server(out, AnalysisOptions{});
  server.handleMessage(kInitialize);
  server.handleMessage(input);
  checkAnswers(out.str());
  return 0;
}
