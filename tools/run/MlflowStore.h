// The run record as MLflow's file store lays it out, so `mlflow ui
// --backend-store-uri runs/mlruns` (or anything that reads that layout)
// browses exp runs next to others: mlruns/EXPERIMENT_ID/meta.yaml and
// mlruns/EXPERIMENT_ID/RUN_ID/{meta.yaml, params/, metrics/, tags/}. The
// run's artifacts are its run directory (spec, plan, metrics, checkpoints).
// See docs/artifact.md, "MLflow view".
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace exptool {

struct MlflowRun {
  std::string store;       // the mlruns directory
  std::string experiment;  // the experiment's name
  std::string runId;       // 32 hex digits
  std::string runName;
  std::string runDir;      // absolute: the artifacts
  std::string source;      // the .exp file or plan that ran
  std::string planSha256;  // of plan.json's text
  std::string error;        // why a failed run failed (the tag exp.error)
  long long startMs = 0, endMs = 0; // Unix time in ms; endMs 0 while running
  enum Status { Running = 1, Finished = 3, Failed = 4 } status = Running;
};

// A stable run id for a run directory started at `startMs`.
std::string mlflowRunId(const std::string &runDir, long long startMs);

// Writes (or rewrites) the experiment's and the run's meta.yaml, the params
// (from `plan`: data, augmentations, training settings), the tags and, when
// `metrics` is an object (metrics.json), the metrics. False with `error`.
bool writeMlflowRun(const MlflowRun &run, const nlohmann::json &plan,
                    const nlohmann::json &metrics, std::string &error);
// Removes the run from the store: a run that leaves no run directory
// leaves no MLflow run pointing at one.
void removeMlflowRun(const MlflowRun &run);

} // namespace exptool
