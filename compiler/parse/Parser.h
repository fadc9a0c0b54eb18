// The public face of compiler/parse: .fed text in, owned AST out. The ANTLR
// parse tree and runtime types stay behind this header.
#pragma once

#include "ast/AST.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"

#include <memory>
#include <ostream>

namespace fedc {

struct ParseOptions {
  // Deepest nesting of (), [] and {} accepted (clang's -fbracket-depth).
  unsigned bracketDepth = 256;
  // Lexing stops after this many lexical errors (0: never), so a binary file
  // is not scanned to its end only to have its errors dropped.
  unsigned maxLexicalErrors = 100;
};

// Parses `file`. Returns null when the file has lexical or syntax errors;
// every error has been reported to `diags`.
std::unique_ptr<ast::Module> parseModule(const SourceManager &sm, FileId file,
                                         DiagnosticEngine &diags,
                                         const ParseOptions &options = {});

// `fedc --emit=tokens`: one token per line with its location. Returns false
// when the file has lexical errors.
bool dumpTokens(const SourceManager &sm, FileId file, DiagnosticEngine &diags,
                std::ostream &out, const ParseOptions &options = {});

} // namespace fedc
