// The plan table (plan.proto) of the computations the runtime runs, the
// function table its indices refer to, and the fingerprints: of each
// computation, its plan with every layout spelled out plus the code of
// every function it runs (stage functions, the local fns they call,
// constants), with no source locations — so two programs interoperate
// exactly when they would compute the same thing.
#include "lower/Lowering.h"

#include "fedrt/Hash.h"
#include "sema/Sema.h"

#include <fmt/format.h>
#include <llvm/Support/Casting.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace fedc::lower {

using llvm::dyn_cast;
namespace proto = fedrt::proto;

fedrt::TypeDesc layoutOf(const sema::Type *t) {
  using fedrt::TypeDesc;
  if (const auto *p = dyn_cast<sema::PlacedType>(t))
    return layoutOf(p->member);
  TypeDesc d;
  if (const auto *tensor = dyn_cast<sema::TensorType>(t)) {
    d = TypeDesc::tensor(tensor->element, tensor->dims);
  } else if (const auto *st = dyn_cast<sema::StructType>(t)) {
    d.kind = TypeDesc::Kind::Struct;
    d.name = st->name;
    for (const sema::Field &f : st->fields) {
      d.fields.push_back(f.name);
      d.children.push_back(layoutOf(f.type));
    }
  } else if (const auto *tuple = dyn_cast<sema::TupleType>(t)) {
    d.kind = TypeDesc::Kind::Tuple;
    for (const sema::Type *e : tuple->elements)
      d.children.push_back(layoutOf(e));
  } else if (const auto *seq = dyn_cast<sema::SeqType>(t)) {
    d.kind = TypeDesc::Kind::Seq;
    d.children.push_back(layoutOf(seq->element));
  }
  return d;
}

namespace {

void setType(proto::Type *out, const sema::Type *t) {
  layoutOf(t).toProto(*out);
}

// Every function the given roots run, callees included, and the
// constants they read, in a fixed order.
class FunctionCollector {
public:
  std::vector<const sema::Function *> functions;
  std::vector<const sema::Constant *> constants;

  void function(const sema::Function *fn) {
    if (!fn || !seen_.insert(fn).second)
      return;
    functions.push_back(fn);
    if (fn->body)
      block(*fn->body);
  }

private:
  void block(const sema::BlockStmt &b) {
    for (const sema::StmtPtr &s : b.body)
      stmt(*s);
  }
  void stmt(const sema::Stmt &s) {
    using K = sema::Stmt::Kind;
    switch (s.kind()) {
    case K::Let:
      expr(*llvm::cast<sema::LetStmt>(s).init);
      break;
    case K::Assign:
      expr(*llvm::cast<sema::AssignStmt>(s).target);
      expr(*llvm::cast<sema::AssignStmt>(s).value);
      break;
    case K::If: {
      const auto &i = llvm::cast<sema::IfStmt>(s);
      for (const auto &[c, body] : i.branches) {
        expr(*c);
        block(*body);
      }
      if (i.elseBody)
        block(*i.elseBody);
      break;
    }
    case K::ForRange: {
      const auto &f = llvm::cast<sema::ForRangeStmt>(s);
      expr(*f.lo);
      expr(*f.hi);
      block(*f.body);
      break;
    }
    case K::ForEach: {
      const auto &f = llvm::cast<sema::ForEachStmt>(s);
      expr(*f.iterable);
      block(*f.body);
      break;
    }
    case K::While: {
      const auto &w = llvm::cast<sema::WhileStmt>(s);
      expr(*w.condition);
      block(*w.body);
      break;
    }
    case K::Return:
      if (const auto &v = llvm::cast<sema::ReturnStmt>(s).value)
        expr(*v);
      break;
    case K::Block:
      block(llvm::cast<sema::BlockStmt>(s));
      break;
    case K::Expr:
      expr(*llvm::cast<sema::ExprStmt>(s).expr);
      break;
    }
  }
  void expr(const sema::Expr &e) {
    using K = sema::Expr::Kind;
    switch (e.kind()) {
    case K::Call: {
      const auto &c = llvm::cast<sema::CallExpr>(e);
      function(c.callee);
      for (const sema::ExprPtr &a : c.args)
        expr(*a);
      break;
    }
    case K::ConstRef:
      if (const sema::Constant *c = llvm::cast<sema::RefExpr>(e).constant;
          c && seenConstants_.insert(c).second) {
        constants.push_back(c);
        if (c->value)
          expr(*c->value);
      }
      break;
    case K::Unary:
      expr(*llvm::cast<sema::UnaryExpr>(e).operand);
      break;
    case K::Binary:
      expr(*llvm::cast<sema::BinaryExpr>(e).lhs);
      expr(*llvm::cast<sema::BinaryExpr>(e).rhs);
      break;
    case K::BuiltinCall:
      for (const sema::ExprPtr &a : llvm::cast<sema::BuiltinCallExpr>(e).args)
        expr(*a);
      break;
    case K::Cast:
      expr(*llvm::cast<sema::CastExpr>(e).operand);
      break;
    case K::Index:
      expr(*llvm::cast<sema::IndexExpr>(e).base);
      for (const sema::ExprPtr &x : llvm::cast<sema::IndexExpr>(e).indices)
        expr(*x);
      break;
    case K::Member:
      expr(*llvm::cast<sema::MemberExpr>(e).base);
      break;
    case K::StructLiteral:
    case K::TupleLiteral:
      for (const sema::ExprPtr &x : llvm::cast<sema::AggregateExpr>(e).elements)
        expr(*x);
      break;
    default:
      break;
    }
  }

