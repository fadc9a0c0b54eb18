// The public face of compiler/lsp: `fedc lsp`, a Language Server Protocol
// server for .fed files (lsp/Server.h has the protocol side).
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace fedc::lsp {

// How documents are analyzed: imports resolve as on the command line.
struct AnalysisOptions {
  std::vector<std::string> includePaths; // -I, then
  std::vector<std::string> stdlibPaths;  // the stdlib next to fedc
  unsigned errorLimit = 20;
};

// Serves the client writing to `in` and reading `out` until `exit` or the
// end of input; returns the exit status (0 after a shutdown request, else
// 1, as the protocol says).
int runServer(std::istream &in, std::ostream &out, AnalysisOptions options);

} // namespace fedc::lsp
