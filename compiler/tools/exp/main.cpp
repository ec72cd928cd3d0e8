// exp: the command-line driver.
//
//   exp check FILE                      parse and check; report every error
//   exp compile FILE --emit=ast|exp|step|plan [-o OUT]
//   exp run FILE|PLAN.json [--run-dir DIR]   compile, train, evaluate, record
//   exp run --resume DIR                continue a run from its newest checkpoint
//   exp eval [TABLE] --spec SPEC.exp [-o DIR]   stages and metrics over a profile table
//   exp fmt FILE... [--check]           canonical formatting
//
// The driver joins the two halves of the project: the compiler (expc) turns a
// file into a plan; the runtime (exprt, which knows nothing of the compiler)
// executes the plan.
#include "Run.h"
#include "Sweep.h"
#include "driver/Compiler.h"
#include "exprt/Runtime.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

using exptool::fail;

int main(int argc, char **argv) {
  CLI::App app{"exp: a compiler for perturbation experiments"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("exp ") + expc::buildId() +
                                        ", runtime " + exprt::runtimeVersion() +
                                        ", plan format " +
                                        std::to_string(exprt::planFormatVersion()));

  std::string file;
  std::vector<std::string> overrides;
  auto *check = app.add_subcommand("check", "check a .exp file and report every error");
  check->add_option("file", file, "the .exp file")->required();
  check->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");

  std::string emit = "plan", output, target = "cpu";
  bool printIr = false, debugLocs = false;
  auto *compile = app.add_subcommand("compile", "compile a .exp file and print a phase's output");
  compile->add_option("file", file, "the .exp file")->required();
  compile->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");
  compile->add_option("--emit", emit, "what to print: ast, exp, step or plan")
      ->check(CLI::IsMember({"ast", "exp", "step", "plan"}));
  compile->add_option("-o,--output", output, "write to this file instead of stdout");
  std::string gpuArch = "sm_80";
  compile->add_option("--target", target,
                      "the device the plan is for: cpu, or cuda (the plan carries PTX kernels for "
                      "its elementwise groups; it still runs on a CPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  compile->add_option("--gpu-arch", gpuArch,
                      "with --target cuda: the GPU architecture of the PTX (it runs there and on "
                      "newer GPUs; default sm_80)")
      ->check(CLI::IsMember({"sm_75", "sm_80", "sm_86", "sm_89", "sm_90"}));
  compile->add_flag("--print-ir-after-all", printIr, "print the IR after every pass (to stderr)");
  compile->add_flag("--debug-locations", debugLocs, "print source locations in IR output");
  std::string reproducer;
  compile->add_option("--crash-reproducer", reproducer,
                      "where to write the reproducer when a pass fails (default: the temp dir)");

  exptool::RunRequest runRequest;
  auto *run = app.add_subcommand("run", "compile, train and evaluate; write a run record");
  run->add_option("file", file, "the .exp file, or a compiled plan (.json)");
  run->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");
  run->add_option("--run-dir", runRequest.runDir,
                  "where to write the run record (default runs/NAME-TIME)");
  run->add_option("--resume", runRequest.resumeDir,
                  "continue the run in this directory from its newest checkpoint");
  run->add_option("--threads", runRequest.threads,
                  "CPU threads (default: one per core; when resuming, the run's)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--checkpoint-every", runRequest.checkpointEvery,
                  "optimiser steps between checkpoints (default: one per epoch)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--data-workers", runRequest.dataWorkers,
                  "threads building batches ahead of the step (default 1; 0: none); "
                  "results do not depend on it")
      ->check(CLI::Range(0, 64));
  run->add_option("--mlruns", runRequest.mlruns,
                  "the MLflow file store the run is recorded in too (default: `mlruns` beside "
                  "the run directory)");
  run->add_flag("-q,--quiet", runRequest.quiet, "no per-epoch progress lines");
  run->add_option("--device", runRequest.device,
                  "cpu (default), cuda or cuda:N; a CUDA device compiles the plan with "
                  "--target cuda (docs/gpu.md); when resuming, the run's");
  run->add_option("--nproc", runRequest.nproc,
                  "data-parallel training in N local processes (c10d, Gloo), the spec's batch "
                  "split between them; also when resuming, with any N (docs/scaling.md)")
      ->check(CLI::Range(1, 256));
  // One of --nproc's processes (its rank in the environment); not for users.
  run->add_flag("--rank-worker", runRequest.rankWorker)->group("");

  exptool::SweepRequest sweepRequest;
  auto *sweep = app.add_subcommand(
      "sweep", "compile every sweep point of a .exp file, then run them here or as a Slurm job array");
  sweep->add_option("file", file, "the .exp file with `sweep` values");
  sweep->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");
  sweep->add_option("--dir", sweepRequest.dir, "the sweep directory to create (default sweeps/NAME-TIME)");
  sweep->add_option("--parallel", sweepRequest.parallel,
                    "points run at once here (default: the `sweep` block's `parallel`, else 1)")
      ->check(CLI::Range(1, 1024));
  sweep->add_option("--slurm", sweepRequest.slurm,
                    "write a Slurm job array script here instead of running the points");
  sweep->add_option("--collect", sweepRequest.collect,
                    "gather a sweep directory's results into results.csv (after a Slurm array)");
  sweep->add_option("--threads", sweepRequest.threads,
                    "CPU threads in all, shared by the points running at once (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  sweep->add_option("--device", sweepRequest.device, "cpu (default), cuda or cuda:N, for every point");

  bool noCache = false;
  std::vector<std::string> disabledPasses;
  for (CLI::App *sub : {compile, run, sweep}) {
    sub->add_flag("--no-cache", noCache, "neither read nor write the compile and feature caches");
    sub->add_option("--disable-pass", disabledPasses,
                    "leave out an optimising pass (repeatable): the plan computes the same, slower")
        ->check(CLI::IsMember(expc::optimisingPasses()));
  }
  std::vector<std::string> fmtFiles;
  bool fmtCheck = false;
  std::string simulateOut;
  auto *simulate = app.add_subcommand(
      "simulate", "write a spec's simulated screen as files (RxRx1 layout, PNGs, ground truth)");
  simulate->add_option("file", file, "the .exp file whose dataset is a simulated_screen")->required();
  simulate->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");
  simulate->add_option("-o,--output", simulateOut, "the directory to create")->required();

  std::string evalTable, evalSpec, evalOut;
  uint64_t evalSeed = 0;
  int evalThreads = 0;
  auto *evalCmd = app.add_subcommand(
      "eval", "score a profile table (CellProfiler features, exported embeddings) with a spec's "
              "stages and evaluations");
  evalCmd->add_option("table", evalTable,
                      "the table (.csv, .csv.gz, .tsv, .sqlite); default: the spec's `profiles` path");
  evalCmd->add_option("--spec", evalSpec, "the .exp file with a `profiles` dataset and evaluations")
      ->required();
  evalCmd->add_option("overrides", overrides, "overrides, `param=value` or `decl.key=value`");
  evalCmd->add_option("-o,--output", evalOut, "the directory to create (default evals/SPEC-TIME)");
  evalCmd->add_option("--seed", evalSeed, "the Monte-Carlo null's and k-means' seed (default 0)");
  evalCmd->add_option("--threads", evalThreads, "CPU threads (default: one per core)")
      ->check(CLI::NonNegativeNumber);

  auto *fmtCmd = app.add_subcommand("fmt", "format .exp files in place (canonical, keeps comments)");
  fmtCmd->add_option("files", fmtFiles, "the .exp files")->required();
  fmtCmd->add_flag("--check", fmtCheck, "change nothing; exit 1 if a file is not formatted");
  std::string diagFormat = "text";
  for (CLI::App *sub : {check, compile})
    sub->add_option("--diagnostics-format", diagFormat, "text (default) or json, one object per line")
        ->check(CLI::IsMember({"text", "json"}));

  CLI11_PARSE(app, argc, argv);

  try {
    if (*fmtCmd)
      return expc::formatFiles(fmtFiles, fmtCheck, std::cout, std::cerr);
    if (*check) {
      expc::CompileOptions options;
      options.checkOnly = true;
      options.overrides = overrides;
      options.jsonDiagnostics = diagFormat == "json";
      expc::CompileOutput out;
      return expc::compileFile(file, options, out, std::cerr) ? 0 : 1;
    }
    if (*sweep) {
      if (file.empty() == sweepRequest.collect.empty())
        return fail("`exp sweep` takes a .exp file to sweep, or --collect DIR");
      if (exprt::Status s = exprt::checkDevice(sweepRequest.device); !s)
        return fail(s.message());
      sweepRequest.file = file;
      sweepRequest.compile.useCache = !noCache;
      sweepRequest.compile.overrides = overrides;
      sweepRequest.compile.disabledPasses = disabledPasses;
      return exptool::sweepCommand(sweepRequest);
    }
    if (*simulate) {
      expc::CompileOptions options;
      options.overrides = overrides;
      options.useCache = false;
      expc::CompileOutput out;
      if (!expc::compileFile(file, options, out, std::cerr))
        return 1;
      if (exprt::Status s = exprt::writeSimulatedScreenFiles(out.text, simulateOut); !s)
        return fail(s.message());
      std::cerr << "wrote " << simulateOut
                << ": images and metadata, ground_truth.json, side information in side/ (docs/data.md)\n";
      return 0;
    }
    if (*evalCmd) {
      expc::CompileOptions options;
      options.emit = expc::EmitKind::ProfileEval;
      options.overrides = overrides;
      options.profileTable = evalTable;
      expc::CompileOutput out;
      if (!expc::compileFile(evalSpec, options, out, std::cerr))
        return 1;
      if (evalOut.empty()) {
        char stamp[32];
        std::time_t now = std::time(nullptr);
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
        evalOut = (fs::path("evals") / (out.experimentName + "-" + stamp)).string();
      }
      std::string summary;
      if (exprt::Status s = exprt::writeProfileEvaluation(out.text, evalOut, evalSeed, evalThreads, summary); !s)
        return fail(s.message());
      std::cout << summary;
      std::cerr << "wrote " << evalOut << ": metrics.json, report.html\n";
      return 0;
    }
    if (*compile) {
      expc::CompileOptions options;
      options.emit = emit == "ast"   ? expc::EmitKind::Ast
                     : emit == "exp" ? expc::EmitKind::Exp
                     : emit == "step" ? expc::EmitKind::Step
                                      : expc::EmitKind::Plan;
      options.target = target;
      options.gpuArch = gpuArch;
      options.printIrAfterAll = printIr;
      options.debugLocations = debugLocs;
      options.crashReproducer = reproducer;
      options.useCache = !noCache;
      options.overrides = overrides;
      options.disabledPasses = disabledPasses;
      options.jsonDiagnostics = diagFormat == "json";
      expc::CompileOutput out;
      if (!expc::compileFile(file, options, out, std::cerr))
        return 1;
      if (output.empty()) {
        std::cout << out.text;
        return 0;
      }
      std::string error;
      return exptool::writeFile(output, out.text, error) ? 0 : fail(error);
    }
    if (file.empty() == runRequest.resumeDir.empty())
      return fail("`exp run` takes a file to run, or --resume DIR");
    if (!runRequest.resumeDir.empty() && (!overrides.empty() || !disabledPasses.empty()))
      return fail("a resumed run keeps its plan; overrides and --disable-pass do not apply");
    if (!runRequest.resumeDir.empty() && run->get_option("--device")->count() > 0)
      return fail("a resumed run keeps its device (run.json's `device`); --device does not apply");
    if (fs::path(file).extension() == ".json" && (!overrides.empty() || !disabledPasses.empty()))
      return fail("`" + file + "` is a compiled plan; overrides and --disable-pass apply to .exp files");
    runRequest.file = file;
    runRequest.compile.useCache = !noCache;
    runRequest.compile.overrides = overrides;
    runRequest.compile.disabledPasses = disabledPasses;
    return exptool::runCommand(runRequest);
  } catch (const std::exception &e) {
    // Nothing below should throw; if something does, say so rather than abort.
    return fail(std::string("internal error: ") + e.what());
  }
}
