#include "Run.h"

#include "MlflowStore.h"
#include "StderrTee.h"

#include "driver/CompileCache.h"
#include "imports/Imports.h"
#include "exprt/Runtime.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace exptool {
namespace fs = std::filesystem;
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

int fail(const std::string &message) {
  std::cerr << "exp: error: " << message << "\n";
  return 1;
}

nlohmann::json readJson(const fs::path &path) {
  std::string text;
  return readFile(path, text) ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json();
}

std::string selfPath() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec).string();
}

int spawnExp(const std::vector<std::string> &args, const std::vector<std::string> *env,
             const std::string &output) {
  const std::string self = selfPath();
  std::vector<std::string> argText{self};
  argText.insert(argText.end(), args.begin(), args.end());
  std::vector<std::string> envText = env ? *env : std::vector<std::string>{};
  std::vector<char *> argv, envp;
  for (std::string &a : argText)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string &e : envText)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (!output.empty()) {
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  }
  pid_t pid = -1;
  if (::posix_spawn(&pid, self.c_str(), &files, nullptr, argv.data(), env ? envp.data() : environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&files);
  return pid;
}

namespace {

long long unixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// This process's place in a data-parallel run: rank 0 of 1 unless a
// launcher (torchrun, srun, `exp run --nproc`) says otherwise.
struct World {
  exprt::SessionOptions launch; // rank, worldSize, rendezvous
  std::string source;           // the launcher, "" for none
  bool root() const { return launch.rank == 0; }
  bool parallel() const { return launch.worldSize > 1; }
};
World gWorld;

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
  exprt::SessionOptions options = gWorld.launch;
  options.threads = info.doc["threads"].get<int>();
  // --nproc's ranks share this machine's cores.
  if (gWorld.source == "exp run --nproc")
    options.threads = std::max(1, options.threads / options.worldSize);
  options.device = info.doc.value("device", "cpu");
  options.progress = !quiet && gWorld.root();
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
  if (!gWorld.root()) { // rank 0 keeps the record
    if (exprt::Status s = session.run(); !s)
      return fail("rank " + std::to_string(gWorld.launch.rank) + ": " + s.message());
    return 0;
  }
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

// A TCP port on the loopback interface that is free now (rank 0's store).
int freeLocalPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 29500;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    ::close(fd);
  return port;
}

std::string describeExit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char *name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// `exp run --nproc N`: the run in `info.dir` (created, or being resumed) as
// N local processes, `exp run --resume DIR --rank-worker` each, under
// torchrun's environment contract. The first rank to fail is the job's
// error; the others stop on their own when their next collective finds it
// gone (or are terminated after the timeout).
int launchRanks(RunInfo &info, int n, bool quiet) {
  const int port = freeLocalPort();
  std::vector<std::string> base;
  for (char **e = environ; *e; ++e) {
    std::string v = *e;
    const std::string key = v.substr(0, v.find('='));
    if (key != "RANK" && key != "WORLD_SIZE" && key != "LOCAL_RANK" && key != "LOCAL_WORLD_SIZE" &&
        key != "MASTER_ADDR" && key != "MASTER_PORT" && key != "EXP_NPROC_LAUNCH")
      base.push_back(v);
  }
  std::vector<pid_t> pids(n, -1);
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args{"run", "--resume", info.dir.string(), "--rank-worker"};
    if (quiet || i > 0)
      args.push_back("-q");
    std::vector<std::string> env = base;
    for (auto [k, v] : {std::pair<std::string, std::string>{"RANK", std::to_string(i)},
                        {"LOCAL_RANK", std::to_string(i)},
                        {"WORLD_SIZE", std::to_string(n)},
                        {"LOCAL_WORLD_SIZE", std::to_string(n)},
                        {"MASTER_ADDR", "127.0.0.1"},
                        {"MASTER_PORT", std::to_string(port)},
                        {"EXP_NPROC_LAUNCH", "1"}})
      env.push_back(k + "=" + v);
    if ((pids[i] = spawnExp(args, &env)) < 0) {
      for (int j = 0; j < i; ++j)
        ::kill(pids[j], SIGTERM);
      return fail("cannot start rank " + std::to_string(i) + " (" + selfPath() + ")");
    }
  }
  const char *t = std::getenv("EXP_DIST_TIMEOUT");
  const auto grace = std::chrono::seconds((t ? std::atoi(t) : 300) + 10);
  int firstBad = -1, badStatus = 0, alive = n;
  bool terminated = false;
  std::chrono::steady_clock::time_point deadline;
  while (alive > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, firstBad >= 0 ? WNOHANG : 0);
    if (pid > 0) {
      --alive;
      const int rank = int(std::find(pids.begin(), pids.end(), pid) - pids.begin());
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && firstBad < 0) {
        firstBad = rank;
        badStatus = status;
        deadline = std::chrono::steady_clock::now() + grace;
      }
    } else if (pid == 0) {
      if (!terminated && std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : pids)
          ::kill(p, SIGTERM);
        terminated = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } else if (errno != EINTR) {
      break;
    }
  }
  if (firstBad < 0)
    return 0;
  const std::string message = "rank " + std::to_string(firstBad) + " of " + std::to_string(n) + " " +
                              describeExit(badStatus) + "; the job stopped";
  // Rank 0 records a failure it saw; when it is the one that died, the launcher does.
  nlohmann::json doc = readJson(info.dir / "run.json");
  if (doc.is_object() && doc.value("status", "") == "running") {
    info.doc = doc;
    info.doc["status"] = "failed";
    info.doc["error"] = message;
    std::string error;
    info.save(error);
  }
  return fail(message + "\nexp: `exp run --resume " + info.dir.string() + " --nproc N` continues from the newest checkpoint, with any N");
}

