// Where fedc finds what it needs besides the input: every path is relative
// to the fedc executable (PREFIX/bin/fedc), so an installed tree works from
// any prefix and the build tree (build/bin/fedc) is laid out the same way.
// There is no compiled-in fallback: an installed fedc never reads the tree
// it was built from.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace fedc::driver {

struct SearchDirs {
  std::string executable; // fedc itself
  std::string prefix;     // PREFIX: the folder above bin/
  std::string runtimeDir; // PREFIX/lib: libfedrt_*.a and libfedrt.link
  std::string stdlibDir;  // PREFIX/share/fedc/stdlib: `import std.x`
  std::string includeDir; // PREFIX/include: the fedrt/ headers
};

// The layout around the running executable (/proc/self/exe; `argv0` when
// that cannot be read).
SearchDirs searchDirs(const std::string &argv0);

// The C++ compiler driver programs are linked with (c++, else g++ or
// clang++ on PATH); empty when there is none.
std::string findLinker();

// `fedc --print-search-dirs` (as clang's): one `name: =path` line each;
// `modules` lists the -I folders, then the stdlib, in search order.
void printSearchDirs(const SearchDirs &dirs,
                     const std::vector<std::string> &includePaths,
                     std::ostream &out);

} // namespace fedc::driver
