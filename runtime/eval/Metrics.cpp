#include "eval/Metrics.h"

#include "eval/AveragePrecision.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

namespace exprt {

static torch::Tensor cosine(const torch::Tensor &a, const torch::Tensor &b) {
  namespace F = torch::nn::functional;
  auto opts = F::NormalizeFuncOptions().p(2).dim(1).eps(1e-12);
  return torch::matmul(F::normalize(a.to(torch::kFloat64), opts),
                       F::normalize(b.to(torch::kFloat64), opts).t());
}

MapResult replicateMap(const torch::Tensor &profiles, const std::vector<int64_t> &sameby,
                       const std::vector<int64_t> &diffby, const std::vector<bool> &isControl) {
  PairRules rules;
  rules.posSameby = {0};
  rules.posDiffby = {1};
  rules.controls = isControl;
  ApScores scores = averagePrecision(profiles, {sameby, diffby}, rules);
  MapResult result;
  result.queries = int64_t(scores.row.size());
  std::map<int64_t, std::pair<double, int64_t>> groups; // sum of AP, count
  for (size_t i = 0; i < scores.row.size(); ++i) {
    auto &g = groups[sameby[scores.row[i]]];
    g.first += scores.ap[i];
    g.second += 1;
  }
  double total = 0;
  for (const auto &[id, g] : groups) {
    result.perGroup[id] = g.first / double(g.second);
    total += result.perGroup[id];
  }
  result.meanMap = groups.empty() ? 0 : total / double(groups.size());
  return result;
}

RecallResult recallAtK(const torch::Tensor &queries, const torch::Tensor &candidates,
                       const std::vector<int64_t> &truth, const std::vector<int64_t> &ks) {
  torch::Tensor sim = cosine(queries, candidates).contiguous();
  const int64_t n = sim.size(0), m = sim.size(1);
  const double *s = sim.data_ptr<double>();
  std::vector<double> ranks;
  for (int64_t i = 0; i < n; ++i) {
    const double *row = s + i * m;
    double t = row[truth[i]];
    int64_t rank = 1;
    for (int64_t j = 0; j < m; ++j)
      rank += row[j] > t || (row[j] == t && j < truth[i]);
    ranks.push_back(double(rank));
  }
  RecallResult r;
  for (int64_t k : ks)
    r.recallAt[k] = n == 0 ? 0
                           : double(std::count_if(ranks.begin(), ranks.end(),
                                                  [&](double x) { return x <= k; })) / n;
  if (n > 0) {
    r.meanRank = std::accumulate(ranks.begin(), ranks.end(), 0.0) / n;
    std::vector<double> sorted = ranks;
    std::sort(sorted.begin(), sorted.end());
    r.medianRank = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  }
  return r;
}

torch::Tensor aggregateMean(const torch::Tensor &rows, const std::vector<int64_t> &group,
                            std::vector<int64_t> &groupIds) {
  std::map<int64_t, int64_t> index;
  for (int64_t g : group)
    index.emplace(g, 0);
  groupIds.clear();
  for (auto &[g, i] : index) {
    i = static_cast<int64_t>(groupIds.size());
    groupIds.push_back(g);
  }
  std::vector<int64_t> slot;
  for (int64_t g : group)
    slot.push_back(index[g]);
  torch::Tensor idx = torch::tensor(slot, torch::kInt64);
  torch::Tensor sums = torch::zeros({int64_t(groupIds.size()), rows.size(1)}, rows.options());
  sums.index_add_(0, idx, rows);
  torch::Tensor counts = torch::zeros({int64_t(groupIds.size())}, rows.options());
  counts.index_add_(0, idx, torch::ones({rows.size(0)}, rows.options()));
  return sums / counts.unsqueeze(1);
}

} // namespace exprt
