// The system C++ compiler driver links (it knows the C++ runtime and the
// startup files); libfedrt is static so the program runs from anywhere.
#include "driver/Linker.h"

#include "driver/SearchDirs.h"

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Program.h>

#include <fstream>

namespace fedc::driver {

bool linkExecutable(const std::string &lib, const std::string &object,
                    const std::string &output, bool vectorMath,
                    DiagnosticEngine &diags) {
  // libfedrt.link (written by the build, installed with the libraries)
  // lists the runtime's static libraries (relative to its folder) and the
  // system libraries they use.
  std::string listing = lib + "/libfedrt.link";
  std::ifstream list(listing);
  if (!list) {
    diags.report(SourceLoc(), DiagId::LinkError)
        .arg(output)
        .arg("the runtime's link list " + listing + " is missing");
    return false;
  }
  std::vector<std::string> runtime;
  for (std::string line; std::getline(list, line);) {
    if (line.empty())
      continue;
    if (line[0] != '-') {
      line = lib + "/" + line;
      if (!llvm::sys::fs::exists(line)) {
        diags.report(SourceLoc(), DiagId::LinkError)
            .arg(output)
            .arg("the runtime library " + line + " is missing");
        return false;
      }
    }
    runtime.push_back(line);
  }
  std::string linker = findLinker();
  if (linker.empty()) {
    diags.report(SourceLoc(), DiagId::LinkError)
        .arg(output)
        .arg("no C++ compiler driver (c++, g++ or clang++) on PATH");
    return false;
  }
  std::vector<std::string> args{linker, object};
  args.insert(args.end(), runtime.begin(), runtime.end());
  args.insert(args.end(), {"-o", output});
  if (vectorMath)
    args.push_back("-lmvec");
  args.push_back("-lm");
  llvm::SmallString<128> log;
  llvm::sys::fs::createTemporaryFile("fedc-link", "log", log);
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(log), llvm::StringRef(log)};
  std::vector<llvm::StringRef> argv(args.begin(), args.end());
  std::string error;
  int status = llvm::sys::ExecuteAndWait(linker, argv, std::nullopt, redirects,
                                         0, 0, &error);
  // The linker's messages on one line, without the driver's own summary.
  std::string text;
  if (auto buffer = llvm::MemoryBuffer::getFile(log)) {
    llvm::SmallVector<llvm::StringRef> lines;
    (*buffer)->getBuffer().split(lines, '\n', -1, false);
    for (llvm::StringRef line : lines)
      if (!line.starts_with("collect2:") && !line.trim().empty())
        text += (text.empty() ? "" : "; ") + line.trim().str();
  }
  llvm::sys::fs::remove(log);
  if (status != 0) {
    diags.report(SourceLoc(), DiagId::LinkError)
        .arg(output)
        .arg(!error.empty() ? error
             : text.empty() ? "the linker failed"
                            : text);
    return false;
  }
  return true;
}

int runExecutable(const std::string &program, const std::string &name,
                  const std::vector<std::string> &args,
                  DiagnosticEngine &diags) {
  std::vector<llvm::StringRef> argv{name};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string error;
  int status =
      llvm::sys::ExecuteAndWait(program, argv, std::nullopt, {}, 0, 0, &error);
  if (status < 0) {
    diags.report(SourceLoc(), DiagId::RunFailed).arg(program).arg(error);
    return -1;
  }
  return status;
}

} // namespace fedc::driver
