// Runs the generated lexer over one buffer and reports lexical errors:
// invalid UTF-8, stray characters, unterminated strings and comments, and
// bracket nesting beyond the limit. Internal to compiler/parse.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "parse/Parser.h"

#include <antlr4-runtime.h>

#include <memory>
#include <string>
#include <vector>

namespace fedc::parse {

// Owns the character stream and lexer the tokens point into, and the tokens
// of the default channel ending in EOF. Token indices are byte offsets into
// the buffer (non-ASCII bytes are masked before lexing, see Lexing.cpp).
class LexedFile {
public:
  LexedFile(const SourceManager &sm, FileId file, const ParseOptions &options);
  ~LexedFile();

  // False when a lexical error was reported.
  bool ok() const { return ok_; }
  // False when lexing stopped early (nesting limit): do not parse.
  bool complete() const { return complete_; }

  std::vector<std::unique_ptr<antlr4::Token>> takeTokens() {
    return std::move(tokens_);
  }
  const std::vector<std::unique_ptr<antlr4::Token>> &tokens() const {
    return tokens_;
  }
  antlr4::TokenSource *lexer();

  // Lexical errors are held back and reported in source order with the
  // syntax errors: the parser flushes those before each error it reports.
  void reportLexicalErrorsBefore(SourceLoc loc, DiagnosticEngine &diags);
  void reportAllLexicalErrors(DiagnosticEngine &diags);

private:
  struct PendingDiagnostic {
    SourceLoc loc;
    DiagId id;
    std::vector<std::string> args;
  };
  void pend(SourceLoc loc, DiagId id, std::vector<std::string> args = {});

  void run(const ParseOptions &options);
  // Pass 1: validates UTF-8 into masked_ (non-ASCII bytes masked, so the
  // ASCII grammar sees one character per byte); true at each invalid byte.
  std::vector<bool> maskNonAscii(std::string_view text);
  // Whether `token` goes to the parser; pends its lexical error if any.
  bool acceptToken(antlr4::Token &token, std::string_view text,
                   const std::vector<bool> &invalidByte);

  const SourceManager &sm_;
  FileId file_;
  std::string masked_;
  std::unique_ptr<antlr4::ANTLRInputStream> input_;
  std::unique_ptr<antlr4::Lexer> lexer_;
  std::vector<std::unique_ptr<antlr4::Token>> tokens_;
  std::vector<PendingDiagnostic> pending_;
  size_t reported_ = 0;
  bool ok_ = true;
  bool complete_ = true;
};

// How a token is named in messages: `';'`, `identifier 'x'`, `end of file`.
std::string describeToken(const antlr4::Token *token, std::string_view source);
// The name of a token type in messages: `';'`, `identifier`.
std::string describeTokenType(size_t type);

// Location helpers: token -> SourceLoc / SourceRange.
SourceLoc tokenLoc(const SourceManager &sm, FileId file,
                   const antlr4::Token *t);
SourceRange tokenRange(const SourceManager &sm, FileId file,
                       const antlr4::Token *t);
std::string_view tokenText(std::string_view source, const antlr4::Token *t);

} // namespace fedc::parse
