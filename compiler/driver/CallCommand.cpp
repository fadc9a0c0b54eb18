#include "driver/CallCommand.h"

#include "fedrt/Context.h"

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

// Thrown for an argument that does not fit its parameter's type.
struct BadArgument {
  std::string why;
};

// JSON <-> the ABI's 8-byte leaf slots (abi.h), with the buffers the slots
// point into kept alive here.
class Marshaller {
public:
  void pack(const Type *t, const llvm::json::Value &v,
            std::vector<uint64_t> &slots) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
      if (tensor->isScalar()) {
        slots.push_back(scalarBits(tensor->element, v));
        return;
      }
      std::vector<int64_t> dims;
      shapeOf(v, tensor->rank(), dims);
      for (size_t k = 0; k < dims.size(); ++k)
        if (tensor->dims[k] != sema::kDynamicDim && tensor->dims[k] != dims[k])
          throw BadArgument{fmt::format("dimension {} is {}, {} expects {}", k,
                                        dims[k], sema::formatType(t),
                                        tensor->dims[k])};
      std::vector<uint64_t> elements;
      flattenElements(tensor->element, v, tensor->rank(), elements);
      slots.push_back(
          reinterpret_cast<uint64_t>(buffer(tensor->element, elements)));
      for (int64_t d : dims)
        slots.push_back(static_cast<uint64_t>(d));
      return;
    }
    if (const auto *s = dyn_cast<sema::StructType>(t)) {
      const llvm::json::Object *o = v.getAsObject();
      if (!o)
        throw BadArgument{"expected an object for " + s->name};
      for (const sema::Field &f : s->fields) {
        const llvm::json::Value *fv = o->get(f.name);
        if (!fv)
          throw BadArgument{"missing field '" + f.name + "' of " + s->name};
        pack(f.type, *fv, slots);
      }
      return;
    }
    if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
      const llvm::json::Array *a = v.getAsArray();
      if (!a || a->size() != tuple->elements.size())
        throw BadArgument{"expected an array of " +
                          std::to_string(tuple->elements.size()) + " for " +
                          sema::formatType(t)};
      for (size_t i = 0; i < a->size(); ++i)
        pack(tuple->elements[i], (*a)[i], slots);
      return;
    }
    if (const auto *seq = dyn_cast<sema::SeqType>(t)) {
      const llvm::json::Array *a = v.getAsArray();
      if (!a)
        throw BadArgument{"expected an array of records for " +
                          sema::formatType(t)};
      // Pack each record, then transpose leaf slots into columns.
      std::vector<std::vector<uint64_t>> records;
      for (const llvm::json::Value &r : *a) {
        std::vector<uint64_t> recordSlots;
        pack(seq->element, r, recordSlots);
        records.push_back(std::move(recordSlots));
      }
      slots.push_back(a->size());
      std::vector<const sema::TensorType *> leaves;
      leafTensors(seq->element, leaves);
      size_t slot = 0;
      for (const sema::TensorType *leaf : leaves) {
        size_t n = 1;
        for (int64_t d : leaf->dims)
          n *= static_cast<size_t>(d);
        std::vector<uint64_t> column;
        for (const auto &record : records) {
          if (leaf->isScalar()) {
            column.push_back(record[slot]);
          } else {
            const char *data = reinterpret_cast<const char *>(record[slot]);
            for (size_t i = 0; i < n; ++i)
              column.push_back(readElement(leaf->element, data, i));
          }
        }
        slots.push_back(
            reinterpret_cast<uint64_t>(buffer(leaf->element, column)));
        slot += leaf->isScalar() ? 1 : 1 + leaf->rank();
      }
      return;
    }
    throw BadArgument{"values of type " + sema::formatType(t) +
                      " cannot be passed"};
  }

  // The result as JSON text; floats in their shortest exact form.
  std::string unpack(const Type *t, const uint64_t *&slot) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
      if (tensor->isScalar())
        return scalarText(tensor->element, *slot++);
      const char *data = reinterpret_cast<const char *>(*slot++);
      std::vector<int64_t> dims;
      for (size_t k = 0; k < tensor->rank(); ++k)
        dims.push_back(static_cast<int64_t>(*slot++));
      size_t index = 0;
      return nested(tensor->element, data, dims, 0, index);
    }
    std::string text;
    if (const auto *s = dyn_cast<sema::StructType>(t)) {
      for (const sema::Field &f : s->fields)
        text += (text.empty() ? "" : ", ") +
                llvm::formatv("\"{0}\": ", f.name).str() + unpack(f.type, slot);
      return "{" + text + "}";
    }
    if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
      for (const Type *e : tuple->elements)
        text += (text.empty() ? "" : ", ") + unpack(e, slot);
      return "[" + text + "]";
    }
    throw BadArgument{"results of type " + sema::formatType(t) +
                      " cannot be printed"};
  }

  // Slots a value of `t` occupies (abi.h).
  static size_t slotCount(const Type *t) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t))
      return tensor->isScalar() ? 1 : 1 + tensor->rank();
    size_t n = 0;
    if (const auto *s = dyn_cast<sema::StructType>(t))
      for (const sema::Field &f : s->fields)
        n += slotCount(f.type);
    if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      for (const Type *e : tuple->elements)
        n += slotCount(e);
    if (const auto *seq = dyn_cast<sema::SeqType>(t)) {
      std::vector<const sema::TensorType *> leaves;
      leafTensors(seq->element, leaves);
      n = 1 + leaves.size();
    }
    return n;
  }

