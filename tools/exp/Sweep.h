// `exp sweep FILE.exp`: every sweep point compiled (so every point is
// checked, through lowering) before any runs; then the points run here, in
// sequence or several at once, or a Slurm job array script runs them on a
// cluster; `exp sweep --collect DIR` gathers their results into one table.
#pragma once

#include "driver/Compiler.h"

#include <string>

namespace exptool {

struct SweepRequest {
  std::string file;       // the .exp file; empty with `collect`
  std::string dir;        // the sweep directory (default sweeps/NAME-TIME)
  std::string collect;    // a sweep directory to gather results from
  int parallel = 0;       // points at once; 0: the `sweep` block's `parallel`
  std::string slurm;      // write a job array script here instead of running
  int threads = 0;        // threads in all (0: one per core), shared by the points running at once
  std::string device = "cpu";
  expc::CompileOptions compile;
};

// Returns the process exit status; errors go to stderr.
int sweepCommand(const SweepRequest &request);

} // namespace exptool
