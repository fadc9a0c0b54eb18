// The plan: each federated computation as a dataflow of placed values
// (federated calls inlined), scheduled into stages — server prepare,
// broadcast, client work, aggregation — one per broadcast -> aggregate round
// trip, then a final server update (TFF's DistributeAggregateForm,
// generalised). The output of compiler/lower and the input of the runtime's
// executor.
#pragma once

#include "sema/TypedAST.h"

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace fedc::lower {

// One value of the dataflow.
struct Node {
  enum class Kind {
    ServerInput, // a parameter at SERVER (or unplaced)
    ClientInput, // a parameter at CLIENTS (client data)
    Constant,    // an unplaced expression, computed on the server
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
  const sema::Expr *expr = nullptr;         // the typed expression
  const sema::Function *function = nullptr; // Map/Eval; Aggregate's report
  sema::Intrinsic intrinsic = sema::Intrinsic::Value;
  int index = -1; // Select: field or element index
  int level = 0;  // aggregation round trips before it
};

struct Stage {
  int index = 0;
  std::vector<Node *> server;     // computed on the server before broadcast
  std::vector<Node *> broadcasts; // server values sent to the clients
  std::vector<Node *> clientWork; // one fused client function, in order
  std::vector<Node *> aggregations;
};

struct Plan {
  const sema::Function *computation = nullptr;
  std::vector<Node *> inputs; // in parameter order
  std::vector<Stage> stages;
  std::vector<Node *> serverUpdate; // after the last aggregation
  std::vector<Node *> results;      // the returned value(s)
  uint64_t fingerprint = 0;         // of the plan's structure and types
  // The unplaced lets (and parameters of inlined fns) of federated fns, in
  // binding order: what Constant expressions may read.
  std::vector<std::pair<const sema::Local *, Node *>> unplacedLocals;
  std::vector<std::unique_ptr<Node>> nodes;
};

// Plans for every federated fn of `program`, in definition order.
std::vector<Plan> buildPlans(const sema::Program &program);

// `fedc --emit=plan`.
void printPlans(const std::vector<Plan> &plans, std::ostream &out);

// The plan as text without its fingerprint line: what the fingerprint
// hashes, so two programs with the same plan interoperate.
std::string planBody(const Plan &plan);

} // namespace fedc::lower
