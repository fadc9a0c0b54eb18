// libFuzzer target over the whole compiler up to LLVM IR: lexing, parsing
// (with error recovery), AST lowering and printing, semantic analysis and
// the typed dump, planning, code generation with the IR verifier, diagnostic
// rendering, and the -verify directive parser, all on the same bytes. When
// replayed (ReplayMain.cpp, in `make test`), programs that compile are also
// optimized at -O2 and written as machine code.
#include "ast/ASTPrinter.h"
#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "basic/TextDiagnosticPrinter.h"
#include "basic/VerifyDiagnosticConsumer.h"
#include "codegen/Codegen.h"
#include "lower/Plan.h"
#include "parse/Parser.h"
#include "sema/Sema.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/Support/FileSystem.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

// True under ReplayMain.cpp; libFuzzer builds define none (weak: false).
extern bool fedcFuzzReplay __attribute__((weak));

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace fedc;
  std::string text(reinterpret_cast<const char *>(data), size);

  SourceManager sm;
  FileId file = sm.addBuffer("fuzz.fed", text);
  std::ostringstream rendered;
  TextDiagnosticPrinter printer(rendered, sm, /*useColor=*/size % 2 == 0);
  DiagnosticEngine diags(printer);
  diags.setErrorLimit(50);
  ParseOptions options;
  options.maxLexicalErrors = 50;

  std::ostringstream out;
  dumpTokens(sm, file, diags, out, options);
  if (std::unique_ptr<ast::Module> module =
          parseModule(sm, file, diags, options)) {
    ast::printModule(*module, sm, out);
    SemaOptions semaOptions; // no search paths: imports fail cleanly
    semaOptions.parse = options;
    if (auto program = analyze(std::move(module), sm, diags, semaOptions)) {
      printProgram(*program, sm, out);
      std::unique_ptr<lower::LoweredProgram> lowered =
          lower::lowerProgram(*program, diags);
      if (!lowered)
        return 0;
      lower::printPlan(*lowered, sm, out);
      // Code generation verifies the module it builds; an invalid module or
      // an LLVM assertion would be a finding.
      llvm::LLVMContext context;
      std::unique_ptr<llvm::Module> m =
          generateModule(*program, *lowered, context, sm, diags, "fuzz");
      if (m && &fedcFuzzReplay && fedcFuzzReplay) {
        CodegenOptions codegen;
        if (auto target = createTargetMachine(codegen, diags)) {
          optimizeModule(*m, *target, 2);
          writeMachineCode(*m, *target, OutputKind::Object, "/dev/null",
                           diags);
        }
      }
    }
  }

  // The same input as a -verify test.
  VerifyDiagnosticConsumer collected(sm);
  DiagnosticEngine verifyDiags(collected);
  parseModule(sm, file, verifyDiags, options);
  DiagnosticEngine report(printer);
  collected.verify({file}, report);
  return 0;
}
