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
  // Marks the record failed with `message` (run.json, then the MLflow view:
  // FAILED, its end time, the message as the tag exp.error).
  void markFailed(const std::string &message);
  // Removes the directory of a run that failed with nothing worth keeping,
  // and its MLflow run with it.
  void discard();
};

// A run directory held by this process for as long as the object lives: an
// flock on DIR/run.lock, which names the holder. The kernel releases it when
// the process ends, however it ends, so a killed run resumes at once.
class RunLock {
public:
  RunLock() = default;
  RunLock(const RunLock &) = delete;
  RunLock &operator=(const RunLock &) = delete;
  ~RunLock();
  // False with `error` (naming the holder when another process has it).
  bool acquire(const std::filesystem::path &dir, std::string &error, bool &held);

private:
  int fd_ = -1;
};

// Unix time in milliseconds (run.json's `started_ms`, MLflow's times).
long long unixMs();

// Mirrors the run into the MLflow store named in run.json (its metrics once
// it has finished). The run directory is the record; a store that cannot be
// written is a warning, not a failed run.
void recordMlflow(const RunInfo &info, MlflowRun::Status status, const std::string &error = "");

} // namespace exptool
