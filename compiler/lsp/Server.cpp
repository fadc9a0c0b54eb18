#include "lsp/Server.h"

#include "lsp/Transport.h"

#include <optional>
#include <set>

namespace fedc::lsp {

using json = nlohmann::json;

namespace {

const json *member(const json &j, const char *key) {
  if (!j.is_object())
    return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<std::string> stringMember(const json &j, const char *key) {
  const json *m = member(j, key);
  if (!m || !m->is_string())
    return std::nullopt;
  return m->get<std::string>();
}

std::optional<unsigned> unsignedMember(const json &j, const char *key) {
  const json *m = member(j, key);
  if (!m || !m->is_number_integer() || m->get<int64_t>() < 0 ||
      m->get<int64_t>() > (int64_t(1) << 31))
    return std::nullopt;
  return static_cast<unsigned>(m->get<int64_t>());
}

std::optional<Position> positionMember(const json &j, const char *key) {
  const json *p = member(j, key);
  if (!p)
    return std::nullopt;
  auto line = unsignedMember(*p, "line");
  auto character = unsignedMember(*p, "character");
  if (!line || !character)
    return std::nullopt;
  return Position{*line, *character};
}

// params.textDocument.uri
std::optional<std::string> documentUri(const json &params) {
  const json *doc = member(params, "textDocument");
  return doc ? stringMember(*doc, "uri") : std::nullopt;
}

int64_t documentVersion(const json &params) {
  const json *doc = member(params, "textDocument");
  const json *v = doc ? member(*doc, "version") : nullptr;
  return v && v->is_number_integer() ? v->get<int64_t>() : 0;
}

// `text` after one contentChanges entry: the whole text, or a range of it
// replaced. Nullopt for a malformed entry.
std::optional<std::string> applyChange(std::string text, const json &change,
                                       Encoding encoding) {
  std::optional<std::string> replacement = stringMember(change, "text");
  if (!replacement)
    return std::nullopt;
  const json *range = member(change, "range");
  if (!range)
    return replacement;
  auto start = positionMember(*range, "start");
  auto end = positionMember(*range, "end");
  if (!start || !end)
    return std::nullopt;
  LineTable lines(text, encoding);
  uint32_t from = lines.offset(*start), to = lines.offset(*end);
  if (to < from)
    std::swap(from, to);
  text.replace(from, to - from, *replacement);
  return text;
}

// CompletionItemKind values.
constexpr int kFunctionKind = 3, kKeywordKind = 14, kTypeKind = 25;

json completionItems() {
  json items = json::array();
#define INTRINSIC(Name, spelling, named, Typing, Node, Kind)                   \
  items.push_back({{"label", spelling},                                        \
                   {"kind", kFunctionKind},                                    \
                   {"detail", std::string("federated intrinsic") +             \
                                  (*named ? std::string(", ") + named + ":"    \
                                          : std::string())}});
#include "sema/Intrinsics.def"
  std::set<std::string> builtins;
#define BUILTIN(Name, spelling, TypeArg, Axis, Typing, Lowering)               \
  if (spelling[0] != '%' && builtins.insert(spelling).second)                  \
    items.push_back({{"label", spelling},                                      \
                     {"kind", kFunctionKind},                                  \
                     {"detail", "builtin"}});
#include "sema/Builtins.def"
  // Function transformations, typed in sema/Gradients.cpp (no table).
  for (const char *transform : {"grad", "value_and_grad"})
    items.push_back({{"label", transform},
                     {"kind", kFunctionKind},
                     {"detail", "gradient of a local fn (argnums:)"}});
#define ELEMENT(Name, spelling, bytes, ctype, kind)                            \
  items.push_back(                                                             \
      {{"label", spelling}, {"kind", kTypeKind}, {"detail", "element type"}});
#include "fedrt/Elements.def"
#undef ELEMENT
  for (const char *keyword :
       {"import", "const", "struct", "fn", "federated", "process", "let", "var",
        "return", "if", "else", "for", "in", "while", "true", "false", "SERVER",
        "CLIENTS", "seq"})
    items.push_back(
        {{"label", keyword}, {"kind", kKeywordKind}, {"detail", "keyword"}});
  return items;
}

} // namespace

Server::Server(std::ostream &out, AnalysisOptions options)
    : out_(out), options_(std::move(options)) {}

void Server::send(const json &message) {
  // Replacement characters for bytes that are not UTF-8 (a message may
  // quote an imported file).
  writeMessage(out_,
               message.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Server::respond(const json &id, json result) {
  send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void Server::respondError(const json &id, int code,
                          const std::string &message) {
  send({{"jsonrpc", "2.0"},
        {"id", id},
        {"error", {{"code", code}, {"message", message}}}});
}

void Server::reportUnreadable(int code, const std::string &why) {
  respondError(nullptr, code, why);
}

void Server::handleMessage(std::string_view body) {
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    respondError(nullptr, kParseError, "Parse error: the message is not JSON");
    return;
  }
  try {
    dispatch(message);
  } catch (const std::exception &e) {
    // A bug, not the client's fault: answer and keep serving.
    const json *id = member(message, "id");
    respondError(id && (id->is_number_integer() || id->is_string()) ? *id
                                                                    : json(),
                 kInternalError, std::string("internal error: ") + e.what());
  }
}

void Server::dispatch(const json &message) {
  if (!message.is_object()) {
    respondError(nullptr, kInvalidRequest, "a message is a JSON object");
    return;
  }
  const json *id = member(message, "id");
  if (id && !id->is_number_integer() && !id->is_string()) {
    respondError(nullptr, kInvalidRequest, "an id is an integer or a string");
    return;
  }
  std::optional<std::string> method = stringMember(message, "method");
  if (!method) {
    // A response to a request this server never sends: nothing to do.
    if (id && (member(message, "result") || member(message, "error")))
      return;
    respondError(id ? *id : json(), kInvalidRequest,
                 "a message needs a method");
    return;
  }
  const json *found = member(message, "params");
  json params = found ? *found : json::object();
  if (!id) {
    notification(*method, params);
    return;
  }
  if (!initialized_ && *method != "initialize") {
    respondError(*id, kServerNotInitialized, "initialize comes first");
    return;
  }
  if (shutdown_) {
    respondError(*id, kInvalidRequest, "the server is shutting down");
    return;
  }
  Reply reply = request(*method, params);
  if (reply.errorCode)
    respondError(*id, reply.errorCode, reply.errorMessage);
  else
    respond(*id, std::move(reply.result));
}

Server::Reply Server::request(const std::string &method, const json &params) {
  if (method == "initialize")
    return initialize(params);
  if (method == "shutdown") {
    shutdown_ = true;
    return Reply::ok(nullptr);
  }
  if (method == "textDocument/completion")
    return Reply::ok(completion(params));
  if (method == "textDocument/hover" || method == "textDocument/definition") {
    std::optional<Position> p = positionMember(params, "position");
    if (!documentUri(params) || !p)
      return Reply::error(kInvalidParams,
                          method + " needs textDocument.uri and a position");
    const Document *doc = document(params);
    if (!doc)
      return Reply::ok(nullptr); // not open: nothing known
    return Reply::ok(method == "textDocument/hover" ? doc->hover(*p)
                                                    : doc->definition(*p));
  }
  return Reply::error(kMethodNotFound, "unknown method " + method);
}

Server::Reply Server::initialize(const json &params) {
  if (initialized_)
    return Reply::error(kInvalidRequest, "initialize was already received");
  if (!params.is_object())
    return Reply::error(kInvalidParams, "initialize needs an object");
  // UTF-8 positions when the client offers them (LSP 3.17), else UTF-16.
  encoding_ = Encoding::Utf16;
  const json *caps = member(params, "capabilities");
  const json *general = caps ? member(*caps, "general") : nullptr;
  const json *encodings =
      general ? member(*general, "positionEncodings") : nullptr;
  if (encodings && encodings->is_array())
    for (const json &e : *encodings)
      if (e == "utf-8")
        encoding_ = Encoding::Utf8;
  initialized_ = true;
  return Reply::ok(
      {{"capabilities",
        {{"positionEncoding", encoding_ == Encoding::Utf8 ? "utf-8" : "utf-16"},
         {"textDocumentSync", {{"openClose", true}, {"change", 1}}},
         {"hoverProvider", true},
         {"definitionProvider", true},
         {"completionProvider", {{"resolveProvider", false}}}}},
       {"serverInfo", {{"name", "fedc"}, {"version", FEDC_VERSION}}}});
}

void Server::notification(const std::string &method, const json &params) {
  if (method == "exit") {
    exited_ = true;
    return;
  }
  // Before initialize only exit counts; after shutdown nothing changes.
  if (!initialized_ || shutdown_)
    return;
  if (method == "textDocument/didOpen")
    open(params);
  else if (method == "textDocument/didChange")
    change(params);
  else if (method == "textDocument/didClose")
    close(params);
  // Others (initialized, $/cancelRequest, didSave, ...) need nothing.
}

void Server::open(const json &params) {
  std::optional<std::string> uri = documentUri(params);
  const json *doc = member(params, "textDocument");
  std::optional<std::string> text =
      doc ? stringMember(*doc, "text") : std::nullopt;
  if (!uri || !text)
    return;
  auto fresh = std::make_unique<Document>(
      *uri, std::move(*text), documentVersion(params), encoding_, options_);
  publish(*fresh);
  documents_[*uri] = std::move(fresh);
}

void Server::change(const json &params) {
  std::optional<std::string> uri = documentUri(params);
  const json *changes = member(params, "contentChanges");
  auto it = uri ? documents_.find(*uri) : documents_.end();
  if (it == documents_.end() || !changes || !changes->is_array())
    return;
  std::string text(it->second->text());
  for (const json &c : *changes) {
    std::optional<std::string> next =
        applyChange(std::move(text), c, encoding_);
    if (!next)
      return; // a malformed change: keep the document as it was
    text = std::move(*next);
  }
  auto fresh = std::make_unique<Document>(
      *uri, std::move(text), documentVersion(params), encoding_, options_);
  fresh->inheritNames(*it->second);
  publish(*fresh);
  it->second = std::move(fresh);
}

void Server::close(const json &params) {
  std::optional<std::string> uri = documentUri(params);
  if (!uri || !documents_.erase(*uri))
    return;
  send({{"jsonrpc", "2.0"},
        {"method", "textDocument/publishDiagnostics"},
        {"params", {{"uri", *uri}, {"diagnostics", json::array()}}}});
}

const Document *Server::document(const json &params) const {
  std::optional<std::string> uri = documentUri(params);
  auto it = uri ? documents_.find(*uri) : documents_.end();
  return it == documents_.end() ? nullptr : it->second.get();
}

void Server::publish(const Document &doc) {
  send({{"jsonrpc", "2.0"},
        {"method", "textDocument/publishDiagnostics"},
        {"params",
         {{"uri", doc.uri()},
          {"version", doc.version()},
          {"diagnostics", doc.diagnostics()}}}});
}

json Server::completion(const json &params) const {
  static const json kItems = completionItems();
  json items = kItems;
  if (const Document *doc = document(params))
    for (const DeclaredName &n : doc->names())
      items.push_back(
          {{"label", n.name}, {"kind", n.kind}, {"detail", n.detail}});
  return {{"isIncomplete", false}, {"items", std::move(items)}};
}

int runServer(std::istream &in, std::ostream &out, AnalysisOptions options) {
  Server server(out, std::move(options));
  while (!server.exited()) {
    ReadResult r = readMessage(in);
    if (r.status == ReadStatus::Eof)
      break;
    if (r.status == ReadStatus::Message) {
      server.handleMessage(r.body);
    } else if (r.status == ReadStatus::TooLarge) {
      // Answered first: the client may wait for it before sending on.
      server.reportUnreadable(kInvalidRequest, r.error);
      in.ignore(static_cast<std::streamsize>(r.length));
    } else {
      server.reportUnreadable(kParseError, r.error);
    }
  }
  return server.exitStatus();
}

} // namespace fedc::lsp
