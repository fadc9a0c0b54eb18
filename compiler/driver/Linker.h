// Linking a compiled program with libfedrt into a standalone executable,
// and running one (`fedc run`).
#pragma once

#include "basic/DiagnosticEngine.h"

#include <string>
#include <vector>

namespace fedc::driver {

// Links `object` with libfedrt (static, in `runtimeDir`: SearchDirs) into
// `output`. `vectorMath`: the module calls glibc's libmvec.
bool linkExecutable(const std::string &runtimeDir, const std::string &object,
                    const std::string &output, bool vectorMath,
                    DiagnosticEngine &diags);

// Runs `program` as `name` (its argv[0], which its messages show) with
// `args`, stdio inherited; its exit status, or -1 (reported) if it could
// not start.
int runExecutable(const std::string &program, const std::string &name,
                  const std::vector<std::string> &args,
                  DiagnosticEngine &diags);

} // namespace fedc::driver
