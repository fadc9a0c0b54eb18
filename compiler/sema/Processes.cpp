// `process` blocks against TFF's IterativeProcess signatures, and the
// one-shot `federated fn main` of federated analytics.
#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

namespace fedc::sema {

using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

// The member of `t` if it is placed at SERVER, else null.
const Type *atServer(const Type *t) {
  const auto *p = dyn_cast<PlacedType>(t);
  return p && p->placement == Placement::Server ? p->member : nullptr;
}

// A server value, or a tuple of server values (what main may return).
bool allAtServer(const Type *t) {
  if (const auto *tuple = dyn_cast<TupleType>(t)) {
    for (const Type *e : tuple->elements)
      if (!atServer(e))
        return false;
    return !tuple->elements.empty();
  }
  return atServer(t) != nullptr;
}

bool isClientData(const Type *t) {
  const auto *p = dyn_cast<PlacedType>(t);
  return p && p->placement == Placement::Clients && !p->allEqual;
}

} // namespace

void Checker::requireStaticComputation(const Function &fn) {
  std::string what = "running '" + fn.name + "'";
  // (A seq's records are checked where the seq type is written.)
  for (const Local *param : fn.params)
    if (const auto *p = dyn_cast<PlacedType>(param->type);
        p && !isa<SeqType>(p->member))
      requireStaticShape(param->range, p->member, what);
  std::vector<const Type *> results{fn.result};
  if (const auto *tuple = dyn_cast<TupleType>(fn.result))
    results = tuple->elements;
  SourceRange where =
      fn.decl->result ? fn.decl->result->range() : fn.decl->name.range;
  for (const Type *r : results)
    if (const auto *p = dyn_cast<PlacedType>(r))
      requireStaticShape(where, p->member, what);
}

const Function *Checker::processEntry(const ast::ProcessDecl &p,
                                      const ast::ProcessEntry &entry) {
  const GlobalSymbol *g = lookupGlobal(entry.value.name);
  if (!g) {
    diags_.report(entry.value.range, DiagId::UnknownName)
        .arg(entry.value.name)
        .arg(globalSuggestion(entry.value.name));
    return nullptr;
  }
  const auto *decl =
      g->kind == GlobalSymbol::Kind::Fn ? cast<ast::FnDecl>(g->decl) : nullptr;
  if (!decl || !decl->isFederated) {
    diags_.report(entry.value.range, DiagId::ProcessEntryNotFederated)
        .arg(entry.key.name)
        .arg(entry.value.name)
        .arg(decl ? "a local fn" : "not a function");
    return nullptr;
  }
  const Function *fn = instance(*decl, {}, entry.value.range);
  return fn->hasErrors ? nullptr : fn;
}

void Checker::checkProcesses() {
  checkMain();
  for (size_t k = 0; k < processDecls_.size(); ++k) {
    const ast::ProcessDecl &p = *processDecls_[k];
    if (k > 0)
      diags_.report(p.name.range, DiagId::MultipleProcesses).arg(p.name.name);
    else
      checkProcess(p);
  }
}

void Checker::checkMain() {
  const GlobalSymbol *mainSymbol = lookupGlobal("main");
  const ast::FnDecl *mainDecl =
      mainSymbol && mainSymbol->kind == GlobalSymbol::Kind::Fn
          ? cast<ast::FnDecl>(mainSymbol->decl)
          : nullptr;
  if (mainDecl && mainDecl->isFederated) {
    const Function *fn = instance(*mainDecl, {}, mainDecl->name.range);
    if (!processDecls_.empty())
      diags_.report(mainDecl->name.range, DiagId::ProcessAndMain);
    for (const Local *param : fn->params)
      if (!param->type->isError() && !isClientData(param->type))
        diags_.report(param->range, DiagId::MainSignature)
            .arg("takes client data ({T}@CLIENTS), but '" + param->name +
                 "' is " + formatType(param->type));
    if (!fn->result->isError() && !allAtServer(fn->result))
      diags_.report(mainDecl->name.range, DiagId::MainSignature)
          .arg("must return a value placed at SERVER (or a tuple of them), "
               "found " +
               formatType(fn->result));
    requireStaticComputation(*fn);
    program_.main = fn;
  }
}

