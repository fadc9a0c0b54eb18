// The public face of compiler/codegen: a typed program in, one optimized
// LLVM module out (every local fn instance and its entry point, abi.h), and
// the target-machine steps that write it as IR, bitcode, assembly or an
// object file.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "lower/Plan.h"
#include "sema/TypedAST.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

namespace fedc {

struct CodegenOptions {
  unsigned optLevel = 2;  // -O0 .. -O3
  std::string triple;     // empty: the host
  bool debugInfo = false; // -g: DWARF lines of the .fed source
};

// The module of `program`'s local fns and `lowered`'s stage functions and
// plan table. Null after reporting an unsupported construct.
std::unique_ptr<llvm::Module>
generateModule(const sema::Program &program,
               const lower::LoweredProgram &lowered, llvm::LLVMContext &context,
               const SourceManager &sm, DiagnosticEngine &diags,
               const std::string &name, bool debugInfo = false);

// The target machine for `options` (host CPU features for the host triple).
std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CodegenOptions &options, DiagnosticEngine &diags);

// Whether code for `triple` calls glibc's vector math library (libmvec),
// which the program must then link (-lmvec) or the JIT load.
bool usesVectorMath(const llvm::Triple &triple);

// Runs the new pass manager's default pipeline for the -O level.
void optimizeModule(llvm::Module &module, llvm::TargetMachine &target,
                    unsigned optLevel);

enum class OutputKind { Assembly, Object };
bool writeMachineCode(llvm::Module &module, llvm::TargetMachine &target,
                      OutputKind kind, const std::string &path,
                      DiagnosticEngine &diags);

} // namespace fedc
