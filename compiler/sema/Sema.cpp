#include "sema/Sema.h"

#include "autodiff/Autodiff.h"

#include "sema/Checker.h"

#include <llvm/Support/Casting.h>

#include <filesystem>
#include <set>

namespace fedc {

namespace fs = std::filesystem;
using llvm::dyn_cast;

namespace {

// Loads the modules `root` imports, transitively, each once; dependencies
// come before the modules that import them.
class ModuleLoader {
public:
  ModuleLoader(SourceManager &sm, DiagnosticEngine &diags,
               const SemaOptions &options)
      : sm_(sm), diags_(diags), options_(options) {}

  void load(std::unique_ptr<ast::Module> module,
            std::vector<std::unique_ptr<ast::Module>> &out) {
    std::error_code ec;
    fs::path self = fs::weakly_canonical(module->filename, ec);
    loaded_.insert(self.string());
    std::vector<std::unique_ptr<ast::Module>> imported;
    for (const ast::DeclPtr &d : module->decls) {
      const auto *import = dyn_cast<ast::ImportDecl>(d.get());
      if (!import)
        continue;
      std::optional<fs::path> path = resolve(*import, module->filename);
      if (!path)
        continue;
      std::string key = fs::weakly_canonical(*path, ec).string();
      if (!loaded_.insert(key).second)
        continue;
      std::string error;
      FileId file = sm_.loadFile(path->string(), error);
      if (!file) {
        diags_.report(import->range(), DiagId::CannotOpenFile)
            .arg(path->string())
            .arg(error);
        continue;
      }
      if (auto m = parseModule(sm_, file, diags_, options_.parse))
        load(std::move(m), out);
    }
    out.push_back(std::move(module));
  }

private:
  std::optional<fs::path> resolve(const ast::ImportDecl &import,
                                  const std::string &from) {
    if (import.file) {
      fs::path p = fs::path(from).parent_path() / *import.file;
      if (fs::is_regular_file(p))
        return p;
      diags_.report(import.range(), DiagId::ImportNotFound)
          .arg(*import.file)
          .arg(p.string());
      return std::nullopt;
    }
    fs::path relative;
    std::string dotted;
    for (const ast::Ident &part : import.path) {
      relative /= part.name;
      dotted += (dotted.empty() ? "" : ".") + part.name;
    }
    relative += ".fed";
    std::string searched;
    std::vector<std::string> roots = options_.includePaths;
    roots.insert(roots.end(), options_.stdlibPaths.begin(),
                 options_.stdlibPaths.end());
    for (const std::string &root : roots) {
      fs::path candidate = fs::path(root) / relative;
      if (fs::is_regular_file(candidate))
        return candidate;
      searched += (searched.empty() ? "" : ", ") + candidate.string();
    }
    diags_.report(import.range(), DiagId::ImportNotFound)
        .arg(dotted)
        .arg(searched.empty() ? "no search paths" : searched);
    return std::nullopt;
  }

  SourceManager &sm_;
  DiagnosticEngine &diags_;
  const SemaOptions &options_;
  std::set<std::string> loaded_;
};

} // namespace

std::unique_ptr<sema::Program> analyze(std::unique_ptr<ast::Module> root,
                                       SourceManager &sm,
                                       DiagnosticEngine &diags,
                                       const SemaOptions &options) {
  auto program = std::make_unique<sema::Program>();
  unsigned errorsBefore = diags.errorCount();
  ModuleLoader(sm, diags, options).load(std::move(root), program->modules);

  std::vector<const ast::Module *> modules;
  for (const auto &m : program->modules)
    modules.push_back(m.get());
  sema::Checker checker(*program, sm, diags);
  diags.setContextNotes([&] { checker.emitInstantiationNotes(); });
  checker.collectDeclarations(modules);
  checker.resolveStructs(); // evaluates the constants dimensions name
  checker.evaluateConstants();
  checker.checkFunctions();
  checker.checkProcesses();
  diags.setContextNotes(nullptr);
  if (diags.errorCount() == errorsBefore)
    autodiff::synthesizeAdjoints(*program, diags);
  if (diags.errorCount() != errorsBefore && !options.keepProgramOnErrors)
    return nullptr;
  return program;
}

} // namespace fedc
