// A run directory's record (docs/artifact.md, "Run record"): `run.json`,
// what a resume needs to continue the same way (threads, checkpoint
// interval, device) and how the run ended, mirrored into the MLflow store
// that run.json names.
#pragma once

#include "MlflowStore.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace exptool {

struct RunInfo {
  nlohmann::json doc; // run.json
  std::filesystem::path dir;
  // Writes run.json atomically; false with `error`.
  bool save(std::string &error) const;
  // Marks the record failed with `message` (run.json, then the MLflow view).
  void markFailed(const std::string &message);
};

// Unix time in milliseconds (run.json's `started_ms`, MLflow's times).
long long unixMs();

// Mirrors the run into the MLflow store named in run.json (its metrics once
// it has finished). The run directory is the record; a store that cannot be
// written is a warning, not a failed run.
void recordMlflow(const RunInfo &info, MlflowRun::Status status);

} // namespace exptool
