#include "Run.h"

#include "Io.h"
#include "RankLauncher.h"
#include "RunDirectory.h"
#include "RunRecord.h"
#include "RuntimeLoader.h"
#include "StderrTee.h"

#include "contract/CacheDirectory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace exptool {
namespace fs = std::filesystem;
namespace {

// This process's place in a data-parallel run: rank 0 of 1 unless a
// launcher (torchrun, srun, `exp run --nproc`) says otherwise.
struct World {
  exprt::SessionOptions launch; // rank, worldSize, rendezvous
  std::string source;           // the launcher, "" for none
  bool root() const { return launch.rank == 0; }
  bool parallel() const { return launch.worldSize > 1; }
};
World gWorld;

// A session for the run in `info`, with `planText` loaded (`origin` names it
// in errors).
std::unique_ptr<exprt::Session> openSession(const RunInfo &info, bool resume, bool quiet,
                                            const std::string &planText,
                                            const std::string &origin, exprt::Status &status) {
  status = exprt::Status::ok();
  exprt::SessionOptions options = gWorld.launch;
  runtime().readTestHooks(options.hooks); // EXP_INJECT_NAN and the other test hooks
  const RunRecordFields record = runRecordFields(info.doc);
  options.threads = record.threads;
  // --nproc's ranks share this machine's cores.
  if (gWorld.source == "exp run --nproc")
    options.threads = std::max(1, options.threads / options.worldSize);
  options.device = record.device;
  options.progress = !quiet && gWorld.root();
  const char *term = std::getenv("TERM");
  options.progressBar = ::isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
  options.runDir = info.dir.string();
  options.checkpointEvery = record.checkpointEvery;
  options.resume = resume;
  options.dataWorkers = record.dataWorkers;
  options.featureCacheDir = record.featureCache;
  options.dataCacheDir = record.dataCache;
  auto session = runtime().createSession(options, status);
  if (status)
    status = session->loadPlan(planText, origin);
  return status ? std::move(session) : nullptr;
}

// Runs the loaded plan; `created` says the directory is this invocation's, to
// remove when nothing worth keeping was written.
int execute(exprt::Session &session, RunInfo &info, bool created) {
  if (!gWorld.root()) { // rank 0 keeps the record
    if (exprt::Status s = session.run(); !s)
      return fail(s.prefixed("rank " + std::to_string(gWorld.launch.rank) + ": "));
    return 0;
  }
  auto finish = [&](const exprt::Status &s, bool keepable) {
    if (created && !keepable) {
      info.discard();
      return fail(s);
    }
    info.markFailed(s.message());
    const std::string tool = toolName();
    return fail(s, "\n" + tool + ": the run directory `" + info.dir.string() + "` keeps its checkpoints (`" + tool +
                       " run --resume " + info.dir.string() + "` continues from the newest)");
  };
  if (exprt::Status s = session.run(); !s)
    return finish(s, !session.latestCheckpoint().empty());
  if (exprt::Status s = session.writeRecord(info.dir.string()); !s)
    return finish(s, true);
  info.doc["status"] = "finished";
  info.doc.erase("error");
  info.doc["finished"] = timestamp("%Y-%m-%dT%H:%M:%S");
  std::string error;
  if (!info.save(error))
    return fail(ToolError::CannotWrite, error);
  recordMlflow(info, MlflowRun::Finished);
  std::cout << session.metricsSummary();
  std::cout << "run record: " << info.dir.string() << "\n";
  return 0;
}

// One of --nproc's ranks: the run in `info.dir` from its newest checkpoint
// (or its start); rank 0 keeps the log and the record.
int runRank(RunInfo &info, bool quiet) {
  std::string planText, error;
  fs::path planPath = info.dir / "plan.json";
  if (!readFile(planPath, planText))
    return fail(ToolError::CannotOpenPlan, planPath.string() + ": cannot open plan: " + unreadable(planPath));
  exprt::Status loaded = exprt::Status::ok();
  auto session = openSession(info, /*resume=*/true, quiet, planText, planPath.string(), loaded);
  if (!session)
    return fail(loaded.prefixed("rank " + std::to_string(gWorld.launch.rank) + ": "));
  if (!gWorld.root())
    return execute(*session, info, /*created=*/false);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/true, error))
    return fail(ToolError::CannotWrite, error);
  return execute(*session, info, /*created=*/false);
}