// One of --nproc's ranks: the run in `info.dir` from its newest checkpoint
// (or its start); rank 0 keeps the log and the record.
int runRank(RunInfo &info, bool quiet) {
  std::string planText, error;
  fs::path planPath = info.dir / "plan.json";
  if (!readFile(planPath, planText))
    return fail(planPath.string() + ": cannot open plan");
  auto session = openSession(info, /*resume=*/true, quiet, planText, planPath.string(), error);
  if (!session)
    return fail("rank " + std::to_string(gWorld.launch.rank) + ": " + error);
  if (!gWorld.root())
    return execute(*session, info, /*created=*/false);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/true, error))
    return fail(error);
  return execute(*session, info, /*created=*/false);
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
  if (r.rankWorker) // one of --nproc's ranks, resuming nothing it did not start
    return runRank(info, r.quiet);
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
  if (r.nproc > 0) { // again as N ranks, N free
    info.doc["nproc"] = r.nproc;
    info.doc["status"] = "running";
    info.doc["resumed"].push_back(timestamp("%Y-%m-%dT%H:%M:%S"));
    if (!info.save(error))
      return fail(error);
    return launchRanks(info, r.nproc, r.quiet);
  }
  auto session = openSession(info, /*resume=*/true, r.quiet, planText, planPath.string(), error);
  if (!session)
    return fail(error);
  if (!gWorld.root())
    return execute(*session, info, /*created=*/false);
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
  if (exprt::Status s = exprt::readLaunchEnvironment(gWorld.launch, gWorld.source); !s)
    return fail(s.message());
  if (r.rankWorker && (r.resumeDir.empty() || gWorld.source != "exp run --nproc"))
    return fail("--rank-worker is how `exp run --nproc` starts its ranks; run `exp run --nproc N` instead");
  if (r.nproc > 0 && gWorld.parallel())
    return fail("--nproc launches ranks itself; this process is already rank " +
                std::to_string(gWorld.launch.rank) + " of " + std::to_string(gWorld.launch.worldSize) +
                " (" + gWorld.source + ")");
  if (gWorld.parallel() && r.runDir.empty() && r.resumeDir.empty())
    return fail("a data-parallel run (" + gWorld.source + ", " + std::to_string(gWorld.launch.worldSize) +
                " ranks) needs --run-dir: every rank must name the same run directory (docs/scaling.md)");
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
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (!gWorld.root()) { // a launcher's other ranks: rank 0 creates and keeps the record
    info.doc = {{"threads", r.threads > 0 ? r.threads : static_cast<int>(cores)},
                {"device", r.device},
                {"checkpoint_every", r.checkpointEvery},
                {"data_workers", r.dataWorkers >= 0 ? r.dataWorkers : 1}};
    if (r.compile.useCache)
      info.doc["data_cache"] = (fs::path(expc::compileCacheDirectory()) / "data").string();
    std::string error;
    auto session = openSession(info, /*resume=*/false, true, planText, r.file, error);
    if (!session)
      return fail("rank " + std::to_string(gWorld.launch.rank) + ": " + error);
    return execute(*session, info, /*created=*/false);
  }
  if (fs::exists(info.dir))
    return fail("run directory `" + info.dir.string() +
                "` already exists; choose another with --run-dir, or continue it with --resume");
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
  if (r.nproc > 0)
    info.doc["nproc"] = r.nproc;
  if (gWorld.parallel())
    info.doc["world"] = {{"size", gWorld.launch.worldSize}, {"launcher", gWorld.source}};
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
  if (r.nproc > 0)
    return launchRanks(info, r.nproc, r.quiet);
  StderrTee log;
  if (!log.start((info.dir / "run.log").string(), /*append=*/false, error))
    return fail(error);
  return execute(*session, info, /*created=*/true);
}

} // namespace exptool
