#include "record/Json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace exprt {
namespace {

// strerror, plus what a full disk or quota means for the user.
std::string writeError(int err) {
  std::string text = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT)
    text += " (the disk is full)";
  else if (err == EFBIG)
    text += " (the file-size limit, `ulimit -f`, is reached)";
  return text;
}

} // namespace

Status writeFileAtomic(const std::string &path, const std::string &contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const char *what) {
    std::string err = writeError(errno);
    ::close(fd);
    std::remove(tmp.c_str());
    return Status::error(ErrorKind::OutputUnwritable, path + ": " + what + ": " + err);
  };
  for (size_t done = 0; done < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return fail("write failed");
    done += static_cast<size_t>(n);
  }
  // On disk before it gets its name: a crash leaves the old file or the new
  // one, never an empty one (and ENOSPC can surface only here).
  if (::fsync(fd) != 0)
    return fail("write failed");
  if (::close(fd) != 0) {
    std::string err = writeError(errno);
    std::remove(tmp.c_str());
    return Status::error(ErrorKind::OutputUnwritable, path + ": write failed: " + err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    return Status::error(ErrorKind::OutputUnwritable, path + ": cannot rename into place: " + err);
  }
  return Status::ok();
}

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

Status syncDirectory(const std::string &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(ErrorKind::OutputUnwritable, dir + ": cannot open: " + std::strerror(errno));
  int rc = ::fsync(fd);
  std::string err = rc != 0 ? std::strerror(errno) : "";
  ::close(fd);
  return rc == 0 ? Status::ok() : Status::error(ErrorKind::OutputUnwritable, dir + ": cannot sync: " + err);
}

} // namespace exprt
