#include "RunDirectory.h"

#include "Io.h"

#include "imports/Imports.h"

#include <chrono>
#include <iostream>

namespace exptool {
namespace fs = std::filesystem;

long long unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool RunInfo::save(std::string &error) const {
  return writeFile((dir / "run.json").string(), doc.dump(2) + "\n", error);
}

void RunInfo::markFailed(const std::string &message) {
  doc["status"] = "failed";
  doc["error"] = message;
  std::string error;
  save(error);
  recordMlflow(*this, MlflowRun::Failed);
}

void recordMlflow(const RunInfo &info, MlflowRun::Status status) {
  MlflowRun run;
  run.store = info.doc.value("mlruns", "");
  if (run.store.empty())
    return;
  run.experiment = info.doc.value("experiment", "exp");
  run.runId = info.doc.value("mlflow_run_id", "");
  run.runName = info.dir.filename().string();
  run.runDir = fs::absolute(info.dir).lexically_normal().string();
  run.source = info.doc.value("source", "");
  run.startMs = info.doc.value("started_ms", 0LL);
  run.endMs = status == MlflowRun::Running ? 0 : unixMs();
  run.status = status;
  nlohmann::json metrics =
      status == MlflowRun::Finished ? readJson(info.dir / "metrics.json") : nlohmann::json();
  std::string error, planText;
  readFile(info.dir / "plan.json", planText);
  run.planSha256 = expc::sha256Hex(planText);
  if (!writeMlflowRun(run, nlohmann::json::parse(planText, nullptr, false), metrics, error))
    std::cerr << "exp: warning: the MLflow view of the run was not written: " << error << "\n";
}

} // namespace exptool