int resumeRun(const RunRequest &r) {
  RunInfo info;
  info.dir = r.resumeDir;
  std::error_code ec;
  if (!fs::is_regular_file(info.dir / "run.json", ec))
    return fail(ToolError::NotARunDir, "`" + r.resumeDir + "` is not a run directory (it has no run.json)");
  // One process continues a run at a time (--nproc's ranks run under their
  // launcher's lock).
  RunLock lock;
  std::string text, error;
  if (bool held = false; !r.rankWorker && gWorld.root() && !lock.acquire(info.dir, error, held))
    return fail(held ? ToolError::RunDirInUse : ToolError::CannotWrite, error);
  if (!readFile(info.dir / "run.json", text))
    return fail(ToolError::NotARunDir, "`" + r.resumeDir + "` is not a run directory (it has no run.json)");
  if (!parseRunRecord(text, (info.dir / "run.json").string(), info.doc, error))
    return fail(ToolError::InvalidRunRecord, error);
  if (info.doc["status"] == "finished")
    return fail(ToolError::RunFinished, "the run in `" + r.resumeDir + "` has already finished");
  if (r.rankWorker) // one of --nproc's ranks, resuming nothing it did not start
    return runRank(info, r.quiet);
  // The same threads as before, so the arithmetic is the same.
  if (r.threads > 0)
    info.doc["threads"] = r.threads;
  if (r.checkpointEvery > 0)
    info.doc["checkpoint_every"] = r.checkpointEvery;
  if (r.dataWorkers >= 0)
    info.doc["data_workers"] = r.dataWorkers;
  std::string planText;
  fs::path planPath = info.dir / "plan.json";
  if (!readFile(planPath, planText))
    return fail(ToolError::CannotOpenPlan, planPath.string() + ": cannot open plan: " + unreadable(planPath));
  if (r.nproc > 0) { // again as N ranks, N free
    info.doc["nproc"] = r.nproc;
    info.doc["status"] = "running";
    info.doc["resumed"].push_back(timestamp("%Y-%m-%dT%H:%M:%S"));
    if (!info.save(error))
      return fail(ToolError::CannotWrite, error);
    return launchRanks(info, r.nproc, r.quiet);
  }
  exprt::Status loaded = exprt::Status::ok();
  auto session = openSession(info, /*resume=*/true, r.quiet, planText, planPath.string(), loaded);
  if (!session)
    return fail(loaded);
  if (!gWorld.root())
    return execute(*session, info, /*created=*/false);
  info.doc["status"] = "running";
  info.doc["resumed"].push_back(timestamp("%Y-%m-%dT%H:%M:%S"));
  if (!info.save(error))
    return fail(ToolError::CannotWrite, error);
  recordMlflow(info, MlflowRun::Running);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/true, error))
    return fail(ToolError::CannotWrite, error);
  return execute(*session, info, /*created=*/false);
}

// fail() for functions that answer whether they succeeded.
bool failed(ToolError kind, const std::string &message) {
  fail(kind, message);
  return false;
}

// What a new run executes: a compiled plan as it is, or an .exp file
// compiled first (by the caller's hook).
bool readRunInput(const RunRequest &r, RunInput &in) {
  in.name = fs::path(r.file).stem().string();
  in.isPlan = fs::path(r.file).extension() == ".json";
  if (in.isPlan) {
    if (!readFile(r.file, in.planText))
      return failed(ToolError::CannotOpenPlan, r.file + ": cannot open plan: " + unreadable(r.file));
    return true;
  }
  if (!r.compile)
    return failed(ToolError::NeedsPlan, r.file + ": this runner executes compiled plans (.json); compile it "
                                                 "first with `exp compile " + r.file + " -o PLAN.json`");
  return r.compile(r.file, r.device, in);
}

