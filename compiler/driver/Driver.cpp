#include "driver/Driver.h"

#include "ast/ASTPrinter.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "basic/TextDiagnosticPrinter.h"
#include "basic/VerifyDiagnosticConsumer.h"
#include "codegen/Codegen.h"
#include "driver/CallCommand.h"
#include "driver/Linker.h"
#include "driver/SearchDirs.h"
#include "lower/Plan.h"
#include "lsp/LanguageServer.h"
#include "parse/Parser.h"
#include "sema/Sema.h"

#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include <CLI/CLI.hpp>
#include <llvm/Config/llvm-config.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace fedc::driver {

namespace {

constexpr const char *kVersion = FEDC_VERSION; // the project() version

// Where compilation stops (--emit=), in pipeline order.
enum class Phase { Tokens, Ast, Typed, Plan, Llvm, Bitcode, Asm, Object, Exe };

Phase phaseNamed(const std::string &emit) {
  static const std::map<std::string, Phase> kPhases = {
      {"tokens", Phase::Tokens}, {"ast", Phase::Ast},
      {"typed", Phase::Typed},   {"plan", Phase::Plan},
      {"llvm", Phase::Llvm},     {"bc", Phase::Bitcode},
      {"asm", Phase::Asm},       {"obj", Phase::Object},
      {"exe", Phase::Exe}};
  return kPhases.at(emit);
}

struct Options {
  std::string input;
  std::string output;
  std::string emit = "exe";
  bool explicitEmit = false; // -verify and -fsyntax-only stop early unless set
  SearchDirs dirs;           // the stdlib and the runtime, next to fedc
  bool printSearchDirs = false;
  bool syntaxOnly = false;
  bool verify = false;
  std::vector<std::string> includePaths;
  unsigned optLevel = 2;
  std::string color = "auto";
  unsigned errorLimit = 20;
  unsigned bracketDepth = 256;
  std::string target; // --target=<triple>; empty: the host
  bool debugInfo = false;
  // `fedc call FILE FN [ARG...]`
  bool call = false;
  std::string callFunction;
  std::vector<std::string> callArgs;
  // `fedc run FILE [-- ARG...]`
  bool run = false;
  std::vector<std::string> runArgs;
};

// Clang-style single-dash spellings, mapped to the long options CLI11 parses.
std::vector<std::string> normalizeArgs(int argc, const char *const *argv) {
  static const std::map<std::string, std::string> kAliases = {
      {"-verify", "--verify"},
      {"-fsyntax-only", "--syntax-only"},
      {"--fsyntax-only", "--syntax-only"},
  };
  static const std::vector<std::pair<std::string, std::string>> kPrefixes = {
      {"-emit=", "--emit="},
      {"-ferror-limit=", "--error-limit="},
      {"-fbracket-depth=", "--bracket-depth="},
      {"-fcolor=", "--color="},
  };
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (auto it = kAliases.find(a); it != kAliases.end()) {
      a = it->second;
    } else {
      for (const auto &[from, to] : kPrefixes)
        if (a.rfind(from, 0) == 0) {
          a = std::string(to).append(a, from.size());
          break;
        }
    }
    args.push_back(std::move(a));
  }
  return args;
}

bool useColor(const std::string &mode) {
  if (mode == "always")
    return true;
  if (mode == "never")
    return false;
  const char *term = std::getenv("TERM");
  return isatty(STDERR_FILENO) && term && std::string(term) != "dumb" &&
         !std::getenv("NO_COLOR");
}

