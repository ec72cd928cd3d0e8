// Times the runtime's training step on a compiled plan, through the public
// Session API only: runs the plan's training for a short and a long step
// budget (evaluations removed, no checkpoints) and reports the difference per
// step, so data generation, precomputation and warm-up cancel out.
//
//   exp-bench-train-step PLAN.json [THREADS] [REPEATS] [DEVICE]
#include "exprt/Runtime.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace {

double trainSeconds(const nlohmann::json &plan, int steps, int threads, const char *device) {
  nlohmann::json p = plan;
  p["train"]["steps"] = steps;
  p["evaluations"] = nlohmann::json::array();
  exprt::SessionOptions options;
  options.threads = threads;
  options.progress = false;
  options.device = device;
  exprt::Status status = exprt::Status::ok();
  auto session = exprt::Session::create(options, status);
  if (status)
    status = session->loadPlan(p.dump(), "bench plan");
  if (status)
    status = session->run();
  if (!status) {
    std::fprintf(stderr, "exp-bench-train-step: %s\n", status.message().c_str());
    std::exit(1);
  }
  return nlohmann::json::parse(session->metricsJson())["train"]["seconds"].get<double>();
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: exp-bench-train-step PLAN.json [THREADS] [REPEATS] [DEVICE]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json plan = nlohmann::json::parse(ss.str(), nullptr, false);
  if (plan.is_discarded()) {
    std::fprintf(stderr, "exp-bench-train-step: %s is not JSON\n", argv[1]);
    return 1;
  }
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  const char *device = argc > 4 ? argv[4] : "cpu";
  // EXP_BENCH_STEPS=SHORT,LONG (default 5,45): the GPU kit's dry run on a
  // CPU (scripts/gpu/device.sh) takes a couple of steps, not dozens.
  int shortRun = 5, longRun = 45;
  if (const char *steps = std::getenv("EXP_BENCH_STEPS"))
    if (std::sscanf(steps, "%d,%d", &shortRun, &longRun) != 2 || shortRun < 1 || longRun <= shortRun) {
      std::fprintf(stderr, "exp-bench-train-step: EXP_BENCH_STEPS must be SHORT,LONG with 1 <= SHORT < LONG\n");
      return 2;
    }
  std::vector<double> perStep;
  for (int r = 0; r < repeats; ++r)
    perStep.push_back((trainSeconds(plan, longRun, threads, device) - trainSeconds(plan, shortRun, threads, device)) /
                      (longRun - shortRun));
  std::sort(perStep.begin(), perStep.end());
  std::printf("%.3f\n", 1000 * perStep[perStep.size() / 2]);
  return 0;
}
