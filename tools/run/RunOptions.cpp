// The `run` subcommand's options, declared once for `exp run` and the
// runner's `exp-run run`, and the checks on them that do not need the
// compiler.
#include "Run.h"

#include "Io.h"

#include <CLI/CLI.hpp>

#include <filesystem>

namespace exptool {

CLI::App *addRunCommand(CLI::App &app, RunRequest &r, const std::string &what, const std::string &fileHelp) {
  auto *c = app.add_subcommand("run", what);
  c->add_option("file", r.file, fileHelp);
  c->add_option("--run-dir", r.runDir, "where to write the run record (default runs/NAME-TIME)");
  c->add_option("--resume", r.resumeDir, "continue the run in this directory from its newest checkpoint");
  c->add_option("--threads", r.threads, "CPU threads (default: one per core; when resuming, the run's)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--checkpoint-every", r.checkpointEvery,
                "optimiser steps between checkpoints (default: one per epoch)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--data-workers", r.dataWorkers,
                "threads building batches ahead of the step (default 1; 0: none); "
                "results do not depend on it")
      ->check(CLI::Range(0, 64));
  c->add_option("--mlruns", r.mlruns,
                "the MLflow file store the run is recorded in too (default: `mlruns` beside "
                "the run directory)");
  c->add_flag("-q,--quiet", r.quiet, "no per-epoch progress lines");
  c->add_option("--device", r.device,
                "cpu (default), cuda or cuda:N; a CUDA device compiles the plan with "
                "--target cuda (docs/gpu.md); when resuming, the run's");
  c->add_option("--nproc", r.nproc,
                "data-parallel training in N local processes (c10d), the spec's batch "
                "split between them; also when resuming, with any N (docs/scaling.md)")
      ->check(CLI::Range(1, 256));
  // One of --nproc's processes (its rank in the environment); not for users.
  c->add_flag("--rank-worker", r.rankWorker)->group("");
  return c;
}

int checkRunArguments(const RunRequest &r, const CLI::App &command) {
  if (r.file.empty() == r.resumeDir.empty())
    return fail(ToolError::RunArguments,
                "`" + command.get_parent()->get_name() + " run` takes a file to run, or --resume DIR");
  if (!r.resumeDir.empty() && command.get_option("--device")->count() > 0)
    return fail(ToolError::ResumeKeepsDevice,
                "a resumed run keeps its device (run.json's `device`); --device does not apply");
  return 0;
}

} // namespace exptool
