// `exp run` and `exp-run run`: compile (or read a compiled plan), train,
// evaluate and leave a run record; `--resume DIR` continues a run from its
// newest checkpoint. This half needs no compiler: `exp` passes a hook that
// compiles .exp files, the runner (tools/exp-run) takes plans only.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace exptool {

// What a new run executes: its plan's text, the .exp source it was compiled
// from ("" for a plan given as it is) and the experiment's name.
struct RunInput {
  std::string planText, source, name;
  bool isPlan = false;
};

// Compiles the .exp file `file` for `device` into `in`; false after
// reporting the diagnostics.
using CompileHook = std::function<bool(const std::string &file, const std::string &device, RunInput &in)>;

struct RunRequest {
  std::string file;      // an .exp file or a plan (.json); empty with `resumeDir`
  std::string resumeDir; // continue this run
  std::string runDir;    // where a new run's record goes (default runs/NAME-TIME)
  int threads = 0;       // 0: as recorded when resuming, else one per core
  bool quiet = false;
  long long checkpointEvery = 0; // optimiser steps; 0: as recorded, else per epoch
  int dataWorkers = -1;          // batch-building threads; -1: as recorded, else 1
  std::string mlruns;            // the MLflow store; "" = `mlruns` beside the run directory
  std::string device = "cpu";    // cpu, cuda, cuda:N; when resuming, the run's
  int nproc = 0;                 // > 0: launch that many local data-parallel ranks
  bool rankWorker = false;       // this process is one of them (--resume DIR names the run)
  bool useCache = true;          // the feature and data caches (contract/CacheDirectory.h)
  std::vector<std::string> overrides; // recorded in overrides.txt
  CompileHook compile;                // null: .exp files are refused (a plan is needed)
};

// The `run` subcommand of `app` with its options, one definition for `exp`
// and the runner: `what` is its help line, `fileHelp` its file's.
CLI::App *addRunCommand(CLI::App &app, RunRequest &request, const std::string &what, const std::string &fileHelp);
// After parsing: the checks of `command`'s arguments both tools share; 0,
// or the exit status of the error reported.
int checkRunArguments(const RunRequest &request, const CLI::App &command);

// Returns the process exit status; errors go to stderr. The runtime must be
// loaded (RuntimeLoader.h).
int runCommand(const RunRequest &request);

} // namespace exptool