Checker::ProcessEntries Checker::processEntries(const ast::ProcessDecl &p) {
  ProcessEntries entries;
  for (const ast::ProcessEntry &e : p.entries) {
    const std::string &key = e.key.name;
    const ast::ProcessEntry **slot = key == "init"   ? &entries.init
                                     : key == "next" ? &entries.next
                                     : key == "eval" ? &entries.eval
                                     : key == "client_init"
                                         ? &entries.clientInit
                                         : nullptr;
    if (!slot) {
      diags_.report(e.key.range, DiagId::ProcessEntryUnknown).arg(e.key.name);
    } else if (*slot) {
      diags_.report(e.key.range, DiagId::ProcessEntryDuplicate).arg(e.key.name);
      diags_.report((*slot)->key.range, DiagId::NotePreviousDefinition)
          .arg(e.key.name);
    } else {
      *slot = &e;
    }
  }
  for (auto [entry, key] :
       {std::pair{entries.init, "init"}, std::pair{entries.next, "next"}})
    if (!entry)
      diags_.report(p.name.range, DiagId::ProcessEntryMissing)
          .arg(p.name.name)
          .arg(key);
  return entries;
}

namespace {

void reportSignature(DiagnosticEngine &diags, const ast::ProcessEntry &e,
                     const char *role, const std::string &why) {
  diags.report(e.value.range, DiagId::ProcessSignature)
      .arg(e.value.name)
      .arg(role)
      .arg(why);
}

} // namespace

void Checker::checkProcessInit(const ast::ProcessDecl &p,
                               const ast::ProcessEntry &e, Process &process) {
  const Function *fn = processEntry(p, e);
  if (!fn)
    return;
  process.init = fn;
  process.state = atServer(fn->result);
  if (!fn->params.empty() || !process.state) {
    reportSignature(
        diags_, e, "init",
        "init takes no arguments and returns the state S@SERVER; it is " +
            formatType(fn->result == nullptr ? types_.error() : fn->result) +
            (fn->params.empty() ? "" : " with arguments"));
    process.state = nullptr;
  }
}

bool Checker::checkProcessInputs(const ast::ProcessEntry &e, const Function &fn,
                                 const char *role, const Process &process) {
  size_t n = fn.params.size();
  bool withClientState = n == 3 && isClientData(fn.params[1]->type);
  if ((n != 2 && !withClientState) || !atServer(fn.params[0]->type) ||
      !isClientData(fn.params[n - 1]->type)) {
    reportSignature(diags_, e, role,
                    std::string(role) +
                        " takes the state S@SERVER and client data "
                        "{D}@CLIENTS, or (S@SERVER, {C}@CLIENTS, "
                        "{D}@CLIENTS) with client state C");
    return false;
  }
  if (process.state && atServer(fn.params[0]->type) != process.state) {
    reportSignature(
        diags_, e, role,
        "its state is " + formatType(fn.params[0]->type) +
            " but init returns " +
            formatType(types_.placed(process.state, Placement::Server, true)));
    return false;
  }
  if (!withClientState)
    return true;
  const Type *c = cast<PlacedType>(fn.params[1]->type)->member;
  if (!process.clientInit) {
    reportSignature(diags_, e, role,
                    "it takes client state " + formatType(fn.params[1]->type) +
                        ", but the process has no client_init giving each "
                        "client its first state");
    return false;
  }
  if (process.clientState && c != process.clientState) {
    reportSignature(diags_, e, role,
                    "its client state is " + formatType(fn.params[1]->type) +
                        " but client_init returns " +
                        formatType(process.clientState));
    return false;
  }
  return true;
}

void Checker::checkProcessNext(const ast::ProcessDecl &p,
                               const ast::ProcessEntry &e, Process &process) {
  const Function *fn = processEntry(p, e);
  if (!fn || !checkProcessInputs(e, *fn, "next", process))
    return;
  // With client state: (S@SERVER, {C}@CLIENTS[, M@SERVER]).
  bool clientState = fn->params.size() == 3;
  const Type *r = fn->result;
  const auto *tuple = dyn_cast<TupleType>(r);
  const Type *newState = clientState ? nullptr : atServer(r);
  const Type *metrics = nullptr;
  bool ok = true;
  size_t extra = clientState ? 1 : 0;
  if (!newState && tuple && tuple->elements.size() >= 1 + extra &&
      tuple->elements.size() <= 2 + extra) {
    newState = atServer(tuple->elements[0]);
    if (clientState)
      ok = tuple->elements[1] == fn->params[1]->type;
    if (tuple->elements.size() == 2 + extra) {
      metrics = atServer(tuple->elements.back());
      ok = ok && metrics && isa<StructType>(metrics);
    } else {
      ok = ok && (clientState || !tuple);
    }
  }
  if (!ok || !newState || (process.state && newState != process.state)) {
    reportSignature(
        diags_, e, "next",
        clientState
            ? "next with client state returns (S@SERVER, {C}@CLIENTS) or "
              "(S@SERVER, {C}@CLIENTS, M@SERVER) with the state, the "
              "clients' new state " +
                  formatType(fn->params[1]->type) +
                  " and a metrics struct M; it returns " + formatType(r)
            : "next returns the new state S@SERVER, or (S@SERVER, "
              "M@SERVER) with a metrics struct M; it returns " +
                  formatType(r));
    return;
  }
  process.next = fn;
  process.metrics = metrics;
  if (metrics)
    checkMetricNames(*cast<StructType>(metrics));
}

