#include "driver/SearchDirs.h"

#include <llvm/Support/Program.h>

#include <filesystem>

namespace fedc::driver {

namespace fs = std::filesystem;

SearchDirs searchDirs(const std::string &argv0) {
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec)
    exe = fs::absolute(argv0, ec);
  fs::path prefix = exe.parent_path().parent_path();
  SearchDirs dirs;
  dirs.executable = exe.string();
  dirs.prefix = prefix.string();
  dirs.runtimeDir = (prefix / "lib").string();
  dirs.stdlibDir = (prefix / "share" / "fedc" / "stdlib").string();
  dirs.includeDir = (prefix / "include").string();
  return dirs;
}

std::string findLinker() {
  for (const char *name : {"c++", "g++", "clang++-19", "clang++"})
    if (auto found = llvm::sys::findProgramByName(name))
      return *found;
  return "";
}

void printSearchDirs(const SearchDirs &dirs,
                     const std::vector<std::string> &includePaths,
                     std::ostream &out) {
  std::string modules;
  for (const std::string &path : includePaths)
    modules += path + ":";
  modules += dirs.stdlibDir;
  std::string linker = findLinker();
  out << "fedc: " << dirs.executable << "\n"
      << "install: " << dirs.prefix << "\n"
      << "programs: =" << fs::path(dirs.executable).parent_path().string()
      << "\n"
      << "libraries: =" << dirs.runtimeDir << "\n"
      << "link-list: =" << dirs.runtimeDir << "/libfedrt.link\n"
      << "include: =" << dirs.includeDir << "\n"
      << "modules: =" << modules << "\n"
      << "linker: " << (linker.empty() ? "(none on PATH)" : linker) << "\n";
}

} // namespace fedc::driver
