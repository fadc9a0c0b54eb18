// Federated lowering (lower/Plan.h): dataflow and schedule of every
// federated fn, then stage functions and the plan table for the
// computations the runtime runs.
#include "lower/Lowering.h"

namespace fedc::lower {

namespace {

// next's and eval's second parameter is the client state the runtime
// keeps; next's second result is the clients' new state, which stays at
// the clients (the stage that computes it writes it).
void markClientState(const sema::Process &process, ComputationPlan &plan) {
  const sema::Function *fn = plan.computation;
  if ((fn != process.next && fn != process.eval) || fn->params.size() != 3)
    return;
  plan.inputs[1]->role = fedrt::proto::Input::CLIENT_STATE;
  if (fn == process.next && plan.results.size() >= 2) {
    plan.clientState = plan.results[1];
    plan.results.erase(plan.results.begin() + 1);
  }
}

// `PROCESS.client_init`: client_init's value as a 1-tuple, so its entry
// point writes the slots of C like any stage function's result.
const sema::Function *clientInitFunction(sema::Program &program,
                                         LoweredProgram &out) {
  const sema::Process &p = *program.process;
  auto fn = std::make_unique<sema::Function>();
  fn->name = p.name + ".client_init";
  fn->decl = p.clientInit->decl;
  fn->checked = true;
  SourceRange range = p.clientInit->decl->range();
  fn->result = program.types.tuple({p.clientState});
  fn->body = std::make_unique<sema::BlockStmt>(range);
  std::vector<sema::ExprPtr> value;
  value.push_back(std::make_unique<sema::CallExpr>(
      p.clientState, range, p.clientInit, std::vector<sema::ExprPtr>{}));
  fn->body->body.push_back(std::make_unique<sema::ReturnStmt>(
      range, std::make_unique<sema::AggregateExpr>(
                 sema::Expr::Kind::TupleLiteral, fn->result, range,
                 std::move(value))));
  out.stageFunctions.push_back(std::move(fn));
  return out.stageFunctions.back().get();
}

} // namespace

std::unique_ptr<LoweredProgram> lowerProgram(sema::Program &program,
                                             DiagnosticEngine &diags) {
  auto out = std::make_unique<LoweredProgram>();
  std::vector<const sema::Function *> run;
  if (program.process) {
    run = {program.process->init, program.process->next};
    if (program.process->eval)
      run.push_back(program.process->eval);
  } else if (program.main) {
    run = {program.main};
  }
  for (const auto &fn : program.functions) {
    if (!fn->isFederated || !fn->body)
      continue;
    out->computations.emplace_back();
    ComputationPlan &plan = out->computations.back();
    DataflowSources sources;
    buildDataflow(*fn, plan, sources);
    if (program.process && program.process->clientState)
      markClientState(*program.process, plan);
    if (std::find(run.begin(), run.end(), fn.get()) != run.end())
      synthesizeStageFunctions(plan, sources, program.types, *out);
  }
  if (program.process && program.process->clientInit)
    out->clientInit = clientInitFunction(program, *out);
  buildPlanTable(program, *out);
  if (diags.hasErrors())
    return nullptr;
  return out;
}

} // namespace fedc::lower
