// A DiagnosticConsumer that turns fedc's diagnostics into the protocol's:
// the command line's message and `[Id]` (the id also as `code`), the
// highlighted range, and notes as related information of the diagnostic
// they follow.
#pragma once

#include "basic/Diagnostic.h"
#include "lsp/Positions.h"

#include <nlohmann/json.hpp>

namespace fedc::lsp {

class LspDiagnosticConsumer : public DiagnosticConsumer {
public:
  explicit LspDiagnosticConsumer(const LocationMapper &locations)
      : locations_(locations) {}

  void handle(const Diagnostic &diag) override;

  // The diagnostics of the document so far (a JSON array).
  const nlohmann::json &diagnostics() const { return diagnostics_; }

private:
  // Where `diag` shows in the document: its highlighted range, at least
  // one character wide; the start of the document for a diagnostic of
  // another file (an import) or of no file.
  nlohmann::json documentRange(const Diagnostic &diag) const;

  const LocationMapper &locations_;
  nlohmann::json diagnostics_ = nlohmann::json::array();
};

} // namespace fedc::lsp
