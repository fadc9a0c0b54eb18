// Prints the AST as an indented tree with a source range on every node; the
// output of `fedc --emit=ast`, pinned by the tests in test/Parse.
#pragma once

#include "ast/AST.h"

#include <ostream>
#include <string>

namespace fedc {
class SourceManager;
}

namespace fedc::ast {

void printModule(const Module &module, const SourceManager &sm,
                 std::ostream &out);

// A type in source notation: `f32[?, 64]`, `{seq<Example>}@CLIENTS`.
std::string formatType(const TypeExpr &type);

} // namespace fedc::ast