// Writes `text` to -o, or stdout when there is none.
bool writeOutput(const Options &o, const std::string &text) {
  if (o.output.empty() || o.output == "-") {
    std::cout << text;
    std::cout.flush();
    return static_cast<bool>(std::cout);
  }
  std::ofstream out(o.output, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

FileId loadInput(SourceManager &sm, DiagnosticEngine &diags,
                 const std::string &path) {
  std::string error;
  FileId file = 0;
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    file = sm.addBuffer("<stdin>", std::move(text));
  } else {
    file = sm.loadFile(path, error);
  }
  if (!file)
    diags.report(SourceLoc(), DiagId::CannotOpenFile).arg(path).arg(error);
  return file;
}

// The result of compiling: whether it succeeded, and for `fedc run` the
// exit status of the program it ran.
struct Outcome {
  bool ok = false;
  int runStatus = 0;
};

// --emit=llvm|bc|asm|obj|exe: the optimized module, written out (and for
// `fedc run`, linked and run).
Outcome emitCode(const Options &o, Phase phase,
                 const CodegenOptions &codegenOptions,
                 const sema::Program &program,
                 const lower::LoweredProgram &lowered, const SourceManager &sm,
                 DiagnosticEngine &diags) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = generateModule(
      program, lowered, context, sm, diags, o.input, codegenOptions.debugInfo);
  if (!module)
    return {};
  std::unique_ptr<llvm::TargetMachine> target =
      createTargetMachine(codegenOptions, diags);
  if (!target)
    return {};
  optimizeModule(*module, *target, codegenOptions.optLevel);
  // Outputs are named after the input; from standard input, `a.out` and
  // `a.o`/`a.bc` as C compilers do.
  std::string stem = o.input == "-"
                         ? std::string("a")
                         : std::filesystem::path(o.input).stem().string();
  if (phase == Phase::Exe) {
    if (!program.process && !program.main) {
      diags.report(SourceLoc(), DiagId::NothingToRun);
      return {};
    }
    llvm::SmallString<128> object, exe;
    llvm::sys::fs::createTemporaryFile("fedc-" + stem, "o", object);
    std::string output = !o.output.empty() ? o.output
                         : o.input == "-"  ? "a.out"
                                           : stem;
    if (o.run) {
      llvm::sys::fs::createTemporaryFile("fedc-" + stem, "exe", exe);
      output = exe.str().str();
    }
    bool ok =
        writeMachineCode(*module, *target, OutputKind::Object,
                         object.str().str(), diags) &&
        linkExecutable(o.dirs.runtimeDir, object.str().str(), output,
                       usesVectorMath(llvm::Triple(module->getTargetTriple())),
                       diags);
    llvm::sys::fs::remove(object);
    if (!ok || !o.run)
      return {ok};
    int status = runExecutable(output, stem, o.runArgs, diags);
    llvm::sys::fs::remove(exe);
    return {status >= 0, status};
  }
  if (phase == Phase::Asm || phase == Phase::Object) {
    bool assembly = phase == Phase::Asm;
    std::string path = !o.output.empty() ? o.output
                       : assembly        ? "-"
                                         : stem + ".o";
    return {writeMachineCode(
        *module, *target, assembly ? OutputKind::Assembly : OutputKind::Object,
        path, diags)};
  }
  std::string path = !o.output.empty()      ? o.output
                     : phase == Phase::Llvm ? "-"
                                            : stem + ".bc";
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    diags.report(SourceLoc(), DiagId::OutputError).arg(path).arg(ec.message());
    return {};
  }
  if (phase == Phase::Llvm)
    module->print(out, nullptr);
  else
    llvm::WriteBitcodeToFile(*module, out);
  return {true};
}

// Runs the phases up to the stop point. -fsyntax-only, and -verify without
// --emit, run every checking phase (through lowering) and print nothing;
// -verify with --emit=tokens|ast|typed|plan also prints that dump.
Outcome compile(const Options &o, SourceManager &sm, DiagnosticEngine &diags,
                FileId file) {
  Phase stop = phaseNamed(o.emit);
  if ((o.verify && !o.explicitEmit) || o.syntaxOnly)
    stop = Phase::Plan;
  bool dump = !o.syntaxOnly && (!o.verify || o.explicitEmit);
  ParseOptions parseOptions;
  parseOptions.bracketDepth = o.bracketDepth;
  parseOptions.maxLexicalErrors = o.verify ? 0 : o.errorLimit;
  if (stop == Phase::Tokens && dump) {
    std::ostringstream text;
    bool ok = dumpTokens(sm, file, diags, text, parseOptions);
    return {writeOutput(o, text.str()) && ok};
  }
  std::unique_ptr<ast::Module> module =
      parseModule(sm, file, diags, parseOptions);
  if (!module || stop == Phase::Tokens)
    return {module != nullptr};
  if (stop == Phase::Ast) {
    std::ostringstream text;
    if (dump)
      ast::printModule(*module, sm, text);
    return {writeOutput(o, text.str())};
  }
  SemaOptions semaOptions;
  semaOptions.includePaths = o.includePaths;
  semaOptions.stdlibPaths = {o.dirs.stdlibDir};
  semaOptions.parse = parseOptions;
  std::unique_ptr<sema::Program> program =
      analyze(std::move(module), sm, diags, semaOptions);
  if (!program)
    return {};
  if (stop == Phase::Typed) {
    std::ostringstream text;
    if (dump)
      printProgram(*program, sm, text);
    return {writeOutput(o, text.str())};
  }
  std::unique_ptr<lower::LoweredProgram> lowered =
      lower::lowerProgram(*program, diags);
  if (!lowered)
    return {};
  if (stop == Phase::Plan) {
    std::ostringstream text;
    if (dump)
      lower::printPlan(*lowered, sm, text);
    return {writeOutput(o, text.str())};
  }
  CodegenOptions codegenOptions;
  codegenOptions.optLevel = o.optLevel;
  codegenOptions.triple = o.target;
  codegenOptions.debugInfo = o.debugInfo;
  if (o.call)
    return {driver::callFunction(*program, *lowered, sm, diags, codegenOptions,
                                 o.callFunction, o.callArgs, std::cout)};
  return emitCode(o, stop, codegenOptions, *program, *lowered, sm, diags);
}

