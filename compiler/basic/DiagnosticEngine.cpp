#include "basic/DiagnosticEngine.h"

#include <fmt/args.h>
#include <fmt/format.h>

namespace fedc {

DiagnosticBuilder::DiagnosticBuilder(DiagnosticEngine &engine, SourceLoc loc,
                                     DiagId id, SourceRange highlight)
    : engine_(engine), loc_(loc), id_(id) {
  if (highlight.end.raw() > highlight.begin.raw())
    ranges_.push_back(highlight);
}

DiagnosticBuilder &DiagnosticBuilder::arg(std::string_view value) {
  args_.emplace_back(value);
  return *this;
}

DiagnosticBuilder &DiagnosticBuilder::arg(int64_t value) {
  args_.push_back(std::to_string(value));
  return *this;
}

DiagnosticBuilder &DiagnosticBuilder::range(SourceRange r) {
  if (r.isValid())
    ranges_.push_back(r);
  return *this;
}

DiagnosticBuilder &DiagnosticBuilder::fixInsert(SourceLoc at,
                                                std::string text) {
  fixits_.push_back({SourceRange(at, at), std::move(text)});
  return *this;
}

DiagnosticBuilder &DiagnosticBuilder::fixReplace(SourceRange r,
                                                 std::string text) {
  fixits_.push_back({r, std::move(text)});
  return *this;
}

DiagnosticBuilder::~DiagnosticBuilder() {
  const DiagInfo &info = diagInfo(id_);
  Diagnostic diag;
  diag.id = id_;
  diag.severity = info.severity;
  diag.loc = loc_;
  diag.ranges = std::move(ranges_);
  diag.fixits = std::move(fixits_);
  fmt::dynamic_format_arg_store<fmt::format_context> store;
  for (const std::string &a : args_)
    store.push_back(a);
  try {
    diag.message = fmt::vformat(info.format, store);
  } catch (const fmt::format_error &) {
    // A table entry with more placeholders than arguments is a compiler
    // bug; show the raw format rather than lose the diagnostic.
    diag.message = info.format;
  }
  engine_.emit(diag);
}

void DiagnosticEngine::emit(const Diagnostic &diag) {
  if (diag.severity == Severity::Note) {
    // A note belongs to the diagnostic before it.
    if (!lastWasDropped_)
      consumer_.handle(diag);
    return;
  }
  if (limitReached_) {
    lastWasDropped_ = true;
    return;
  }
  if (diag.severity == Severity::Error && errorLimit_ != 0 &&
      errors_ >= errorLimit_) {
    limitReached_ = true;
    lastWasDropped_ = true;
    Diagnostic stop;
    stop.id = DiagId::TooManyErrors;
    stop.severity = Severity::Error;
    stop.message = diagInfo(DiagId::TooManyErrors).format;
    consumer_.handle(stop);
    return;
  }
  lastWasDropped_ = false;
  if (diag.severity == Severity::Error)
    ++errors_;
  consumer_.handle(diag);
  if (contextNotes_) {
    // The notes are reported through this engine; keep them from nesting.
    std::function<void()> notes = std::move(contextNotes_);
    notes();
    contextNotes_ = std::move(notes);
  }
}

} // namespace fedc
