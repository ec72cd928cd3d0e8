#include "RunDirectory.h"

#include "Io.h"
#include "RunRecord.h"


#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

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
  recordMlflow(*this, MlflowRun::Failed, message.substr(0, message.find('\n')));
}

namespace {
MlflowRun mlflowRunOf(const RunInfo &info) {
  const RunRecordFields record = runRecordFields(info.doc);
  MlflowRun run;
  run.store = record.mlruns;
  run.experiment = record.experiment;
  run.runId = record.mlflowRunId;
  run.runName = info.dir.filename().string();
  run.runDir = fs::absolute(info.dir).lexically_normal().string();
  run.source = record.source;
  run.startMs = record.startedMs;
  return run;
}
} // namespace

void RunInfo::discard() {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!doc.value("mlruns", "").empty())
    removeMlflowRun(mlflowRunOf(*this));
}

void recordMlflow(const RunInfo &info, MlflowRun::Status status, const std::string &message) {
  if (info.doc.value("mlruns", "").empty())
    return;
  MlflowRun run = mlflowRunOf(info);
  run.error = message;
  run.endMs = status == MlflowRun::Running ? 0 : unixMs();
  run.status = status;
  nlohmann::json metrics =
      status == MlflowRun::Finished ? readJson(info.dir / "metrics.json") : nlohmann::json();
  std::string error, planText;
  readFile(info.dir / "plan.json", planText);
  run.planSha256 = sha256Hex(planText);
  if (!writeMlflowRun(run, nlohmann::json::parse(planText, nullptr, false), metrics, error))
    std::cerr << toolName() << ": warning: the MLflow view of the run was not written: " << error << "\n";
}

RunLock::~RunLock() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool RunLock::acquire(const fs::path &dir, std::string &error, bool &held) {
  held = false;
  const fs::path path = dir / "run.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    error = "cannot open " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    std::string holder;
    readFile(path, holder);
    holder = holder.substr(0, holder.find('\n'));
    held = why == EWOULDBLOCK;
    error = held ? "run directory `" + dir.string() + "` is in use by " +
                       (holder.empty() ? std::string("another process") : holder) +
                       "; wait for it to end, or stop it first"
                 : "cannot lock " + path.string() + ": " + std::strerror(why);
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  const std::string holder = "process " + std::to_string(::getpid()) + " on " + host + " (since " +
                             timestamp("%Y-%m-%dT%H:%M:%S") + ")\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, holder.data(), holder.size(), 0) != ssize_t(holder.size())) {
    error = "cannot write " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

} // namespace exptool
