#include "Spawn.h"

#include <filesystem>

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

extern char **environ;

namespace exptool {
namespace fs = std::filesystem;

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

} // namespace exptool
