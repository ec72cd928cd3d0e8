// The simulated screen's ground truth is recoverable from its pixels
// (issue 6, done-when 4): CellProfiler-like hand-crafted features of the
// screen's PNG files (read back and packed as any run reads them), aggregated
// per well and normalised against each plate's control wells, retrieve
// replicate wells of a perturbation far above chance, and perturbations of
// the same module (pathway) above chance. Random features give the chance
// levels. The numbers are printed; docs/data.md states them.
#include "data/LoadScreen.h"
#include "exec/HandCrafted.h"
#include "eval/Metrics.h"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

using namespace exprt;
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> toVector(const torch::Tensor &t) {
  torch::Tensor c = t.contiguous().to(torch::kInt64);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Robust z-scores against each plate's control wells (pycytominer's
// "robustize" with controls as the reference); features without spread are dropped.
torch::Tensor normaliseToControls(const torch::Tensor &wells, const std::vector<int64_t> &plate,
                                  const std::vector<bool> &control) {
  torch::Tensor out = torch::zeros_like(wells);
  std::map<int64_t, std::vector<int64_t>> rows, controls;
  for (size_t i = 0; i < plate.size(); ++i) {
    rows[plate[i]].push_back(static_cast<int64_t>(i));
    if (control[i])
      controls[plate[i]].push_back(static_cast<int64_t>(i));
  }
  for (const auto &[p, r] : rows) {
    torch::Tensor ref = wells.index_select(0, torch::tensor(controls.at(p), torch::kInt64));
    torch::Tensor med = std::get<0>(ref.median(0));
    torch::Tensor mad = std::get<0>((ref - med).abs().median(0)) * 1.4826;
    torch::Tensor idx = torch::tensor(r, torch::kInt64);
    out.index_copy_(0, idx, (wells.index_select(0, idx) - med) / (mad + 1e-3));
  }
  return out.clamp(-50, 50);
}

// Mean AP of retrieving perturbations of the same module among all other
// perturbations (cosine similarity of consensus profiles).
double moduleMap(const torch::Tensor &consensus, const std::vector<int64_t> &module) {
  torch::Tensor z = torch::nn::functional::normalize(consensus, torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor sim = z.matmul(z.t());
  const int64_t K = consensus.size(0);
  double total = 0;
  int64_t queries = 0;
  for (int64_t q = 0; q < K; ++q) {
    std::vector<std::pair<float, int64_t>> ranked;
    for (int64_t j = 0; j < K; ++j)
      if (j != q)
        ranked.push_back({-sim[q][j].item<float>(), j});
    std::sort(ranked.begin(), ranked.end());
    double hits = 0, ap = 0, positives = 0;
    for (int64_t j = 0; j < K; ++j)
      positives += j != q && module[j] == module[q];
    if (positives == 0)
      continue;
    for (size_t r = 0; r < ranked.size(); ++r)
      if (module[ranked[r].second] == module[q])
        ap += ++hits / double(r + 1);
    total += ap / positives;
    ++queries;
  }
  return total / double(queries);
}

struct Scores {
  double replicate, module;
};

Scores score(const torch::Tensor &siteFeatures, const Screen &screen) {
  std::vector<int64_t> wellIds;
  torch::Tensor wells = aggregateMean(siteFeatures, toVector(screen.well), wellIds);
  std::map<int64_t, int64_t> firstSite;
  std::vector<int64_t> wellOf = toVector(screen.well);
  for (size_t s = 0; s < wellOf.size(); ++s)
    firstSite.emplace(wellOf[s], static_cast<int64_t>(s));
  std::vector<int64_t> pert, plate;
  std::vector<bool> control;
  for (int64_t w : wellIds) {
    int64_t s = firstSite[w];
    pert.push_back(screen.perturbation[s].item<int64_t>());
    plate.push_back(screen.plate[s].item<int64_t>());
    control.push_back(pert.back() == 0);
  }
  torch::Tensor profiles = normaliseToControls(wells, plate, control);
  Scores out;
  out.replicate = replicateMap(profiles, pert, plate, control).meanMap;
  // Consensus per perturbation, controls left out.
  std::vector<int64_t> treated;
  for (size_t i = 0; i < pert.size(); ++i)
    if (!control[i])
      treated.push_back(pert[i]);
  std::vector<int64_t> ids;
  torch::Tensor nonControl = torch::tensor(
      [&] {
        std::vector<int64_t> r;
        for (size_t i = 0; i < pert.size(); ++i)
          if (!control[i])
            r.push_back(static_cast<int64_t>(i));
        return r;
      }(),
      torch::kInt64);
  torch::Tensor consensus = aggregateMean(profiles.index_select(0, nonControl), treated, ids);
  std::vector<int64_t> module;
  for (int64_t k : ids)
    module.push_back(screen.module[k].item<int64_t>());
  out.module = moduleMap(consensus, module);
  return out;
}

// Hand-crafted features of the screen `params` describes, read back through
// its files, scored against its ground truth and against random features.
void checkRecoverable(const nlohmann::json &params, const std::string &what) {
  // Through the files a user gets: PNGs in RxRx1's layout, read back, packed.
  fs::path dir = fs::temp_directory_path() / ("exp-ground-truth-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Plan plan;
  plan.dataKind = "simulated_screen";
  plan.dataParams = params;
  DataOptions data;
  data.cacheDir = dir.string();
  data.threads = 2;
  Screen screen;
  std::string description;
  REQUIRE(loadScreen(plan, data, screen, description).isOk());
  // Modules from the ground truth file; perturbation codes follow the sorted names.
  fs::path truthFile = fs::directory_iterator(dir / "simulated")->path() / "ground_truth.json";
  std::ifstream in(truthFile);
  nlohmann::json truth = nlohmann::json::parse(in);
  std::vector<int64_t> module(1, -1);
  for (auto &[name, m] : truth["modules"].items()) // nlohmann orders keys as the reader sorts names
    module.push_back(m.get<int64_t>());
  REQUIRE(static_cast<int64_t>(module.size()) == screen.perturbations);
  screen.module = torch::tensor(module, torch::kInt64);
  fs::remove_all(dir);
  torch::Tensor images = screen.imageRows(torch::arange(screen.perturbation.size(0)));
  std::vector<std::string> names;
  torch::Tensor features = handCraftedFeatures(images, &names);
  REQUIRE(features.size(1) == static_cast<int64_t>(names.size()));
  REQUIRE(torch::isfinite(features).all().item<bool>());
  Scores real = score(features, screen);
  torch::manual_seed(0);
  Scores chance = score(torch::randn_like(features), screen);
  char line[300];
  std::snprintf(line, sizeof line,
                "%s: %zu hand-crafted features: replicate mAP %.3f (random features %.3f); "
                "same-module mAP %.3f (random %.3f)",
                what.c_str(), names.size(), real.replicate, chance.replicate, real.module, chance.module);
  MESSAGE(line);
  CHECK(real.replicate > chance.replicate + 0.3);
  CHECK(real.module > chance.module + 0.15);
}

} // namespace

TEST_CASE("simulated screen: hand-crafted features recover replicates and modules") {
  checkRecoverable({{"seed", 1}, {"plates", 4}, {"holdout_plates", 1}, {"perturbations", 24},
                    {"modules", 6}, {"replicates", 2}, {"controls", 8}, {"sites", 3},
                    {"channels", 3}, {"image_size", 48}},
                   "3 channels");
}

TEST_CASE("simulated screen: the same with RxRx's 6 stains on two cell lines") {
  // Plates alternate lines; each plate is normalised to its own controls,
  // which take the line's base morphology out.
  checkRecoverable({{"seed", 2}, {"plates", 4}, {"holdout_plates", 1}, {"perturbations", 24},
                    {"modules", 6}, {"replicates", 2}, {"controls", 8}, {"sites", 3},
                    {"channels", 6}, {"image_size", 48}, {"cell_lines", 2}},
                   "6 channels, 2 cell lines");
}
