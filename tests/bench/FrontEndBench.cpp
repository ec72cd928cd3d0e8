// Front-end and compile benchmark: parse + imports + sema (every sweep point) of
// each file given, in process, with the stdlib it imports. Prints the median
// and best of N runs per file and the ratio to the 20 ms budget.
//
//   exp-bench-frontend [--runs N] FILE...
#include "driver/Compiler.h"
#include "driver/FrontEnd.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  int runs = 20;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else
      files.push_back(argv[i]);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: exp-bench-frontend [--runs N] FILE...\n");
    return 2;
  }
  constexpr double kBudgetMs = 20.0;
  std::printf("%-28s %10s %10s %8s %12s\n", "file", "median ms", "best ms", "lines", "budget ratio");
  bool ok = true;
  for (const std::string &file : files) {
    std::vector<double> ms;
    size_t lines = 0;
    for (int r = 0; r < runs + 1; ++r) { // the first run warms caches and is dropped
      std::ostringstream diags;
      auto t0 = std::chrono::steady_clock::now();
      expc::FrontEnd fe;
      bool checked = expc::runFrontEnd(file, expc::FrontEndOptions{}, fe, diags);
      auto t1 = std::chrono::steady_clock::now();
      if (!checked) {
        std::fprintf(stderr, "%s does not check:\n%s", file.c_str(), diags.str().c_str());
        return 1;
      }
      if (r == 0) {
        for (const auto &m : fe.modules->modules())
          lines += fe.sources.lineCount(m.file);
        continue;
      }
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    std::string name = file.substr(file.find_last_of('/') + 1);
    std::printf("%-28s %10.2f %10.2f %8zu %11.2fx\n", name.c_str(), median, ms.front(), lines,
                median / kBudgetMs);
    ok &= median < kBudgetMs;
  }
  std::printf("(%d runs each after one warm-up; ratio = median / 20 ms budget)\n", runs);

  // Source -> plan, without the compile cache, for the files the middle end
  // lowers today (the others are refused with E0602 and skipped).
  constexpr double kCompileBudgetMs = 150.0;
  std::printf("\n%-28s %10s %10s %12s\n", "compile (source -> plan)", "median ms", "best ms",
              "budget ratio");
  for (const std::string &file : files) {
    expc::CompileOptions options;
    options.useCache = false;
    std::vector<double> ms;
    bool compiles = true;
    for (int r = 0; r < runs + 1 && compiles; ++r) {
      std::ostringstream diags;
      expc::CompileOutput out;
      auto t0 = std::chrono::steady_clock::now();
      compiles = expc::compileFile(file, options, out, diags);
      auto t1 = std::chrono::steady_clock::now();
      if (r > 0)
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::string name = file.substr(file.find_last_of('/') + 1);
    if (!compiles) {
      std::printf("%-28s %10s\n", name.c_str(), "(not lowered yet)");
      continue;
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    std::printf("%-28s %10.2f %10.2f %11.2fx\n", name.c_str(), median, ms.front(),
                median / kCompileBudgetMs);
    ok &= median < kCompileBudgetMs;
  }
  return ok ? 0 : 3;
}
