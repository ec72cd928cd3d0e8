// `exp run`: compile (or read a compiled plan), train, evaluate and leave a
// run record; `exp run --resume DIR` continues a run from its newest
// checkpoint.
#pragma once

#include "driver/Compiler.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace exptool {

struct RunRequest {
  std::string file;      // an .exp file or a plan (.json); empty with `resumeDir`
  std::string resumeDir; // continue this run
  std::string runDir;    // where a new run's record goes (default runs/NAME-TIME)
  int threads = 0;       // 0: as recorded when resuming, else one per core
  bool quiet = false;
  long long checkpointEvery = 0; // optimiser steps; 0: as recorded, else per epoch
  int dataWorkers = -1;          // batch-building threads; -1: as recorded, else 1
  std::string mlruns;            // the MLflow store; "" = `mlruns` beside the run directory
  std::string device = "cpu";    // cpu, cuda, cuda:N; when resuming, the run's
  int nproc = 0;                 // > 0: launch that many local data-parallel ranks
  bool rankWorker = false;       // this process is one of them (--resume DIR names the run)
  expc::CompileOptions compile;
};

// Returns the process exit status; errors go to stderr.
int runCommand(const RunRequest &request);

// Writes `contents` through a temporary file and a rename; false with
// `error` set when it cannot.
bool writeFile(const std::string &path, const std::string &contents, std::string &error);

// What the subcommands share: `exp: error: MESSAGE` on stderr, returning the
// exit status 1; the local time in a strftime `format`; a whole file; a JSON
// file (discarded, or null when unreadable, rather than throwing).
int fail(const std::string &message);
std::string timestamp(const char *format);
bool readFile(const std::filesystem::path &path, std::string &out);
nlohmann::json readJson(const std::filesystem::path &path);
// This `exp` binary's path (/proc/self/exe).
std::string selfPath();
// Starts this `exp` with `args` (after the program name); `env` replaces
// the environment when given; `output` ("" = inherited) receives its stdout
// and stderr. The child's pid, or -1 when it cannot be started.
int spawnExp(const std::vector<std::string> &args, const std::vector<std::string> *env = nullptr,
             const std::string &output = "");

} // namespace exptool
