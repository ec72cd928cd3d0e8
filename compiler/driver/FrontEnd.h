// The front end as one step: read and parse the file and everything it
// imports (plus std.core), check it, then check every sweep point. Used by
// `exp check`, `exp compile` and `exp run`, by the benchmark and the fuzzer.
#pragma once

#include "imports/Imports.h"
#include "sema/Sema.h"

#include <iosfwd>
#include <memory>

namespace expc {

struct FrontEndOptions {
  std::string stdlibDir; // "" = stdlibDirectory()
  bool checkSweepPoints = true;
  bool jsonDiagnostics = false;
  std::vector<std::string> overrides; // `key=value`, applied before checking
};

struct FrontEnd {
  SourceManager sources;
  std::unique_ptr<DiagnosticEngine> diags;
  std::unique_ptr<ModuleSet> modules;
  std::unique_ptr<Sema> sema;   // checked at the first sweep point
  std::vector<SweepPoint> points;       // every sweep point (empty without sweeps)
  std::vector<std::string> pointLabels; // "lr = 3e-4" per point
  int64_t sweepParallel = 1;            // the `sweep` block's `parallel`: points run at once
};

// False when the file or any sweep point has errors (reported to `diagOut`).
// `path` is read from disk unless `contents` is given.
bool runFrontEnd(const std::string &path, const FrontEndOptions &options, FrontEnd &fe,
                 std::ostream &diagOut, const std::string *contents = nullptr);

} // namespace expc
