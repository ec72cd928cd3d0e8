// exp: the command-line driver.
//
//   exp check FILE                      parse and check; report every error
//   exp compile FILE --emit=ast|exp|step|plan [-o OUT]
//   exp run FILE|PLAN.json [--run-dir DIR]   compile, train, evaluate, record
//   exp run --resume DIR                continue a run from its newest checkpoint
//   exp sweep FILE                      every sweep point compiled, then run
//   exp simulate FILE -o DIR            a spec's simulated screen as files
//   exp eval [TABLE] --spec SPEC.exp [-o DIR]   stages and metrics over a profile table
//   exp fmt FILE... [--check]           canonical formatting
//
// The driver joins the two halves of the project: the compiler (expc) turns a
// file into a plan; the runtime (exprt, which knows nothing of the compiler)
// executes it, loaded only by the commands that execute plans
// (RuntimeLoader.h). This file declares the command line; Commands.cpp acts.
#include "Commands.h"
#include "Io.h"

#include "contract/PlanFormat.h"
#include "driver/Compiler.h"

#include <CLI/CLI.hpp>

namespace {
using exptool::CliOptions;

const char *kOverridesHelp = "overrides, `param=value` or `decl.key=value`";

CLI::App *addCheck(CLI::App &app, CliOptions &o) {
  auto *c = app.add_subcommand("check", "check a .exp file and report every error");
  c->add_option("file", o.file, "the .exp file")->required();
  c->add_option("overrides", o.overrides, kOverridesHelp);
  return c;
}

CLI::App *addCompile(CLI::App &app, CliOptions &o) {
  auto *c = app.add_subcommand("compile", "compile a .exp file and print a phase's output");
  c->add_option("file", o.file, "the .exp file")->required();
  c->add_option("overrides", o.overrides, kOverridesHelp);
  c->add_option("--emit", o.emit, "what to print: ast, exp, step or plan")
      ->check(CLI::IsMember({"ast", "exp", "step", "plan"}));
  c->add_option("-o,--output", o.output, "write to this file instead of stdout");
  c->add_option("--target", o.target,
                "the device the plan is for: cpu, or cuda (the plan carries PTX kernels for "
                "its elementwise groups; it still runs on a CPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  c->add_option("--gpu-arch", o.gpuArch,
                "with --target cuda: the GPU architecture of the PTX (it runs there and on "
                "newer GPUs; default sm_80)")
      ->check(CLI::IsMember({"sm_75", "sm_80", "sm_86", "sm_89", "sm_90"}));
  c->add_flag("--print-ir-after-all", o.printIr, "print the IR after every pass (to stderr)");
  c->add_flag("--debug-locations", o.debugLocs, "print source locations in IR output");
  c->add_option("--crash-reproducer", o.reproducer,
                "where to write the reproducer when a pass fails (default: the temp dir)");
  return c;
}

CLI::App *addRun(CLI::App &app, CliOptions &o) {
  auto *c = exptool::addRunCommand(app, o.run, "compile, train and evaluate; write a run record",
                                   "the .exp file, or a compiled plan (.json)");
  c->add_option("overrides", o.overrides, kOverridesHelp);
  return c;
}

CLI::App *addSweep(CLI::App &app, CliOptions &o) {
  exptool::SweepRequest &r = o.sweep;
  auto *c = app.add_subcommand(
      "sweep", "compile every sweep point of a .exp file, then run them here or as a Slurm job array");
  c->add_option("file", o.file, "the .exp file with `sweep` values");
  c->add_option("overrides", o.overrides, kOverridesHelp);
  c->add_option("--dir", r.dir, "the sweep directory to create (default sweeps/NAME-TIME)");
  c->add_option("--parallel", r.parallel,
                "points run at once here (default: the `sweep` block's `parallel`, else 1)")
      ->check(CLI::Range(1, 1024));
  c->add_option("--slurm", r.slurm, "write a Slurm job array script here instead of running the points");
  c->add_option("--collect", r.collect,
                "gather a sweep directory's results into results.csv (after a Slurm array)");
  c->add_option("--threads", r.threads,
                "CPU threads in all, shared by the points running at once (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--device", r.device, "cpu (default), cuda or cuda:N, for every point");
  return c;
}

CLI::App *addSimulate(CLI::App &app, CliOptions &o) {
  auto *c = app.add_subcommand(
      "simulate", "write a spec's simulated screen as files (RxRx1 layout, PNGs, ground truth)");
  c->add_option("file", o.file, "the .exp file whose dataset is a simulated_screen")->required();
  c->add_option("overrides", o.overrides, kOverridesHelp);
  c->add_option("-o,--output", o.simulateOut, "the directory to create")->required();
  return c;
}

CLI::App *addEval(CLI::App &app, CliOptions &o) {
  auto *c = app.add_subcommand("eval", "score a profile table (CellProfiler features, exported embeddings) "
                                       "with a spec's stages and evaluations");
  c->add_option("table", o.evalTable,
                "the table (.csv, .csv.gz, .tsv, .sqlite); default: the spec's `profiles` path");
  c->add_option("--spec", o.evalSpec, "the .exp file with a `profiles` dataset and evaluations")->required();
  c->add_option("overrides", o.overrides, kOverridesHelp);
  c->add_option("-o,--output", o.evalOut, "the directory to create (default evals/SPEC-TIME)");
  c->add_option("--seed", o.evalSeed, "the Monte-Carlo null's and k-means' seed (default 0)");
  c->add_option("--threads", o.evalThreads, "CPU threads (default: one per core)")
      ->check(CLI::NonNegativeNumber);
  return c;
}

CLI::App *addFmt(CLI::App &app, CliOptions &o) {
  auto *c = app.add_subcommand("fmt", "format .exp files in place (canonical, keeps comments)");
  c->add_option("files", o.fmtFiles, "the .exp files")->required();
  c->add_flag("--check", o.fmtCheck, "change nothing; exit 1 if a file is not formatted");
  return c;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"exp: a compiler for perturbation experiments", "exp"};
  app.require_subcommand(1);
  // Without loading the runtime: both halves are built from one tree, and
  // the plan format is the contract's.
  app.set_version_flag("--version", std::string("exp ") + expc::buildId() + ", runtime " +
                                        expcontract::kVersion + ", plan format " +
                                        std::to_string(expcontract::kPlanFormatVersion));
  CliOptions o;
  CLI::App *check = addCheck(app, o), *compile = addCompile(app, o), *run = addRun(app, o),
           *sweep = addSweep(app, o), *simulate = addSimulate(app, o), *evalCmd = addEval(app, o),
           *fmtCmd = addFmt(app, o);
  for (CLI::App *sub : {compile, run, sweep}) {
    sub->add_flag("--no-cache", o.noCache, "neither read nor write the compile and feature caches");
    sub->add_option("--disable-pass", o.disabledPasses,
                    "leave out an optimising pass (repeatable): the plan computes the same, slower")
        ->check(CLI::IsMember(expc::optimisingPasses()));
  }
  for (CLI::App *sub : {check, compile, run, sweep, simulate, evalCmd})
    sub->add_option("--diagnostics-format", o.diagFormat,
                    "text (default) or json: diagnostics and errors one object per line")
        ->check(CLI::IsMember({"text", "json"}));

  CLI11_PARSE(app, argc, argv);
  exptool::setJsonErrors(o.diagFormat == "json");
  try {
    if (*fmtCmd)
      return exptool::fmtCommand(o);
    if (*check)
      return exptool::checkCommand(o);
    if (*compile)
      return exptool::compileCommand(o);
    if (*sweep)
      return exptool::sweepCommandFromCli(o);
    if (*simulate)
      return exptool::simulateCommand(o);
    if (*evalCmd)
      return exptool::evalCommand(o);
    return exptool::runCommandFromCli(o, *run);
  } catch (const std::exception &e) {
    // Nothing below should throw; if something does, say so rather than abort.
    return exptool::fail(exptool::ToolError::InternalError, std::string("internal error: ") + e.what());
  }
}