int defaultThreads(const RunRequest &r) {
  return r.threads > 0 ? r.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// A launcher's other ranks: rank 0 creates and keeps the record.
int runOtherRank(const RunRequest &r, const RunInput &in) {
  RunInfo info;
  info.doc = {{"threads", defaultThreads(r)},
              {"device", r.device},
              {"checkpoint_every", r.checkpointEvery},
              {"data_workers", r.dataWorkers >= 0 ? r.dataWorkers : 1}};
  if (r.useCache)
    info.doc["data_cache"] = (fs::path(expcontract::cacheDirectory()) / "data").string();
  exprt::Status loaded = exprt::Status::ok();
  auto session = openSession(info, /*resume=*/false, true, in.planText, r.file, loaded);
  if (!session)
    return fail(loaded.prefixed("rank " + std::to_string(gWorld.launch.rank) + ": "));
  return execute(*session, info, /*created=*/false);
}

// run.json of a new run in `dir`.
nlohmann::json newRunRecord(const RunRequest &r, const RunInput &in, const fs::path &dir) {
  nlohmann::json doc = {{"format", "exp-run"},
                        {"status", "running"},
                        {"experiment", in.name},
                        {"source", r.file},
                        {"started", timestamp("%Y-%m-%dT%H:%M:%S")},
                        {"started_ms", unixMs()},
                        {"threads", defaultThreads(r)},
                        {"device", r.device},
                        {"checkpoint_every", r.checkpointEvery},
                        {"data_workers", r.dataWorkers >= 0 ? r.dataWorkers : 1},
                        {"runtime_version", runtime().runtimeVersion()},
                        {"resumed", nlohmann::json::array()}};
  if (r.nproc > 0)
    doc["nproc"] = r.nproc;
  if (gWorld.parallel())
    doc["world"] = {{"size", gWorld.launch.worldSize}, {"launcher", gWorld.source}};
  doc["mlruns"] = fs::absolute(r.mlruns.empty() ? dir.parent_path() / "mlruns" : fs::path(r.mlruns))
                      .lexically_normal()
                      .string();
  doc["mlflow_run_id"] = mlflowRunId(fs::absolute(dir).lexically_normal().string(), doc["started_ms"]);
  if (r.useCache) {
    doc["feature_cache"] = (fs::path(expcontract::cacheDirectory()) / "features").string();
    doc["data_cache"] = (fs::path(expcontract::cacheDirectory()) / "data").string();
  }
  return doc;
}

// Fills the run directory under a temporary name, locks it and renames it
// into place (never over a directory another run created meanwhile), so the
// directory a user sees always has its run.json, however early the run is
// killed. False (with nothing left) after reporting the error.
bool createRunDirectory(const RunRequest &r, const RunInput &in, RunInfo &info, RunLock &lock) {
  const fs::path final = info.dir;
  info.dir += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  if (final.has_parent_path())
    fs::create_directories(final.parent_path(), ec);
  if (ec || ::mkdir(info.dir.c_str(), 0755) != 0)
    return failed(ToolError::CannotCreateRunDir, "cannot create `" + info.dir.string() + "`: " +
                                                     (ec ? ec.message() : std::strerror(errno)));
  const std::vector<std::string> &overrides = r.overrides;
  std::string error;
  if ((!in.isPlan && !writeFile(info.dir / "spec.exp", in.source, error)) ||
      !writeFile(info.dir / "environment.json", runtime().environmentJson(), error) ||
      !writeFile(info.dir / "plan.json", in.planText, error) ||
      (!overrides.empty() &&
       !writeFile(info.dir / "overrides.txt", fmt::format("{}\n", fmt::join(overrides, "\n")),
                  error)) ||
      !info.save(error)) {
    fs::remove_all(info.dir, ec);
    return failed(ToolError::CannotWrite, error);
  }
  if (bool held = false; !lock.acquire(info.dir, error, held)) {
    fs::remove_all(info.dir, ec);
    return failed(ToolError::CannotWrite, error);
  }
  if (::renameat2(AT_FDCWD, info.dir.c_str(), AT_FDCWD, final.c_str(), RENAME_NOREPLACE) != 0) {
    const int why = errno;
    fs::remove_all(info.dir, ec);
    if (why == EEXIST || why == ENOTEMPTY)
      return failed(ToolError::RunDirExists, "run directory `" + final.string() +
                                                 "` was created by another run meanwhile; choose another with --run-dir");
    return failed(ToolError::CannotCreateRunDir, "cannot create `" + final.string() + "`: " + std::strerror(why));
  }
  info.dir = final;
  return true;
}

// The checks on how this process was launched, before anything else.
int checkLaunch(const RunRequest &r) {
  if (exprt::Status s = runtime().readLaunchEnvironment(gWorld.launch, gWorld.source); !s)
    return fail(s);
  if (r.rankWorker && (r.resumeDir.empty() || gWorld.source != "exp run --nproc"))
    return fail(ToolError::RankWorkerMisuse,
                std::string("--rank-worker is how `") + toolName() + " run --nproc` starts its ranks; run `" +
                    toolName() + " run --nproc N` instead");
  if (r.nproc > 0 && gWorld.parallel())
    return fail(ToolError::AlreadyARank, "--nproc launches ranks itself; this process is already rank " +
                std::to_string(gWorld.launch.rank) + " of " + std::to_string(gWorld.launch.worldSize) +
                " (" + gWorld.source + ")");
  if (gWorld.parallel() && r.runDir.empty() && r.resumeDir.empty())
    return fail(ToolError::ParallelNeedsRunDir, "a data-parallel run (" + gWorld.source + ", " +
                                                    std::to_string(gWorld.launch.worldSize) +
                " ranks) needs --run-dir: every rank must name the same run directory (docs/scaling.md)");
  return 0;
}

} // namespace

