// Lowers the ANTLR parse tree of one file to the owned AST, one typed
// handler per grammar alternative. Internal to compiler/parse.
#pragma once

#include "FedParser.h"
#include "ast/AST.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"

#include <memory>

namespace fedc::parse {

// Deepest AST the front end produces. Later phases recurse over the tree, so
// bounding it here keeps every phase within a normal thread stack.
constexpr unsigned kMaxAstDepth = 1000;

// Thrown when input nests deeper than the front end accepts; caught at the
// top of parseModule and reported as NestingTooDeep.
struct NestingLimitReached {
  SourceLoc where;
};

std::unique_ptr<ast::Module> lowerParseTree(gen::FedParser::ModuleContext *tree,
                                            const SourceManager &sm,
                                            FileId file,
                                            DiagnosticEngine &diags);

} // namespace fedc::parse
