// `fedc call FILE FN [ARG...]`: compiles FILE through the ORC JIT, calls the
// local fn FN with arguments given as JSON (tensors as nested arrays,
// structs as objects, tuples and seqs as arrays) and prints its result as
// JSON on stdout.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "codegen/Codegen.h"
#include "sema/TypedAST.h"

#include <ostream>
#include <string>
#include <vector>

namespace fedc::driver {

bool callFunction(const sema::Program &program,
                  const lower::LoweredProgram &lowered, const SourceManager &sm,
                  DiagnosticEngine &diags, const CodegenOptions &options,
                  const std::string &name, const std::vector<std::string> &args,
                  std::ostream &out);

} // namespace fedc::driver