// next's metrics share each round's JSON line with the runtime's own keys
// (docs/runtime.md, "Metrics"): a field of the same name would write the
// key twice.
void Checker::checkMetricNames(const StructType &metrics) {
  static const char *const kKeys[] = {"round",  "clients",  "dropped",
                                      "failed", "bytes_up", "bytes_down",
                                      "wall_ms"};
  static const std::pair<const char *, const char *> kPrefixes[] = {
      {"eval_", "eval's metrics"},
      {"dp_", "differential privacy's"},
      {"secagg_", "secure aggregation's"}};
  if (!metrics.decl)
    return;
  for (const ast::FieldDecl &f : metrics.decl->fields) {
    const std::string &name = f.name.name;
    std::string why;
    for (const char *key : kKeys)
      if (name == key)
        why = "round, clients, dropped, failed, bytes_up, bytes_down, wall_ms";
    for (auto [prefix, owner] : kPrefixes)
      if (name.rfind(prefix, 0) == 0)
        why = std::string("the prefix ") + prefix + " is " + owner;
    if (!why.empty())
      diags_.report(f.name.range, DiagId::MetricNameReserved)
          .arg(name)
          .arg(metrics.name)
          .arg(why);
  }
}

void Checker::checkProcessClientInit(const ast::ProcessEntry &e,
                                     Process &process) {
  const GlobalSymbol *g = lookupGlobal(e.value.name);
  if (!g) {
    diags_.report(e.value.range, DiagId::UnknownName)
        .arg(e.value.name)
        .arg(globalSuggestion(e.value.name));
    return;
  }
  const auto *decl =
      g->kind == GlobalSymbol::Kind::Fn ? cast<ast::FnDecl>(g->decl) : nullptr;
  const Function *fn =
      decl && !decl->isFederated ? instance(*decl, {}, e.value.range) : nullptr;
  if (fn && fn->hasErrors)
    return;
  if (!fn || !fn->params.empty() || isa<PlacedType>(fn->result) ||
      fn->result->isError()) {
    reportSignature(
        diags_, e, "client_init",
        "client_init is a local fn () -> C giving each client its "
        "first state C; '" +
            e.value.name + "' is " +
            (!decl ? std::string("not a function")
             : decl->isFederated
                 ? std::string("a federated fn")
                 : "a local fn returning " + formatType(fn->result) +
                       (fn->params.empty() ? "" : " from arguments")));
    return;
  }
  if (!requireStaticShape(e.value.range, fn->result, "a client's state"))
    return;
  process.clientInit = fn;
  process.clientState = fn->result;
}

void Checker::checkProcessEval(const ast::ProcessDecl &p,
                               const ast::ProcessEntry &e, Process &process) {
  const Function *fn = processEntry(p, e);
  if (!fn || !checkProcessInputs(e, *fn, "eval", process))
    return;
  const Type *m = atServer(fn->result);
  if (!m || !isa<StructType>(m)) {
    reportSignature(diags_, e, "eval",
                    "eval returns a metrics struct M@SERVER; it returns " +
                        formatType(fn->result));
    return;
  }
  process.eval = fn;
}

void Checker::checkProcess(const ast::ProcessDecl &p) {
  ProcessEntries entries = processEntries(p);
  Process process;
  process.name = p.name.name;
  process.range = p.range();
  if (entries.clientInit)
    checkProcessClientInit(*entries.clientInit, process);
  if (entries.init)
    checkProcessInit(p, *entries.init, process);
  if (entries.next)
    checkProcessNext(p, *entries.next, process);
  if (entries.eval)
    checkProcessEval(p, *entries.eval, process);
  if (process.clientInit && process.next && process.next->params.size() != 3)
    reportSignature(diags_, *entries.clientInit, "client_init",
                    "the process has client_init, but next '" +
                        process.next->name +
                        "' takes no client state: next is (S@SERVER, "
                        "{C}@CLIENTS, {D}@CLIENTS) -> (S@SERVER, "
                        "{C}@CLIENTS[, M@SERVER])");
  for (const Function *fn : {process.init, process.next, process.eval})
    if (fn)
      requireStaticComputation(*fn);
  program_.process = std::move(process);
}

} // namespace fedc::sema