int runCommand(const RunRequest &r) {
  if (int status = checkLaunch(r))
    return status;
  if (!r.resumeDir.empty())
    return resumeRun(r);
  // Before compiling: a device this runtime cannot use is the first error.
  if (exprt::Status s = runtime().checkDevice(r.device); !s)
    return fail(s);
  RunInput in;
  if (!readRunInput(r, in))
    return 1;
  if (!gWorld.root())
    return runOtherRank(r, in);
  RunInfo info;
  info.dir = r.runDir.empty() ? fs::path("runs") / (in.name + "-" + timestamp("%Y%m%d-%H%M%S"))
                              : fs::path(r.runDir);
  if (fs::exists(info.dir))
    return fail(ToolError::RunDirExists, "run directory `" + info.dir.string() +
                "` already exists; choose another with --run-dir, or continue it with --resume");
  info.doc = newRunRecord(r, in, info.dir);
  // A plan the runtime refuses leaves no run directory behind.
  exprt::Status loaded = exprt::Status::ok();
  auto session = openSession(info, /*resume=*/false, r.quiet, in.planText,
                             in.isPlan ? r.file : r.file + " (its compiled plan)", loaded);
  if (!session)
    return fail(loaded);
  std::string error;
  RunLock lock;
  if (!createRunDirectory(r, in, info, lock))
    return 1;
  recordMlflow(info, MlflowRun::Running);
  if (r.nproc > 0)
    return launchRanks(info, r.nproc, r.quiet);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/false, error))
    return fail(ToolError::CannotWrite, error);
  return execute(*session, info, /*created=*/true);
}

} // namespace exptool
