// `fedc lsp`: a Language Server Protocol server. One thread reads messages
// in order and answers each before the next: documents are small and
// analysis takes milliseconds, so there is nothing to cancel or reorder.
//
// Handled: initialize, initialized, shutdown, exit;
// textDocument/didOpen, didChange (full or incremental), didClose
// (diagnostics published after each); textDocument/hover, definition,
// completion. Malformed input of any kind gets a JSON-RPC error response
// (or, for a notification, nothing) and never ends the server.
#pragma once

#include "lsp/Document.h"
#include "lsp/LanguageServer.h"

#include <nlohmann/json.hpp>

#include <istream>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace fedc::lsp {

// JSON-RPC and LSP error codes.
enum ErrorCode {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotInitialized = -32002,
};

class Server {
public:
  Server(std::ostream &out, AnalysisOptions options);

  // Handles one message body (any bytes).
  void handleMessage(std::string_view body);
  // Answers a message the transport could not read (no id is known).
  void reportUnreadable(int code, const std::string &why);

  bool exited() const { return exited_; }
  // The process status after `exit` or the end of input: 0 when a
  // shutdown request came first, else 1 (as the protocol says).
  int exitStatus() const { return shutdown_ ? 0 : 1; }

private:
  using json = nlohmann::json;

  // A request's result, or the JSON-RPC error it is refused with.
  struct Reply {
    json result;
    int errorCode = 0;
    std::string errorMessage;
    static Reply ok(json result) { return {std::move(result), 0, {}}; }
    static Reply error(int code, std::string message) {
      return {nullptr, code, std::move(message)};
    }
  };

  void dispatch(const json &message);
  Reply request(const std::string &method, const json &params);
  void notification(const std::string &method, const json &params);
  Reply initialize(const json &params);
  void open(const json &params);
  void change(const json &params);
  void close(const json &params);
  json completion(const json &params) const;
  const Document *document(const json &params) const;
  void publish(const Document &doc);

  void send(const json &message);
  void respond(const json &id, json result);
  void respondError(const json &id, int code, const std::string &message);

  std::ostream &out_;
  AnalysisOptions options_;
  Encoding encoding_ = Encoding::Utf16;
  bool initialized_ = false;
  bool shutdown_ = false;
  bool exited_ = false;
  std::map<std::string, std::unique_ptr<Document>> documents_;
};

} // namespace fedc::lsp
