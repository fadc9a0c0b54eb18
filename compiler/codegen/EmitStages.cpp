// The stage functions and the plan table of every computation the runtime
// runs (a process's init/next/eval, or `federated fn main`). Per plan stage
// k: a server fn computing what the stage broadcasts (and the zeros of its
// custom aggregations), and one client fn computing everything the stage's
// aggregations fold — the stage's federated_maps fused into one function;
// after the last stage, a server update computing the results. All have the
// entry-point signature void(ctx, const u64 *in, u64 *out) of abi.h. The
// plan table is text the runtime parses at start-up (docs/abi.md, "Plan
// table") plus the array of function pointers its lines index.
#include "codegen/Emitter.h"

#include <llvm/Support/Casting.h>
#include <llvm/Support/Format.h>
#include <llvm/Support/raw_ostream.h>

namespace fedc::codegen {

using llvm::cast;
using llvm::dyn_cast;
using lower::Node;

namespace {

const Type *memberOf(const Type *t) {
  if (const auto *p = dyn_cast<sema::PlacedType>(t))
    return p->member;
  return t;
}

const char *elementName(ast::ScalarKind k) {
  switch (k) {
  case ast::ScalarKind::F32:
    return "f32";
  case ast::ScalarKind::F64:
    return "f64";
  case ast::ScalarKind::I32:
    return "i32";
  case ast::ScalarKind::I64:
    return "i64";
  case ast::ScalarKind::Bool:
    return "bool";
  }
  return "?";
}

// The runtime's spelling of a value type: `Model{w:f32[64,10],b:f32[10]}`,
// `(f32,i32[8])`, `seq<f32>`; `?` for a dynamic dim.
std::string layoutOf(const Type *t) {
  t = memberOf(t);
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    std::string s = elementName(tensor->element);
    if (tensor->rank() == 0)
      return s;
    s += "[";
    for (size_t k = 0; k < tensor->rank(); ++k)
      s += (k ? "," : "") + (tensor->dims[k] == sema::kDynamicDim
                                 ? std::string("?")
                                 : std::to_string(tensor->dims[k]));
    return s + "]";
  }
  if (const auto *st = dyn_cast<sema::StructType>(t)) {
    std::string s = st->name + "{";
    for (size_t i = 0; i < st->fields.size(); ++i)
      s += (i ? "," : "") + st->fields[i].name + ":" +
           layoutOf(st->fields[i].type);
    return s + "}";
  }
  if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    std::string s = "(";
    for (size_t i = 0; i < tuple->elements.size(); ++i)
      s += (i ? "," : "") + layoutOf(tuple->elements[i]);
    return s + ")";
  }
  if (const auto *seq = dyn_cast<sema::SeqType>(t))
    return "seq<" + layoutOf(seq->element) + ">";
  return "?";
}

bool hasDynamicDim(const Type *t) {
  return layoutOf(t).find('?') != std::string::npos;
}

const char *aggregateKind(const Node &n) {
  switch (n.intrinsic) {
  case sema::Intrinsic::Sum:
    return "sum";
  case sema::Intrinsic::Mean:
    return n.inputs.size() > 1 ? "wmean" : "mean";
  case sema::Intrinsic::Min:
    return "min";
  case sema::Intrinsic::Max:
    return "max";
  case sema::Intrinsic::SecureSum:
    return "secure_sum";
  default:
    return "custom";
  }
}

} // namespace

// Emits one stage function: binds its inputs from the `in` slots, evaluates
// plan nodes on demand (each once), writes its outputs to the `out` slots.
class StageEmitter {
public:
  StageEmitter(ModuleEmitter &m, const lower::Plan &plan, llvm::Function *f)
      : m_(m), plan_(plan), fe_(m, *plan.computation, f), in_(f->getArg(1)),
        out_(f->getArg(2)) {}

  void bind(const Node *n, const Type *t) { values_[n] = read(t); }

  void write(const Node *n, const Type *t) {
    t = memberOf(t);
    if (hasDynamicDim(t))
      throw Unsupported{range(n),
                        "a value with a '?' dimension crossing between "
                        "server and clients (" +
                            layoutOf(t) + ")"};
    Value v = eval(n);
    auto &b = fe_.b;
    for (llvm::Value *leaf : fe_.flatten(t, v))
      b.CreateStore(
          ModuleEmitter::toSlot(b, leaf),
          b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), out_, nextOut_++));
  }

  void finish() { fe_.b.CreateRetVoid(); }

