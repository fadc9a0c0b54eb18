// `fedc -verify`, as in clang: collects diagnostics instead of printing them
// and checks them against `// expected-error {{text}}` directives in the
// source. Any diagnostic expected but not seen, or seen but not expected, is
// reported (through a separate engine) and makes verification fail.
#pragma once

#include "basic/Diagnostic.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"

#include <vector>

namespace fedc {

class VerifyDiagnosticConsumer : public DiagnosticConsumer {
public:
  explicit VerifyDiagnosticConsumer(const SourceManager &sm) : sm_(sm) {}

  void handle(const Diagnostic &diag) override { seen_.push_back(diag); }

  // Checks what was seen against the directives of `files`; reports every
  // mismatch to `report`. Returns true when everything matched.
  bool verify(const std::vector<FileId> &files, DiagnosticEngine &report);

private:
  const SourceManager &sm_;
  std::vector<Diagnostic> seen_;
};

} // namespace fedc
