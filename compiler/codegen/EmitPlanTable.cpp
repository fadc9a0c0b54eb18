// The plan table in the module (docs/abi.md, "The plan"): the serialized
// fedrt.proto.Plan lowering built, as fedrt_plan_bytes/fedrt_plan_size,
// and the function table its indices refer to (fedrt_plan_functions: the
// entry point of each stage function and custom-aggregation fn).
#include "codegen/Emitter.h"

namespace fedc::codegen {

void ModuleEmitter::emitPlanTable(const lower::LoweredProgram &lowered) {
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  std::string bytes;
  lowered.table.SerializeToString(&bytes);
  auto *data = llvm::ConstantDataArray::get(
      context, llvm::ArrayRef<uint8_t>(
                   reinterpret_cast<const uint8_t *>(bytes.data()),
                   bytes.size()));
  new llvm::GlobalVariable(*module, data->getType(), true,
                           llvm::GlobalValue::ExternalLinkage, data,
                           "fedrt_plan_bytes");
  new llvm::GlobalVariable(*module, i64, true,
                           llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, bytes.size()),
                           "fedrt_plan_size");
  std::vector<llvm::Constant *> table;
  for (const sema::Function *fn : lowered.functionTable)
    table.push_back(module->getFunction("fedrt_entry_" + fn->name));
  auto *tableType = llvm::ArrayType::get(ptr, table.size());
  new llvm::GlobalVariable(
      *module, tableType, true, llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantArray::get(tableType, table), "fedrt_plan_functions");
  new llvm::GlobalVariable(*module, i64, true,
                           llvm::GlobalValue::ExternalLinkage,
                           llvm::ConstantInt::get(i64, table.size()),
                           "fedrt_plan_function_count");
}

} // namespace fedc::codegen