private:
  SourceRange range(const Node *n) const {
    return n->expr ? n->expr->range : plan_.computation->decl->range();
  }

  Value read(const Type *t) {
    t = memberOf(t);
    std::vector<llvm::Type *> types;
    m_.leafTypes(t, types);
    auto &b = fe_.b;
    std::vector<llvm::Value *> leaves;
    for (llvm::Type *leaf : types) {
      llvm::Value *slot = b.CreateLoad(
          b.getInt64Ty(),
          b.CreateConstInBoundsGEP1_64(b.getInt64Ty(), in_, nextIn_++));
      leaves.push_back(ModuleEmitter::fromSlot(b, slot, leaf));
    }
    size_t next = 0;
    return fe_.unflatten(t, leaves, next);
  }

  Value call(const Node *n, const sema::Function &callee) {
    auto &b = fe_.b;
    std::vector<llvm::Value *> args{fe_.ctx_};
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Value arg = eval(n->inputs[i]);
      const Type *param = callee.params[i]->type;
      fe_.checkShape(param, arg, range(n));
      std::vector<llvm::Value *> leaves = fe_.flatten(param, arg);
      args.insert(args.end(), leaves.begin(), leaves.end());
    }
    llvm::Value *result = b.CreateCall(m_.function(callee), args);
    fe_.returnIfFailed();
    std::vector<llvm::Value *> leaves;
    auto *type = cast<llvm::StructType>(result->getType());
    for (unsigned i = 0; i < type->getNumElements(); ++i)
      leaves.push_back(b.CreateExtractValue(result, i));
    size_t next = 0;
    return fe_.unflatten(callee.result, leaves, next);
  }

  Value eval(const Node *n) {
    if (auto it = values_.find(n); it != values_.end())
      return it->second;
    Value v;
    switch (n->kind) {
    case Node::Kind::Constant:
      // Unplaced lets of the federated fn the expression may read; bound
      // once per stage fn, in binding order (pure, so order is all).
      if (!localsBound_) {
        localsBound_ = true;
        for (const auto &[local, node] : plan_.unplacedLocals)
          if (!fe_.lets_.count(local))
            fe_.lets_[local] = eval(node);
        if (auto it = values_.find(n); it != values_.end())
          return it->second; // `n` was one of them
      }
      fe_.at(range(n));
      v = fe_.emit(*n->expr);
      break;
    case Node::Kind::Value:
      if (n->atClients)
        throw Unsupported{range(n), "a client value outside its stage"};
      v = eval(n->inputs[0]);
      break;
    case Node::Kind::Map:
    case Node::Kind::Eval:
      v = call(n, *n->function);
      break;
    case Node::Kind::Zip:
    case Node::Kind::Tuple:
      for (const Node *in : n->inputs)
        v.fields.push_back(eval(in));
      break;
    case Node::Kind::Select:
      v = fe_.member(eval(n->inputs[0]), n->index);
      break;
    default:
      // Inputs, broadcasts and aggregations are bound before evaluation; a
      // stage that reaches an unbound one would be a planning error.
      throw Unsupported{range(n), "a value the plan does not provide here"};
    }
    values_[n] = v;
    return v;
  }

  ModuleEmitter &m_;
  const lower::Plan &plan_;
  FunctionEmitter fe_;
  llvm::Value *in_, *out_;
  uint64_t nextIn_ = 0, nextOut_ = 0;
  bool localsBound_ = false;
  std::map<const Node *, Value> values_;
};

