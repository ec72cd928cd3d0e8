#include "StderrTee.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace exptool {
namespace {

void writeAll(int fd, const char *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

} // namespace

bool StderrTee::start(const std::string &path, bool append, std::string &error) {
  file_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
                 0644);
  int fds[2];
  if (file_ < 0 || ::pipe2(fds, O_CLOEXEC) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    if (file_ >= 0)
      ::close(file_);
    file_ = -1;
    return false;
  }
  std::fflush(stderr);
  saved_ = ::dup(STDERR_FILENO);
  ::dup2(fds[1], STDERR_FILENO);
  ::close(fds[1]);
  read_ = fds[0];
  thread_ = std::thread([this] { pump(); });
  return true;
}

void StderrTee::pump() {
  std::string line;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(read_, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    writeAll(saved_, buf, static_cast<size_t>(n));
    for (ssize_t i = 0; i < n; ++i) {
      char c = buf[i];
      if (c == '\r') {
        line.clear(); // a redraw: only finished lines are kept
      } else if (c == '\n') {
        // Drop the terminal's erase-line sequence the bar writes.
        for (size_t k; (k = line.find("\033[K")) != std::string::npos;)
          line.erase(k, 3);
        line += '\n';
        writeAll(file_, line.data(), line.size());
        line.clear();
      } else {
        line += c;
      }
    }
  }
  if (!line.empty() && line.find('\033') == std::string::npos)
    writeAll(file_, line.data(), line.size());
}

StderrTee::~StderrTee() {
  if (saved_ < 0)
    return;
  std::fflush(stderr);
  ::dup2(saved_, STDERR_FILENO); // closes the pipe's last writer: the pump sees EOF
  thread_.join();
  ::close(saved_);
  ::close(read_);
  ::fsync(file_);
  ::close(file_);
}

} // namespace exptool
