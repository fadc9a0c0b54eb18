// Federated lowering (lower/Plan.h): dataflow and schedule of every
// federated fn, then stage functions and the plan table for the
// computations the runtime runs.
#include "lower/Lowering.h"

namespace fedc::lower {

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
    if (std::find(run.begin(), run.end(), fn.get()) != run.end())
      synthesizeStageFunctions(plan, sources, program.types, *out);
  }
  buildPlanTable(program, *out);
  if (diags.hasErrors())
    return nullptr;
  return out;
}

} // namespace fedc::lower
