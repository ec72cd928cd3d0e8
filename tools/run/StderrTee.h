// Copies what the process writes to stderr into a log file as well (the run
// record's `run.log`), while it lives. A progress bar redrawn in place after
// '\r' reaches the terminal as it is and the file not at all; lines ending
// in '\n' reach both.
#pragma once

#include <string>
#include <thread>

namespace exptool {

class StderrTee {
public:
  StderrTee() = default;
  // Restores stderr and finishes the file.
  ~StderrTee();
  StderrTee(const StderrTee &) = delete;
  StderrTee &operator=(const StderrTee &) = delete;

  // Starts copying into `path` (appending when `append`); false with `error`.
  bool start(const std::string &path, bool append, std::string &error);

private:
  void pump();
  int saved_ = -1, read_ = -1, file_ = -1;
  std::thread thread_;
};

} // namespace exptool
