#include "lsp/DiagnosticConverter.h"

namespace fedc::lsp {

namespace {

// The protocol's DiagnosticSeverity.
int severityCode(Severity s) {
  switch (s) {
  case Severity::Error:
    return 1;
  case Severity::Warning:
    return 2;
  case Severity::Note:
    return 3;
  }
  return 1;
}

// The range a diagnostic highlights: the first of its ranges that contains
// its location, else its location alone.
SourceRange primaryRange(const Diagnostic &diag) {
  for (const SourceRange &r : diag.ranges)
    if (r.isValid() && !(diag.loc < r.begin) && (diag.loc < r.end))
      return r;
  return SourceRange(diag.loc);
}

// "`msg` [Id]", as the command line prints it.
std::string fullMessage(const Diagnostic &diag) {
  return diag.message + " [" + diagInfo(diag.id).name + "]";
}

} // namespace

nlohmann::json
LspDiagnosticConsumer::documentRange(const Diagnostic &diag) const {
  if (!locations_.inDocument(diag.loc))
    return {{"start", toJson({})}, {"end", toJson({})}};
  SourceRange r = primaryRange(diag);
  const SourceManager &sm = locations_.sources();
  if (!(r.begin < r.end)) {
    // One character (not past the end of its line), so editors show it.
    std::string_view text = sm.text(locations_.document());
    uint32_t offset = sm.offsetOf(r.begin);
    r.end = offset < text.size() && text[offset] != '\n' ? r.begin.advanced(1)
                                                         : r.begin;
  }
  return locations_.range(r);
}

void LspDiagnosticConsumer::handle(const Diagnostic &diag) {
  if (diag.severity == Severity::Note && !diagnostics_.empty()) {
    nlohmann::json &last = diagnostics_.back();
    if (diag.loc.isValid())
      last["relatedInformation"].push_back(
          {{"location", locations_.location(primaryRange(diag))},
           {"message", fullMessage(diag)}});
    else
      last["message"] =
          last["message"].get<std::string>() + "\n" + fullMessage(diag);
    return;
  }
  std::string message = fullMessage(diag);
  if (diag.loc.isValid() && !locations_.inDocument(diag.loc)) {
    // From an imported file: say where, at the top of the document.
    PresumedLoc where = locations_.sources().presumed(diag.loc);
    message = std::string(where.filename) + ":" + std::to_string(where.line) +
              ":" + std::to_string(where.column) + ": " + message;
  }
  nlohmann::json d = {{"range", documentRange(diag)},
                      {"severity", severityCode(diag.severity)},
                      {"code", diagInfo(diag.id).name},
                      {"source", "fedc"},
                      {"message", message}};
  diagnostics_.push_back(std::move(d));
}

} // namespace fedc::lsp
