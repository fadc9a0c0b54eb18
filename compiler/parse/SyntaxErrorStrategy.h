// Turns ANTLR's recognition errors into diagnostics a person understands
// ("expected ';' after statement", "expected an expression, found ')'")
// while keeping ANTLR's recovery, so every syntax error in a file is found.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"

#include <antlr4-runtime.h>

#include <functional>

namespace fedc::parse {

class SyntaxErrorStrategy : public antlr4::DefaultErrorStrategy {
public:
  // `beforeReport` runs before each syntax error is reported, with its
  // location (the lexer's held-back errors are flushed there).
  SyntaxErrorStrategy(const SourceManager &sm, FileId file,
                      DiagnosticEngine &diags,
                      std::function<void(SourceLoc)> beforeReport)
      : sm_(sm), file_(file), diags_(diags),
        beforeReport_(std::move(beforeReport)) {}

  unsigned errorCount() const { return errors_; }

protected:
  void
  reportNoViableAlternative(antlr4::Parser *parser,
                            const antlr4::NoViableAltException &e) override;
  void reportInputMismatch(antlr4::Parser *parser,
                           const antlr4::InputMismatchException &e) override;
  void
  reportFailedPredicate(antlr4::Parser *parser,
                        const antlr4::FailedPredicateException &e) override;
  void reportUnwantedToken(antlr4::Parser *parser) override;
  void reportMissingToken(antlr4::Parser *parser) override;
  // Never recovers by deleting a bracket that closes an open one: the
  // mistake is almost always before it, and deleting it cascades.
  antlr4::Token *singleTokenDeletion(antlr4::Parser *parser) override;
  // A keyword where a name is expected is reported once and then taken as
  // the name, so the rest of the declaration parses without a cascade.
  antlr4::Token *recoverInline(antlr4::Parser *parser) override;

private:
  void reportExpected(antlr4::Parser *parser, antlr4::Token *offending,
                      const antlr4::misc::IntervalSet &expected);
  void noteMatchingOpener(antlr4::Parser *parser, size_t closerType);
  // The innermost opener of `closerType` left open before the current token.
  antlr4::Token *openOpener(antlr4::Parser *parser, size_t closerType);
  // The innermost bracket of any kind left open before the current token.
  antlr4::Token *innermostOpenBracket(antlr4::Parser *parser);
  // Counts a new error at `offending`; false if one was already reported
  // there (recovery often trips twice on the same token).
  bool startReport(antlr4::Token *offending);
  // A declaration or a statement was expected: reports it, returns true.
  bool reportMissingConstruct(const antlr4::misc::IntervalSet &expected,
                              SourceRange where, const std::string &found);
  // At end of file inside a bracket: reports which bracket is open.
  bool reportEndInsideBracket(antlr4::Parser *parser, antlr4::Token *offending);
  // After a failed multi-token prediction: the innermost bracket opened
  // between `start` and `offending` and left open, if any.
  antlr4::Token *unclosedOpener(antlr4::Parser *parser, antlr4::Token *start,
                                antlr4::Token *offending);

  const SourceManager &sm_;
  FileId file_;
  DiagnosticEngine &diags_;
  std::function<void(SourceLoc)> beforeReport_;
  unsigned errors_ = 0;
  size_t lastErrorToken_ = SIZE_MAX;
};

} // namespace fedc::parse
