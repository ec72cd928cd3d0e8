// Scopes, name lookup and the declaration driver of semantic analysis.
#include "sema/Sema.h"

#include "sema/Env.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace expc {

using ast::Decl;
using ast::DeclKind;
using ast::Expr;

Sema::Sema(const ModuleSet &modules, const SourceManager &sources, DiagnosticEngine &diags)
    : modules_(modules), sources_(sources), diags_(diags) {
  for (size_t m = 0; m < modules_.modules().size(); ++m)
    if (modules_.module(int(m)).name == "std.core")
      coreModule_ = int(m);
}

Sema::~Sema() = default;

ValPtr Sema::value(const Decl &d) const {
  auto it = decls_.find(&d);
  return it == decls_.end() || !it->second.value ? makeError() : it->second.value;
}

const DatasetInfo *Sema::dataset(const Decl &d) const {
  auto it = datasets_.find(&d);
  return it == datasets_.end() ? nullptr : it->second.get();
}

bool Sema::check(const SweepPoint &point) {
  unsigned before = diags_.errorCount();
  point_ = point;
  buildScopes();
  const ast::Module &root = modules_.module(0).ast;
  for (const Decl &d : root.decls)
    decls_[&d].module = 0;
  for (const Decl &d : root.decls) {
    if (d.kind != DeclKind::Train)
      continue;
    if (train_)
      diags_.emit(diag::DuplicateTrain, d.keywordRange)
          .note(diag::PreviousDefinition, train_->nameRange, train_->name);
    else
      train_ = &d;
  }
  for (const Decl &d : root.decls)
    checkDecl(d);
  if (diags_.errorCount() == before)
    checkLeakage();
  return diags_.errorCount() == before;
}

void Sema::buildScopes() {
  scopes_.assign(modules_.modules().size(), {});
  for (size_t m = 0; m < modules_.modules().size(); ++m) {
    const LoadedModule &mod = modules_.module(int(m));
    auto &scope = scopes_[m];
    for (const Decl &d : mod.ast.decls) {
      decls_[&d].module = int(m);
      auto [it, inserted] = scope.emplace(d.name, Binding{&d, int(m), -1, {}});
      if (!inserted)
        diags_.emit(diag::Redefinition, d.nameRange, d.name)
            .note(diag::PreviousDefinition, it->second.decl->nameRange, d.name);
    }
    for (size_t k = 0; k < mod.ast.imports.size() && k < mod.targets.size(); ++k) {
      const ast::Import &imp = mod.ast.imports[k];
      int target = mod.targets[k];
      if (target < 0)
        continue;
      auto bind = [&](const std::string &name, SourceRange at, Binding b) {
        auto [it, inserted] = scope.emplace(name, b);
        if (!inserted && !(it->second.decl == b.decl && it->second.ns == b.ns)) {
          SourceRange prev = it->second.decl && it->second.module == int(m)
                                 ? it->second.decl->nameRange
                                 : it->second.where;
          diags_.emit(diag::Redefinition, at, name).note(diag::PreviousDefinition, prev, name);
        }
      };
      if (imp.names.empty()) {
        bind(imp.namespaceName(), imp.targetRange, Binding{nullptr, -1, target, imp.range});
        continue;
      }
      const ast::Module &tm = modules_.module(target).ast;
      for (size_t n = 0; n < imp.names.size(); ++n) {
        const Decl *found = nullptr;
        std::vector<std::string> names;
        for (const Decl &d : tm.decls) {
          names.push_back(d.name);
          if (d.name == imp.names[n])
            found = &d;
        }
        if (!found) {
          auto diag = diags_.emit(diag::UnknownImportName, imp.nameRanges[n], imp.dotted(),
                                  imp.names[n]);
          std::string guess = closestMatch(imp.names[n], names);
          if (!guess.empty())
            diag.help(fmt::format("did you mean `{}`?", guess)).fixit(imp.nameRanges[n], guess);
          continue;
        }
        bind(imp.names[n], imp.nameRanges[n], Binding{found, target, -1, imp.nameRanges[n]});
      }
    }
  }
}

