// Import resolution: loads the root file and, transitively, every module it
// imports — standard-library modules (`import std.encoders`) from the stdlib
// directory and relative files (`import "./common.exp"`) next to the importer —
// parses each once, checks content-hash pins (`sha256:...`) and reports missing
// modules and import cycles. Sema then resolves names across this module set.
#pragma once

#include "ast/AST.h"
#include "diagnostics/Diagnostics.h"

#include <string>
#include <vector>

namespace expc {

struct LoadedModule {
  std::string name;    // "std.encoders", or the path as the importer wrote it
  std::string path;    // the file read
  FileId file = 0;
  ast::Module ast;
  bool parsed = false; // false when it had syntax errors (already reported)
  bool isStd = false;
  // For each import of this module, the index of the module it names; -1
  // when it could not be loaded (already reported).
  std::vector<int> targets;
};

// The standard library directory: $EXP_STDLIB when set, else the one this
// build was configured with.
std::string stdlibDirectory();

// Hex SHA-256 of a byte string (the form import pins use).
std::string sha256Hex(const std::string &bytes);

class ModuleSet {
public:
  ModuleSet(SourceManager &sources, DiagnosticEngine &diags, std::string stdlibDir);

  // Loads a root file from disk or from a buffer already in the source
  // manager; returns its index (always 0) or -1 when it cannot be read.
  int loadRoot(const std::string &path);
  int loadRootBuffer(FileId file);
  // Loads a standard-library module by dotted name (std.core, which holds the
  // block schemas, is loaded for every experiment); -1 when missing.
  int loadStdModule(const std::string &dotted);

  const std::vector<LoadedModule> &modules() const { return modules_; }
  const LoadedModule &module(int i) const { return modules_[i]; }
  // The root file's AST, for command-line overrides before checking.
  ast::Module &rootAst() { return modules_[0].ast; }
  // Names of the standard library's modules, for "did you mean".
  std::vector<std::string> stdModuleNames() const;

private:
  int load(const std::string &name, const std::string &path, bool isStd, FileId file);
  void resolveImports(int index);
  void checkPin(const ast::Import &imp, FileId file);

  SourceManager &sources_;
  DiagnosticEngine &diags_;
  std::string stdlibDir_;
  std::vector<LoadedModule> modules_;
  std::vector<int> loading_; // import stack, for cycle detection
};

} // namespace expc
