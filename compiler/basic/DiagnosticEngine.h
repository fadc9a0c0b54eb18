// DiagnosticEngine: the one place every phase reports errors to. It formats
// messages from the id table, enforces the error limit and forwards to a
// consumer; it never decides exit codes (the driver does).
#pragma once

#include "basic/Diagnostic.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fedc {

class DiagnosticEngine;

// Collects the arguments of one diagnostic and emits it when destroyed.
class DiagnosticBuilder {
public:
  DiagnosticBuilder(DiagnosticEngine &engine, SourceLoc loc, DiagId id,
                    SourceRange highlight = {});
  DiagnosticBuilder(const DiagnosticBuilder &) = delete;
  DiagnosticBuilder &operator=(const DiagnosticBuilder &) = delete;
  ~DiagnosticBuilder();

  DiagnosticBuilder &arg(std::string_view value);
  DiagnosticBuilder &arg(int64_t value);
  DiagnosticBuilder &range(SourceRange r);
  DiagnosticBuilder &fixInsert(SourceLoc at, std::string text);
  DiagnosticBuilder &fixReplace(SourceRange r, std::string text);

private:
  DiagnosticEngine &engine_;
  SourceLoc loc_;
  DiagId id_;
  std::vector<std::string> args_;
  std::vector<SourceRange> ranges_;
  std::vector<FixIt> fixits_;
};

class DiagnosticEngine {
public:
  explicit DiagnosticEngine(DiagnosticConsumer &consumer)
      : consumer_(consumer) {}

  DiagnosticBuilder report(SourceLoc loc, DiagId id) {
    return DiagnosticBuilder(*this, loc, id);
  }
  // Points at the start of `range` and underlines all of it.
  DiagnosticBuilder report(SourceRange range, DiagId id) {
    return DiagnosticBuilder(*this, range.begin, id, range);
  }

  unsigned errorCount() const { return errors_; }
  bool hasErrors() const { return errors_ != 0; }
  // 0 disables the limit. After `limit` errors the engine reports
  // TooManyErrors once and drops everything after it.
  void setErrorLimit(unsigned limit) { errorLimit_ = limit; }
  bool limitReached() const { return limitReached_; }

  // Called after each error or warning is emitted, to attach context notes
  // (sema's "in 'f<N=3>' instantiated here"). Null clears it.
  void setContextNotes(std::function<void()> emitNotes) {
    contextNotes_ = std::move(emitNotes);
  }

private:
  friend class DiagnosticBuilder;
  void emit(const Diagnostic &diag);

  DiagnosticConsumer &consumer_;
  unsigned errors_ = 0;
  unsigned errorLimit_ = 0;
  bool limitReached_ = false;
  bool lastWasDropped_ = false;
  std::function<void()> contextNotes_;
};

} // namespace fedc
