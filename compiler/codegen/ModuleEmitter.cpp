// The LLVM module: ABI types and signatures of every local fn instance, the
// runtime's declarations, and one fixed-signature entry point per fn.
#include "codegen/Emitter.h"

#include "fedrt/abi.h"

#include <llvm/IR/Verifier.h>

#include <filesystem>
#include <llvm/Support/Casting.h>
#include <llvm/Support/raw_ostream.h>
#include <map>
#include <type_traits>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

ModuleEmitter::ModuleEmitter(const sema::Program &program,
                             llvm::LLVMContext &context,
                             const SourceManager &sm,
                             const std::string &moduleName)
    : context(context), sm(sm),
      module(std::make_unique<llvm::Module>(moduleName, context)),
      program(program) {
  declareRuntime();
}

llvm::Type *ModuleEmitter::elementType(ast::ScalarKind k) const {
  // From the element table: floats by width, everything else (bool
  // included, as i8) an integer of the element's size.
  size_t bits = 8 * fedrt::elementSize(k);
  if (fedrt::isFloat(k))
    return bits == 32 ? llvm::Type::getFloatTy(context)
                      : llvm::Type::getDoubleTy(context);
  return llvm::Type::getIntNTy(context, static_cast<unsigned>(bits));
}

void ModuleEmitter::leafTypes(const Type *t,
                              std::vector<llvm::Type *> &out) const {
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    if (tensor->isScalar()) {
      out.push_back(elementType(tensor->element));
    } else {
      out.push_back(ptr);
      out.insert(out.end(), tensor->rank(), i64);
    }
  } else if (const auto *s = dyn_cast<sema::StructType>(t)) {
    for (const sema::Field &f : s->fields)
      leafTypes(f.type, out);
  } else if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    for (const Type *e : tuple->elements)
      leafTypes(e, out);
  } else if (const auto *seq = dyn_cast<sema::SeqType>(t)) {
    out.push_back(i64);
    // One column per tensor leaf of the record (record dims are static).
    size_t columns = 0;
    std::function<void(const Type *)> count = [&](const Type *r) {
      if (isa<sema::TensorType>(r))
        ++columns;
      else if (const auto *rs = dyn_cast<sema::StructType>(r))
        for (const sema::Field &f : rs->fields)
          count(f.type);
      else if (const auto *rt = dyn_cast<sema::TupleType>(r))
        for (const Type *e : rt->elements)
          count(e);
    };
    count(seq->element);
    out.insert(out.end(), columns, ptr);
  }
}

llvm::StructType *ModuleEmitter::resultType(const Type *t) const {
  std::vector<llvm::Type *> leaves;
  leafTypes(t, leaves);
  return llvm::StructType::get(context, leaves);
}

std::string ModuleEmitter::where(SourceRange r) const {
  PresumedLoc p = sm.presumed(r.begin);
  return std::string(p.filename) + ":" + std::to_string(p.line) + ":" +
         std::to_string(p.column);
}

namespace {

// The LLVM type of a C parameter or result type of abi.h.
template <class T> llvm::Type *cType(llvm::LLVMContext &c) {
  if constexpr (std::is_void_v<T>)
    return llvm::Type::getVoidTy(c);
  else if constexpr (std::is_pointer_v<T>)
    return llvm::PointerType::getUnqual(c);
  else if constexpr (std::is_same_v<T, float>)
    return llvm::Type::getFloatTy(c);
  else if constexpr (std::is_same_v<T, double>)
    return llvm::Type::getDoubleTy(c);
  else {
    static_assert(std::is_integral_v<T>, "abi.h uses scalars and pointers");
    return llvm::Type::getIntNTy(c, 8 * sizeof(T));
  }
}

// The LLVM signature of a C function type of abi.h.
template <class F> struct CSignature;
template <class R, class... A> struct CSignature<R(A...)> {
  static llvm::FunctionType *get(llvm::LLVMContext &c) {
    return llvm::FunctionType::get(cType<R>(c), {cType<A>(c)...}, false);
  }
};

} // namespace

