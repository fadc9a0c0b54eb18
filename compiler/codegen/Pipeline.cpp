// Target machines, the optimization pipeline (new pass manager) and machine
// code output.
#include "codegen/Codegen.h"
#include "codegen/Emitter.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/PassManager.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>

#include <mutex>

namespace fedc {

std::unique_ptr<llvm::Module>
generateModule(const sema::Program &program,
               const lower::LoweredProgram &lowered, llvm::LLVMContext &context,
               const SourceManager &sm, DiagnosticEngine &diags,
               const std::string &name, bool debugInfo) {
  codegen::ModuleEmitter emitter(program, context, sm, name);
  if (debugInfo)
    emitter.enableDebugInfo();
  return emitter.emit(diags, lowered);
}

std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CodegenOptions &options, DiagnosticEngine &diags) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers();
  });
  bool host = options.triple.empty();
  std::string triple =
      host ? llvm::sys::getDefaultTargetTriple() : options.triple;
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    diags.report(SourceLoc(), DiagId::TargetError).arg(triple).arg(error);
    return nullptr;
  }
  std::string cpu = host ? llvm::sys::getHostCPUName().str() : "generic";
  std::string features;
  if (host) {
    llvm::SubtargetFeatures f;
    for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
      f.AddFeature(name, enabled);
    features = f.getString();
  }
  llvm::CodeGenOptLevel level =
      options.optLevel == 0   ? llvm::CodeGenOptLevel::None
      : options.optLevel == 1 ? llvm::CodeGenOptLevel::Less
      : options.optLevel == 2 ? llvm::CodeGenOptLevel::Default
                              : llvm::CodeGenOptLevel::Aggressive;
  llvm::TargetOptions targetOptions;
  auto *machine =
      target->createTargetMachine(triple, cpu, features, targetOptions,
                                  llvm::Reloc::PIC_, std::nullopt, level);
  if (!machine) {
    diags.report(SourceLoc(), DiagId::TargetError)
        .arg(triple)
        .arg("no target machine");
    return nullptr;
  }
  return std::unique_ptr<llvm::TargetMachine>(machine);
}

bool usesVectorMath(const llvm::Triple &triple) {
  return triple.getArch() == llvm::Triple::x86_64 && triple.isOSLinux() &&
         triple.isGNUEnvironment();
}

void optimizeModule(llvm::Module &module, llvm::TargetMachine &target,
                    unsigned optLevel) {
  module.setDataLayout(target.createDataLayout());
  module.setTargetTriple(target.getTargetTriple().str());
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = optLevel >= 2;
  tuning.SLPVectorization = optLevel >= 2;
  llvm::PassBuilder pb(&target, tuning);
  // On x86-64 Linux, vectorized loops call glibc's SIMD math (libmvec: exp,
  // log, ...) instead of one scalar libm call per element. Programs link
  // -lmvec; the JIT loads it (see usesVectorMath).
  llvm::Triple triple = target.getTargetTriple();
  llvm::TargetLibraryInfoImpl tlii(triple);
  if (usesVectorMath(triple))
    tlii.addVectorizableFunctionsFromVecLib(
        llvm::TargetLibraryInfoImpl::LIBMVEC_X86, triple);
  fam.registerPass([&] { return llvm::TargetLibraryAnalysis(tlii); });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel == 0   ? llvm::OptimizationLevel::O0
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = optLevel == 0
                                    ? pb.buildO0DefaultPipeline(level)
                                    : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(module, mam);
}

bool writeMachineCode(llvm::Module &module, llvm::TargetMachine &target,
                      OutputKind kind, const std::string &path,
                      DiagnosticEngine &diags) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    diags.report(SourceLoc(), DiagId::OutputError).arg(path).arg(ec.message());
    return false;
  }
  llvm::legacy::PassManager pm;
  auto fileType = kind == OutputKind::Object
                      ? llvm::CodeGenFileType::ObjectFile
                      : llvm::CodeGenFileType::AssemblyFile;
  if (target.addPassesToEmitFile(pm, out, nullptr, fileType)) {
    diags.report(SourceLoc(), DiagId::TargetError)
        .arg(target.getTargetTriple().str())
        .arg("cannot emit this file type");
    return false;
  }
  pm.run(module);
  return true;
}

} // namespace fedc