void ModuleEmitter::emitPlans(const std::vector<lower::Plan> &plans) {
  auto *ptr = llvm::PointerType::getUnqual(context);
  auto *stageType = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                            {ptr, ptr, ptr}, false);
  std::vector<llvm::Constant *> table;
  auto index = [&](llvm::Function *f) {
    table.push_back(f);
    return table.size() - 1;
  };
  auto newStage = [&](const std::string &name) {
    auto *f = llvm::Function::Create(stageType, llvm::Function::ExternalLinkage,
                                     name, module.get());
    f->addFnAttr(llvm::Attribute::NoUnwind);
    return f;
  };
  auto entryOf = [&](const sema::Expr &e) {
    const sema::Function *fn = cast<sema::RefExpr>(e).function;
    return index(module->getFunction("fedrt_entry_" + fn->name));
  };

  std::string text;
  llvm::raw_string_ostream os(text);
  os << "fedrt-plan 1\n";
  std::vector<const sema::Function *> run;
  if (program.process) {
    const sema::Process &p = *program.process;
    os << "process " << p.name << " " << p.init->name << " " << p.next->name
       << " " << (p.eval ? p.eval->name : "-") << "\n";
    run = {p.init, p.next};
    if (p.eval)
      run.push_back(p.eval);
  } else if (program.main) {
    os << "main " << program.main->name << "\n";
    run = {program.main};
  } else {
    os << "none\n";
  }

  for (const lower::Plan &plan : plans) {
    if (std::find(run.begin(), run.end(), plan.computation) == run.end())
      continue;
    const std::string &name = plan.computation->name;
    os << "computation " << name << " "
       << llvm::format_hex_no_prefix(plan.fingerprint, 16) << "\n";
    std::vector<const Node *> serverInputs, clientInputs;
    for (const Node *in : plan.inputs) {
      bool clients = in->kind == Node::Kind::ClientInput;
      (clients ? clientInputs : serverInputs).push_back(in);
      os << "input " << (clients ? "clients " : "server ") << in->name << " "
         << layoutOf(in->type) << "\n";
    }
    std::vector<const Node *> aggregated; // results of earlier stages
    for (size_t k = 0; k <= plan.stages.size(); ++k) {
      llvm::Function *server =
          newStage("fedrt_plan_" + name + "_server" + std::to_string(k));
      StageEmitter s(*this, plan, server);
      for (const Node *in : serverInputs)
        s.bind(in, in->type);
      for (const Node *a : aggregated)
        s.bind(a, a->type);
      if (k == plan.stages.size()) {
        os << "update " << index(server) << "\n";
        for (const Node *r : plan.results) {
          if (r->atClients)
            throw Unsupported{plan.computation->decl->range(),
                              "returning a value placed at CLIENTS from a "
                              "computation the runtime runs"};
          s.write(r, r->type);
          os << "result " << layoutOf(r->type) << "\n";
        }
        s.finish();
        break;
      }
      const lower::Stage &stage = plan.stages[k];
      for (const Node *bc : stage.broadcasts)
        s.write(bc->inputs[0], bc->type);
      for (const Node *a : stage.aggregations)
        if (a->intrinsic == sema::Intrinsic::Aggregate)
          s.write(a->inputs[1], a->inputs[1]->type);
      s.finish();

      llvm::Function *client =
          newStage("fedrt_plan_" + name + "_client" + std::to_string(k));
      StageEmitter c(*this, plan, client);
      for (const Node *bc : stage.broadcasts)
        c.bind(bc, bc->type);
      for (const Node *in : clientInputs) {
        if (hasDynamicDim(in->type)) {
          SourceRange where = plan.computation->decl->range();
          for (const sema::Local *param : plan.computation->params)
            if (param->name == in->name)
              where = param->range;
          throw Unsupported{where,
                            "client data whose record has a '?' dimension (" +
                                layoutOf(in->type) + ")"};
        }
        c.bind(in, in->type);
      }
      os << "stage " << index(server) << " " << index(client) << "\n";
      for (const Node *bc : stage.broadcasts)
        os << "broadcast " << layoutOf(bc->type) << "\n";
      for (const Node *a : stage.aggregations) {
        os << "aggregate " << aggregateKind(*a);
        const auto &call = cast<sema::IntrinsicCallExpr>(*a->expr);
        if (a->intrinsic == sema::Intrinsic::SecureSum)
          os << " " << call.bitwidth;
        if (a->intrinsic == sema::Intrinsic::Aggregate)
          os << " " << entryOf(*call.args[2]) << " " << entryOf(*call.args[3])
             << " " << entryOf(*call.args[4]);
        os << "\n";
        c.write(a->inputs[0], a->inputs[0]->type);
        os << "value " << layoutOf(a->inputs[0]->type) << "\n";
        if (a->intrinsic == sema::Intrinsic::Mean && a->inputs.size() > 1)
          c.write(a->inputs[1], a->inputs[1]->type);
        if (a->intrinsic == sema::Intrinsic::Aggregate)
          os << "accumulator " << layoutOf(a->inputs[1]->type) << "\n";
        os << "result " << layoutOf(a->type) << "\n";
        aggregated.push_back(a);
      }
      c.finish();
    }
    os << "end\n";
  }

  auto *textInit = llvm::ConstantDataArray::getString(context, os.str());
  new llvm::GlobalVariable(*module, textInit->getType(), true,
                           llvm::GlobalValue::ExternalLinkage, textInit,
                           "fedrt_plan_text");
  auto *tableType = llvm::ArrayType::get(ptr, table.size());
  new llvm::GlobalVariable(
      *module, tableType, true, llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantArray::get(tableType, table), "fedrt_plan_functions");
  new llvm::GlobalVariable(
      *module, llvm::Type::getInt64Ty(context), true,
      llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantInt::get(llvm::Type::getInt64Ty(context), table.size()),
      "fedrt_plan_function_count");
}

} // namespace fedc::codegen
