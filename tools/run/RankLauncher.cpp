#include "RankLauncher.h"

#include "Io.h"
#include "RunRecord.h"
#include "Spawn.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace exptool {
namespace {

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

// This process's environment without a launcher's variables.
std::vector<std::string> inheritedEnvironment() {
  std::vector<std::string> base;
  for (char **e = environ; *e; ++e) {
    std::string v = *e;
    const std::string key = v.substr(0, v.find('='));
    if (key != "RANK" && key != "WORLD_SIZE" && key != "LOCAL_RANK" && key != "LOCAL_WORLD_SIZE" &&
        key != "MASTER_ADDR" && key != "MASTER_PORT" && key != "EXP_NPROC_LAUNCH")
      base.push_back(v);
  }
  return base;
}

// Starts the ranks; the first that cannot be started (the others
// terminated), or -1.
int startRanks(const RunInfo &info, int n, bool quiet, std::vector<pid_t> &pids) {
  const int port = freeLocalPort();
  const std::vector<std::string> base = inheritedEnvironment();
  pids.assign(n, -1);
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
      return i;
    }
  }
  return -1;
}

// Waits for every rank; the first that failed and how (its wait status), or -1.
int waitRanks(const std::vector<pid_t> &pids, int &badStatus) {
  const char *t = std::getenv("EXP_DIST_TIMEOUT");
  const auto grace = std::chrono::seconds((t ? std::atoi(t) : 300) + 10);
  int firstBad = -1, alive = int(pids.size());
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
  return firstBad;
}

} // namespace

int launchRanks(RunInfo &info, int n, bool quiet) {
  std::vector<pid_t> pids;
  if (int failed = startRanks(info, n, quiet, pids); failed >= 0)
    return fail(ToolError::CannotStartRank, "cannot start rank " + std::to_string(failed) + " (" + selfPath() + ")");
  int badStatus = 0;
  const int firstBad = waitRanks(pids, badStatus);
  if (firstBad < 0)
    return 0;
  const std::string message = "rank " + std::to_string(firstBad) + " of " + std::to_string(n) + " " +
                              describeExit(badStatus) + "; the job stopped";
  // Rank 0 records a failure it saw; when it is the one that died, the launcher does.
  nlohmann::json doc = readJson(info.dir / "run.json");
  if (checkRunRecord(doc).empty() && doc["status"] == "running") {
    info.doc = doc;
    info.markFailed(message);
  }
  const std::string tool = toolName();
  return fail(ToolError::RankFailed, message + "\n" + tool + ": `" + tool + " run --resume " + info.dir.string() +
              " --nproc N` continues from the newest checkpoint, with any N");
}

} // namespace exptool
