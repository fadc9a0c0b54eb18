// Renders diagnostics the way clang does: location, severity, message and
// id, then the source line with a caret, range underlines and fix-it text.
#pragma once

#include "basic/Diagnostic.h"
#include "basic/SourceManager.h"

#include <ostream>

namespace fedc {

class TextDiagnosticPrinter : public DiagnosticConsumer {
public:
  TextDiagnosticPrinter(std::ostream &out, const SourceManager &sm,
                        bool useColor)
      : out_(out), sm_(sm), useColor_(useColor) {}

  void handle(const Diagnostic &diag) override;

  // Widest excerpt of a source line that is shown; longer lines are cut to
  // a window around the caret.
  static constexpr unsigned kMaxExcerptColumns = 120;

private:
  void printSnippet(const Diagnostic &diag);

  std::ostream &out_;
  const SourceManager &sm_;
  bool useColor_;
};

} // namespace fedc
