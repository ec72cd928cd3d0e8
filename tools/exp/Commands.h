// The subcommands of `exp`, each from the options its command line set
// (main.cpp declares them). Each returns the process exit status; errors go
// to stderr.
#pragma once

#include "Run.h" // declares CLI::App
#include "Sweep.h"

#include <cstdint>
#include <string>
#include <vector>

namespace exptool {

struct CliOptions {
  std::string file;
  std::vector<std::string> overrides;
  std::string diagFormat = "text";
  // compile
  std::string emit = "plan", output, target = "cpu", gpuArch = "sm_80", reproducer;
  bool printIr = false, debugLocs = false;
  // compile, run, sweep
  bool noCache = false;
  std::vector<std::string> disabledPasses;
  // run, sweep
  RunRequest run; // with its file
  SweepRequest sweep;
  // fmt
  std::vector<std::string> fmtFiles;
  bool fmtCheck = false;
  // simulate
  std::string simulateOut;
  // eval
  std::string evalTable, evalSpec, evalOut;
  uint64_t evalSeed = 0;
  int evalThreads = 0;
};

// Front-end commands: the compiler alone.
int fmtCommand(const CliOptions &o);
int checkCommand(const CliOptions &o);
int compileCommand(const CliOptions &o);
// Commands that execute plans: they load the runtime first.
int runCommandFromCli(const CliOptions &o, const CLI::App &command);
int sweepCommandFromCli(const CliOptions &o);
int simulateCommand(const CliOptions &o);
int evalCommand(const CliOptions &o);

} // namespace exptool
