#include "driver/CallCommand.h"

#include "fedrt/Context.h"
#include "fedrt/Json.h"
#include "fedrt/Value.h"
#include "lower/Plan.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/Support/Casting.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/JSON.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <fmt/format.h>

namespace fedc::driver {

using llvm::dyn_cast;
using sema::Type;

namespace {

// Arguments as runtime values (fedrt/Json.h) and their ABI slots; the
// buffers the slots point into live as long as this.
class Arguments {
public:
  // Parses argument `text` as a value of `t` and appends its slots.
  absl::Status add(const sema::Type *t, const std::string &text) {
    fedrt::TypeDesc desc = lower::layoutOf(t);
    if (desc.kind == fedrt::TypeDesc::Kind::Seq) {
      absl::StatusOr<fedrt::Columns> records =
          fedrt::recordsFromJson(desc.children[0], text);
      if (!records.ok())
        return records.status();
      columns_.push_back(*std::move(records));
      slots.push_back(static_cast<uint64_t>(columns_.back().records));
      for (auto &column : columns_.back().columns) {
        column.resize(column.size() + 64); // never a null pointer
        slots.push_back(reinterpret_cast<uint64_t>(column.data()));
      }
      return absl::OkStatus();
    }
    absl::StatusOr<fedrt::HostValue> v = fedrt::valueFromJson(desc, text);
    if (!v.ok())
      return v.status();
    values_.push_back(*std::move(v));
    fedrt::toSlots(desc, values_.back(), slots);
    return absl::OkStatus();
  }

  std::vector<uint64_t> slots;

private:
  std::deque<fedrt::HostValue> values_;
  std::deque<fedrt::Columns> columns_;
};

using Entry = void (*)(fedrt_context *, const uint64_t *, uint64_t *);

// Makes the runtime (part of fedc), libmvec when the vector math library is
// used, and the rest of this process (libm) visible to JIT-compiled code.
llvm::Error defineRuntime(llvm::orc::LLJIT &jit, bool vectorMath) {
  llvm::orc::SymbolMap runtime;
  auto define = [&](const char *symbol, auto *address) {
    runtime[jit.mangleAndIntern(symbol)] = {
        llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<void *>(address)),
        llvm::JITSymbolFlags::Exported};
  };
#define FEDRT_DEFINE(symbol) define(#symbol, &symbol);
  FEDRT_RUNTIME_FUNCTIONS(FEDRT_DEFINE)
#undef FEDRT_DEFINE
  llvm::orc::JITDylib &main = jit.getMainJITDylib();
  if (llvm::Error e = main.define(llvm::orc::absoluteSymbols(runtime)))
    return e;
  if (vectorMath) {
    std::string error;
    if (llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1",
                                                          &error))
      return llvm::createStringError(error);
  }
  auto generator =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          jit.getDataLayout().getGlobalPrefix());
  if (!generator)
    return generator.takeError();
  main.addGenerator(std::move(*generator));
  return llvm::Error::success();
}

// Compiles `program` into `jit` and finds the entry point of fn `name`;
// nullptr after a diagnostic.
Entry compileEntry(const sema::Program &program,
                   const lower::LoweredProgram &lowered,
                   const SourceManager &sm, DiagnosticEngine &diags,
                   const CodegenOptions &options, const std::string &name,
                   std::unique_ptr<llvm::orc::LLJIT> &jit) {
  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module =
      generateModule(program, lowered, *context, sm, diags, "call");
  if (!module)
    return nullptr;
  std::unique_ptr<llvm::TargetMachine> target =
      createTargetMachine(options, diags);
  if (!target)
    return nullptr;
  optimizeModule(*module, *target, options.optLevel);

  auto jitError = [&](llvm::Error e) -> Entry {
    diags.report(SourceLoc(), DiagId::JitError)
        .arg(llvm::toString(std::move(e)));
    return nullptr;
  };
  auto created = llvm::orc::LLJITBuilder().create();
  if (!created)
    return jitError(created.takeError());
  jit = std::move(*created);
  if (llvm::Error e =
          defineRuntime(*jit, usesVectorMath(target->getTargetTriple())))
    return jitError(std::move(e));
  if (llvm::Error e = jit->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return jitError(std::move(e));
  auto entry = jit->lookup("fedrt_entry_" + name);
  if (!entry)
    return jitError(entry.takeError());
  return entry->toPtr<Entry>();
}

// The non-generic local fn `name` with `args` parsed as its parameters'
// values; nullptr after a diagnostic.
const sema::Function *bindArguments(const sema::Program &program,
                                    const std::string &name,
                                    const std::vector<std::string> &args,
                                    DiagnosticEngine &diags,
                                    Arguments &arguments) {
  const sema::Function *fn = nullptr;
  for (const auto &f : program.functions)
    if (!f->isFederated && f->name == name)
      fn = f.get();
  if (!fn) {
    diags.report(SourceLoc(), DiagId::CallUnknownFunction)
        .arg(name)
        .arg("; generic fns are called through a non-generic wrapper");
    return nullptr;
  }
  if (args.size() != fn->params.size()) {
    diags.report(SourceLoc(), DiagId::CallArgument)
        .arg(static_cast<int64_t>(args.size()))
        .arg(name)
        .arg(fmt::format("'{}' takes {} arguments", name, fn->params.size()));
    return nullptr;
  }
  for (size_t i = 0; i < args.size(); ++i)
    if (absl::Status s = arguments.add(fn->params[i]->type, args[i]); !s.ok()) {
      diags.report(SourceLoc(), DiagId::CallArgument)
          .arg(static_cast<int64_t>(i + 1))
          .arg(name)
          .arg(fn->params[i]->name + ": " + std::string(s.message()));
      return nullptr;
    }
  return fn;
}

} // namespace

bool callFunction(const sema::Program &program,
                  const lower::LoweredProgram &lowered, const SourceManager &sm,
                  DiagnosticEngine &diags, const CodegenOptions &options,
                  const std::string &name, const std::vector<std::string> &args,
                  std::ostream &out) {
  Arguments arguments;
  const sema::Function *fn =
      bindArguments(program, name, args, diags, arguments);
  if (!fn)
    return false;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  Entry call = compileEntry(program, lowered, sm, diags, options, name, jit);
  if (!call)
    return false;

  fedrt_context ctx;
  fedrt::TypeDesc result = lower::layoutOf(fn->result);
  std::vector<uint64_t> results(result.slots() + 1, 0);
  call(&ctx, arguments.slots.data(), results.data());
  if (ctx.failed) {
    diags.report(SourceLoc(), DiagId::CallFailed)
        .arg(name)
        .arg(fedrt::failureMessage(ctx));
    return false;
  }
  if (result.kind == fedrt::TypeDesc::Kind::Seq) {
    diags.report(SourceLoc(), DiagId::CallArgument)
        .arg(0)
        .arg(name)
        .arg("a seq result cannot be printed");
    return false;
  }
  size_t next = 0;
  out << fedrt::toJson(result, fedrt::fromSlots(result, results.data(), next))
      << "\n";
  return true;
}

} // namespace fedc::driver