void ModuleEmitter::declareRuntime() {
  // Declared from abi.h's prototypes, so a signature change there changes
  // what generated code calls.
#define FEDRT_DECLARE(name)                                                    \
  runtime[#name] = module->getOrInsertFunction(                                \
      #name, CSignature<decltype(::name)>::get(context));
  FEDRT_RUNTIME_FUNCTIONS(FEDRT_DECLARE)
#undef FEDRT_DECLARE
  arenaAlloc = runtime.at("fedrt_arena_alloc");
  arenaMark = runtime.at("fedrt_arena_mark");
  arenaRelease = runtime.at("fedrt_arena_release");
  fail = runtime.at("fedrt_fail");
  matmulF32 = runtime.at("fedrt_matmul_f32");
  matmulF64 = runtime.at("fedrt_matmul_f64");
  randomNormalF32 = runtime.at("fedrt_random_normal_f32");
  randomNormalF64 = runtime.at("fedrt_random_normal_f64");
  randomUniformF32 = runtime.at("fedrt_random_uniform_f32");
  randomUniformF64 = runtime.at("fedrt_random_uniform_f64");
  shuffleRows = runtime.at("fedrt_shuffle_rows");
  gatherRows = runtime.at("fedrt_gather_rows");
  if (auto *f = dyn_cast<llvm::Function>(arenaAlloc.getCallee())) {
    f->addRetAttr(llvm::Attribute::NoAlias);
    f->addFnAttr(llvm::Attribute::NoUnwind);
  }
}

void ModuleEmitter::enableDebugInfo() {
  debug_ = std::make_unique<llvm::DIBuilder>(*module);
  module->addModuleFlag(llvm::Module::Warning, "Debug Info Version",
                        llvm::DEBUG_METADATA_VERSION);
  module->addModuleFlag(llvm::Module::Warning, "Dwarf Version", 5);
}

llvm::DILocation *ModuleEmitter::location(SourceLoc loc,
                                          llvm::DISubprogram *scope) const {
  PresumedLoc p = sm.presumed(loc);
  return llvm::DILocation::get(context, p.line, p.column, scope);
}

llvm::Function *ModuleEmitter::declare(const sema::Function &fn) {
  std::vector<llvm::Type *> params{llvm::PointerType::getUnqual(context)};
  for (const sema::Local *p : fn.params)
    leafTypes(p->type, params);
  auto *type = llvm::FunctionType::get(resultType(fn.result), params, false);
  auto *f = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                   fn.name, module.get());
  f->addFnAttr(llvm::Attribute::NoUnwind);
  f->getArg(0)->setName("ctx");
  functions_[&fn] = f;
  if (debug_) {
    FileId id = sm.fileOf(fn.decl->range().begin);
    std::filesystem::path path(std::string(sm.filename(id)));
    llvm::DIFile *&file = files_[id];
    if (!file)
      file = debug_->createFile(
          path.filename().string(),
          std::filesystem::absolute(path).parent_path().string());
    if (!unit_)
      unit_ = debug_->createCompileUnit(llvm::dwarf::DW_LANG_C, file, "fedc",
                                        /*isOptimized=*/true, "", 0);
    unsigned line = sm.presumed(fn.decl->range().begin).line;
    llvm::DISubprogram *sp = debug_->createFunction(
        file, fn.name, f->getName(), file, line,
        debug_->createSubroutineType(debug_->getOrCreateTypeArray({})), line,
        llvm::DINode::FlagPrototyped, llvm::DISubprogram::SPFlagDefinition);
    f->setSubprogram(sp);
    subprograms_[&fn] = sp;
  }
  return f;
}

llvm::Value *ModuleEmitter::fromSlot(llvm::IRBuilder<> &b, llvm::Value *slot,
                                     llvm::Type *t) {
  if (t->isPointerTy())
    return b.CreateIntToPtr(slot, t);
  if (t->isFloatTy())
    return b.CreateBitCast(b.CreateTrunc(slot, b.getInt32Ty()), t);
  if (t->isDoubleTy())
    return b.CreateBitCast(slot, t);
  return b.CreateTrunc(slot, t);
}

llvm::Value *ModuleEmitter::toSlot(llvm::IRBuilder<> &b, llvm::Value *leaf) {
  llvm::Type *t = leaf->getType();
  auto *i64 = b.getInt64Ty();
  if (t->isPointerTy())
    return b.CreatePtrToInt(leaf, i64);
  if (t->isFloatTy())
    return b.CreateZExt(b.CreateBitCast(leaf, b.getInt32Ty()), i64);
  if (t->isDoubleTy())
    return b.CreateBitCast(leaf, i64);
  if (t->isIntegerTy(8))
    return b.CreateZExt(leaf, i64);
  if (t->isIntegerTy(64))
    return leaf;
  return b.CreateSExt(leaf, i64);
}

void ModuleEmitter::emitEntry(const sema::Function &fn) {
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {ptr, ptr, ptr}, false);
  auto *entry = llvm::Function::Create(type, llvm::Function::ExternalLinkage,
                                       "fedrt_entry_" + fn.name, module.get());
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", entry));
  llvm::Function *callee = function(fn);
  std::vector<llvm::Value *> args{entry->getArg(0)};
  // Slots -> leaves.
  for (unsigned i = 1; i < callee->arg_size(); ++i) {
    llvm::Value *slot = b.CreateLoad(
        i64, b.CreateConstInBoundsGEP1_64(i64, entry->getArg(1), i - 1));
    args.push_back(fromSlot(b, slot, callee->getArg(i)->getType()));
  }
  llvm::Value *result = b.CreateCall(callee, args);
  auto *resultTy = cast<llvm::StructType>(callee->getReturnType());
  for (unsigned i = 0; i < resultTy->getNumElements(); ++i)
    b.CreateStore(toSlot(b, b.CreateExtractValue(result, i)),
                  b.CreateConstInBoundsGEP1_64(i64, entry->getArg(2), i));
  b.CreateRetVoid();
}

std::unique_ptr<llvm::Module>
ModuleEmitter::emit(DiagnosticEngine &diags,
                    const lower::LoweredProgram &lowered) {
  std::vector<const sema::Function *> locals;
  for (const auto &fn : program.functions)
    if (!fn->isFederated && fn->body)
      locals.push_back(fn.get());
  for (const auto &fn : lowered.stageFunctions)
    locals.push_back(fn.get());
  for (const sema::Function *fn : locals)
    declare(*fn);
  bool ok = true;
  for (const sema::Function *fn : locals) {
    try {
      FunctionEmitter(*this, *fn).emitBody();
      emitEntry(*fn);
    } catch (const Unsupported &u) {
      diags.report(u.where, DiagId::UnsupportedInCodegen).arg(u.what);
      ok = false;
    }
  }
  if (!ok)
    return nullptr;
  emitPlanTable(lowered);
  if (debug_)
    debug_->finalize();
  std::string errors;
  llvm::raw_string_ostream os(errors);
  if (llvm::verifyModule(*module, &os)) {
    diags.report(SourceLoc(), DiagId::InvalidModule).arg(os.str());
    return nullptr;
  }
  return std::move(module);
}

} // namespace fedc::codegen
