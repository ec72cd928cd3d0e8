// The compiler pipeline behind `exp check` and `exp compile`:
//   read -> parse -> sema -> IR generation (exp) -> verify -> exp-lower-to-step
//   -> verify -> plan.
// Every error, from any stage, is rendered as `file:line:col: error: ...`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace expc {

// ProfileEval: `exp eval`'s plan over a `profiles` table (no middle end).
enum class EmitKind { Ast, Exp, Step, Plan, ProfileEval };

struct CompileOptions {
  EmitKind emit = EmitKind::Plan;
  std::string target = "cpu";   // cpu, or cuda (the plan carries PTX kernels)
  std::string gpuArch = "sm_80"; // cuda: the architecture the PTX is for
  bool printIrAfterAll = false; // to the diagnostics stream
  bool debugLocations = false;  // print locations in --emit=exp|step
  bool checkOnly = false;       // stop after the front end (`exp check`)
  std::string crashReproducer;  // where a failing pass's reproducer goes ("" = temp dir)
  bool useCache = true;         // read and write the compile cache (plans only)
  bool jsonDiagnostics = false; // one JSON object per diagnostic
  std::vector<std::string> overrides; // `key=value` from the command line
  std::vector<std::string> disabledPasses; // names from optimisingPasses()
  std::string profileTable;                // ProfileEval: replaces the table's path
  int sweepPoint = -1; // a file with sweeps: the point to compile (0-based; `exp sweep`)
};

// The passes `--disable-pass` may name: those that only make plans faster,
// never change what they compute (lowering passes are always on).
const std::vector<std::string> &optimisingPasses();

struct CompileOutput {
  std::string text;           // what `emit` asked for (the plan is JSON)
  std::string source;         // the source text as read
  std::string experimentName; // from the file name
  std::string cacheKey;       // the compile cache key (after the front end)
  bool cacheHit = false;      // the plan came from the compile cache
  std::vector<std::string> sweepLabels; // every sweep point's label (empty without sweeps)
  int64_t sweepParallel = 1;            // the `sweep` block's `parallel`
};

// False when the file has errors; they have been written to `diagOut`.
bool compileFile(const std::string &path, const CompileOptions &options, CompileOutput &out,
                 std::ostream &diagOut);

// `exp fmt`: formats each file in place, or with `check` only reports the
// files that are not formatted. Returns the exit status (0, or 1 when a file
// does not parse or, with `check`, is not formatted).
int formatFiles(const std::vector<std::string> &paths, bool check, std::ostream &out,
                std::ostream &diagOut);

// Identifies this build of the compiler (version + hash of its sources).
const char *buildId();

} // namespace expc
