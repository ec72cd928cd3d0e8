// `exp run`: compile (or read a compiled plan), train, evaluate and leave a
// run record; `exp run --resume DIR` continues a run from its newest
// checkpoint.
#pragma once

#include "driver/Compiler.h"

#include <string>
#include <vector>

namespace exptool {

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
  expc::CompileOptions compile;
};

// Returns the process exit status; errors go to stderr. The runtime must be
// loaded (RuntimeLoader.h).
int runCommand(const RunRequest &request);

} // namespace exptool