  std::set<const sema::Function *> seen_;
  std::set<const sema::Constant *> seenConstants_;
};

class TableBuilder {
public:
  TableBuilder(LoweredProgram &out) : out_(out) {}

  int index(const sema::Function *fn) {
    auto it =
        std::find(out_.functionTable.begin(), out_.functionTable.end(), fn);
    if (it != out_.functionTable.end())
      return static_cast<int>(it - out_.functionTable.begin());
    out_.functionTable.push_back(fn);
    out_.table.add_functions("fedrt_entry_" + fn->name);
    return static_cast<int>(out_.functionTable.size() - 1);
  }

  void computation(const ComputationPlan &plan, proto::Computation &c) {
    c.set_name(plan.computation->name);
    for (const Node *in : plan.inputs) {
      proto::Input *i = c.add_inputs();
      i->set_name(in->name);
      i->set_at_clients(in->kind == Node::Kind::ClientInput);
      i->set_role(in->role);
      setType(i->mutable_type(), in->type);
    }
    for (const Stage &s : plan.stages) {
      proto::Stage *st = c.add_stages();
      st->set_server_fn(index(s.serverFn));
      st->set_client_fn(index(s.clientFn));
      for (const Node *bc : s.broadcasts)
        setType(st->add_broadcasts(), bc->type);
      for (const Node *a : s.aggregations)
        aggregation(*a, *st->add_aggregations());
      st->set_writes_client_state(s.writesClientState);
    }
    c.set_update_fn(index(plan.updateFn));
    for (const Node *r : plan.results)
      setType(c.add_results(), r->type);
  }

private:
  void aggregation(const Node &a, proto::Aggregation &out) {
    out.set_kind(a.aggregation);
    out.set_bitwidth(a.bitwidth);
    if (a.aggregation == proto::DP_MEAN) {
      proto::DpMean &dp = *out.mutable_dp();
      dp.set_clip(a.dp.clip);
      dp.set_noise_multiplier(a.dp.noiseMultiplier);
      dp.set_adaptive(a.dp.adaptive);
      dp.set_target_quantile(a.dp.targetQuantile);
      dp.set_clip_learning_rate(a.dp.clipLearningRate);
      dp.set_clipped_count_stddev(a.dp.clippedCountStddev);
      dp.set_max_weight(a.dp.maxWeight);
    }
    if (a.aggregation == proto::SECURE_MEAN) {
      out.mutable_secure_mean()->set_range(a.secureRange);
      out.mutable_secure_mean()->set_weighted(a.weighted);
    }
    if (a.aggregation == proto::CUSTOM) {
      out.set_accumulate_fn(index(a.accumulate));
      out.set_merge_fn(index(a.merge));
      out.set_report_fn(index(a.function));
      setType(out.mutable_accumulator(), a.inputs[1]->type);
    }
    setType(out.mutable_value(), a.inputs[0]->type);
    setType(out.mutable_result(), a.type);
  }

