#include "Commands.h"

#include "Io.h"
#include "RuntimeLoader.h"

#include "driver/Compiler.h"

#include <filesystem>
#include <iostream>

namespace exptool {
namespace fs = std::filesystem;
namespace {

// What every command that reads a spec takes from the command line: the
// overrides and the diagnostics' format.
expc::CompileOptions frontEndOptions(const CliOptions &o) {
  expc::CompileOptions options;
  options.overrides = o.overrides;
  options.jsonDiagnostics = o.diagFormat == "json";
  return options;
}

// How `run` and `sweep` compile a spec: those, the passes and the cache choice.
expc::CompileOptions planOptions(const CliOptions &o) {
  expc::CompileOptions options = frontEndOptions(o);
  options.useCache = !o.noCache;
  options.disabledPasses = o.disabledPasses;
  return options;
}

} // namespace

int fmtCommand(const CliOptions &o) { return expc::formatFiles(o.fmtFiles, o.fmtCheck, std::cout, std::cerr); }

int checkCommand(const CliOptions &o) {
  expc::CompileOptions options = frontEndOptions(o);
  options.checkOnly = true;
  expc::CompileOutput out;
  return expc::compileFile(o.file, options, out, std::cerr) ? 0 : 1;
}

int compileCommand(const CliOptions &o) {
  expc::CompileOptions options = frontEndOptions(o);
  options.emit = o.emit == "ast"    ? expc::EmitKind::Ast
                 : o.emit == "exp"  ? expc::EmitKind::Exp
                 : o.emit == "step" ? expc::EmitKind::Step
                                    : expc::EmitKind::Plan;
  options.target = o.target;
  options.gpuArch = o.gpuArch;
  options.printIrAfterAll = o.printIr;
  options.debugLocations = o.debugLocs;
  options.crashReproducer = o.reproducer;
  options.useCache = !o.noCache;
  options.disabledPasses = o.disabledPasses;
  expc::CompileOutput out;
  if (!expc::compileFile(o.file, options, out, std::cerr))
    return 1;
  if (o.output.empty()) {
    std::cout << out.text;
    return 0;
  }
  std::string error;
  return writeFile(o.output, out.text, error) ? 0 : fail(ToolError::CannotWrite, error);
}

int runCommandFromCli(const CliOptions &o, const CLI::App &command) {
  const RunRequest &r = o.run;
  if (int status = checkRunArguments(r, command))
    return status;
  if (!r.resumeDir.empty() && (!o.overrides.empty() || !o.disabledPasses.empty()))
    return fail(ToolError::ResumeKeepsPlan, "a resumed run keeps its plan; overrides and --disable-pass do not apply");
  if (fs::path(r.file).extension() == ".json" && (!o.overrides.empty() || !o.disabledPasses.empty()))
    return fail(ToolError::PlanTakesNoOverrides,
                "`" + r.file + "` is a compiled plan; overrides and --disable-pass apply to .exp files");
  if (int status = loadRuntime())
    return status;
  RunRequest request = r;
  const expc::CompileOptions options = planOptions(o);
  request.useCache = options.useCache;
  request.overrides = options.overrides;
  request.compile = [options](const std::string &file, const std::string &device, RunInput &in) {
    expc::CompileOptions compile = options;
    if (device != "cpu") // the plan carries the GPU kernels
      compile.target = "cuda";
    expc::CompileOutput compiled;
    if (!expc::compileFile(file, compile, compiled, std::cerr))
      return false;
    in.planText = compiled.text;
    in.source = compiled.source;
    in.name = compiled.experimentName;
    return true;
  };
  return runCommand(request);
}

int sweepCommandFromCli(const CliOptions &o) {
  if (o.file.empty() == o.sweep.collect.empty())
    return fail(ToolError::SweepArguments, "`exp sweep` takes a .exp file to sweep, or --collect DIR");
  if (int status = loadRuntime())
    return status;
  if (exprt::Status s = runtime().checkDevice(o.sweep.device); !s)
    return fail(s);
  SweepRequest request = o.sweep;
  request.file = o.file;
  request.compile = planOptions(o);
  return sweepCommand(request);
}

int simulateCommand(const CliOptions &o) {
  expc::CompileOptions options = frontEndOptions(o);
  options.useCache = false;
  expc::CompileOutput out;
  if (!expc::compileFile(o.file, options, out, std::cerr))
    return 1;
  if (int status = loadRuntime())
    return status;
  if (exprt::Status s = runtime().writeSimulatedScreenFiles(out.text, o.simulateOut); !s)
    return fail(s);
  std::cerr << "wrote " << o.simulateOut
            << ": images and metadata, ground_truth.json, side information in side/ (docs/data.md)\n";
  return 0;
}

int evalCommand(const CliOptions &o) {
  expc::CompileOptions options = frontEndOptions(o);
  options.emit = expc::EmitKind::ProfileEval;
  options.profileTable = o.evalTable;
  expc::CompileOutput out;
  if (!expc::compileFile(o.evalSpec, options, out, std::cerr))
    return 1;
  if (int status = loadRuntime())
    return status;
  const std::string dir = o.evalOut.empty()
                              ? (fs::path("evals") / (out.experimentName + "-" + timestamp("%Y%m%d-%H%M%S"))).string()
                              : o.evalOut;
  std::string summary;
  if (exprt::Status s = runtime().writeProfileEvaluation(out.text, dir, o.evalSeed, o.evalThreads, summary); !s)
    return fail(s);
  std::cout << summary;
  std::cerr << "wrote " << dir << ": metrics.json, report.html\n";
  return 0;
}

} // namespace exptool
