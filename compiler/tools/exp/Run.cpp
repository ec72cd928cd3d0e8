#include "Run.h"

#include "MlflowStore.h"
#include "StderrTee.h"

#include "driver/CompileCache.h"
#include "imports/Imports.h"
#include "exprt/Runtime.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace exptool {
namespace fs = std::filesystem;
namespace {

bool readFile(const fs::path &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string timestamp(const char *format) {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, format, std::localtime(&now));
  return buf;
}

long long unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(const std::string &message) {
  std::cerr << "exp: error: " << message << "\n";
  return 1;
}

// The run's state in `run.json`: what a resume needs to continue the same way
// (threads, checkpoint interval) and how the run ended.
struct RunInfo {
  nlohmann::json doc;
  fs::path dir;
  bool save(std::string &error) const;
};

bool RunInfo::save(std::string &error) const {
  return writeFile((dir / "run.json").string(), doc.dump(2) + "\n", error);
}

nlohmann::json readJson(const fs::path &path) {
  std::string text;
  return readFile(path, text) ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json();
}

// Mirrors the run into the MLflow store named in run.json (metrics once it
// has finished). The run directory is the record; a store that cannot be
// written is a warning, not a failed run.
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

// A session for the run in `info`, with `planText` loaded (`origin` names it
// in errors).
std::unique_ptr<exprt::Session> openSession(const RunInfo &info, bool resume, bool quiet,
                                            const std::string &planText,
                                            const std::string &origin, std::string &error) {
  exprt::Status status = exprt::Status::ok();
  exprt::SessionOptions options;
  options.threads = info.doc["threads"].get<int>();
  options.device = info.doc.value("device", "cpu");
  options.progress = !quiet;
  const char *term = std::getenv("TERM");
  options.progressBar = ::isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
  options.runDir = info.dir.string();
  options.checkpointEvery = info.doc["checkpoint_every"].get<long long>();
  options.resume = resume;
  options.dataWorkers = info.doc.value("data_workers", 1);
  if (info.doc.contains("feature_cache"))
    options.featureCacheDir = info.doc["feature_cache"].get<std::string>();
  if (info.doc.contains("data_cache"))
    options.dataCacheDir = info.doc["data_cache"].get<std::string>();
  auto session = exprt::Session::create(options, status);
  if (status)
    status = session->loadPlan(planText, origin);
  if (!status) {
    error = status.message();
    return nullptr;
  }
  return session;
}

// Runs the loaded plan; `created` says the directory is this invocation's, to
// remove when nothing worth keeping was written.
int execute(exprt::Session &session, RunInfo &info, bool created) {
  auto finish = [&](const std::string &message, bool keepable) {
    std::error_code ec;
    if (created && !keepable) {
      fs::remove_all(info.dir, ec);
      return fail(message);
    }
    info.doc["status"] = "failed";
    info.doc["error"] = message;
    std::string error;
    info.save(error);
    recordMlflow(info, MlflowRun::Failed);
    return fail(message + "\nexp: the run directory `" + info.dir.string() +
                "` keeps its checkpoints (`exp run --resume " + info.dir.string() +
                "` continues from the newest)");
  };
  if (exprt::Status s = session.run(); !s)
    return finish(s.message(), !session.latestCheckpoint().empty());
  if (exprt::Status s = session.writeRecord(info.dir.string()); !s)
    return finish(s.message(), true);
  info.doc["status"] = "finished";
  info.doc.erase("error");
  info.doc["finished"] = timestamp("%Y-%m-%dT%H:%M:%S");
  std::string error;
  if (!info.save(error))
    return fail(error);
  recordMlflow(info, MlflowRun::Finished);
  std::cout << session.metricsSummary();
  std::cout << "run record: " << info.dir.string() << "\n";
  return 0;
}

int resumeRun(const RunRequest &r) {
  RunInfo info;
  info.dir = r.resumeDir;
  std::string text;
  if (!readFile(info.dir / "run.json", text))
    return fail("`" + r.resumeDir + "` is not a run directory (it has no run.json)");
  info.doc = nlohmann::json::parse(text, nullptr, false);
  if (info.doc.is_discarded() || !info.doc.is_object() || !info.doc.contains("status") ||
      !info.doc["threads"].is_number_integer() || !info.doc["checkpoint_every"].is_number_integer())
    return fail((info.dir / "run.json").string() +
                ": not a valid run file (needs `status`, `threads` and `checkpoint_every`)");
  if (info.doc["status"] == "finished")
    return fail("the run in `" + r.resumeDir + "` has already finished");
  // The same threads as before, so the arithmetic is the same.
  if (r.threads > 0)
    info.doc["threads"] = r.threads;
  if (r.checkpointEvery > 0)
    info.doc["checkpoint_every"] = r.checkpointEvery;
  if (r.dataWorkers >= 0)
    info.doc["data_workers"] = r.dataWorkers;
  std::string planText, error;
  fs::path planPath = info.dir / "plan.json";
  if (!readFile(planPath, planText))
    return fail(planPath.string() + ": cannot open plan");
  auto session = openSession(info, /*resume=*/true, r.quiet, planText, planPath.string(), error);
  if (!session)
    return fail(error);
  info.doc["status"] = "running";
  info.doc["resumed"].push_back(timestamp("%Y-%m-%dT%H:%M:%S"));
  if (!info.save(error))
    return fail(error);
  recordMlflow(info, MlflowRun::Running);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/true, error))
    return fail(error);
  return execute(*session, info, /*created=*/false);
}

} // namespace

