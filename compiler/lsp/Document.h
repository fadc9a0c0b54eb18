// One open document, analyzed as `fedc -fsyntax-only` would (parse,
// semantic analysis, planning) with the diagnostics kept for the client,
// and what was typed kept for hover and go-to-definition, also when the
// file has errors.
#pragma once

#include "basic/SourceManager.h"
#include "lsp/LanguageServer.h"
#include "lsp/Positions.h"
#include "sema/TypedAST.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace fedc::lsp {

// A module-level name, for completion.
struct DeclaredName {
  std::string name;
  int kind;           // the protocol's CompletionItemKind
  std::string detail; // `fn`, `struct`, ...
};

class Document {
public:
  Document(std::string uri, std::string text, int64_t version,
           Encoding encoding, const AnalysisOptions &options);
  ~Document();

  const std::string &uri() const { return uri_; }
  int64_t version() const { return version_; }
  std::string_view text() const;
  Encoding encoding() const { return encoding_; }
  // The protocol's Diagnostic[] of the last analysis.
  const nlohmann::json &diagnostics() const { return diagnostics_; }

  // Hover (markdown) or null.
  nlohmann::json hover(Position p) const;
  // A Location or null.
  nlohmann::json definition(Position p) const;
  // Module-level names of the file and its imports; kept from the last
  // version that parsed while the file does not.
  const std::vector<DeclaredName> &names() const { return names_; }
  void inheritNames(const Document &previous);

private:
  void analyze(const AnalysisOptions &options);

  std::string uri_;
  int64_t version_;
  Encoding encoding_;
  std::unique_ptr<SourceManager> sm_;
  FileId file_ = 0;
  std::unique_ptr<LocationMapper> locations_;
  std::unique_ptr<sema::Program> program_; // null when it did not parse
  nlohmann::json diagnostics_ = nlohmann::json::array();
  std::vector<DeclaredName> names_;
};

} // namespace fedc::lsp
