// `exp run --nproc N`: a run as N local processes under torchrun's
// environment contract (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), each `exp run --resume DIR --rank-worker`. docs/scaling.md.
#pragma once

#include "RunDirectory.h"

namespace exptool {

// Runs the run in `info.dir` (created, or being resumed) as `n` ranks and
// waits for them. The first rank to fail is the job's error (run.json says
// so when rank 0 could not); the others stop on their own when their next
// collective finds it gone, or are terminated after the timeout. Returns
// the exit status.
int launchRanks(RunInfo &info, int n, bool quiet);

} // namespace exptool