private:
  static void leafTensors(const Type *t,
                          std::vector<const sema::TensorType *> &out) {
    if (const auto *tensor = dyn_cast<sema::TensorType>(t))
      out.push_back(tensor);
    else if (const auto *s = dyn_cast<sema::StructType>(t))
      for (const sema::Field &f : s->fields)
        leafTensors(f.type, out);
    else if (const auto *tuple = dyn_cast<sema::TupleType>(t))
      for (const Type *e : tuple->elements)
        leafTensors(e, out);
  }

  static uint64_t scalarBits(ast::ScalarKind k, const llvm::json::Value &v) {
    switch (k) {
    case ast::ScalarKind::F32: {
      std::optional<double> d = v.getAsNumber();
      if (!d)
        throw BadArgument{"expected a number"};
      float f = static_cast<float>(*d);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return bits;
    }
    case ast::ScalarKind::F64: {
      std::optional<double> d = v.getAsNumber();
      if (!d)
        throw BadArgument{"expected a number"};
      uint64_t bits;
      std::memcpy(&bits, &*d, 8);
      return bits;
    }
    case ast::ScalarKind::I32:
    case ast::ScalarKind::I64: {
      std::optional<int64_t> i = v.getAsInteger();
      if (!i)
        throw BadArgument{"expected an integer"};
      if (k == ast::ScalarKind::I32 && (*i > INT32_MAX || *i < INT32_MIN))
        throw BadArgument{"integer out of range for i32"};
      return static_cast<uint64_t>(*i);
    }
    case ast::ScalarKind::Bool: {
      std::optional<bool> b = v.getAsBoolean();
      if (!b)
        throw BadArgument{"expected true or false"};
      return *b ? 1 : 0;
    }
    }
    return 0;
  }

  static std::string scalarText(ast::ScalarKind k, uint64_t bits) {
    switch (k) {
    case ast::ScalarKind::F32: {
      float f;
      uint32_t b32 = static_cast<uint32_t>(bits);
      std::memcpy(&f, &b32, 4);
      return finite(f);
    }
    case ast::ScalarKind::F64: {
      double d;
      std::memcpy(&d, &bits, 8);
      return finite(d);
    }
    case ast::ScalarKind::I32:
      return std::to_string(static_cast<int32_t>(bits));
    case ast::ScalarKind::I64:
      return std::to_string(static_cast<int64_t>(bits));
    case ast::ScalarKind::Bool:
      return (bits & 0xFF) != 0 ? "true" : "false";
    }
    return "null";
  }

  // JSON has no NaN or infinity: print them as strings.
  template <typename F> static std::string finite(F x) {
    if (std::isnan(x))
      return "\"nan\"";
    if (std::isinf(x))
      return x > 0 ? "\"inf\"" : "\"-inf\"";
    return fmt::format("{}", x);
  }

  static size_t elementSize(ast::ScalarKind k) {
    return k == ast::ScalarKind::F64 || k == ast::ScalarKind::I64 ? 8
           : k == ast::ScalarKind::Bool                           ? 1
                                                                  : 4;
  }

  static uint64_t readElement(ast::ScalarKind k, const char *data, size_t i) {
    uint64_t bits = 0;
    std::memcpy(&bits, data + i * elementSize(k), elementSize(k));
    if (k == ast::ScalarKind::I32)
      bits = static_cast<uint64_t>(
          static_cast<int64_t>(static_cast<int32_t>(bits)));
    return bits;
  }

  void *buffer(ast::ScalarKind k, const std::vector<uint64_t> &elements) {
    size_t size = elementSize(k);
    buffers_.emplace_back(std::max<size_t>(elements.size() * size, 1) + 64);
    char *p = buffers_.back().data();
    for (size_t i = 0; i < elements.size(); ++i)
      std::memcpy(p + i * size, &elements[i], size);
    return p;
  }

  static void shapeOf(const llvm::json::Value &v, size_t rank,
                      std::vector<int64_t> &dims) {
    const llvm::json::Value *x = &v;
    for (size_t k = 0; k < rank; ++k) {
      const llvm::json::Array *a = x->getAsArray();
      if (!a)
        throw BadArgument{
            fmt::format("expected a nested array of depth {}", rank)};
      dims.push_back(static_cast<int64_t>(a->size()));
      if (a->empty()) {
        for (size_t r = k + 1; r < rank; ++r)
          dims.push_back(0);
        return;
      }
      x = &(*a)[0];
    }
  }

  void flattenElements(ast::ScalarKind k, const llvm::json::Value &v,
                       size_t rank, std::vector<uint64_t> &out) {
    if (rank == 0) {
      out.push_back(scalarBits(k, v));
      return;
    }
    const llvm::json::Array *a = v.getAsArray();
    if (!a)
      throw BadArgument{"ragged or non-array tensor"};
    std::optional<size_t> width;
    for (const llvm::json::Value &x : *a) {
      size_t start = out.size();
      flattenElements(k, x, rank - 1, out);
      if (width && out.size() - start != *width)
        throw BadArgument{"ragged tensor: rows of different lengths"};
      width = out.size() - start;
    }
  }

  std::string nested(ast::ScalarKind k, const char *data,
                     const std::vector<int64_t> &dims, size_t level,
                     size_t &index) {
    if (level == dims.size())
      return scalarText(k, readElement(k, data, index++));
    std::string text;
    for (int64_t i = 0; i < dims[level]; ++i)
      text += (i ? ", " : "") + nested(k, data, dims, level + 1, index);
    return "[" + text + "]";
  }

  std::deque<std::vector<char>> buffers_;
};

} // namespace

