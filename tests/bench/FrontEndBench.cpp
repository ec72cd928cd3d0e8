// Front-end benchmark: parse + imports + sema (every sweep point included) of
// each file given, in process, with the stdlib it imports. Prints the median
// and best of N runs per file and the ratio to the 20 ms budget.
//
//   exp-bench-frontend [--runs N] FILE...
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
  return ok ? 0 : 3;
}
