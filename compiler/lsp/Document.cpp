#include "lsp/Document.h"

#include "basic/DiagnosticEngine.h"
#include "lower/Plan.h"
#include "lsp/DiagnosticConverter.h"
#include "lsp/Lookup.h"
#include "parse/Parser.h"
#include "sema/Sema.h"

#include <llvm/Support/Casting.h>

namespace fedc::lsp {

using llvm::dyn_cast;
using llvm::dyn_cast_or_null;

namespace {

// CompletionItemKind values.
constexpr int kFunctionKind = 3, kModuleKind = 9, kConstantKind = 21,
              kStructKind = 22;

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

// The identifier around byte `offset` of `text` (empty if none).
std::string_view wordAt(std::string_view text, uint32_t offset) {
  uint32_t begin = offset, end = offset;
  while (begin > 0 && isNameChar(text[begin - 1]))
    --begin;
  while (end < text.size() && isNameChar(text[end]))
    ++end;
  return text.substr(begin, end - begin);
}

std::vector<DeclaredName> declaredNames(const sema::Program &program) {
  std::vector<DeclaredName> names;
  for (const auto &module : program.modules)
    for (const ast::DeclPtr &d : module->decls) {
      if (const auto *fn = dyn_cast<ast::FnDecl>(d.get()))
        names.push_back({fn->name.name, kFunctionKind,
                         fn->isFederated ? "federated fn" : "fn"});
      else if (const auto *s = dyn_cast<ast::StructDecl>(d.get()))
        names.push_back({s->name.name, kStructKind, "struct"});
      else if (const auto *c = dyn_cast<ast::ConstDecl>(d.get()))
        names.push_back({c->name.name, kConstantKind, "const"});
      else if (const auto *p = dyn_cast<ast::ProcessDecl>(d.get()))
        names.push_back({p->name.name, kModuleKind, "process"});
    }
  return names;
}

// A module-level declaration named `name`: its name's range.
SourceRange declarationNamed(const sema::Program &program,
                             std::string_view name) {
  for (const auto &module : program.modules)
    for (const ast::DeclPtr &d : module->decls) {
      const ast::Ident *id = nullptr;
      if (const auto *fn = dyn_cast<ast::FnDecl>(d.get()))
        id = &fn->name;
      else if (const auto *s = dyn_cast<ast::StructDecl>(d.get()))
        id = &s->name;
      else if (const auto *c = dyn_cast<ast::ConstDecl>(d.get()))
        id = &c->name;
      else if (const auto *p = dyn_cast<ast::ProcessDecl>(d.get()))
        id = &p->name;
      if (id && id->name == name)
        return id->range;
    }
  return {};
}

// The hover text of what was found: a declaration or a typed expression.
std::string hoverText(const Found &found) {
  if (found.local)
    return describeLocal(*found.local);
  const sema::Expr &e = *found.expr;
  if (const auto *ref = dyn_cast<sema::RefExpr>(&e)) {
    if (ref->local)
      return describeLocal(*ref->local);
    if (ref->constant)
      return "const " + ref->constant->name + ": " + formatType(e.type);
    if (ref->function)
      return describeFunction(*ref->function);
  }
  if (const auto *call = dyn_cast<sema::CallExpr>(&e); call && call->callee)
    return describeFunction(*call->callee) +
           "\n// result: " + formatType(e.type);
  if (const auto *call = dyn_cast<sema::IntrinsicCallExpr>(&e))
    return std::string(intrinsicName(call->intrinsic)) +
           "(...): " + formatType(e.type);
  if (const auto *call = dyn_cast<sema::BuiltinCallExpr>(&e))
    return std::string(builtinName(call->builtin)) +
           "(...): " + formatType(e.type);
  return formatType(e.type);
}

// What a placed type means, in words ("" for an unplaced one).
std::string placementText(const sema::Type *t) {
  const auto *placed = dyn_cast_or_null<sema::PlacedType>(t);
  if (!placed)
    return "";
  if (placed->placement == ast::Placement::Server)
    return "Placed at SERVER: one value, at the server.";
  return placed->allEqual
             ? "Placed at CLIENTS: one value, equal at every client."
             : "Placed at CLIENTS: one value per client (they may differ).";
}

} // namespace

Document::Document(std::string uri, std::string text, int64_t version,
                   Encoding encoding, const AnalysisOptions &options)
    : uri_(std::move(uri)), version_(version), encoding_(encoding),
      sm_(std::make_unique<SourceManager>()) {
  file_ = sm_->addBuffer(uriToPath(uri_), std::move(text));
  locations_ = std::make_unique<LocationMapper>(*sm_, file_, uri_, encoding);
  analyze(options);
}

Document::~Document() = default;

std::string_view Document::text() const { return sm_->text(file_); }

void Document::analyze(const AnalysisOptions &options) {
  LspDiagnosticConsumer consumer(*locations_);
  DiagnosticEngine diags(consumer);
  diags.setErrorLimit(options.errorLimit);
  if (text().size() > SourceManager::kMaxBufferSize) {
    diags.report(SourceLoc(), DiagId::CannotOpenFile)
        .arg(std::string(sm_->filename(file_)))
        .arg("file is larger than 16 MiB");
    diagnostics_ = consumer.diagnostics();
    return;
  }
  ParseOptions parse;
  parse.maxLexicalErrors = options.errorLimit;
  std::unique_ptr<ast::Module> module = parseModule(*sm_, file_, diags, parse);
  if (module) {
    SemaOptions sema;
    sema.includePaths = options.includePaths;
    sema.stdlibPaths = options.stdlibPaths;
    sema.parse = parse;
    sema.keepProgramOnErrors = true;
    program_ = fedc::analyze(std::move(module), *sm_, diags, sema);
    // Planning reports what sema cannot see; it needs a program without
    // errors (its output is not needed here).
    if (program_ && !diags.hasErrors())
      lower::lowerProgram(*program_, diags);
    if (program_)
      names_ = declaredNames(*program_);
  }
  diagnostics_ = consumer.diagnostics();
}

void Document::inheritNames(const Document &previous) {
  if (!program_)
    names_ = previous.names_;
}

nlohmann::json Document::hover(Position p) const {
  if (!program_)
    return nullptr;
  SourceLoc loc = locations_->locAt(p);
  Found found = findAt(*program_, loc);
  if (!found && loc.raw() > sm_->startOf(file_).raw())
    found = findAt(*program_, SourceLoc::fromRaw(loc.raw() - 1)); // word end
  if (!found || (found.expr && !found.expr->type))
    return nullptr;
  std::string text = hoverText(found);
  if (found.function && found.function->name.find('<') != std::string::npos)
    text += "\n// in " + found.function->name;
  std::string value = "```fed\n" + text + "\n```";
  std::string placement =
      placementText(found.local ? found.local->type : found.expr->type);
  if (!placement.empty())
    value += "\n\n" + placement;
  return {{"contents", {{"kind", "markdown"}, {"value", value}}},
          {"range", locations_->range(found.range)}};
}

nlohmann::json Document::definition(Position p) const {
  if (!program_)
    return nullptr;
  SourceLoc loc = locations_->locAt(p);
  Found found = findAt(*program_, loc);
  if (!found && loc.raw() > sm_->startOf(file_).raw())
    found = findAt(*program_, SourceLoc::fromRaw(loc.raw() - 1)); // word end
  SourceRange target = declarationOf(found);
  if (!target.isValid()) {
    // Names sema leaves untyped: types, process entries, declarations.
    std::string_view word = wordAt(text(), sm_->offsetOf(loc));
    if (!word.empty())
      target = declarationNamed(*program_, word);
  }
  if (!target.isValid())
    return nullptr;
  return locations_->location(target);
}

} // namespace fedc::lsp
