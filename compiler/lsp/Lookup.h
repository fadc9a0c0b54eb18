// What is at a location in a typed program: the innermost expression, or a
// local's declaration (parameter, `let`/`var`, loop variable), found by the
// SourceRange every typed node carries.
#pragma once

#include "sema/TypedAST.h"

#include <string>

namespace fedc::lsp {

struct Found {
  const sema::Function *function = nullptr; // the (instance of the) fn
  const sema::Expr *expr = nullptr;         // the innermost expression, or
  const sema::Local *local = nullptr;       // a local where it is declared
  SourceRange range;                        // what was found
  explicit operator bool() const { return expr || local; }
};

// Searches every function body of `program` (the first instance of a
// generic fn that contains `loc`).
Found findAt(const sema::Program &program, SourceLoc loc);

// `let x: T`, `var x: T`, `x: T` (a parameter), `for x: T`.
std::string describeLocal(const sema::Local &local);
// `fn name(a: A, b: B) -> R` or `federated fn ...`.
std::string describeFunction(const sema::Function &fn);

// Where what `found` names is declared: a local, a constant, a function, a
// struct (from a struct literal) or a struct field (from a field
// selection); an invalid range when it names nothing declared.
SourceRange declarationOf(const Found &found);

} // namespace fedc::lsp