bool writeFile(const std::string &pathText, const std::string &contents, std::string &error) {
  fs::path path = pathText, tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()); // two runs may share the MLflow store
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) {
    error = "cannot write " + path.string();
    return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    error = "cannot write " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

int runCommand(const RunRequest &r) {
  if (!r.resumeDir.empty())
    return resumeRun(r);
  // Before compiling: a device this runtime cannot use is the first error.
  if (exprt::Status s = exprt::checkDevice(r.device); !s)
    return fail(s.message());
  // A compiled plan runs as it is; an .exp file is compiled first.
  std::string planText, source, name = fs::path(r.file).stem().string();
  bool isPlan = fs::path(r.file).extension() == ".json";
  if (isPlan) {
    if (!readFile(r.file, planText))
      return fail(r.file + ": cannot open plan");
  } else {
    expc::CompileOutput compiled;
    expc::CompileOptions compile = r.compile;
    if (r.device != "cpu") // the plan carries the GPU kernels
      compile.target = "cuda";
    if (!expc::compileFile(r.file, compile, compiled, std::cerr))
      return 1;
    planText = compiled.text;
    source = compiled.source;
    name = compiled.experimentName;
  }
  RunInfo info;
  info.dir = r.runDir.empty() ? fs::path("runs") / (name + "-" + timestamp("%Y%m%d-%H%M%S"))
                              : fs::path(r.runDir);
  if (fs::exists(info.dir))
    return fail("run directory `" + info.dir.string() +
                "` already exists; choose another with --run-dir, or continue it with --resume");
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  info.doc = {{"format", "exp-run"},
              {"status", "running"},
              {"experiment", name},
              {"source", r.file},
              {"started", timestamp("%Y-%m-%dT%H:%M:%S")},
              {"started_ms", unixMs()},
              {"threads", r.threads > 0 ? r.threads : static_cast<int>(cores)},
              {"device", r.device},
              {"checkpoint_every", r.checkpointEvery},
              {"data_workers", r.dataWorkers >= 0 ? r.dataWorkers : 1},
              {"runtime_version", exprt::runtimeVersion()},
              {"resumed", nlohmann::json::array()}};
  fs::path final = info.dir;
  info.doc["mlruns"] = fs::absolute(r.mlruns.empty() ? final.parent_path() / "mlruns"
                                                     : fs::path(r.mlruns))
                           .lexically_normal()
                           .string();
  info.doc["mlflow_run_id"] =
      mlflowRunId(fs::absolute(final).lexically_normal().string(), info.doc["started_ms"]);
  if (r.compile.useCache) {
    info.doc["feature_cache"] = (fs::path(expc::compileCacheDirectory()) / "features").string();
    info.doc["data_cache"] = (fs::path(expc::compileCacheDirectory()) / "data").string();
  }
  // A plan the runtime refuses leaves no run directory behind.
  std::string error;
  auto session = openSession(info, /*resume=*/false, r.quiet, planText,
                             isPlan ? r.file : r.file + " (its compiled plan)", error);
  if (!session)
    return fail(error);
  // Filled under a temporary name and renamed, so the directory a user sees
  // always has its run.json, however early the run is killed.
  info.dir += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::create_directories(info.dir, ec);
  if (ec)
    return fail("cannot create `" + info.dir.string() + "`: " + ec.message());
  const std::vector<std::string> &overrides = r.compile.overrides;
  if ((!isPlan && !writeFile(info.dir / "spec.exp", source, error)) ||
      !writeFile(info.dir / "environment.json", exprt::environmentJson(), error) ||
      !writeFile(info.dir / "plan.json", planText, error) ||
      (!overrides.empty() &&
       !writeFile(info.dir / "overrides.txt", fmt::format("{}\n", fmt::join(overrides, "\n")),
                  error)) ||
      !info.save(error)) {
    fs::remove_all(info.dir, ec);
    return fail(error);
  }
  fs::rename(info.dir, final, ec);
  if (ec) {
    fs::remove_all(info.dir, ec);
    return fail("cannot create `" + final.string() + "`: " + ec.message());
  }
  info.dir = final;
  recordMlflow(info, MlflowRun::Running);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/false, error))
    return fail(error);
  return execute(*session, info, /*created=*/true);
}

} // namespace exptool