// The options of `fedc`, bound to `o`.
void addOptions(CLI::App &app, Options &o) {
  // Required unless --print-search-dirs (checked after parsing).
  app.add_option("input", o.input, "The .fed file to compile ('-' for stdin)");
  app.add_option("-o", o.output, "Write the output to this file");
  app.add_option("--emit", o.emit,
                 "Stop after a phase and print its result: tokens, ast, "
                 "typed, plan, llvm, bc, asm, obj, exe (the default: a program "
                 "linked with libfedrt). 'fedc run FILE -- ARGS...' builds "
                 "and runs it; 'fedc call FILE FN ARGS...' runs a local fn "
                 "through the JIT")
      ->check(CLI::IsMember({"tokens", "ast", "typed", "plan", "llvm", "bc",
                             "asm", "obj", "exe"}));
  app.add_flag("--syntax-only", o.syntaxOnly,
               "Check the input and stop (-fsyntax-only)");
  app.add_flag("--verify", o.verify,
               "Check diagnostics against expected-* comments (-verify)");
  // One folder per -I (as in C compilers), so `-I dir file.fed` leaves the
  // file to be the input.
  app.add_option("-I", o.includePaths, "Add a module search path")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-O", o.optLevel, "Optimization level 0-3")
      ->check(CLI::Range(0u, 3u));
  app.add_option("--color", o.color, "Colour diagnostics: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_option("--error-limit", o.errorLimit,
                 "Stop after this many errors (0: no limit)");
  app.add_option("--bracket-depth", o.bracketDepth,
                 "Deepest nesting of (), [] and {} accepted")
      ->check(CLI::Range(1u, 100000u));
  app.add_flag("-g", o.debugInfo,
               "Debug info: lines of the .fed source, for gdb");
  app.add_option("--target", o.target,
                 "Generate code for this target triple (default: the host)");
  app.add_flag("--print-search-dirs", o.printSearchDirs,
               "Print where the runtime, the stdlib and the linker are found");
  app.set_version_flag("--version", std::string("fedc ") + kVersion +
                                        " (LLVM " + LLVM_VERSION_STRING + ")");
}

