// The public face of compiler/sema: a parsed module in, the typed program
// out (names resolved, types and placements checked, generics
// monomorphized), or null after reporting every error found.
#pragma once

#include "ast/AST.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "parse/Parser.h"
#include "sema/TypedAST.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace fedc {

struct SemaOptions {
  // Searched for `import a.b` (as a/b.fed) in order: -I paths, then the
  // stdlib folders.
  std::vector<std::string> includePaths;
  std::vector<std::string> stdlibPaths;
  ParseOptions parse;
  // Return what was typed even after errors (fedc lsp answers hover and
  // go-to-definition in a file being edited). Such a program holds error
  // types and must never be lowered or compiled.
  bool keepProgramOnErrors = false;
};

std::unique_ptr<sema::Program> analyze(std::unique_ptr<ast::Module> root,
                                       SourceManager &sm,
                                       DiagnosticEngine &diags,
                                       const SemaOptions &options);

// `fedc --emit=typed`: every function instance with each expression's type
// and placement.
void printProgram(const sema::Program &program, const SourceManager &sm,
                  std::ostream &out);
// One function or constant in the same form; without `sm` the locations
// are left out (what fingerprints hash).
void printFunction(const sema::Function &fn, const SourceManager *sm,
                   std::ostream &out);
void printConstant(const sema::Constant &c, const SourceManager *sm,
                   std::ostream &out);

} // namespace fedc