  LoweredProgram &out_;
};

// The functions and constants `collect` reached, as location-free typed
// text.
std::string printed(const FunctionCollector &collect) {
  std::ostringstream text;
  for (const sema::Function *fn : collect.functions)
    printFunction(*fn, nullptr, text);
  for (const sema::Constant *c : collect.constants)
    printConstant(*c, nullptr, text);
  return text.str();
}

// The code a computation runs, as location-free typed text.
std::string codeOf(const ComputationPlan &plan) {
  FunctionCollector collect;
  for (const Stage &s : plan.stages) {
    collect.function(s.serverFn);
    collect.function(s.clientFn);
    for (const Node *a : s.aggregations) {
      collect.function(a->accumulate);
      collect.function(a->merge);
      collect.function(a->function);
    }
  }
  collect.function(plan.updateFn);
  return printed(collect);
}

// The dataflow as text: what the --emit=plan dump shows, every layout
// spelled out.
std::string dataflowOf(const ComputationPlan &plan) {
  std::string text;
  for (const auto &n : plan.nodes) {
    text += std::to_string(static_cast<int>(n->kind)) + " " +
            std::to_string(n->level) + " " + layoutOf(n->type).str() + " " +
            (n->function ? n->function->name : "") + " " +
            std::to_string(static_cast<int>(n->aggregation)) + " " +
            std::to_string(n->bitwidth) + " " + std::to_string(n->index) + " " +
            std::to_string(static_cast<int>(n->role));
    if (n->aggregation == fedrt::proto::DP_MEAN)
      text += fmt::format(" dp {} {} {} {} {} {} {}", n->dp.clip,
                          n->dp.noiseMultiplier, n->dp.adaptive,
                          n->dp.targetQuantile, n->dp.clipLearningRate,
                          n->dp.clippedCountStddev, n->dp.maxWeight);
    if (n->aggregation == fedrt::proto::SECURE_MEAN)
      text += fmt::format(" secure_mean {} {}", n->secureRange, n->weighted);
    for (const Node *in : n->inputs)
      text += " %" + std::to_string(in->id);
    text += "\n";
  }
  for (const Stage &s : plan.stages)
    text += "stage " + std::to_string(s.broadcasts.size()) + " " +
            std::to_string(s.aggregations.size()) + " " +
            std::to_string(s.writesClientState) + "\n";
  return text;
}

} // namespace

void buildPlanTable(const sema::Program &program, LoweredProgram &out) {
  out.table.set_version(proto::PLAN_VERSION_CURRENT);
  std::vector<const sema::Function *> run;
  if (program.process) {
    const sema::Process &p = *program.process;
    proto::Process *pr = out.table.mutable_process();
    pr->set_name(p.name);
    pr->set_init(p.init->name);
    pr->set_next(p.next->name);
    if (p.eval)
      pr->set_eval(p.eval->name);
    run = {p.init, p.next};
    if (p.eval)
      run.push_back(p.eval);
  } else if (program.main) {
    out.table.set_main(program.main->name);
    run = {program.main};
  }
  TableBuilder tables(out);
  uint64_t programHash = fedrt::kFnvOffset;
  if (program.process && program.process->clientInit) {
    const sema::Process &p = *program.process;
    proto::Process *pr = out.table.mutable_process();
    setType(pr->mutable_client_state(), p.clientState);
    pr->set_client_init_fn(tables.index(out.clientInit));
    // Its code is part of the program: another first state, another run.
    FunctionCollector collect;
    collect.function(out.clientInit);
    programHash = fedrt::fnv1a(printed(collect), programHash);
  }
  for (ComputationPlan &plan : out.computations) {
    std::string body = dataflowOf(plan);
    if (plan.updateFn)
      body += codeOf(plan);
    plan.fingerprint = fedrt::fnv1a(body);
    if (std::find(run.begin(), run.end(), plan.computation) == run.end())
      continue;
    proto::Computation *c = out.table.add_computations();
    tables.computation(plan, *c);
    c->set_fingerprint(plan.fingerprint);
    programHash =
        fedrt::fnv1a(&plan.fingerprint, sizeof plan.fingerprint, programHash);
  }
  out.table.set_fingerprint(programHash);
}

} // namespace fedc::lower