// `fedc call FILE FN ARGS...` and `fedc run FILE -- ARGS...`: the words
// after the subcommand go to `o`; what stays in `args` is for CLI11. False
// (after printing why) on a malformed call.
bool takeSubcommand(std::vector<std::string> &args, Options &o) {
  if (!args.empty() && args[0] == "call") {
    // fedc call FILE FN [ARG...]: the arguments after FN are JSON.
    args.erase(args.begin());
    std::vector<std::string> options;
    std::vector<std::string> positional;
    // Options before FN; those that take a separate value keep it.
    static const std::set<std::string> kTakesValue = {"-I",
                                                      "-O",
                                                      "-o",
                                                      "--target",
                                                      "--color",
                                                      "--error-limit",
                                                      "--bracket-depth",
                                                      "--emit"};
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string &a = args[i];
      if (positional.size() < 2 && !a.empty() && a[0] == '-' && a != "-") {
        options.push_back(a);
        if (kTakesValue.count(a) && i + 1 < args.size())
          options.push_back(args[++i]);
      } else {
        positional.push_back(a);
      }
    }
    if (positional.size() < 2) {
      std::cerr << "fedc: error: usage: fedc call [options] FILE FN [ARG...] "
                   "(arguments as JSON)\n";
      return false;
    }
    o.call = true;
    o.callFunction = positional[1];
    o.callArgs.assign(positional.begin() + 2, positional.end());
    args = options;
    args.push_back(positional[0]);
    o.emit = "exe";
  } else if (!args.empty() && args[0] == "run") {
    // fedc run [options] FILE [-- ARG...]: ARGs go to the program.
    args.erase(args.begin());
    auto dashes = std::find(args.begin(), args.end(), "--");
    if (dashes != args.end()) {
      o.runArgs.assign(dashes + 1, args.end());
      args.erase(dashes, args.end());
    }
    o.run = true;
  }
  return true;
}

// `fedc lsp [-I DIR]...`: the language server on standard input and
// output (docs/usage.md).
int runLanguageServer(const std::vector<std::string> &args,
                      const SearchDirs &dirs) {
  lsp::AnalysisOptions options;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (a == "-I" && i + 1 < args.size()) {
      options.includePaths.push_back(args[++i]);
    } else if (a.size() > 2 && a.rfind("-I", 0) == 0) {
      options.includePaths.push_back(a.substr(2));
    } else if (a == "--stdio") {
      continue; // what some clients pass; stdio is the only transport
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: fedc lsp [-I DIR]...\n"
                   "A Language Server Protocol server on stdin/stdout for "
                   ".fed files: diagnostics, hover, go-to-definition, "
                   "completion.\n";
      return 0;
    } else {
      std::cerr << "fedc: error: 'fedc lsp' takes -I DIR only, not '" << a
                << "'\n";
      return 1;
    }
  }
  options.stdlibPaths = {dirs.stdlibDir};
  return lsp::runServer(std::cin, std::cout, std::move(options));
}

} // namespace

int run(int argc, const char *const *argv) {
  Options o;
  CLI::App app{"fedc: compiler for federated computations (.fed)", "fedc"};
  addOptions(app, o);
  std::vector<std::string> args = normalizeArgs(argc, argv);
  if (!args.empty() && args[0] == "lsp")
    return runLanguageServer(args, searchDirs(argc > 0 ? argv[0] : "fedc"));
  if (!takeSubcommand(args, o))
    return 1;
  std::reverse(args.begin(), args.end()); // CLI11 takes them in reverse
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::cerr << "fedc: error: " << e.what() << "\n"
              << "Run 'fedc --help' for usage.\n";
    return 1;
  }

  o.explicitEmit = app.count("--emit") > 0;
  if ((o.call || o.run) && o.explicitEmit) {
    std::cerr << "fedc: error: 'fedc " << (o.call ? "call" : "run")
              << "' takes no --emit\n";
    return 1;
  }
  o.dirs = searchDirs(argc > 0 ? argv[0] : "fedc");
  if (o.printSearchDirs) {
    printSearchDirs(o.dirs, o.includePaths, std::cout);
    return 0;
  }
  if (o.input.empty()) {
    std::cerr << "fedc: error: input is required\n"
              << "Run 'fedc --help' for usage.\n";
    return 1;
  }

  SourceManager sm;
  TextDiagnosticPrinter printer(std::cerr, sm, useColor(o.color));
  if (o.verify) {
    VerifyDiagnosticConsumer collected(sm);
    DiagnosticEngine diags(collected);
    DiagnosticEngine report(printer);
    FileId file = loadInput(sm, report, o.input);
    if (!file)
      return 1;
    compile(o, sm, diags, file);
    return collected.verify({file}, report) ? 0 : 1;
  }

  DiagnosticEngine diags(printer);
  diags.setErrorLimit(o.errorLimit);
  FileId file = loadInput(sm, diags, o.input);
  if (!file)
    return 1;
  Outcome outcome = compile(o, sm, diags, file);
  if (!outcome.ok || diags.hasErrors())
    return 1;
  return o.run ? outcome.runStatus : 0;
}

} // namespace fedc::driver
