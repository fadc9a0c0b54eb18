// Internals of compiler/lower, one pass per file: Dataflow.cpp builds and
// schedules each federated fn's dataflow; StageFunctions.cpp synthesizes
// the stage functions of the computations the runtime runs; PlanTable.cpp
// writes plan.proto and the fingerprints; Lower.cpp sequences them.
#pragma once

#include "lower/Plan.h"

#include <map>
#include <utility>
#include <vector>

namespace fedc::lower {

// What the dataflow pass knows about the typed code behind its nodes, kept
// only while lowering (the plan itself holds no typed-AST pointers).
struct DataflowSources {
  // Constant nodes: the unplaced expression each stands for.
  std::map<const Node *, const sema::Expr *> constants;
  // The unplaced lets of federated fns (and unplaced arguments of inlined
  // federated fns), in binding order: what constants may read.
  std::vector<std::pair<const sema::Local *, Node *>> unplacedLocals;
  // Where each node came from, for the code synthesized for it.
  std::map<const Node *, SourceRange> ranges;
};

// Builds `fn`'s dataflow (federated calls inlined, unused values dropped)
// and schedules it into stages.
void buildDataflow(const sema::Function &fn, ComputationPlan &plan,
                   DataflowSources &sources);

// Synthesizes `plan`'s stage functions (its stages' serverFn/clientFn and
// its updateFn) into `out.stageFunctions`.
void synthesizeStageFunctions(ComputationPlan &plan,
                              const DataflowSources &sources,
                              sema::TypeContext &types, LoweredProgram &out);

// Writes `out.table` and `out.functionTable` for the computations the
// runtime runs, and every computation's fingerprint.
void buildPlanTable(const sema::Program &program, LoweredProgram &out);

// The member type of a placed type (tuples of placed values member-wise).
const sema::Type *unplaced(const sema::Type *t, sema::TypeContext &types);

} // namespace fedc::lower
