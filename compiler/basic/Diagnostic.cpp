#include "basic/Diagnostic.h"

namespace fedc {

namespace {
const DiagInfo kDiagTable[] = {
#define DIAG(ID, SEVERITY, MESSAGE) {#ID, Severity::SEVERITY, MESSAGE},
#include "basic/DiagnosticKinds.def"
#undef DIAG
};
} // namespace

const DiagInfo &diagInfo(DiagId id) {
  return kDiagTable[static_cast<unsigned>(id)];
}

const char *severityName(Severity s) {
  switch (s) {
  case Severity::Note:
    return "note";
  case Severity::Warning:
    return "warning";
  case Severity::Error:
    return "error";
  }
  return "error";
}

std::vector<DiagId> allDiagIds() {
  std::vector<DiagId> ids;
  for (unsigned i = 0; i < static_cast<unsigned>(DiagId::NumDiagIds); ++i)
    ids.push_back(static_cast<DiagId>(i));
  return ids;
}

} // namespace fedc