bool callFunction(const sema::Program &program,
                  const lower::LoweredProgram &lowered, const SourceManager &sm,
                  DiagnosticEngine &diags, const CodegenOptions &options,
                  const std::string &name, const std::vector<std::string> &args,
                  std::ostream &out) {
  const sema::Function *fn = nullptr;
  for (const auto &f : program.functions)
    if (!f->isFederated && f->name == name)
      fn = f.get();
  if (!fn) {
    diags.report(SourceLoc(), DiagId::CallUnknownFunction)
        .arg(name)
        .arg("; generic fns are called through a non-generic wrapper");
    return false;
  }
  if (args.size() != fn->params.size()) {
    diags.report(SourceLoc(), DiagId::CallArgument)
        .arg(static_cast<int64_t>(args.size()))
        .arg(name)
        .arg(fmt::format("'{}' takes {} arguments", name, fn->params.size()));
    return false;
  }
  Marshaller marshaller;
  std::vector<uint64_t> slots;
  for (size_t i = 0; i < args.size(); ++i) {
    llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(args[i]);
    if (!parsed) {
      diags.report(SourceLoc(), DiagId::CallArgument)
          .arg(static_cast<int64_t>(i + 1))
          .arg(name)
          .arg("invalid JSON: " + llvm::toString(parsed.takeError()));
      return false;
    }
    try {
      marshaller.pack(fn->params[i]->type, *parsed, slots);
    } catch (const BadArgument &bad) {
      diags.report(SourceLoc(), DiagId::CallArgument)
          .arg(static_cast<int64_t>(i + 1))
          .arg(name)
          .arg(fn->params[i]->name + ": " + bad.why);
      return false;
    }
  }

  auto context = std::make_unique<llvm::LLVMContext>();
  std::unique_ptr<llvm::Module> module =
      generateModule(program, lowered, *context, sm, diags, "call");
  if (!module)
    return false;
  std::unique_ptr<llvm::TargetMachine> target =
      createTargetMachine(options, diags);
  if (!target)
    return false;
  optimizeModule(*module, *target, options.optLevel);

  auto jitError = [&](llvm::Error e) {
    diags.report(SourceLoc(), DiagId::JitError)
        .arg(llvm::toString(std::move(e)));
    return false;
  };
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return jitError(jit.takeError());
  llvm::orc::JITDylib &main = (*jit)->getMainJITDylib();
  // The runtime is part of fedc; libm comes from the process.
  llvm::orc::SymbolMap runtime;
  auto define = [&](const char *symbol, auto *address) {
    runtime[(*jit)->mangleAndIntern(symbol)] = {
        llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<void *>(address)),
        llvm::JITSymbolFlags::Exported};
  };
  define("fedrt_arena_alloc", &fedrt_arena_alloc);
  define("fedrt_arena_mark", &fedrt_arena_mark);
  define("fedrt_arena_release", &fedrt_arena_release);
  define("fedrt_fail", &fedrt_fail);
  define("fedrt_matmul_f32", &fedrt_matmul_f32);
  define("fedrt_matmul_f64", &fedrt_matmul_f64);
  define("fedrt_random_normal_f32", &fedrt_random_normal_f32);
  define("fedrt_random_normal_f64", &fedrt_random_normal_f64);
  if (llvm::Error e = main.define(llvm::orc::absoluteSymbols(runtime)))
    return jitError(std::move(e));
  if (usesVectorMath(target->getTargetTriple())) {
    std::string error;
    if (llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1",
                                                          &error))
      return jitError(llvm::createStringError(error));
  }
  auto generator =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          (*jit)->getDataLayout().getGlobalPrefix());
  if (!generator)
    return jitError(generator.takeError());
  main.addGenerator(std::move(*generator));
  if (llvm::Error e = (*jit)->addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    return jitError(std::move(e));
  auto entry = (*jit)->lookup("fedrt_entry_" + name);
  if (!entry)
    return jitError(entry.takeError());
  using Entry = void (*)(fedrt_context *, const uint64_t *, uint64_t *);
  auto *call = entry->toPtr<Entry>();

  fedrt_context ctx;
  std::vector<uint64_t> results(Marshaller::slotCount(fn->result) + 1, 0);
  call(&ctx, slots.data(), results.data());
  if (ctx.failed) {
    diags.report(SourceLoc(), DiagId::CallFailed)
        .arg(name)
        .arg(ctx.what)
        .arg(ctx.got)
        .arg(ctx.expected);
    return false;
  }
  const uint64_t *cursor = results.data();
  try {
    out << marshaller.unpack(fn->result, cursor) << "\n";
  } catch (const BadArgument &bad) {
    diags.report(SourceLoc(), DiagId::CallArgument)
        .arg(0)
        .arg(name)
        .arg(bad.why);
    return false;
  }
  return true;
}

} // namespace fedc::driver
