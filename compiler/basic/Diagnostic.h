// Diagnostics: the id table, one emitted diagnostic, and the consumers that
// print or check them.
#pragma once

#include "basic/SourceLocation.h"

#include <string>
#include <vector>

namespace fedc {

enum class DiagId : unsigned {
#define DIAG(ID, SEVERITY, MESSAGE) ID,
#include "basic/DiagnosticKinds.def"
#undef DIAG
  NumDiagIds
};

enum class Severity { Note, Warning, Error };

struct DiagInfo {
  const char *name;
  Severity severity;
  const char *format;
};
const DiagInfo &diagInfo(DiagId id);
const char *severityName(Severity s);
// Every id, in table order (for coverage checks and --help output).
std::vector<DiagId> allDiagIds();

// A suggested edit: replace `range` with `replacement` (insertion when the
// range is empty).
struct FixIt {
  SourceRange range;
  std::string replacement;
};

struct Diagnostic {
  DiagId id;
  Severity severity;
  SourceLoc loc;
  std::vector<SourceRange> ranges;
  std::vector<FixIt> fixits;
  std::string message;
};

class DiagnosticConsumer {
public:
  virtual ~DiagnosticConsumer() = default;
  virtual void handle(const Diagnostic &diag) = 0;
};

} // namespace fedc
