// exp-run: the runner. It executes compiled plans where the compiler is not
// (a GPU node, a cluster's compute nodes): it links no MLIR, LLVM or ANTLR
// and builds in a runtime-only tree (-DEXP_RUNTIME_ONLY=ON) against any
// LibTorch. Its run directories are `exp run`'s (tools/run/).
//
//   exp-run run PLAN.json [--device cuda] [--run-dir DIR]   train, evaluate, record
//   exp-run run --resume DIR                                continue a run
//   exp-run env                                             what this runtime has, as JSON
//
// A plan compiled for `cuda` runs on `cuda` unless --device says otherwise,
// so a plan carried to a machine without one is refused at once, naming why.
#include "Io.h"
#include "Run.h"
#include "RuntimeLoader.h"

#include "contract/PlanFormat.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace {

// The device a plan was compiled for: `cuda` for a cuda plan, else `cpu`.
std::string planDevice(const std::string &file) {
  std::string text;
  if (std::filesystem::path(file).extension() != ".json" || !exptool::readFile(file, text))
    return "cpu"; // the run reports the file itself
  const nlohmann::json plan = nlohmann::json::parse(text, nullptr, false);
  return plan.is_object() && plan.value("target", std::string()) == "cuda" ? "cuda" : "cpu";
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"exp-run: runs compiled exp plans (no compiler needed)", "exp-run"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("exp-run, runtime ") + expcontract::kVersion +
                                        ", plan format " + std::to_string(expcontract::kPlanFormatVersion));
  exptool::RunRequest request;
  bool noCache = false;
  std::string diagFormat = "text";
  CLI::App *run = exptool::addRunCommand(app, request, "train and evaluate a compiled plan; write a run record",
                                         "a compiled plan (.json): `exp compile FILE.exp -o PLAN.json`");
  run->add_flag("--no-cache", noCache, "neither read nor write the feature and data caches");
  CLI::App *env = app.add_subcommand("env", "print what this runtime was built with and runs on, as JSON");
  for (CLI::App *sub : {run, env})
    sub->add_option("--diagnostics-format", diagFormat, "text (default) or json: errors one object per line")
        ->check(CLI::IsMember({"text", "json"}));
  CLI11_PARSE(app, argc, argv);
  exptool::setToolName("exp-run");
  exptool::setJsonErrors(diagFormat == "json");
  try {
    if (int status = exptool::loadRuntime())
      return status;
    if (*env) {
      std::cout << exptool::runtime().environmentJson() << "\n";
      return 0;
    }
    if (int status = exptool::checkRunArguments(request, *run))
      return status;
    if (request.resumeDir.empty() && run->get_option("--device")->count() == 0)
      request.device = planDevice(request.file);
    request.useCache = !noCache;
    return exptool::runCommand(request);
  } catch (const std::exception &e) {
    return exptool::fail(exptool::ToolError::InternalError, std::string("internal error: ") + e.what());
  }
}
