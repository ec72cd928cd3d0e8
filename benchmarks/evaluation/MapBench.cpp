// Replicate mAP at scale: the time and peak memory of AP + mAP (with a
// 10,000-draw null, BH and fraction retrieved) on BBBC021 and on a synthetic
// 100,000 x 384 table, and the ratio against the all-pairs method (a full
// similarity matrix and a sort per query, as the references do) where that
// one fits in memory.
//
//   exp-bench-map [--shared DIR] [--rows N] [--features D] [--repeats R] [--threads T]
//                 [--device cuda[:N]]
//
// With --device, AP runs as tensor ops there (ApOptions::device; the GPU
// path of exp run --device) and its APs are compared with the host's on
// the 10k-row table; benchmarks/gpu/run.sh times 1,000,000 rows that way.
#include "eval/AveragePrecision.h"
#include "eval/ProfileStages.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

using namespace exprt;

namespace {

double peakMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

struct Case {
  torch::Tensor x;
  MetaColumns meta; // treatment, plate
  PairRules rules;
};

double seconds(const std::function<void()> &f, int repeats) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::optional<torch::Device> gDevice; // --device

MapSummary ours(const Case &c) {
  ApOptions o;
  o.device = gDevice;
  ApScores s = averagePrecision(c.x, c.meta, c.rules, o);
  return meanAveragePrecision(s, c.meta[0], MapOptions{10000, 0, 0.05, 0});
}

// The all-pairs method: the whole similarity matrix, then a sort of each
// query's partners (positives and controls).
double allPairs(const Case &c) {
  torch::Tensor x = c.x.to(torch::kFloat64);
  x = x / x.norm(2, 1, true);
  torch::Tensor sim = torch::matmul(x, x.t()).contiguous();
  const int64_t n = x.size(0);
  const double *s = sim.data_ptr<double>();
  double total = 0;
  std::vector<std::pair<double, int64_t>> partners;
  for (int64_t q = 0; q < n; ++q) {
    if (c.rules.controls[q])
      continue;
    partners.clear();
    for (int64_t j = 0; j < n; ++j)
      if (j != q && (c.rules.controls[j] || (c.meta[0][j] == c.meta[0][q] && c.meta[1][j] != c.meta[1][q])))
        partners.push_back({-s[q * n + j], c.rules.controls[j] ? 0 : 1});
    std::sort(partners.begin(), partners.end());
    double ap = 0;
    int64_t hits = 0;
    for (size_t k = 0; k < partners.size(); ++k)
      if (partners[k].second)
        ap += double(++hits) / double(k + 1);
    total += hits ? ap / double(hits) : 0;
  }
  return total;
}

// Treatments with `replicates` wells on different plates plus 5% controls;
// each treatment shifts the profile along its own direction.
Case synthetic(int64_t rows, int64_t features) {
  const int64_t replicates = 4, controls = rows / 20, treatments = (rows - controls) / replicates;
  torch::manual_seed(0);
  torch::Tensor effect = torch::randn({treatments, features}, torch::kFloat64) * 0.4;
  Case c;
  c.meta.assign(2, {});
  std::vector<int64_t> which;
  for (int64_t t = 0; t < treatments; ++t)
    for (int64_t r = 0; r < replicates; ++r) {
      c.meta[0].push_back(t + 1);
      c.meta[1].push_back(r);
      c.rules.controls.push_back(false);
      which.push_back(t);
    }
  const int64_t treated = int64_t(which.size());
  for (int64_t k = 0; k < rows - treated; ++k) {
    c.meta[0].push_back(0);
    c.meta[1].push_back(k % replicates);
    c.rules.controls.push_back(true);
  }
  c.x = torch::randn({rows, features}, torch::kFloat64);
  c.x.slice(0, 0, treated) += effect.index_select(0, torch::tensor(which, torch::kInt64));
  c.rules.posSameby = {0};
  c.rules.posDiffby = {1};
  return c;
}

void report(const char *name, const Case &c, int repeats, bool compare) {
  MapSummary m;
  double t = seconds([&] { m = ours(c); }, repeats);
  std::printf("%-28s %7lld x %-4lld  mAP %.4f  retrieved %.3f  %8.3f s  peak RSS %7.0f MiB\n", name,
              (long long)c.x.size(0), (long long)c.x.size(1), m.meanMap, m.fractionRetrieved, t,
              peakMiB());
  if (compare) {
    double naive = seconds([&] { allPairs(c); }, repeats);
    std::printf("%-28s all-pairs %.3f s: exp is %.1fx faster\n", "", naive, naive / t);
  } else {
    double gib = double(c.x.size(0)) * double(c.x.size(0)) * 8 / double(1 << 30);
    std::printf("%-28s all-pairs would hold a %.0f GiB similarity matrix: not run\n", "", gib);
  }
}

} // namespace

int main(int argc, char **argv) {
  std::string shared = (std::filesystem::path(EXP_SOURCE_DIR) / ".." / "shared" / "data").string();
  int64_t rows = 100000, features = 384;
  int repeats = 3;
  int threads = int(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--shared")
      shared = argv[i + 1];
    else if (a == "--rows")
      rows = std::stoll(argv[i + 1]);
    else if (a == "--features")
      features = std::stoll(argv[i + 1]);
    else if (a == "--repeats")
      repeats = std::stoi(argv[i + 1]);
    else if (a == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (a == "--device")
      gDevice = torch::Device(std::string(argv[i + 1]));
  }
  torch::set_num_threads(std::max(1, threads)); // OpenMP may default to 1 in containers
  std::printf("threads %d; best of %d; null 10,000 draws per configuration\n", at::get_num_threads(), repeats);
  std::string bbbc = shared + "/bbbc021_profiles/BBBC021_feature_selected_mad_robustize.csv.gz";
  if (std::filesystem::exists(bbbc)) {
    Profiles p;
    if (Status s = readProfiles(bbbc, "", p); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return 1;
    }
    Case c;
    std::vector<std::string> treatment;
    for (int64_t r = 0; r < p.rows(); ++r)
      treatment.push_back((*p.meta("Metadata_Compound"))[r] + "@" + (*p.meta("Metadata_Concentration"))[r]);
    c.x = p.features;
    c.meta = {codesOf(treatment), codesOf(*p.meta("Metadata_Plate"))};
    c.rules.posSameby = {0};
    c.rules.posDiffby = {1};
    selectRows(p, {{"Metadata_Compound", {"DMSO"}}}, c.rules.controls);
    report("BBBC021 (copairs config)", c, repeats, true);
  } else {
    std::printf("BBBC021: %s absent, skipped\n", bbbc.c_str());
  }
  if (gDevice) { // the device's APs against the host's, before timing them
    Case c = synthetic(10000, features);
    ApScores host = averagePrecision(c.x, c.meta, c.rules);
    ApOptions o;
    o.device = gDevice;
    ApScores dev = averagePrecision(c.x, c.meta, c.rules, o);
    double worst = host.ap.size() == dev.ap.size() ? 0 : 1;
    for (size_t i = 0; i < host.ap.size() && i < dev.ap.size(); ++i)
      worst = std::max(worst, std::abs(host.ap[i] - dev.ap[i]));
    std::printf("device %s: max |AP - host AP| over %zu queries = %.3g\n", gDevice->str().c_str(),
                host.ap.size(), worst);
  }
  report("synthetic, 10k rows", synthetic(10000, features), repeats, !gDevice);
  report("synthetic", synthetic(rows, features), std::max(1, repeats / 3), false);
  return 0;
}
