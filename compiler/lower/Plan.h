// The output of federated lowering: every federated fn as a dataflow of
// placed values (federated calls inlined), scheduled into stages — server
// prepare, broadcast, client work, aggregation — one per broadcast ->
// aggregate round trip, then a final server update (TFF's
// DistributeAggregateForm, generalised); for the computations the runtime
// runs, the stage functions that compute each part (ordinary local fns,
// synthesized here, which codegen compiles like any other) and the plan
// table (plan.proto) that tells the runtime how to run them. Codegen and
// `--emit=plan` read this one object; nothing is lowered twice.
#pragma once

#include "basic/DiagnosticEngine.h"
#include "basic/SourceManager.h"
#include "fedrt/Types.h"
#include "plan.pb.h"
#include "sema/TypedAST.h"

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace fedc::lower {

// One value of a computation's dataflow.
struct Node {
  enum class Kind {
    ServerInput, // a parameter at SERVER (or unplaced)
    ClientInput, // a parameter at CLIENTS (client data)
    Constant,    // an unplaced expression (literals, consts, local fn calls)
    Value,       // federated_value
    Broadcast,
    Map, // federated_map (at CLIENTS or SERVER)
    Zip,
    Eval,     // federated_eval
    Select,   // a field or tuple element of a placed value
    Tuple,    // a tuple of placed values
    Aggregate // sum, mean, min, max, secure sum, custom aggregate
  };
  Kind kind;
  int id = 0;
  std::string name; // the `let` (or parameter) it is bound to, if any
  const sema::Type *type = nullptr;
  bool atClients = false; // placed at CLIENTS (else SERVER or unplaced)
  std::vector<Node *> inputs;
  // Map/Eval: the local fn applied. Aggregate (custom): its report.
  const sema::Function *function = nullptr;
  // Aggregate: how; Custom also names accumulate and merge.
  fedrt::proto::AggregationKind aggregation = fedrt::proto::SUM;
  const sema::Function *accumulate = nullptr, *merge = nullptr;
  int bitwidth = 0;       // secure sum; a secure mean's bits
  double secureRange = 0; // secure mean: values clipped to ±it
  bool weighted = false;  // secure mean: inputs[1] is the weight
  sema::DpParameters dp;  // federated_dp_mean
  int index = -1;         // Select: field or element index
  // ServerInput/ClientInput: a parameter, or the run-context value the
  // runtime supplies (round_number(), client_seed()).
  fedrt::proto::Input::Role role = fedrt::proto::Input::PARAMETER;
  int level = 0; // aggregation round trips before it
};

// Whether an aggregation's clients also send a weight (a weighted mean,
// a weighted DP or secure mean): its inputs[1].
inline bool sendsWeight(const Node &n) {
  return n.aggregation == fedrt::proto::WEIGHTED_MEAN ||
         (n.aggregation == fedrt::proto::SECURE_MEAN && n.weighted) ||
         (n.aggregation == fedrt::proto::DP_MEAN && n.dp.maxWeight > 0);
}

struct Stage {
  int index = 0;
  std::vector<Node *> server;     // computed on the server before broadcast
  std::vector<Node *> broadcasts; // server values sent to the clients
  std::vector<Node *> clientWork; // one fused client function, in order
  std::vector<Node *> aggregations;
  // The client fn also returns the client's new state (after the
  // aggregations' values): ComputationPlan::clientState.
  bool writesClientState = false;
  // Of a computation the runtime runs: its stage functions.
  const sema::Function *serverFn = nullptr, *clientFn = nullptr;
};

struct ComputationPlan {
  const sema::Function *computation = nullptr; // the federated fn
  std::vector<Node *> inputs;                  // in parameter order
  std::vector<Stage> stages;
  std::vector<Node *> serverUpdate; // after the last aggregation
  std::vector<Node *> results;      // the returned value(s)
  // A process's next with client state: the clients' new state (not among
  // `results`: it stays at the clients; the client fn of stage
  // clientState->level writes it).
  Node *clientState = nullptr;
  const sema::Function *updateFn = nullptr; // if the runtime runs it
  uint64_t fingerprint = 0; // of the plan, its types and its code
  std::vector<std::unique_ptr<Node>> nodes;
};

struct LoweredProgram {
  std::vector<ComputationPlan> computations; // every federated fn, in order
  // The stage functions synthesized for the computations the runtime runs
  // (named `round.server0`, `round.client0`, ..., `round.update`).
  std::vector<std::unique_ptr<sema::Function>> stageFunctions;
  // A process with client state: `PROCESS.client_init`, client_init's
  // value as a 1-tuple (one of stageFunctions).
  const sema::Function *clientInit = nullptr;
  // What the runtime reads, and the functions its indices name (stage
  // functions and custom aggregations' local fns).
  fedrt::proto::Plan table;
  std::vector<const sema::Function *> functionTable;
};

// Lowers `program` (whose TypeContext gains the stage functions' tuple
// types). Null after reporting an error.
std::unique_ptr<LoweredProgram> lowerProgram(sema::Program &program,
                                             DiagnosticEngine &diags);

// `fedc --emit=plan`: each computation's dataflow by stage, then the stage
// functions as typed code.
void printPlan(const LoweredProgram &lowered, const SourceManager &sm,
               std::ostream &out);

// The runtime's view of a (member) type: placement dropped, structs
// spelled out (`Model{w:f32[64,10],b:f32[10]}` as fedrt::TypeDesc::str).
fedrt::TypeDesc layoutOf(const sema::Type *t);

} // namespace fedc::lower