const Decl *Sema::coreBlock(const char *name) const {
  if (coreModule_ < 0)
    return nullptr;
  for (const Decl &d : modules_.module(coreModule_).ast.decls)
    if (d.name == name)
      return &d;
  return nullptr;
}

ValPtr Sema::checkDecl(const Decl &d) {
  DeclState &st = decls_[&d];
  if (st.state == DeclState::Done)
    return st.value;
  if (st.state == DeclState::InProgress) {
    diags_.emit(diag::CyclicDefinition, d.nameRange, d.name);
    return makeError();
  }
  st.state = DeclState::InProgress;
  int module = st.module;
  ValPtr v;
  switch (d.kind) {
  case DeclKind::Network:
  case DeclKind::Extern: {
    auto c = std::make_shared<Val>();
    c->kind = VK::Callable;
    c->decl = &d;
    c->module = module;
    c->origin = d.nameRange;
    v = c;
    break;
  }
  case DeclKind::Param: v = checkParamDecl(d, module); break;
  case DeclKind::Dataset: v = checkDataset(d, module); break;
  case DeclKind::Side: v = checkSide(d, module); break;
  case DeclKind::Encoder: v = checkEncoder(d, module); break;
  case DeclKind::Objective: v = checkObjective(d, module); break;
  case DeclKind::Train: v = checkTrain(d, module); break;
  case DeclKind::Evaluate: v = checkEvaluate(d, module); break;
  case DeclKind::Sweep: v = checkSweepDecl(d, module); break;
  }
  DeclState &done = decls_[&d];
  done.state = DeclState::Done;
  done.value = v ? v : makeError();
  return done.value;
}

ValPtr Sema::lookup(const Expr &e, const Env *env, int module) {
  if (env)
    if (ValPtr v = env->find(e.text))
      return v;
  auto &scope = scopes_[module];
  auto it = scope.find(e.text);
  if (it != scope.end()) {
    const Binding &b = it->second;
    if (b.ns >= 0) {
      auto ns = std::make_shared<Val>();
      ns->kind = VK::Namespace;
      ns->module = b.ns;
      ns->origin = e.range;
      return ns;
    }
    return checkDecl(*b.decl);
  }
  auto d = diags_.emit(diag::UnknownName, e.range, e.text);
  std::string guess = closestMatch(e.text, visibleNames(env, module));
  if (!guess.empty()) {
    d.help(fmt::format("did you mean `{}`?", guess)).fixit(e.range, guess);
    if (auto g = scope.find(guess); g != scope.end() && g->second.decl && g->second.module == module)
      d.note(diag::DeclaredHere, g->second.decl->nameRange, guess);
  } else if (std::string home = stdModuleDefining(e.text); !home.empty()) {
    // Only without a nearby name: this scans the stdlib's files.
    d.help(fmt::format("`{}` is defined in `{}`; add `import {}.{{{}}}`", e.text, home, home,
                       e.text));
  }
  return makeError();
}

std::vector<std::string> Sema::visibleNames(const Env *env, int module) const {
  std::vector<std::string> names;
  for (const Env *e = env; e; e = e->parent)
    for (const auto &[n, v] : e->vars)
      names.push_back(n);
  for (const auto &[n, b] : scopes_[module])
    names.push_back(n);
  return names;
}

// Which standard-library module declares `name` (for "add an import" hints).
// Only runs on the error path, so a plain scan of the files is fine.
std::string Sema::stdModuleDefining(const std::string &name) const {
  std::regex decl("^(network|extern +[a-z_]+) +" + name + " *\\(");
  for (const std::string &mod : modules_.stdModuleNames()) {
    std::string path = stdlibDirectory();
    std::string rel = mod;
    std::replace(rel.begin(), rel.end(), '.', '/');
    std::ifstream in(path + "/" + rel + ".exp");
    std::string line;
    while (std::getline(in, line))
      if (std::regex_search(line, decl))
        return mod;
  }
  return "";
}

} // namespace expc
