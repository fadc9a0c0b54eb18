// The fedc command line: parses options, runs the phases up to the requested
// --emit stop point and decides the exit status (the only place that does).
#pragma once

namespace fedc::driver {

// Returns the process exit status: 0 on success, 1 on any error.
int run(int argc, const char *const *argv);

} // namespace fedc::driver
